"""PII extraction: the paper's template-based e-mail extraction attack."""

from genleak.attacker.pii.extraction import ExtractionConfig, run_extraction
from genleak.attacker.pii.matching import exact_hit, fuzzy_hit, fuzzy_score
from genleak.attacker.pii.result import ExtractionCell, ExtractionResult, ExtractionRow
from genleak.attacker.pii.templates import (
    ExtractionTemplate,
    build_prompt,
    get_template,
    register_template,
    template_names,
)

__all__ = [
    "ExtractionCell",
    "ExtractionConfig",
    "ExtractionResult",
    "ExtractionRow",
    "ExtractionTemplate",
    "build_prompt",
    "exact_hit",
    "fuzzy_hit",
    "fuzzy_score",
    "get_template",
    "register_template",
    "run_extraction",
    "template_names",
]
