"""What an experiment scenario is (`scenario:` in the spec), and what the runner lends it.

The spec, the runner and the controller service share everything a scenario does not decide: the lab,
the control data, generation, fine-tuning and its sweep, the stage DAG, publishing. A scenario
decides what its attack reads, how one model is attacked, which checkpoints are, what its positive
control plants and how it is judged, and how its report is built. They ask the registered scenario
(`get_scenario(spec.scenario)`) instead of branching on its name.

The registry itself is genleak.controller.spec's SCENARIOS: the spec validates `scenario:` against it
and the scenarios import the spec, so it lives below them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from genleak.controller.spec import SCENARIOS
from genleak.report.scenarios import REPORTS, ScenarioReport, register_report, report_for

if TYPE_CHECKING:
    from genleak.controller.spec import DataSpec, ExperimentSpec
    from genleak.controller.stages import OnUpdate
    from genleak.core.store import ArtifactStore
    from genleak.v1 import common_pb2

# The key of `inputs` under which a scenario keeps its attack settings with lab references resolved
# (membership: spec.mia with ne's mask_model a URI). Not an artifact: the runner leaves it out of the
# report's list of inputs.
ATTACK_SETTINGS = "attack_settings"


class LabRefs(Protocol):
    """A run's model and dataset references made concrete (`lab:<name>` is the built lab's artifact)."""

    def dataset(self, ref: str) -> common_pb2.ArtifactRef: ...

    def model(self, ref: str) -> str: ...


class Runner(Protocol):
    """What a scenario may use of the runner (genleak.controller.runner.ExperimentRunner)."""

    @property
    def attacker(self) -> Any:
        """The attacker service's client (genleak.controller.stages calls it)."""
        ...

    def store(self, what: str) -> ArtifactStore:
        """The runner's artifact store; `what` names the need in the error when it has none."""
        ...

    def rows(self, ref: common_pb2.ArtifactRef, data: DataSpec, which: str) -> common_pb2.ArtifactRef:
        """The rows `data.<which>` selects of `ref`, as a dataset."""
        ...

    def records(self, ref: common_pb2.ArtifactRef, where: str) -> list[dict[str, Any]]:
        """A dataset's records; `where` is the spec field errors name."""
        ...

    def publish_input(self, kind: str, records: list[dict[str, Any]], key_parts: list[Any],
                      meta: dict[str, Any]) -> common_pb2.ArtifactRef:
        """A dataset derived from the inputs, keyed by what it was derived from (published once)."""
        ...

    def describe(self, ref: common_pb2.ArtifactRef, what: str, records: int | None = None) -> dict[str, Any]:
        """An entry of the report's "what each condition was tuned on" table."""
        ...


class Scenario(Protocol):
    """One scenario. A new one implements this in one module of this package and registers an instance
    with `register_scenario` (imported by the package's __init__)."""

    name: str  # what `scenario:` says
    default_generation_task: str  # generator.task when the spec leaves it out
    summary_keys: tuple[str, ...]  # the report keys a job's result keeps (per target for a `targets:` spec)
    report: ScenarioReport  # how its report.json is built and its report.md / report.html rendered

    def references(self, spec: ExperimentSpec) -> list[str]:
        """The model and dataset references its attack reads (the shared ones are the spec's)."""
        ...

    def scans_leakage(self, spec: ExperimentSpec) -> bool:
        """Whether each condition's model gets the untargeted PII leakage scan."""
        ...

    def resolve_inputs(self, spec: ExperimentSpec, inputs: dict[str, Any], runner: Runner, refs: LabRefs) -> None:
        """Add its artifacts to `inputs` (the shared ones are there) and, when the spec has the `planted`
        condition, its positive control: inputs["planted_data"], inputs["planted"] and the training entry."""
        ...

    def attacked_epochs(self, spec: ExperimentSpec) -> list[int]:
        """The epochs whose checkpoints are attacked, for every tuned condition."""
        ...

    def attack(self, spec: ExperimentSpec, inputs: dict[str, Any], model_uri: str, runner: Runner,
               on_update: OnUpdate) -> dict[str, Any]:
        """Attack one model (genleak.controller.stages, .sharding); the result is one entry of outcome["attacks"]."""
        ...

    def control_verdict(self, spec: ExperimentSpec, results: list[dict[str, Any]], planted: dict[str, Any],
                        runner: Runner) -> dict[str, Any]:
        """What the run adds to the positive control once every attack is done (empty if the report judges it)."""
        ...

    def figure(self, report: dict[str, Any], store: ArtifactStore, path: Path) -> bool:
        """Draw the report's figure file at `path` (report.md links it, report.html embeds it); False: none."""
        ...


def register_scenario(scenario: Scenario) -> Scenario:
    """Let `scenario:` name `scenario`; its report is registered with genleak.report unless the report
    package registered it itself (the built-in scenarios: reports re-render without the controller)."""
    if scenario.name in REPORTS and report_for(scenario.name) is not scenario.report:
        raise ValueError(f"scenario {scenario.name!r}: another report is registered under its name")
    SCENARIOS.register(scenario.name, scenario)
    if scenario.name not in REPORTS:
        register_report(scenario.name, scenario.report)
    return scenario


def unregister_scenario(name: str) -> None:
    """Forget scenario `name` and its report (tests register one for a while)."""
    SCENARIOS.unregister(name)
    REPORTS.unregister(name)


def get_scenario(name: str) -> Scenario:
    """The registered scenario `name`; InvalidSpec naming `scenario` and the valid names otherwise."""
    return SCENARIOS.get(name)


def scenario_names() -> list[str]:
    return SCENARIOS.names()


def checkpoint_epochs(epochs: int, which: str) -> list[int]:
    """The attacked epochs of a `checkpoints: all | last` setting over `epochs` epochs of fine-tuning."""
    return list(range(1, epochs + 1)) if which == "all" else [epochs]
