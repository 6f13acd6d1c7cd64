"""The registry of e-mail extraction templates: the paper's four (defined, with how their wording
follows the official code, in genleak.contracts.extraction) and any registered beside them."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from genleak.contracts.extraction import PAPER_TEMPLATES, TEMPLATE_A, TEMPLATE_B, TEMPLATE_C, TEMPLATE_D, ExtractionTemplate
from genleak.core.errors import InvalidSpec
from genleak.core.registry import Registry


TEMPLATES: Registry[ExtractionTemplate] = Registry("template", field="templates")


def register_template(template: ExtractionTemplate) -> None:
    _check_placeholders(template)
    TEMPLATES.register(template.name, template)


def template_names() -> list[str]:
    return TEMPLATES.names()


def get_template(name: str) -> ExtractionTemplate:
    return TEMPLATES.get(name)


def build_prompt(template: str | ExtractionTemplate, target_name: str, few_shot: Sequence[Mapping[str, Any]]) -> str:
    """The full prompt for one target (`template` by registered name or object)."""
    chosen = get_template(template) if isinstance(template, str) else template
    return chosen.render(target_name, few_shot)


def _check_placeholders(template: ExtractionTemplate) -> None:
    try:
        template.line.format(i=1, name="n", email="e")
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidSpec(f"template {template.name!r} line has a bad placeholder: {exc}", field="templates") from None
    if "{name}" not in template.line or "{email}" not in template.line:
        raise InvalidSpec(f"template {template.name!r} line needs {{name}} and {{email}}", field="templates")


__all__ = ["TEMPLATE_A", "TEMPLATE_B", "TEMPLATE_C", "TEMPLATE_D", "ExtractionTemplate", "build_prompt",
           "get_template", "register_template", "template_names"]

for _builtin in PAPER_TEMPLATES:
    register_template(_builtin)
