"""Every model and dataset a spec names, with the YAML key that names it: what the edge checks.

A reference is a `lab:` name, a `scheme:` reference (`zoo:`, `hf://`, `file://`, `s3://`), a built-in
set's bare name (`few_shot: paper`), or a path on the machine that wrote the spec. Paths are what can
be wrong before anything runs (a file not downloaded yet, a typo), so `genleak run` and `genleak
validate` check them (genleak.cli.checks) and the controller refuses relative dataset paths, which no
service can read (`refuse_relative_datasets`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from genleak.controller.spec import ExperimentSpec
from genleak.core.builtin_data import is_builtin_few_shot
from genleak.core.errors import InvalidSpec

Kind = Literal["model", "dataset"]
# `zoo:name`, `lab:name`, `hf://org/name`, `s3://bucket/key`: a scheme of two letters or more (so that a
# Windows drive letter would still read as a path).
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
# Spec keys that name a dataset, as (section, key); the `genleak run` upload reads the same list.
DATASET_KEYS = (("data", "prompts"), ("data", "pii_targets"), ("data", "few_shot"), ("data", "seed_tasks"),
                ("data", "people"), ("mia", "members"), ("mia", "nonmembers"), ("mia", "perplexity_dataset"),
                ("attack", "perplexity_dataset"))


@dataclass(frozen=True)
class Reference:
    key: str  # the dotted YAML key, e.g. data.prompts or targets[1]
    value: str
    kind: Kind

    @property
    def is_path(self) -> bool:
        """A path on the spec writer's machine (not a URI, lab name or built-in set)."""
        if _SCHEME.match(self.value):
            return False
        return not (self.key == "data.few_shot" and is_builtin_few_shot(self.value))


def named_references(spec: ExperimentSpec) -> list[Reference]:
    """The spec's model and dataset references by key, in spec order; unset (null) keys are left out."""
    refs = [Reference("target", spec.target, "model")] if not spec.targets else [
        Reference(f"targets[{i}]", target, "model") for i, target in enumerate(spec.targets)]
    refs += _generator_models(spec)
    for section, key in DATASET_KEYS:
        value = getattr(getattr(spec, section), key)
        if isinstance(value, str):
            refs.append(Reference(f"{section}.{key}", value, "dataset"))
    if spec.mia.reference_model:
        refs.append(Reference("mia.reference_model", spec.mia.reference_model, "model"))
    for attack, knobs in spec.mia.attacks.items():  # e.g. the neighbourhood attack's mask_model
        refs += [Reference(f"mia.attacks.{attack}.{knob}", value, "model") for knob, value in knobs.items()
                 if knob.endswith("model") and isinstance(value, str)]
    return refs


def _generator_models(spec: ExperimentSpec) -> list[Reference]:
    """generator.model, or each of `generators:` where the spec lists several."""
    several = getattr(spec, "generators", None)
    if several:
        return [Reference(f"generators[{i}].model", g.model, "model") for i, g in enumerate(several)]
    return [Reference("generator.model", spec.generator.model, "model")]


def refuse_relative_datasets(spec: ExperimentSpec) -> None:
    """A relative dataset path reaches the services as it is and no service can read it (their store
    takes URIs and absolute paths): refuse it up front, naming the key, instead of failing in a job."""
    for ref in named_references(spec):
        if ref.kind == "dataset" and ref.is_path and not ref.value.startswith(("/", "~")):
            raise InvalidSpec(f"{ref.value!r} is a path on the machine that wrote the spec, which the services "
                              "cannot read: publish it first (`genleak data import FILE` prints its URI; `genleak "
                              "run` uploads local files itself) and give that URI", field=ref.key)
