#!/usr/bin/env bash
# The demo: set up, then run an experiment on the embedded default (lab + four services in-process).
# Default: scenario A (examples/demo.yaml); `bash scripts/demo.sh examples/membership.yaml` runs scenario B.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export GENLEAK_STORE="${GENLEAK_STORE:-file://$PWD/.genleak/store}"
export GENLEAK_CACHE_DIR="${GENLEAK_CACHE_DIR:-$PWD/.genleak/cache}"
spec=examples/demo.yaml
if [[ "${1:-}" == *.yaml ]]; then spec=$1; shift; fi
exec .venv/bin/genleak run "$spec" --out "runs/$(basename "$spec" .yaml)" "$@"
