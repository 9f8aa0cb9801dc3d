#!/usr/bin/env bash
# The reporting dashboard is tested in headless Chromium (Debian's package). Install it when
# it is missing and we can (root with apt, as on CI); otherwise say what to do. The dashboard
# test fails, never skips, without a browser.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the dashboard test..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  # A CJK font too, or the dashboard screenshot shows boxes for every Chinese label.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null
  exit 0
fi
echo "chromium is not installed: 'sudo apt-get install chromium' (the dashboard test needs it)" >&2
exit 0
