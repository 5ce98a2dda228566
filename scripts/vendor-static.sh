#!/usr/bin/env bash
# Refresh the vendored front-end files from the npm registry (run by a developer when upgrading;
# the results are committed so that neither a run nor a test needs the network or a CDN).
set -euo pipefail
cd "$(dirname "$0")/.."
TABLER=${TABLER:-1.6.1}
HTMX=${HTMX:-2.0.11}
dest=src/opora/web/static/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@tabler/core@$TABLER" "htmx.org@$HTMX" >/dev/null)
mkdir -p "$dest/tabler" "$dest/htmx"
tar -xzf "$tmp/tabler-core-$TABLER.tgz" -C "$tmp" package/dist/css/tabler.min.css package/dist/js/tabler.min.js package/package.json
cp "$tmp/package/dist/css/tabler.min.css" "$tmp/package/dist/js/tabler.min.js" "$dest/tabler/"
# The package ships no LICENSE file; its package.json names the licence.
python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(p["name"], p["version"] + ":", p["license"], "licence,", p.get("homepage", ""))' \
    "$tmp/package/package.json" > "$dest/tabler/LICENSE"
rm -rf "$tmp/package"
tar -xzf "$tmp/htmx.org-$HTMX.tgz" -C "$tmp" package/dist/htmx.min.js package/LICENSE
cp "$tmp/package/dist/htmx.min.js" "$dest/htmx/"
cp "$tmp/package/LICENSE" "$dest/htmx/LICENSE"
printf 'tabler %s\nhtmx %s\n' "$TABLER" "$HTMX" > "$dest/VERSIONS"
echo "vendored: $(cat "$dest/VERSIONS" | tr '\n' ' ')"
