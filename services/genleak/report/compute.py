"""What ran where: the report's summary of the compute records every job returns (device, precision, peak
memory, tokens/s, library versions), so a reader knows whether a number came from a GPU."""

from __future__ import annotations

from typing import Any

GIB = 1024 ** 3


def compute_summary(records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The run's devices, precisions, largest peak memory (and its stage) and library versions, over stages."""
    if not records:
        return {}
    devices = sorted({_device(r) for r in records.values()})
    precisions = sorted({r["precision"] for r in records.values() if r.get("precision")})
    peaks = {name: r["peak_memory_bytes"] for name, r in records.items() if r.get("peak_memory_bytes")}
    versions: dict[str, list[str]] = {}
    for record in records.values():
        for library, version in (record.get("versions") or {}).items():
            versions.setdefault(library, [])
            if version not in versions[library]:
                versions[library].append(version)
    summary: dict[str, Any] = {"devices": devices, "precisions": precisions, "stages": len(records),
                               "versions": {k: ", ".join(sorted(v)) for k, v in sorted(versions.items())}}
    if peaks:
        stage = max(peaks, key=peaks.get)
        summary["peak_memory"] = {"bytes": peaks[stage], "stage": stage}
    return summary


def compute_lines(report: dict[str, Any]) -> list[str]:
    """report.md's "Where it ran" section (nothing for a report without compute records)."""
    summary = (report.get("provenance") or {}).get("compute") or {}
    if not summary:
        return []
    lines = ["## Where it ran", "", f"Devices: {'; '.join(summary['devices'])}. "
             f"Precision: {', '.join(summary['precisions']) or 'not recorded'}."]
    if "peak_memory" in summary:
        peak = summary["peak_memory"]
        lines[-1] += f" Largest peak memory: {peak['bytes'] / GIB:.2f} GiB ({peak['stage']})."
    versions = ", ".join(f"{k} {v}" for k, v in summary["versions"].items())
    return lines + ([f"Libraries: {versions}.", ""] if versions else [""])


def _device(record: dict[str, Any]) -> str:
    name = record.get("device_name") or "unnamed"
    count = record.get("device_count")
    return f"{record['device_type']} ({name}{f' x{count}' if count and count > 1 else ''})"
