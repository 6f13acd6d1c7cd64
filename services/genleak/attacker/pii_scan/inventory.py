"""The PII inventory of a private corpus, and what the fine-tuning data contains.

Inventory: the normalised values per entity type that are real, i.e. present in the private
corpus. The lab knows them exactly (its `people` dataset: name, email, phone, address); for user
data, Presidio over the private corpus builds them. A people inventory also keeps the surface
forms, so a scan of the corpus itself can measure recall over the planted values.

FinetuneIndex answers "does the fine-tuning data contain this value?" by exact search (not by
Presidio, which would miss some), so a real value absent from it can only have leaked from
pretraining.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence


from genleak.core.errors import InvalidSpec
from genleak.core.pii_mask import EMAIL, PHONE, STREET_ADDRESS, normalize_pii

_EMAIL_RE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_RE = re.compile(r"(?<!\d)(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\d)")


@dataclass(frozen=True)
class Inventory:
    """Real values per entity type (normalised), plus planted surface forms when known exactly."""

    values: Mapping[str, frozenset[str]]
    surfaces: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = ""

    def contains(self, entity_type: str, normalized: str) -> bool:
        return normalized in self.values.get(entity_type, frozenset())

    def sizes(self) -> dict[str, int]:
        return {t: len(v) for t, v in sorted(self.values.items())}

    def union(self, other: "Inventory") -> "Inventory":
        types = set(self.values) | set(other.values)
        values = {t: self.values.get(t, frozenset()) | other.values.get(t, frozenset()) for t in types}
        surfaces = {t: tuple(dict.fromkeys(self.surfaces.get(t, ()) + other.surfaces.get(t, ())))
                    for t in set(self.surfaces) | set(other.surfaces)}
        return Inventory(values, surfaces, "+".join(s for s in (self.source, other.source) if s))


def inventory_from_people(records: Sequence[Mapping[str, Any]], fields: Mapping[str, str]) -> Inventory:
    """Exact inventory: every person's value per entity type (addresses also by their street line)."""
    values: dict[str, set[str]] = {t: set() for t in fields}
    surfaces: dict[str, list[str]] = {t: [] for t in fields}
    for record in records:
        for entity_type, name in fields.items():
            raw = record.get(name)
            if not isinstance(raw, str) or not raw.strip():
                continue
            surfaces[entity_type].append(raw)
            values[entity_type].add(normalize_pii(entity_type, raw))
            if entity_type == STREET_ADDRESS and "," in raw:  # "48764 Howard Forge Apt. 421" alone is real too
                values[entity_type].add(normalize_pii(entity_type, raw.split(",", 1)[0]))
    values = {t: {v for v in vs if v} for t, vs in values.items()}
    return Inventory({t: frozenset(v) for t, v in values.items()},
                     {t: tuple(dict.fromkeys(s)) for t, s in surfaces.items()}, "people")


def inventory_from_detections(detections: Iterable[Iterable[Any]]) -> Inventory:
    """Inventory of a corpus from the analyzer's detections over it (user data: no ground truth)."""
    values: dict[str, set[str]] = {}
    for per_text in detections:
        for d in per_text:
            normalized = normalize_pii(d.entity_type, d.value)
            if normalized:
                values.setdefault(d.entity_type, set()).add(normalized)
    return Inventory({t: frozenset(v) for t, v in values.items()}, {}, "corpus")


def record_texts(records: Sequence[Mapping[str, Any]], fields: Sequence[str] = ()) -> list[str]:
    """The text of each record: the named fields, or every string field when none are named."""
    texts = []
    for record in records:
        chosen = [record.get(f) for f in fields] if fields else list(record.values())
        texts.append("\n".join(v for v in chosen if isinstance(v, str)))
    return texts


def field_texts(records: Sequence[Mapping[str, Any]], name: str, where: str) -> list[str]:
    missing = sum(1 for r in records if not isinstance(r.get(name), str))
    if missing:
        raise InvalidSpec(f"{missing} of {len(records)} records lack a string field {name!r}", field=where)
    return [r[name] for r in records]


class FinetuneIndex:
    """Exact lookups of normalised values in the fine-tuning texts."""

    def __init__(self, texts: Iterable[str]):
        texts = list(texts)
        self.n_texts = len(texts)
        joined = "\n".join(texts)
        self._emails = {normalize_pii(EMAIL, m.group()) for m in _EMAIL_RE.finditer(joined)}
        self._phones = {normalize_pii(PHONE, m.group()) for m in _PHONE_RE.finditer(joined)}
        self._haystacks: dict[str, str] = {}
        self._joined = joined
        self._memo: dict[tuple[str, str], bool] = {}

    def contains(self, entity_type: str, normalized: str) -> bool:
        if not normalized:
            return False
        if entity_type == EMAIL:
            return normalized in self._emails
        if entity_type == PHONE:
            return normalized in self._phones
        key = (entity_type, normalized)
        if key not in self._memo:
            haystack = self._haystack(entity_type)
            self._memo[key] = normalized in haystack and bool(
                re.search(rf"(?<!\w){re.escape(normalized)}(?!\w)", haystack))
        return self._memo[key]

    def _haystack(self, entity_type: str) -> str:
        if entity_type not in self._haystacks:
            # Line by line, so the normaliser's edge trimming never glues two lines into one value.
            self._haystacks[entity_type] = "\n".join(normalize_pii(entity_type, line)
                                                     for line in self._joined.splitlines())
        return self._haystacks[entity_type]
