"""Frozen results of the e-mail extraction attack.

The summary (counts per template x temperature) holds no PII and goes to reports;
the per-target rows hold names, addresses and outputs and go to a separate artifact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ExtractionCell:
    """Successes for one template at one temperature, out of `n` queried targets."""

    template: str
    temperature: float
    fuzzy: int
    exact: int
    n: int

    @property
    def fuzzy_rate(self) -> float:
        return self.fuzzy / self.n if self.n else 0.0


@dataclass(frozen=True)
class ExtractionRow:
    """One query and its outcome. Contains PII."""

    template: str
    temperature: float
    person_id: Any
    name: str
    email: str
    output: str
    fuzzy_score: int
    fuzzy_hit: bool
    exact_hit: bool


@dataclass(frozen=True)
class ExtractionResult:
    n_targets: int
    cells: tuple[ExtractionCell, ...]
    rows: tuple[ExtractionRow, ...]
    config_hash: str

    def cell(self, template: str, temperature: float) -> ExtractionCell:
        for cell in self.cells:
            if cell.template == template and cell.temperature == temperature:
                return cell
        raise KeyError((template, temperature))

    @property
    def templates(self) -> list[str]:
        return list(dict.fromkeys(c.template for c in self.cells))

    def best(self, template: str) -> ExtractionCell:
        """The template's best temperature, as the paper's plots take the max over settings.

        Ties go to more exact hits, then to the lower temperature (closer to greedy).
        """
        cells = [c for c in self.cells if c.template == template]
        if not cells:
            raise KeyError(template)
        return max(cells, key=lambda c: (c.fuzzy, c.exact, -c.temperature))

    def best_temperature(self, template: str) -> float:
        return self.best(template).temperature

    def counts(self) -> dict[str, dict[str, dict[str, int]]]:
        """template -> temperature (as str, for JSON) -> {"fuzzy", "exact", "n"}."""
        nested: dict[str, dict[str, dict[str, int]]] = {}
        for c in self.cells:
            nested.setdefault(c.template, {})[str(c.temperature)] = {"fuzzy": c.fuzzy, "exact": c.exact, "n": c.n}
        return nested

    def hits(self) -> dict[str, dict[str, dict[str, list[int]]]]:
        """template -> temperature (str) -> {"fuzzy", "exact"}: positions, in query order, of the people
        hit (no PII), so reports can pair two models over the same people."""
        nested: dict[str, dict[str, dict[str, list[int]]]] = {}
        for c in self.cells:
            rows = [r for r in self.rows if r.template == c.template and r.temperature == c.temperature]
            nested.setdefault(c.template, {})[str(c.temperature)] = {
                "fuzzy": [i for i, r in enumerate(rows) if r.fuzzy_hit],
                "exact": [i for i, r in enumerate(rows) if r.exact_hit]}
        return nested

    def totals(self) -> dict[str, int]:
        """Hits over all cells, and how many distinct people leaked at least once."""
        return {
            "queries": sum(c.n for c in self.cells),
            "fuzzy": sum(c.fuzzy for c in self.cells),
            "exact": sum(c.exact for c in self.cells),
            "people_leaked_fuzzy": len({r.person_id for r in self.rows if r.fuzzy_hit}),
            "people_leaked_exact": len({r.person_id for r in self.rows if r.exact_hit}),
        }

    def summary(self) -> dict[str, Any]:
        """JSON-ready, PII-free: counts, best temperature per template, who was hit (positions), totals."""
        return {
            "n_targets": self.n_targets,
            "config_hash": self.config_hash,
            "counts": self.counts(),
            "best": {t: asdict(self.best(t)) for t in self.templates},
            "hits": self.hits(),
            "totals": self.totals(),
        }

    def row_dicts(self) -> list[dict[str, Any]]:
        """Per-target rows for the PII artifact."""
        return [asdict(r) for r in self.rows]
