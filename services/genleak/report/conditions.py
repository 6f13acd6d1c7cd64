"""How reports order and name the experiment's conditions.

The order is the spec's `conditions` vocabulary (genleak.controller.spec's `Condition`; a unit test
keeps the two in step): the base model, tuned on the original data, tuned on generated data (as it
is, then scrubbed), and the positive control `planted`, which reports show in its own section only.
"""

from __future__ import annotations

from typing import Any

PLANTED = "planted"  # the positive control's condition (controller.positive_control plants its data)
GENERATED_CONDITIONS = ("generated", "generated-scrubbed")  # the conditions a generator's data is tuned on
CONDITION_ORDER = ("base", "original", *GENERATED_CONDITIONS, PLANTED)


def condition_label(result: dict[str, Any]) -> str:
    """How reports name a result: `generated`, or `generated [lr=0.001 seed=2]` for one setting of a sweep;
    `generated:hot` for generator `hot` of a `generators:` run (results carry `generator` there only)."""
    label = result.get("setting_label")
    name = f"{result['condition']}:{result['generator']}" if result.get("generator") else result["condition"]
    return f"{name} [{label}]" if label else name
