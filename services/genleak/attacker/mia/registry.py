"""The one registry of MIA attacks, and the driver that runs them over shared log-probs.

Convention for every attack: HIGHER score = MORE likely a member (training text).
Scores from papers/tools with the opposite sign (MIMIR reports losses, lower = member)
are negated here so all attacks feed `compute_metrics` the same way.

An attack is `fn(target, extras, config) -> float` over one text's precomputed
`TokenLogProbs`; `needs` names the extra log-prob sets it reads (e.g. "reference": the same
text under a reference model; "neighbours": a list per text). Attacks never run a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from genleak.core.errors import InvalidSpec
from genleak.core.registry import Registry
from genleak.core.specs import Spec, parse_spec
from genleak.attacker.mia.logprobs import TokenLogProbs

AttackFn = Callable[[TokenLogProbs, Mapping[str, TokenLogProbs], Any], float]

# The text each extra input must be scored on, given the target text: the caller uses this
# to build the extras, and the driver to check they belong to the same texts.
EXTRA_TEXT: dict[str, Callable[[str], str]] = {
    "reference": lambda text: text,
    "lowercase": str.lower,
}
# Extras that are a list of log-prob sets per text, made by a model the attack's config names
# (the neighbourhood attack's neighbours under the target): checked by count only.
EXTRA_GROUPS = ("neighbours",)


@dataclass(frozen=True)
class Attack:
    name: str
    config_cls: type[Spec]
    fn: AttackFn
    needs: tuple[str, ...] = ()


ATTACKS: Registry[Attack] = Registry("MIA attack", field="attack")


def register_attack(name: str, config_cls: type[Spec], fn: AttackFn, needs: tuple[str, ...] = ()) -> None:
    known = [*EXTRA_TEXT, *EXTRA_GROUPS]
    unknown = [n for n in needs if n not in known]
    if unknown:
        raise ValueError(f"attack {name!r} needs unknown extra inputs {unknown}; known: {sorted(known)}")
    ATTACKS.register(name, Attack(name, config_cls, fn, tuple(needs)))


def attack_names() -> list[str]:
    return ATTACKS.names()


def get_attack(name: str) -> Attack:
    return ATTACKS.get(name)


def run_attacks(
    names_and_configs: Mapping[str, Spec | Mapping[str, Any] | None],
    target: list[TokenLogProbs],
    extras: Mapping[str, list[TokenLogProbs]] | None = None,
) -> dict[str, np.ndarray]:
    """Scores (higher = member) of each named attack for every text in `target`."""
    extras = extras or {}
    scores = {}
    for name, raw_config in names_and_configs.items():
        attack = get_attack(name)
        config = _config(attack, raw_config)
        for need in attack.needs:
            _check_extra(name, need, target, extras)
        rows = ({need: extras[need][i] for need in attack.needs} for i in range(len(target)))
        scores[name] = np.array([attack.fn(t, row, config) for t, row in zip(target, rows)], dtype=np.float64)
    return scores


def parse_attack_config(name: str, raw: Spec | Mapping[str, Any] | None) -> Spec:
    """The attack's typed config from a spec value (validated, field errors name the attack)."""
    return _config(get_attack(name), raw)


def _config(attack: Attack, raw: Spec | Mapping[str, Any] | None) -> Spec:
    if isinstance(raw, attack.config_cls):
        return raw
    if isinstance(raw, Spec):
        raise InvalidSpec(f"expects {attack.config_cls.__name__}, got {type(raw).__name__}", field=attack.name)
    return parse_spec(attack.config_cls, dict(raw or {}), where=attack.name)


def _check_extra(name: str, need: str, target: list[TokenLogProbs], extras: Mapping[str, list]) -> None:
    if need not in extras:
        raise InvalidSpec(f"attack {name!r} needs the extra input {need!r}; given: {sorted(extras)}", field=name)
    if len(extras[need]) != len(target):
        raise InvalidSpec(f"extra {need!r} has {len(extras[need])} texts, target has {len(target)}", field=name)
    if need in EXTRA_GROUPS:
        return
    expected = EXTRA_TEXT[need]
    for i, (t, e) in enumerate(zip(target, extras[need])):
        if e.text != expected(t.text):
            raise InvalidSpec(f"extra {need!r} text #{i} does not match the target text", field=name)
