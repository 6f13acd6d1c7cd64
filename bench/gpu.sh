#!/usr/bin/env bash
# One prepared run for a lent GPU machine (H200, 15 minutes of device time in all, <= 10 min per
# command): the vLLM benches, where a GPU changes the answer (generation: service vs raw vLLM vs HF
# at 135M; extraction: multi-LoRA vs one engine per checkpoint). The CPU-only benches (MIA scoring,
# fine-tuning padding, store, end to end) are not repeated there.
#
# NOT RUN: no GPU was lent to the task that wrote it (see bench/RESULTS.md). It needs, on the
# device, a Python with CUDA torch + vllm + this repo's requirements (that machine reaches no
# package index): point GENLEAK_GPU_PYTHON at it. Results land in $OUT (the device tool returns
# that folder), or bench/results/gpu/ when $OUT is unset.
#
#   run: command="bash bench/gpu.sh", timeout_s=540
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${GENLEAK_GPU_PYTHON:-.venv/bin/python}
OUT_DIR=${OUT:-bench/results/gpu}
mkdir -p "$OUT_DIR"
exec > >(tee "$OUT_DIR/gpu.log") 2>&1

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || { echo "no GPU visible"; exit 1; }
"$PY" -c "import torch, vllm; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'vllm', vllm.__version__)" \
  || { echo "GENLEAK_GPU_PYTHON lacks CUDA torch or vllm"; exit 1; }

# Budget: ~8.5 minutes of commands, leaving the rest of the 15 for start-up and one rerun.
# generation: 4 vLLM engine starts (raw + service, 2 models) + HF; multi_lora: 3 starts.
timeout 300 "$PY" bench/generation.py || echo "generation: failed or timed out (exit $?)"
timeout 200 "$PY" bench/multi_lora.py --quick || echo "multi_lora: failed or timed out (exit $?)"
cp bench/results/generation.json bench/results/multi_lora.quick.json "$OUT_DIR"/ 2>/dev/null || true
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
