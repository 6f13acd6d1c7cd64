"""PII extraction: the paper's template-based e-mail extraction attack.

The attack is attack.py (templates, matching and results beside it); the extraction job (spec, inputs
from the store, outputs to the store, held-out perplexity) is job.py.
"""

from genleak.attacker.extraction.attack import ExtractionConfig, run_extraction
from genleak.attacker.extraction.matching import exact_hit, fuzzy_hit, fuzzy_score
from genleak.attacker.extraction.result import ExtractionCell, ExtractionResult, ExtractionRow
from genleak.attacker.extraction.templates import (
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
