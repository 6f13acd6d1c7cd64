"""The report's summary of what ran where, from the stages' compute records."""

from genleak.report.compute import compute_lines, compute_summary


def _record(device_type, name, count, precision, peak, torch="2.13.0"):
    return {"device_type": device_type, "device_name": name, "device_count": count, "precision": precision,
            "peak_memory_bytes": peak, "tokens_per_second": None, "versions": {"torch": torch}}


def test_summary_names_every_device_precision_and_the_largest_peak():
    records = {"generate": _record("cuda", "NVIDIA H100", 2, "bfloat16", 40 * 1024**3, "2.5.1+cu124"),
               "finetune[original]": _record("cuda", "NVIDIA H100", 4, "float32", 60 * 1024**3, "2.5.1+cu124"),
               "leakage[base]": _record("cpu", "Intel Xeon", 1, None, None, "2.5.1")}
    summary = compute_summary(records)
    assert summary["devices"] == ["cpu (Intel Xeon)", "cuda (NVIDIA H100 x2)", "cuda (NVIDIA H100 x4)"]
    assert summary["precisions"] == ["bfloat16", "float32"] and summary["stages"] == 3
    assert summary["peak_memory"] == {"bytes": 60 * 1024**3, "stage": "finetune[original]"}
    assert summary["versions"] == {"torch": "2.5.1, 2.5.1+cu124"}
    lines = compute_lines({"provenance": {"compute": summary}})
    assert lines[0] == "## Where it ran" and "60.00 GiB (finetune[original])" in lines[2]


def test_a_report_without_records_has_no_section():
    assert compute_summary({}) == {} and compute_lines({"provenance": {}}) == []
