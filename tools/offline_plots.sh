#!/usr/bin/env bash
# `dvc plots show` that renders offline: the vega, vega-lite and vega-embed scripts come from
# node_modules/ (installed here from npm at the versions pinned in package-lock.json, never
# committed) instead of DVC's CDN. Extra arguments go to `dvc plots show` (e.g. targets).
# Output: dvc_plots/index.html (the template's script paths are relative to that folder).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/vega-embed/build/vega-embed.min.js ]; then
    npm ci --no-audit --no-fund
fi
dvc plots show --html-template tools/dvc_plots_offline.html -o dvc_plots "$@"
