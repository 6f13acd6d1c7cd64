"""Clean-up of Presidio's raw spans: trailing whitespace, line-spanning NER spans, type overlaps."""

from __future__ import annotations

from typing import Sequence

from genleak.presidio.config import Detection

_TRAILING = " \t\r\n.,;:|"


def tidy_spans(text: str, detections: Sequence[Detection], trim_newlines: bool, resolve_overlaps: bool,
               ner_types: frozenset[str] = frozenset({"PERSON", "LOCATION", "NRP", "DATE_TIME"})) -> list[Detection]:
    tidied = [d for d in (_tidy(text, d, trim_newlines and d.entity_type in ner_types) for d in detections) if d]
    if resolve_overlaps:
        tidied = _without_overlaps(tidied)
    return sorted(tidied, key=lambda d: (d.start, d.end, d.entity_type))


def _tidy(text: str, d: Detection, trim_newline: bool) -> Detection | None:
    start, end = d.start, d.end
    while start < end and text[start].isspace():
        start += 1
    if trim_newline and "\n" in text[start:end]:
        end = text.index("\n", start)
    while end > start and text[end - 1] in _TRAILING:
        end -= 1
    if end <= start:
        return None
    return Detection(d.entity_type, start, end, d.score, d.recognizer, text[start:end])


def _without_overlaps(detections: list[Detection]) -> list[Detection]:
    """Greedy by (score, length): a span survives unless it overlaps one already kept."""
    kept: list[Detection] = []
    for d in sorted(detections, key=lambda d: (-d.score, -(d.end - d.start), d.start, d.entity_type)):
        if all(d.end <= k.start or d.start >= k.end for k in kept):
            kept.append(d)
    return kept
