"""Which device each stage of a run computed on, from its report.json: `gpu_check.py REPORT --expect cuda`.

Prints one row per stage (device, name, precision, peak memory, tokens/s) and exits 1 when a stage
whose model ran in torch (everything but the lab, which the check does not cover) is not on the
expected device type, so a GPU run that quietly fell back to the CPU fails the check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("report", type=Path)
    parser.add_argument("--expect", choices=["cuda", "cpu"], required=True)
    args = parser.parse_args()
    compute = json.loads(args.report.read_text())["compute"]
    wrong = []
    print(f"| stage | device | name | processes | precision | peak GiB | tokens/s |\n|{'---|' * 7}")
    for stage, record in sorted(compute.items()):
        peak = record.get("peak_memory_bytes")
        peak_gib = f"{peak / 2**30:.2f}" if peak else "-"
        print(f"| {stage} | {record['device_type']} | {record.get('device_name')} | {record.get('processes', 1)} | "
              f"{record.get('precision')} | {peak_gib} | {record.get('tokens_per_second')} |")
        if record["device_type"] != args.expect:
            wrong.append(stage)
    if not compute:
        print("the report has no compute records")
        return 1
    if wrong:
        print(f"NOT on {args.expect}: {', '.join(wrong)}")
        return 1
    print(f"all {len(compute)} stages computed on {args.expect}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
