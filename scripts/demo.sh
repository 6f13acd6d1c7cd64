#!/usr/bin/env bash
# The demo: set up, then run scenario A on the embedded default (lab + four services in-process).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export GENLEAK_STORE="${GENLEAK_STORE:-file://$PWD/.genleak/store}"
export GENLEAK_CACHE_DIR="${GENLEAK_CACHE_DIR:-$PWD/.genleak/cache}"
exec .venv/bin/genleak run examples/demo.yaml --out runs/demo "$@"
