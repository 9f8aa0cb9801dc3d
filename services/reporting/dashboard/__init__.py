"""The dashboard for people: one HTML page with server-side SVG charts, no script, nothing
loaded from anywhere else (no CDN at run time, nothing vendored)."""
