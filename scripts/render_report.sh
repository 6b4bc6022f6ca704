#!/usr/bin/env bash
# Render a `wood report` page in headless Chromium (Debian package `chromium`), offline.
#
#   scripts/render_report.sh REPORT.html [SHOT.png] [DOM.html]
#
# Writes a full-width screenshot (default: REPORT.png beside the page) and, when DOM.html is
# given, the DOM after rendering. Size: WIDTH x HEIGHT (default 1280 x 4000). Chromium gets a
# throw-away profile and no network features, so it opens the file and nothing else.
set -euo pipefail
if [[ $# -lt 1 || $# -gt 3 ]]; then
  echo "usage: $0 REPORT.html [SHOT.png] [DOM.html]" >&2
  exit 2
fi
page=$(realpath "$1")
shot=$(realpath -m "${2:-${page%.html}.png}")
dom=${3:-}
[[ -f "$page" ]] || { echo "error: $page: no such file (run \`wood report ... --out DIR\` first)" >&2; exit 2; }
browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[[ -n "$browser" ]] || { echo "error: chromium not found: apt-get install -y chromium (or set CHROMIUM=/path/to/chrome)" >&2; exit 2; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --disable-dev-shm-usage --hide-scrollbars
       --user-data-dir="$profile" --window-size="${WIDTH:-1280},${HEIGHT:-4000}")
"$browser" "${flags[@]}" --screenshot="$shot" "file://$page" >/dev/null 2>&1
[[ -s "$shot" ]] || { echo "error: $shot: chromium wrote no screenshot" >&2; exit 1; }
if [[ -n "$dom" ]]; then
  "$browser" "${flags[@]}" --dump-dom "file://$page" > "$dom" 2>/dev/null
fi
echo "$shot"
