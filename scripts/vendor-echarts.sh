#!/usr/bin/env bash
# Vendor Apache ECharts into the dashboard (projections/dashboard/static/vendor/echarts):
# `npm pack` the pinned version from the npm registry, check the tarball against the
# registry's integrity, and copy the single minified file with its licence files.
# Usage: scripts/vendor-echarts.sh [VERSION]   (default: the version in PIN.json)
# The dashboard never loads anything from a CDN: this is the only way the file changes.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=projections/dashboard/static/vendor/echarts
version="${1:-$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$dest/PIN.json")}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "echarts@$version" >/dev/null)
tarball="$work/echarts-$version.tgz"
integrity="$(npm view "echarts@$version" dist.integrity)"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
[ "$integrity" = "$actual" ] || { echo "vendor-echarts: integrity mismatch: registry $integrity, tarball $actual" >&2; exit 1; }
tar -xzf "$tarball" -C "$work"
cp "$work/package/dist/echarts.min.js" "$work/package/LICENSE" "$work/package/NOTICE" "$work/package/licenses/LICENSE-d3" "$dest/"
sha="$(sha256sum "$dest/echarts.min.js" | cut -d' ' -f1)"
python3 - "$dest/PIN.json" "$version" "$integrity" "$sha" <<'PY'
import json, sys
path, version, integrity, sha = sys.argv[1:]
pin = json.load(open(path))
pin.update(version=version, integrity=integrity, sha256=sha,
           tarball=f"https://registry.npmjs.org/echarts/-/echarts-{version}.tgz")
open(path, "w").write(json.dumps(pin, indent=2) + "\n")
PY
echo "vendor-echarts: echarts $version vendored into $dest (sha256 $sha)"
