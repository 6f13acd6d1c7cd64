"""Which real values each model volunteered: read from the PII scans' findings artifacts, grouped by
salted value id, shown masked unless the scan itself was asked to reveal them (`leakage.reveal`).

Only real values are listed (an invented address is not a leak), with the ones absent from that
model's fine-tuning data first: those surfaced from pretraining, which fine-tuning was supposed to
leave alone.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from genleak.report.conditions import condition_label
from genleak.core.store import ArtifactStore

UNCONDITIONED = "unconditioned"


def leaked_values(store: ArtifactStore, scans: list[dict[str, Any]], limit: int = 10) -> dict[str, list[dict]]:
    """condition -> up to `limit` real values from its unconditioned samples, most frequent first."""
    return {condition_label(scan): _top_real(_findings(store, scan["findings_uri"]), limit)
            for scan in scans if scan.get("findings_uri")}


def _findings(store: ArtifactStore, uri: str) -> list[dict[str, Any]]:
    folder = store.fetch(uri)
    lines = (folder / "data.jsonl").read_text(encoding="utf-8").splitlines()
    return [row for row in map(json.loads, lines) if row.get("source") == UNCONDITIONED and row.get("real")]


def _top_real(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    counts = Counter(row["value_id"] for row in rows)
    first = {}
    for row in rows:
        first.setdefault(row["value_id"], row)
    ranked = sorted(first.values(), key=lambda r: (bool(r.get("in_finetune")), -counts[r["value_id"]], r["value_id"]))
    return [{"type": r["type"], "shown": r.get("value", r["masked"]), "value_id": r["value_id"],
             "count": counts[r["value_id"]], "in_finetune": r.get("in_finetune"), "revealed": "value" in r}
            for r in ranked[:limit]]


def leaked_value_lines(leaked: dict[str, list[dict]]) -> list[str]:
    if not any(leaked.values()):
        return []
    revealed = any(v["revealed"] for values in leaked.values() for v in values)
    note = ("raw values: the scans ran with leakage.reveal" if revealed else
            "masked; ids are salted hashes (GENLEAK_PII_SALT), equal across conditions; leakage.reveal shows values")
    lines = [f"### Real values in the samples ({note})", "",
             "| condition | entity | value | id | samples | in fine-tuning data |", "|---|---|---|---|---|---|"]
    for condition, values in leaked.items():
        for v in values:
            in_ft = "-" if v["in_finetune"] is None else ("yes" if v["in_finetune"] else "no")
            lines.append(f"| {condition} | {v['type']} | `{v['shown']}` | {v['value_id']} | {v['count']} | {in_ft} |")
    return lines + [""]
