"""Fine-tuning sweeps: `finetune.method`, `learning_rate` and `seed` each take one value or a list;
the experiment runs every combination (the paper's grid is learning rate x epoch x temperature, best
taken over it; seeds give the spread that best-case numbers hide).

A `Setting` is one combination. Its `label` names it in stage names and report rows; with no list in
the spec there is one setting and an empty label, so single runs read exactly as before.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any, Iterable


@dataclass(frozen=True)
class Setting:
    method: str
    learning_rate: float
    seed: int
    label: str = ""  # "" when the spec sweeps nothing

    @property
    def group(self) -> str:
        """The setting without its seed: what mean and spread over seeds are taken per."""
        return f"{self.method} lr={self.learning_rate:g}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def expand(method: Any, learning_rate: Any, seed: Any) -> list[Setting]:
    """Every combination, in spec order (methods, then learning rates, then seeds)."""
    methods, rates, seeds = as_list(method), as_list(learning_rate), as_list(seed)
    swept = len(methods) * len(rates) * len(seeds) > 1
    return [Setting(m, float(lr), int(s), _label(m, lr, s, methods, rates, seeds) if swept else "")
            for m, lr, s in itertools.product(methods, rates, seeds)]


def _label(method: str, lr: float, seed: int, methods: list, rates: list, seeds: list) -> str:
    """Only the swept dimensions: `lora lr=0.001 seed=2` or `lr=0.0001`."""
    parts = []
    if len(methods) > 1:
        parts.append(method)
    if len(rates) > 1:
        parts.append(f"lr={lr:g}")
    if len(seeds) > 1:
        parts.append(f"seed={seed}")
    return " ".join(parts)


def stage_name(kind: str, condition: str, setting: Setting | None, epoch: int | None = None) -> str:
    """`finetune[generated]`, `attack[generated@epoch2]`, `finetune[generated|lr=0.001 seed=2]`."""
    inner = condition if epoch is None else f"{condition}@epoch{epoch}"
    if setting is not None and setting.label:
        inner += f"|{setting.label}"
    return f"{kind}[{inner}]"


def groups(settings: Iterable[Setting]) -> list[str]:
    seen: list[str] = []
    for s in settings:
        if s.group not in seen:
            seen.append(s.group)
    return seen
