"""The experiment spec (YAML): base vs tuned-on-original vs tuned-on-generated, attacked with
PII extraction (scenario A, `scenario: extraction`) or membership inference (scenario B,
`scenario: membership`, usually with self-instruct generated data).

Every field is typed and described; unknown keys are rejected and errors name the key path.
Models and datasets are artifact URIs or local folders; the string `lab:<name>` refers to
an artifact of the built-in lab (`lab:target`, `lab:generator`, `lab:prompts`, ...).
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_serializer, model_validator

from genleak.contracts.engine import EngineConfig, SamplingConfig
from genleak.contracts.extraction import ExtractionConfig, ExtractionParams, PerplexityParams
from genleak.contracts.finetune import DataFormat, FineTuneParams, TrainConfig
from genleak.contracts.generation import GenerationParams
from genleak.contracts.lab import LabBuildParams
from genleak.contracts.membership import MembershipParams
from genleak.contracts.pii import AnalyzerConfig, ScrubConfig
from genleak.contracts.pii_scan import DetectionParams, PIISampling, PIIScanParams
from genleak.controller.sweep import Setting, expand
from genleak.core.builtin_data import BUILTIN_FEW_SHOT, is_builtin_few_shot
from genleak.core.errors import InvalidSpec
from genleak.core.registry import Registry
from genleak.core.specs import Spec, overrides_of, parse_spec

Condition = Literal["base", "original", "generated", "generated-scrubbed", "planted"]
GENERATED_CONDITIONS = ("generated", "generated-scrubbed")
# planted: the positive control (controller.positive_control), reported in its own section only.
CONDITION_ORDER = ("base", "original", *GENERATED_CONDITIONS, "planted")
# Conditions tuned on data.prompts (the control data), as they are or with planted documents added.
CONTROL_CONDITIONS = ("original", "planted")
# What `scenario:` may name: genleak.controller.scenarios.base.Scenario objects, registered by that package
# (which genleak.controller imports before any spec is validated). The registry lives here because the
# scenarios import this module (their settings, the stages): the spec asks them without importing them.
SCENARIOS: Registry[Any] = Registry("scenario", field="scenario")
GenerationTask = Literal["continuation", "self_instruct"]
TEMPLATES = ("A", "B", "C", "D")


LabSpec = LabBuildParams  # the lab a spec builds or reuses is exactly what the lab-build job takes
# The lab's size presets (genleak.lab.config.PRESETS, which the controller may not import: it builds no
# models; a unit test keeps the two equal). Checked here so that a typo fails validation, not the lab job.
LAB_PRESETS = ("default", "tiny")


class DataSpec(Spec):
    prompts: str = Field("lab:prompts", description="Dataset of {prompt, continuation} records (Huang et al. format)")
    pii_targets: str = Field("lab:pii_targets", description="Dataset of {name, email} people to query")
    few_shot: str = Field("lab:few_shot", description="Demonstration {name, email} pairs: a dataset, or a built-in "
                                                     "set: 'paper' (the five pairs of the paper's code)")
    seed_tasks: str = Field("lab:seed_tasks", description="Self-instruct seed tasks {instruction, examples:[{input, output}]}")
    people: str | None = Field("lab:people", description="People records {name, email, phone, address}: the real PII "
                                                       "the leakage scan matches against (null: no inventory)")

    prompt_rows: str | None = Field(None, description="Rows of data.prompts that feed generation and the 'original' "
                                                      "fine-tune, as start:end (end exclusive, either may be empty; the "
                                                      "paper: '1110:'); null = all rows")
    target_rows: str | None = Field(None, description="Rows of data.pii_targets that are queried, as they are "
                                                      "(repeats included), as start:end (the paper: '0:1000'); null = all")

    @field_validator("prompt_rows", "target_rows")
    @classmethod
    def _row_range(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rows(value)
        return value

    def row_slice(self, which: Literal["prompt_rows", "target_rows"]) -> slice | None:
        value = getattr(self, which)
        return None if value is None else slice(*parse_rows(value))

    @model_validator(mode="after")
    def _targets_never_feed_training(self) -> "DataSpec":
        """One file for both (the paper's enron.jsonl): the queried rows must not be generation/fine-tuning rows."""
        if self.prompts != self.pii_targets:
            return self
        prompts, targets = (parse_rows(v) if v is not None else (0, None) for v in (self.prompt_rows, self.target_rows))
        if _overlap(prompts, targets):
            raise InvalidSpec(f"data.prompts and data.pii_targets are the same dataset ({self.prompts}) and the "
                              f"queried rows ({self.target_rows or 'all'}) overlap the rows that feed generation and "
                              f"fine-tuning ({self.prompt_rows or 'all'}); the paper queries '0:1000' and generates "
                              "from '1110:'", field="data.prompt_rows")
        return self

    @field_validator("few_shot")
    @classmethod
    def _known_builtin(cls, value: str) -> str:
        # A bare word is a built-in set's name (a file has a suffix, a URI a scheme, a folder a slash).
        if not any(c in value for c in ":/.") and not is_builtin_few_shot(value):
            raise ValueError(f"unknown built-in few-shot set {value!r}; valid: {', '.join(BUILTIN_FEW_SHOT)}, "
                             "or a dataset (file, URI, lab:few_shot)")
        return value


def parse_rows(value: str) -> tuple[int, int | None]:
    """'a:b' -> (a, b) with a >= 0, b > a or None (open end); 'a:' and ':b' allowed."""
    start, sep, end = value.partition(":")
    try:
        if not sep:
            raise ValueError
        first = int(start) if start.strip() else 0
        last = int(end) if end.strip() else None
    except ValueError:
        raise ValueError(f"rows must be start:end with whole numbers (e.g. '0:1000' or '1110:'), got {value!r}") from None
    if first < 0 or (last is not None and last <= first):
        raise ValueError(f"rows {value!r}: need 0 <= start < end")
    return first, last


def _overlap(a: tuple[int, int | None], b: tuple[int, int | None]) -> bool:
    (a0, a1), (b0, b1) = a, b
    return (a1 is None or b0 < a1) and (b1 is None or a0 < b1)


SamplingOverrides = overrides_of(SamplingConfig)


class GeneratorSpec(Spec):
    model: str = Field("lab:generator", description="Generator model (lab:generator, zoo:smollm2-135m-instruct, a URI)")
    task: GenerationTask = Field("continuation", description="continuation (scenario A) | self_instruct (scenario B; "
                                 "the default when scenario is membership)")
    engine: EngineConfig = EngineConfig()
    sampling: SamplingOverrides = Field(  # type: ignore[valid-type]
        default_factory=SamplingOverrides, description="Decoding settings (genleak.contracts.engine.SamplingConfig "
        "fields) over the task's own defaults: continuation samples as the paper (T=0.75, top-k 100, 1,000 new "
        "tokens), self_instruct as Wang et al. per stage; only what is set here changes")
    config: dict[str, Any] = Field(default_factory=dict, description="The task's own knobs, validated by the "
                                   "generator (continuation: max_prompt_tokens, limit, keep_prompt, ...; "
                                   "self_instruct: n_instructions, rouge_threshold, icl_seed, ...)")
    scrub: ScrubConfig = Field(ScrubConfig(), description="How the generated-scrubbed condition replaces PII in the "
                                                          "prompts before generation (default: names and e-mails, "
                                                          "as the paper's replaced_data)")
    shards: int = Field(1, ge=1, le=256, description="Split the continuation job into this many contiguous prompt "
                        "shards, one generation job each, spread over the generator replicas and merged in order "
                        "(1 = one job, as before; self_instruct is sequential and takes no shards)")

    @model_validator(mode="after")
    def _sampling_is_not_restated(self) -> "GeneratorSpec":
        both = sorted(set(self.config) & set(self.sampling.model_dump(exclude_none=True)))
        if both:
            raise InvalidSpec(f"{', '.join(both)} set in both generator.sampling and generator.config: keep one",
                              field="generator.config")
        return self

    def params(self, scrub: bool = False, offset: int | None = None, limit: int | None = None) -> GenerationParams:
        """The generation job's params; `offset`/`limit` select a shard of the continuation's records."""
        config = {**self.config, **self.sampling.model_dump(exclude_none=True)}
        if offset is not None:
            config.update(offset=offset, limit=limit)
        return GenerationParams(engine=self.engine, task=self.task, config=config, scrub=self.scrub if scrub else None)


GENERATOR_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"


class NamedGeneratorSpec(GeneratorSpec):
    """One entry of `generators:`: a whole generator section plus the short `name` that labels its stages
    (`generate[generated:<name>]`, `finetune[generated:<name>]`) and its section of the report. The name is
    a label only: the generation job's params (and so its cached result) are the section's, as for
    `generator:`."""

    name: str = Field(pattern=GENERATOR_NAME, description="Short label of this generator (letters, digits, . _ -; "
                      "at most 32 characters): its stages and report section are named by it")

    @model_validator(mode="after")
    def _sampling_is_not_restated(self) -> "NamedGeneratorSpec":
        # The same rule as generator:'s, as a ValueError so that the error names the list entry.
        both = sorted(set(self.config) & set(self.sampling.model_dump(exclude_none=True)))
        if both:
            raise ValueError(f"{', '.join(both)} set in both sampling and config of generator {self.name!r}: keep one")
        return self

    def plain(self) -> GeneratorSpec:
        """This entry as a `generator:` section (without its name)."""
        return GeneratorSpec(**{name: getattr(self, name) for name in GeneratorSpec.model_fields})


class FineTuneSpec(TrainConfig):
    """The fine-tuning job's training settings (genleak.contracts.finetune.TrainConfig, every field of it)
    plus the method, and sweeps: `method`, `learning_rate` and `seed` take one value or a list, every
    combination is tuned, and the report takes the paper's best over it and the mean/spread over seeds."""

    method: str | list[str] = Field("lora", description="lora | dora | pissa | full, or a list of them (sweep)")
    method_config: dict[str, Any] = FineTuneParams.model_fields["method_config"]
    learning_rate: float | list[float] = Field(
        2e-6, description="Peak learning rate (paper: 2e-6; tiny models need more), or a list (sweep)")
    seed: int | list[int] = Field(3407, description="Training seed, or a list: mean and spread over seeds are reported")
    instruction_format: Literal["alpaca", "chat"] = Field("alpaca", description="How self-instruct records become "
                                                          "training text: Alpaca prompt template or the chat template")
    train_on_prompt: bool = DataFormat.model_fields["train_on_prompt"]

    @field_validator("method", "learning_rate", "seed")
    @classmethod
    def _lists_are_sweeps(cls, value: Any) -> Any:
        if isinstance(value, list):
            if not value:
                raise ValueError("a sweep list needs at least one value")
            if len(set(value)) != len(value):
                raise ValueError("a sweep list names a value twice")
        return value

    @field_validator("learning_rate")
    @classmethod
    def _positive_rates(cls, value: float | list[float]) -> float | list[float]:
        bad = [v for v in (value if isinstance(value, list) else [value]) if not v > 0]
        if bad:
            raise ValueError(f"learning rates must be > 0, got {bad[0]:g}")
        return value

    @field_validator("save_merged")
    @classmethod
    def _merged_checkpoints_are_attacked(cls, value: bool) -> bool:
        if not value:
            raise ValueError("the experiment attacks the merged checkpoint of every epoch: save_merged must be true")
        return value

    def settings(self) -> list[Setting]:
        """Every (method, learning rate, seed) combination; one setting with an empty label without lists."""
        return expand(self.method, self.learning_rate, self.seed)

    def params(self, setting: Setting, data_format: str) -> FineTuneParams:
        """The fine-tuning job's params for one sweep setting and one kind of training data."""
        knobs = {name: getattr(self, name) for name in TrainConfig.model_fields}
        train = TrainConfig(**{**knobs, "learning_rate": setting.learning_rate, "seed": setting.seed})
        return FineTuneParams(method=setting.method, method_config=self.method_config, train=train,
                              data=DataFormat(format=data_format, train_on_prompt=self.train_on_prompt))


class AttackSpec(ExtractionConfig, PerplexityParams):
    """Scenario A's attack: the extraction job's knobs (genleak.contracts.extraction, every one of them, with
    its defaults: the paper's) and its engine, plus which checkpoints are attacked and the held-out texts."""

    engine: EngineConfig = EngineConfig()
    checkpoints: Literal["all", "last"] = Field("all", description="Attack every epoch checkpoint or the last only")
    perplexity_dataset: str | None = Field("lab:nonmembers", description="Held-out texts (field `text`): each "
                                           "attacked checkpoint's perplexity (utility) is reported; null skips it")

    def params(self) -> ExtractionParams:
        """The extraction job's params (the held-out texts' reference travels beside them)."""
        attack = ExtractionConfig(**{name: getattr(self, name) for name in ExtractionConfig.model_fields})
        return ExtractionParams(engine=self.engine, attack=attack, perplexity_samples=self.perplexity_samples,
                                perplexity_fields=self.perplexity_fields)


class LeakageSpec(Spec):
    """Untargeted PII leakage (scenario A): sample each condition's model unconditioned, detect PII with
    Presidio, count what is real (in `data.people`) and what was never in that model's fine-tuning data.
    The training data of generated conditions is scanned too (real PII that reached the training text)."""

    n_samples: int = Field(200, ge=1, description="Unconditioned samples per model")
    prefix: str = Field("", description="Unconditioned prompt; empty = the BOS token")
    temperature: float = Field(1.0, ge=0, description="Sampling temperature (Carlini et al.: 1.0, top-k 40)")
    top_k: int = Field(40, description="Top-k (<=0 disables)")
    max_new_tokens: int = Field(128, ge=1, description="Tokens per sample")
    seed: int = Field(0)
    entities: list[str] = Field(["EMAIL_ADDRESS", "PHONE_NUMBER", "PERSON", "STREET_ADDRESS"], min_length=1,
                                description="Presidio entity types counted")
    scan_training_data: bool = Field(True, description="Also scan the generated conditions' training data")
    n_process: int = Field(1, ge=1, le=64, description="Analyzer processes (spawned)")
    reveal: bool = Field(False, description="Write raw values to the scan artifacts (reports stay masked)")

    def params(self, engine: EngineConfig) -> PIIScanParams:
        """The PII-scan job's params: unconditioned samples, the counted entity types, the model's engine."""
        sampling = {"temperature": self.temperature, "top_k": self.top_k, "max_new_tokens": self.max_new_tokens,
                    "n": 1, "seed": self.seed}
        return PIIScanParams(engine=engine, samples=PIISampling(n_unconditioned=self.n_samples, prefix=self.prefix,
                                                                 sampling=sampling),
                             analyzer=AnalyzerConfig(entities=tuple(self.entities)),
                             detection=DetectionParams(n_process=self.n_process), reveal=self.reveal)


class PositiveControlSpec(Spec):
    """The `planted` condition: tuned on data.prompts plus documents that hold what the attack looks for."""

    fraction: float = Field(0.2, gt=0, le=1, description="Share planted: of the queried people's distinct e-mails "
                            "(scenario A) or of the non-member rows (scenario B)")
    copies: int = Field(4, ge=1, le=100, description="Scenario A: documents stating each planted person's e-mail "
                        "(they cycle through four mail forms: a sentence, a name/e-mail pair, two quoted headers)")
    seed: int = Field(0, description="Seed of which people or rows are planted")


class MembershipSpec(MembershipParams):
    """Scenario B's attack: the membership job's knobs (genleak.contracts.membership, every one of them) on the
    target's pretraining members, as the paper's MIMIR runs it, plus the texts, checkpoints and sharding."""

    attacks: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {"loss": {}, "zlib": {}, "min_k": {"k": 0.2}, "min_k_plus_plus": {"k": 0.2}},
        min_length=1, description="Attack name -> its knobs (loss, zlib, min_k, min_k_plus_plus, reference, lowercase, "
                    "ne: {mask_model: ...}; the built-in lab's masked LM is lab:mask_model)")
    # The experiment samples as MIMIR does; the job's own default (null) scores every text.
    n_samples: int | None = Field(1000, ge=1, description="Texts per side (MIMIR: 1000); null = all")
    reference_model: str | None = Field(None, description="Reference model for the reference attack")
    members: str = Field("lab:members", description="Member texts (JSONL, field text_field)")
    nonmembers: str = Field("lab:nonmembers", description="Non-member texts")
    perplexity_dataset: str | None = Field(None, description="Held-out texts for perplexity (default: the non-members)")
    checkpoints: Literal["all", "last"] = Field("all", description="Attack every epoch checkpoint or the last only")
    shards: int = Field(1, ge=1, le=256, description="Score each model in this many membership-inference jobs over "
                        "contiguous slices of the selected members and non-members, spread over the attacker "
                        "replicas; the controller merges the scores and computes the metrics (1 = one job)")

    def params(self) -> MembershipParams:
        """The membership job's params (the texts and models travel beside them as references)."""
        knobs = {name: getattr(self, name) for name in MembershipParams.model_fields if name != "attacks"}
        return MembershipParams(**knobs, attacks=[{"name": n, "config": c} for n, c in self.attacks.items()])


class ExperimentSpec(Spec):
    name: str = Field("experiment", pattern=r"^[A-Za-z0-9._-]+$", description="Run name (folder-safe)")
    scenario: str = Field("extraction", description="extraction (A: PII extraction) | membership (B: MIA), or "
                                                    "another registered scenario (genleak.controller.scenarios)")
    lab: LabSpec | None = Field(LabSpec(), description="Build/reuse the built-in lab; null when all inputs are given")
    data: DataSpec = DataSpec()
    target: str = Field("lab:target", description="Target model to fine-tune and attack")
    targets: list[str] | None = Field(None, min_length=1,
                                      description="Several target models instead of `target`: the experiment runs "
                                                  "once per target (lab and generated data shared), one report")
    generator: GeneratorSpec = GeneratorSpec()
    generators: list[NamedGeneratorSpec] | None = Field(
        None, min_length=1, max_length=16,
        description="Several generators instead of `generator`, each a generator section with a `name`: every "
                    "generated condition is generated, tuned and attacked once per generator, base/original/planted "
                    "once, and one report compares them (a section per generator, a summary across them)")
    finetune: FineTuneSpec = FineTuneSpec()
    attack: AttackSpec = AttackSpec()
    mia: MembershipSpec = MembershipSpec()
    leakage: LeakageSpec | None = Field(LeakageSpec(), description="Untargeted PII leakage scan per condition "
                                                                 "(scenario A); null to skip")
    conditions: list[Condition] = Field(["base", "original", "generated"], min_length=1,
                                        description="base | original (tuned on data.prompts) | generated | "
                                                    "generated-scrubbed | planted (the positive control: data.prompts "
                                                    "plus planted PII or non-members, see `control`)")
    control: PositiveControlSpec = Field(PositiveControlSpec(), description="What the planted condition plants")

    @field_validator("targets")
    @classmethod
    def _unique_targets(cls, targets: list[str] | None) -> list[str] | None:
        if targets is not None and len(set(targets)) != len(targets):
            raise ValueError("a target is listed twice")
        return targets

    @model_validator(mode="after")
    def _known_lab_preset(self) -> "ExperimentSpec":
        if self.lab is not None and self.lab.preset not in LAB_PRESETS:
            raise InvalidSpec(f"unknown lab preset {self.lab.preset!r}; valid: {', '.join(LAB_PRESETS)}",
                              field="lab.preset")
        return self

    @model_validator(mode="after")
    def _target_or_targets(self) -> "ExperimentSpec":
        if self.targets is not None and "target" in self.model_fields_set:
            raise InvalidSpec("give `target` or `targets`, not both", field="targets")
        return self

    @field_validator("generators")
    @classmethod
    def _distinct_generators(cls, generators: list[NamedGeneratorSpec] | None) -> list[NamedGeneratorSpec] | None:
        if generators is None:
            return None
        seen: dict[str, str] = {}
        for generator in generators:
            if generator.name in seen.values():
                raise ValueError(f"generator name {generator.name!r} is used twice: each entry needs its own name")
            key = generator.plain().spec_hash()
            if key in seen:
                raise ValueError(f"generators {seen[key]!r} and {generator.name!r} are the same generator (model, "
                                 "engine, sampling, config and scrub): their data would be identical")
            seen[key] = generator.name
        return generators

    @model_validator(mode="after")
    def _generator_or_generators(self) -> "ExperimentSpec":
        if self.generators is None:
            return self
        if "generator" in self.model_fields_set:
            raise InvalidSpec("give `generator` or `generators`, not both: with several generators, each entry of "
                              "`generators` is a whole generator section with a `name`", field="generators")
        if not self.generated_conditions():
            raise InvalidSpec(f"`generators` needs a generated condition in conditions "
                              f"({' or '.join(GENERATED_CONDITIONS)}): only those use a generator",
                              field="generators")
        return self

    @model_serializer(mode="wrap")
    def _without_unset_generators(self, handler: Any) -> Any:
        """`generators` is left out of the dump while unset, so that a spec with `generator:` hashes (and names
        its runs and cached results) exactly as it did before `generators` existed."""
        data = handler(self)
        if isinstance(data, dict) and data.get("generators") is None:
            data.pop("generators", None)
        return data

    def generator_list(self) -> list[GeneratorSpec]:
        """`generators`, or `[generator]` for a spec with one."""
        return list(self.generators) if self.generators else [self.generator]

    def generation_task(self) -> str:
        """The generation task (every generator of a spec has the same)."""
        return self.generator_list()[0].task

    def for_generator(self, name: str) -> "ExperimentSpec":
        """This experiment with one of its `generators` as its `generator` (how each report section reads it)."""
        for generator in self.generators or []:
            if generator.name == name:
                return self.model_copy(update={"generator": generator.plain(), "generators": None})
        raise KeyError(name)

    def target_list(self) -> list[str]:
        return list(self.targets) if self.targets else [self.target]

    def for_target(self, target: str) -> "ExperimentSpec":
        """This experiment with one target (what the runner runs)."""
        return self.model_copy(update={"target": target, "targets": None})

    @field_validator("conditions")
    @classmethod
    def _unique_conditions(cls, conditions: list[str]) -> list[str]:
        if len(set(conditions)) != len(conditions):
            raise ValueError("a condition is listed twice")
        return conditions

    @model_validator(mode="after")
    def _planted_needs_base(self) -> "ExperimentSpec":
        if "planted" in self.conditions and "base" not in self.conditions:
            raise InvalidSpec("the planted condition (a positive control) is judged against base: add base to "
                              "conditions", field="conditions")
        return self

    @field_validator("scenario")
    @classmethod
    def _registered_scenario(cls, name: str) -> str:
        SCENARIOS.get(name)  # an unknown name: InvalidSpec naming `scenario` and listing the registered ones
        return name

    @model_validator(mode="after")
    def _scenario_chooses_the_default_task(self) -> "ExperimentSpec":
        """generator.task, when left out, is the scenario's (membership: self_instruct)."""
        task = SCENARIOS.get(self.scenario).default_generation_task
        if "task" not in self.generator.model_fields_set and self.generator.task != task:
            object.__setattr__(self, "generator", self.generator.model_copy(update={"task": task}))
        if self.generators:
            generators = [g if "task" in g.model_fields_set or g.task == task else g.model_copy(update={"task": task})
                          for g in self.generators]
            if len({g.task for g in generators}) > 1:
                raise InvalidSpec("every generator must have the same task (" + ", ".join(
                    f"{g.name}: {g.task}" for g in generators) + "): the report compares their data on one scenario",
                                  field="generators")
            object.__setattr__(self, "generators", generators)
        return self

    @model_validator(mode="after")
    def _self_instruct_is_not_sharded(self) -> "ExperimentSpec":
        where = ["generator"] if not self.generators else [f"generators.{i}" for i in range(len(self.generators))]
        for key, generator in zip(where, self.generator_list()):
            if generator.task == "self_instruct" and generator.shards > 1:
                raise InvalidSpec("self_instruct generation is sequential (each round prompts with the instructions "
                                  "accepted so far) and cannot be sharded; use shards: 1", field=f"{key}.shards")
        return self

    def generated_conditions(self) -> list[str]:
        return [c for c in GENERATED_CONDITIONS if c in self.conditions]

    def scans_leakage(self) -> bool:
        return SCENARIOS.get(self.scenario).scans_leakage(self)

    def uses_lab(self) -> bool:
        return any(r.startswith("lab:") for r in self.references())

    def references(self) -> list[str]:
        """Every model/dataset reference this experiment reads."""
        refs = self.target_list()
        if self.generated_conditions():
            refs += [g.model for g in self.generator_list()]
            refs.append(self.data.seed_tasks if self.generation_task() == "self_instruct" else self.data.prompts)
        if any(c in self.conditions for c in CONTROL_CONDITIONS):
            refs.append(self.data.prompts)
        return refs + SCENARIOS.get(self.scenario).references(self)


def load_spec_text(text: str, source: str = "spec") -> ExperimentSpec:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InvalidSpec(f"{source} is not valid YAML: {exc}") from None
    except RecursionError:  # the YAML parser recurses once per nesting level
        raise InvalidSpec(f"{source} is nested too deeply to parse") from None
    if not isinstance(data, dict):
        raise InvalidSpec(f"{source} must be a YAML mapping")
    spec = parse_spec(ExperimentSpec, data)
    if spec.uses_lab() and spec.lab is None:
        raise InvalidSpec("lab: references like 'lab:target' need a lab section", field="lab")
    return spec
