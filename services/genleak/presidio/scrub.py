"""Scrubbing: detect PII with the offline analyzer, replace it with consistent Faker surrogates
through presidio-anonymizer (the paper's `replaced_data` condition: names and e-mails in the
prompts replaced before generation).

Passes over the texts: detect everything; propagate (a value detected once is replaced wherever
it occurs verbatim, also where the NER missed it: spaCy's small model misses a name in one header
and finds it in the next); learn every detected name (so a person's surrogate is fixed before any
text is rewritten, whatever order texts come in); rewrite. The mapping itself (real -> surrogate)
is never written anywhere: it is PII.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any, Iterator, Sequence

from genleak.core.errors import InvalidSpec
from genleak.core.pii_mask import PERSON
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.contracts.pii import ScrubConfig
from genleak.presidio.config import Detection
from genleak.presidio.surrogates import SurrogateBook

SCRUB_STAGE = "scrub"




def scrub_texts(texts: Sequence[str], config: ScrubConfig, reporter: Reporter = NULL_REPORTER,
                analyzer: Any = None) -> tuple[list[str], dict[str, Any]]:
    """Scrubbed texts (same order) and counts: replaced spans and distinct values per type."""
    from genleak.presidio.analyzer import get_analyzer

    started = time.perf_counter()
    analyzer = analyzer or get_analyzer(config.analyzer_config())
    detections = analyzer.detect(list(texts), config.batch_size, config.n_process, reporter)
    wanted = [[d for d in per_text if d.entity_type in config.entities] for per_text in detections]
    wanted, propagated = _propagate(texts, wanted)
    book = SurrogateBook(seed=config.seed, locale=config.locale, email_domain=config.email_domain)
    book.learn_names(d.value for per_text in wanted for d in per_text if d.entity_type == PERSON)
    anonymizer = _Anonymizer(book, config.entities)
    out = []
    for i, (text, found) in enumerate(zip(texts, wanted)):
        if i % 256 == 0:
            reporter.update(SCRUB_STAGE, i, len(texts), f"replacing PII in {i}/{len(texts)} texts")
        out.append(anonymizer.rewrite(text, found) if found else text)
    reporter.update(SCRUB_STAGE, len(texts), len(texts), f"replaced PII in {len(texts)} texts")
    replaced = Counter(d.entity_type for per_text in wanted for d in per_text)
    distinct = {t: len({d.value for per_text in wanted for d in per_text if d.entity_type == t}) for t in replaced}
    stats = {"texts": len(texts), "texts_changed": sum(a != b for a, b in zip(texts, out)),
             "replaced": dict(sorted(replaced.items())), "distinct_values": dict(sorted(distinct.items())),
             "propagated": dict(sorted(propagated.items())),
             "surrogates": book.stats(), "seconds": round(time.perf_counter() - started, 2)}
    return out, stats


def scrub_records(records: list[dict[str, Any]], config: ScrubConfig, default_fields: Sequence[str],
                  reporter: Reporter = NULL_REPORTER, analyzer: Any = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Copies of `records` with the string values at `config.fields` (or `default_fields`) scrubbed."""
    fields = config.fields or tuple(default_fields)
    if not fields:
        raise InvalidSpec("no fields to scrub: name them in scrub.fields", field="scrub.fields")
    out = [_deep_copy(r) for r in records]
    slots = [slot for i, record in enumerate(out) for path in fields for slot in _slots(record, path, i)]
    if not slots and records:
        raise InvalidSpec(f"no record has the fields {', '.join(fields)}", field="scrub.fields")
    scrubbed, stats = scrub_texts([container[key] for container, key in slots], config, reporter, analyzer)
    for (container, key), text in zip(slots, scrubbed):
        container[key] = text
    return out, {**stats, "fields": list(fields)}


def _propagate(texts: Sequence[str], wanted: list[list[Detection]]) -> tuple[list[list[Detection]], Counter]:
    """Add a detection for every verbatim occurrence of a detected value that no detection covers
    (or only part of it covers). Single name tokens are not spread (a first name alone is too often
    an ordinary word)."""
    values: dict[str, str] = {}
    for per_text in wanted:
        for d in per_text:
            if d.entity_type != PERSON or len(d.value.split()) >= 2:
                values.setdefault(d.value, d.entity_type)
    if not values:
        return wanted, Counter()
    pattern = re.compile(r"(?<![\w@.])(?:" + "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
                         + r")(?![\w@])")
    added: Counter = Counter()
    out = []
    for text, per_text in zip(texts, wanted):
        kept = list(per_text)
        for m in pattern.finditer(text):
            entity_type = values[m.group()]
            overlapping = [d for d in kept if d.start < m.end() and m.start() < d.end]
            # A shorter detection of the same type inside a known value ("Jane" of "Jane Doe") gives way to it.
            if all(d.entity_type == entity_type and m.start() <= d.start and d.end <= m.end() and
                   (d.start, d.end) != (m.start(), m.end()) for d in overlapping):
                kept = [d for d in kept if d not in overlapping]
                kept.append(Detection(entity_type, m.start(), m.end(), 0.5, "propagated", m.group()))
                added[entity_type] += 1
        out.append(sorted(kept, key=lambda d: d.start))
    return out, added


class _Anonymizer:
    """presidio-anonymizer with one `custom` operator per entity type, all backed by one book."""

    def __init__(self, book: SurrogateBook, entities: Sequence[str]):
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import OperatorConfig

        self._engine = AnonymizerEngine()
        self._operators = {t: OperatorConfig("custom", {"lambda": self._replacer(book, t)}) for t in entities}

    @staticmethod
    def _replacer(book: SurrogateBook, entity_type: str):
        return lambda value: book.surrogate(entity_type, value)

    def rewrite(self, text: str, found: list[Detection]) -> str:
        from presidio_anonymizer.entities import RecognizerResult

        results = [RecognizerResult(d.entity_type, d.start, d.end, d.score) for d in found]
        return self._engine.anonymize(text, results, self._operators).text


def _slots(record: Any, path: str, index: int) -> Iterator[tuple[dict, str]]:
    """(container, key) of every string at `path` (`a`, `a.b`, `a[].b`) in one record."""
    head, _, rest = path.partition(".")
    is_list = head.endswith("[]")
    name = head[:-2] if is_list else head
    if not isinstance(record, dict) or name not in record:
        return
    value = record[name]
    if is_list:
        if not isinstance(value, list):
            raise InvalidSpec(f"record {index}: {name!r} is not a list", field="scrub.fields")
        for item in value:
            yield from _slots(item, rest, index) if rest else ()
    elif rest:
        yield from _slots(value, rest, index)
    elif isinstance(value, str):
        yield record, name


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
