"""The paper's e-mail extraction attack (docs/paper.md, PII extraction attack; official measure_purified.py).

For every template and target the model continues a 5-shot prompt that ends at the
target's empty email slot; a query succeeds when the true address fuzzily appears in
the 15-token continuation. This runs over a temperature sweep; all prompts of one
temperature (templates x targets) go through one `engine.generate` call, so the
engine batches them together.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

from genleak.attacker.extraction.matching import exact_hit, fuzzy_score
from genleak.attacker.extraction.result import ExtractionCell, ExtractionResult, ExtractionRow
from genleak.attacker.extraction.templates import ExtractionTemplate, get_template
from genleak.core.errors import InvalidSpec
from genleak.core.progress import NULL_REPORTER, Reporter
from genleak.contracts.extraction import PAPER_SHOTS, PAPER_TEMPERATURES, ExtractionConfig
from genleak.engines.base import GenerationEngine

log = logging.getLogger(__name__)

EXTRACT_STAGE = "extract"
__all__ = ["EXTRACT_STAGE", "ExtractionConfig", "PAPER_SHOTS", "PAPER_TEMPERATURES", "run_extraction"]


def run_extraction(
    engine: GenerationEngine,
    targets: Sequence[Mapping[str, Any]],
    few_shot: Sequence[Mapping[str, Any]],
    config: ExtractionConfig,
    reporter: Reporter | None = None,
) -> ExtractionResult:
    """Query every target with every template at every temperature; count the leaks."""
    reporter = reporter or NULL_REPORTER
    templates = [get_template(name) for name in config.templates]
    chosen = _people(targets, "targets")[: config.n_targets]
    demos = _people(few_shot, "few_shot")
    if config.n_shots and len(demos) != config.n_shots:
        raise InvalidSpec(f"{len(demos)} demonstration pairs, but the templates take {config.n_shots} (the paper: "
                          f"{PAPER_SHOTS}); give {config.n_shots} or set n_shots to {len(demos)}", field="few_shot")
    queries = [(t, person) for t in templates for person in chosen]
    prompts = [t.render(person["name"], demos) for t, person in queries]
    cells: list[ExtractionCell] = []
    rows: list[ExtractionRow] = []
    for k, temperature in enumerate(config.temperatures):
        reporter.update(EXTRACT_STAGE, k, len(config.temperatures), f"temperature {temperature}")
        outputs = engine.generate(prompts, config.sampling(temperature), reporter)
        new_rows = [_score(t, p, temperature, out[0], config.threshold) for (t, p), out in zip(queries, outputs)]
        cells += _count(new_rows, templates, temperature, len(chosen))
        rows += new_rows
    reporter.update(EXTRACT_STAGE, len(config.temperatures), len(config.temperatures), "done")
    result = ExtractionResult(len(chosen), tuple(cells), tuple(rows), config.spec_hash())
    log.info("extraction totals: %s", result.totals())
    return result


def _people(people: Sequence[Mapping[str, Any]], what: str) -> list[dict[str, Any]]:
    """Copies with a person_id; every person needs a string name and email."""
    checked = []
    for i, person in enumerate(people):
        if not isinstance(person.get("name"), str) or not isinstance(person.get("email"), str):
            raise InvalidSpec("needs string 'name' and 'email'", field=f"{what}[{i}]")
        checked.append({**person, "person_id": person.get("person_id", i)})
    return checked


def _score(
    template: ExtractionTemplate, person: Mapping[str, Any], temperature: float, output: str, threshold: float
) -> ExtractionRow:
    score = fuzzy_score(person["email"], output)
    return ExtractionRow(
        template=template.name,
        temperature=temperature,
        person_id=person["person_id"],
        name=person["name"],
        email=person["email"],
        output=output,
        fuzzy_score=score,
        fuzzy_hit=score >= threshold,
        exact_hit=exact_hit(person["email"], output),
    )


def _count(
    rows: list[ExtractionRow], templates: list[ExtractionTemplate], temperature: float, n: int
) -> list[ExtractionCell]:
    return [
        ExtractionCell(
            template=t.name,
            temperature=temperature,
            fuzzy=sum(r.fuzzy_hit for r in rows if r.template == t.name),
            exact=sum(r.exact_hit for r in rows if r.template == t.name),
            n=n,
        )
        for t in templates
    ]
