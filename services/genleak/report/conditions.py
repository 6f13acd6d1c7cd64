"""How reports order and name the experiment's conditions.

The order is the spec's `conditions` vocabulary (genleak.controller.spec's `Condition`; a unit test
keeps the two in step): the base model, tuned on the original data, tuned on generated data (as it
is, then scrubbed), and the positive control `planted`, which reports show in its own section only.
"""

from __future__ import annotations

from typing import Any

PLANTED = "planted"  # the positive control's condition (controller.positive_control plants its data)
CONDITION_ORDER = ("base", "original", "generated", "generated-scrubbed", PLANTED)


def condition_label(result: dict[str, Any]) -> str:
    """How reports name a result: `generated`, or `generated [lr=0.001 seed=2]` for one setting of a sweep."""
    label = result.get("setting_label")
    return f"{result['condition']} [{label}]" if label else result["condition"]
