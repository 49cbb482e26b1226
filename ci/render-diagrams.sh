#!/usr/bin/env bash
# Screenshots every packet path diagram in a `netlab run --artifacts DIR` directory with headless
# Chromium, to look at them as a reviewer would: DIR/<check>.html -> DIR/<check>.png (also any
# other .svg there, e.g. from `netlab graph --format svg`). For people and CI jobs that publish
# images; `swift test` does not need it.
#
#   ci/render-diagrams.sh DIR            # needs chromium (Debian: apt-get install chromium)
#   MERMAID_JS=/path/mermaid.min.js ci/render-diagrams.sh DIR
#       also parses each DIR/*.mmd with that Mermaid build and fails on a syntax error.
set -euo pipefail
dir=${1:?usage: ci/render-diagrams.sh DIR}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "render-diagrams: no chromium found (apt-get install chromium)" >&2; exit 3; }

shoot() { # file width height png
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --window-size="$2,$3" --screenshot="$4" "file://$(realpath "$1")" >/dev/null 2>&1
  echo "$4"
}

# The SVG's own size, so the screenshot shows it whole (the HTML adds a table and a legend above it).
size() { # svg file -> "W H"
  head -c 400 "$1" | sed -n 's/.*width="\([0-9.]*\)" height="\([0-9.]*\)".*/\1 \2/p' | head -1
}

status=0
shopt -s nullglob
for svg in "$dir"/*.svg; do
  read -r w h < <(size "$svg") || { echo "render-diagrams: $svg has no width/height" >&2; status=1; continue; }
  w=${w%.*}; h=${h%.*}
  html="${svg%.svg}.html"
  if [ -f "$html" ]; then
    rows=$(grep -c '<tr>' "$html" || true)
    shoot "$html" $((w + 40)) $((h + 120 + rows * 40)) "${svg%.svg}.png"
  else
    shoot "$svg" "$w" "$h" "${svg%.svg}.png"
  fi
done

if [ -n "${MERMAID_JS:-}" ]; then
  for mmd in "$dir"/*.mmd; do
    page=$(mktemp --suffix=.html)
    # mermaid.parse rejects what GitHub's renderer would show as a syntax error.
    { echo '<!DOCTYPE html><meta charset="utf-8"><script src="file://'"$(realpath "$MERMAID_JS")"'"></script><pre id="src">'
      sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g' "$mmd"
      echo '</pre><div id="out">pending</div><script>
mermaid.initialize({startOnLoad:false});
mermaid.parse(document.getElementById("src").textContent)
  .then(()=>{document.getElementById("out").textContent="MERMAID-OK"})
  .catch(e=>{document.getElementById("out").textContent="MERMAID-ERROR "+e.message});
</script>'; } > "$page"
    result=$("$browser" --headless --no-sandbox --disable-gpu --allow-file-access-from-files --virtual-time-budget=5000 \
      --dump-dom "file://$page" 2>/dev/null | grep -o 'MERMAID-[A-Z]*[^<]*' | head -1)
    rm -f "$page"
    echo "$mmd: ${result:-no result}"
    [[ "$result" == MERMAID-OK* ]] || status=1
  done
fi
exit $status
