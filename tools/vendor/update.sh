#!/usr/bin/env bash
# Refresh the vendored browser libraries from npm, at the versions pinned in package-lock.json:
# vega, vega-lite, vega-embed (for `dvc plots show`, tools/dvc_plots_offline.html) into
# tools/vendor/, and three.js (the motion player of src/serve.py and of evaluate's HTML page)
# into src/textmotion/web/vendor/. The copies are committed, so a fresh clone needs no npm.
# Run after changing a version in package.json (then `npm install` to update the lock file).
set -euo pipefail
cd "$(dirname "$0")/../.."
npm ci --no-audit --no-fund
for package in vega vega-lite vega-embed; do
    cp "node_modules/$package/build/$package.min.js" "node_modules/$package/LICENSE" "tools/vendor/$package/"
done
three=src/textmotion/web/vendor/three
cp node_modules/three/build/three.module.min.js node_modules/three/LICENSE "$three/"
cp node_modules/three/examples/jsm/controls/OrbitControls.js "$three/"
node -e 'for (const p of ["vega", "vega-lite", "vega-embed", "three"])
  console.log(p, require(`./node_modules/${p}/package.json`).version)'
