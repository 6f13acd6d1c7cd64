#!/usr/bin/env bash
# Download the wheels bench/gpu.sh installs on the GPU machine (which reaches no package index) into
# bench/wheels/: CPython 3.12 on manylinux x86_64, the GPU image's Python. Run here, where PyPI is
# reachable; then pass carry=["bench/wheels"] to the device call. About 20 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON_VERSION=${GENLEAK_GPU_PYTHON_VERSION:-3.12}
ABI="cp${PYTHON_VERSION/./}"
mkdir -p bench/wheels
grep -v '^\s*#' bench/gpu_requirements.txt | awk 'NF == 2 {print $2}' | xargs \
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest bench/wheels \
    --python-version "$PYTHON_VERSION" --implementation cp --abi "$ABI" --abi abi3 --abi none \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any
du -sh bench/wheels
