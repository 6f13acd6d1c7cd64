#!/usr/bin/env bash
# The prepared check for a lent GPU machine (docs/gpu.md says how one is reached). That machine's
# python3 has CUDA torch, transformers, peft, accelerate, grpcio, protobuf and scikit-learn, no vLLM,
# and reaches no package index, so the few wheels genleak needs besides travel with the call:
#
#   here:    bash bench/gpu_wheels.sh                       (bench/wheels/, about 20 MB)
#   device:  command="bash bench/gpu.sh", carry=["bench/wheels"], timeout_s=540
#
# In one run of at most 8 minutes it:
#   1. runs examples/gpu_smoke.yaml end to end with the hf engines and shows, from the report's
#      compute records, that every generation, fine-tuning and scoring stage ran on CUDA;
#   2. runs the fine-tuning bench on the GPU: genleak (dynamic padding, length grouping, fp16) vs the
#      paper's pad-to-2048 fp16 setup, useful tokens/s ratio (bench/finetune_gpu.py);
#   3. runs the MIA scoring bench: genleak's batched shared forward vs MIMIR's per-sample loop, on
#      the GPU (bench/mia_scoring.py --quick).
# Without a GPU it runs the same steps on the CPU (the fallback: smaller bench shapes, a cpu
# expectation), which is how it is tested where no GPU is lent. Everything lands in $OUT (returned by
# the device tool), or bench/results/gpu/ when $OUT is unset.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${GENLEAK_GPU_PYTHON:-python3}
OUT_DIR=${OUT:-$PWD/bench/results/gpu}
mkdir -p "$OUT_DIR"
exec > >(tee "$OUT_DIR/gpu.log") 2>&1
started=$SECONDS
status=0
step() { echo; echo "=== $1 ($((SECONDS - started)) s in)"; }

step "machine"
if nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; then expect=cuda; else
  expect=cpu; echo "no GPU visible: CPU fallback (the same steps, on the CPU)"; fi

step "packages"
work=$(mktemp -d)
"$PY" bench/gpu_env.py bench/wheels "$work/site" \
  || { echo "a needed wheel is missing: run bench/gpu_wheels.sh here and carry bench/wheels"; exit 1; }
export PYTHONPATH="$work/site:$PWD/services:$PWD/bench${PYTHONPATH:+:$PYTHONPATH}"
export GENLEAK_STORE="file://$work/store" GENLEAK_CACHE_DIR="$work/cache" GENLEAK_BENCH_RESULTS="$OUT_DIR"
"$PY" - <<'PYEOF' || exit 1
import accelerate, peft, torch, transformers
print("python torch", torch.__version__, "cuda", torch.cuda.is_available(), "transformers", transformers.__version__,
      "peft", peft.__version__, "accelerate", accelerate.__version__)
from genleak.compute.device import pick_device
print("genleak computes on", pick_device())
PYEOF

step "1. end to end: examples/gpu_smoke.yaml with hf engines"
timeout 240 "$PY" -m genleak run examples/gpu_smoke.yaml --out "$OUT_DIR/smoke" --no-progress \
  || { echo "smoke run failed or timed out (exit $?)"; status=1; }
if [ -f "$OUT_DIR/smoke/report.json" ]; then
  "$PY" bench/gpu_check.py "$OUT_DIR/smoke/report.json" --expect "$expect" || status=1
fi

step "2. fine-tuning: genleak vs pad-to-2048 fp16"
(cd bench && timeout 150 "$PY" finetune_gpu.py) || { echo "finetune bench failed or timed out"; status=1; }

step "3. MIA scoring: shared batched forward vs MIMIR's per-sample loop"
(cd bench && timeout 120 "$PY" mia_scoring.py --quick) || { echo "MIA bench failed or timed out"; status=1; }

step "done"
[ "$expect" = cuda ] && nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
echo "exit $status after $((SECONDS - started)) s; results in $OUT_DIR"
rm -rf "$work"
exit $status
