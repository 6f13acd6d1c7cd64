#!/usr/bin/env bash
# The test command: set up the venv, then run every test tier (unit, integration, e2e).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}"
mkdir -p .pytest_cache
# Which machine this is, first: numerics differ by CPU (bf16 kernels) and by library versions.
PYTHONPATH=services .venv/bin/python -c \
  "from genleak.core.platform_info import describe_platform; print('genleak platform:', describe_platform())"
junit=.pytest_cache/junit.xml
.venv/bin/python -m pytest -q -p no:cacheprovider --timeout=1800 --junitxml="$junit" "${@:-tests}"
rc=$?
# vLLM's engine process sometimes aborts during interpreter shutdown *after* every test has
# finished (exit 134, "terminate called without an active exception"; docs/platform.md, vLLM on a CPU).
# Judge such a run by its test report instead of the exit code.
if [ "$rc" = 134 ] && .venv/bin/python - "$junit" <<'PY'
import sys, xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot()
suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
sys.exit(0 if int(suite.get("failures", 1)) == 0 and int(suite.get("errors", 1)) == 0 else 1)
PY
then
  echo "pytest aborted at shutdown (vLLM teardown) after all tests passed; treating as success"
  rc=0
fi
exit $rc
