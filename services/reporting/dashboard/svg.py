"""Hand-drawn SVG bar charts, rendered on the server.

Values are the reports' 4-place rate strings (0…1) or null; a null value (undefined rate) draws
no bar and a "—" mark, so a chart never shows a zero it does not know. Every text is escaped.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

PALETTE = ("#2f6fb3", "#e08a1e", "#3a9a5b", "#8e5ab5")
FONT = 'font-family="Noto Sans CJK SC, WenQuanYi Zen Hei, Microsoft YaHei, sans-serif"'


def percent(value: str | None) -> str:
    return "—" if value is None else f"{(Decimal(value) * 100).quantize(Decimal('0.1'))}%"


def _svg(title: str, width: int, height: int, body: list[str]) -> str:
    t = escape(title)
    return (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{t}" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" {FONT} font-size="12">'
            f'<title>{t}</title>{"".join(body)}</svg>')


def _legend(series: list[tuple[str, list[str | None]]], x: int, y: int) -> list[str]:
    out = []
    for i, (name, _) in enumerate(series):
        cx = x + i * 110
        out.append(f'<rect x="{cx}" y="{y - 10}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>'
                   f'<text x="{cx + 16}" y="{y}">{escape(name)}</text>')
    return out


def grouped_bars(title: str, categories: list[str], series: list[tuple[str, list[str | None]]],
                 width: int = 760, height: int = 300) -> str:
    """Vertical bars: one group per category, one bar per series, on a 0–100% axis."""
    left, top, bottom = 48, 36, 56
    plot_h, plot_w = height - top - bottom, width - left - 16
    body = [f'<text x="{left}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']
    for tick in range(0, 101, 25):
        y = top + plot_h - plot_h * tick / 100
        body.append(f'<line x1="{left}" x2="{width - 16}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                    f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#4a4a4a">{tick}%</text>')
    if not categories:
        body.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" fill="#595959">'
                    '暂无数据</text>')
        return _svg(title, width, height, body)
    slot = plot_w / len(categories)
    bar_w = max(min(slot * 0.8 / max(len(series), 1), 40), 4)
    for ci, category in enumerate(categories):
        x0 = left + slot * ci + (slot - bar_w * len(series)) / 2
        for si, (name, values) in enumerate(series):
            value, x = values[ci], x0 + si * bar_w
            label = f"{category} {name} {percent(value)}"
            if value is None:
                body.append(f'<text class="undefined" x="{x + bar_w / 2:.1f}" y="{top + plot_h - 4}" '
                            f'text-anchor="middle" fill="#595959"><title>{escape(label)}</title>—</text>')
                continue
            h = plot_h * min(float(Decimal(value)), 1.0)  # drawing only: figures never pass through float
            body.append(f'<rect class="bar" data-value="{value}" x="{x:.1f}" y="{top + plot_h - h:.1f}" '
                        f'width="{bar_w - 2:.1f}" height="{h:.1f}" fill="{PALETTE[si % len(PALETTE)]}">'
                        f'<title>{escape(label)}</title></rect>')
        body.append(f'<text x="{left + slot * ci + slot / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                    f'{escape(category[:14])}</text>')
    body += _legend(series, left, height - 12)
    return _svg(title, width, height, body)


def horizontal_bars(title: str, labels: list[str], values: list[str | None], width: int = 760) -> str:
    """One bar per label on a 0–1 scale (scores, shares), longest first as given."""
    left, top, row = 200, 36, 26
    height = top + row * max(len(labels), 1) + 16
    plot_w = width - left - 70
    body = [f'<text x="8" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']
    if not labels:
        body.append(f'<text x="{left}" y="{top + 16}" fill="#595959">暂无数据</text>')
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row
        body.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{escape(label[:18])}</text>')
        if value is None:
            body.append(f'<text class="undefined" x="{left + 4}" y="{y + 16}" fill="#595959">—</text>')
            continue
        w = plot_w * min(float(Decimal(value)), 1.0)  # drawing only
        body.append(f'<rect class="bar" data-value="{value}" x="{left}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" '
                    f'fill="{PALETTE[0]}"><title>{escape(label)} {value}</title></rect>'
                    f'<text x="{left + w + 6:.1f}" y="{y + 16}">{escape(value)}</text>')
    return _svg(title, width, height, body)
