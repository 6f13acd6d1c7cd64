"""`genleak validate SPEC` and `genleak run --dry-run SPEC`: check a spec as `genleak run` would, start
nothing, and print its plan: the stages in order and which of them are cached in the store.

"cached" is known from the run journal: the controller records each stage whose outputs it published
(controller.journal, `stages_done`), with the hash of the spec it ran. A stage that an earlier execution
of this same spec finished in this store is answered from the store when it runs again (its job's
request is the same, and job outputs are kept under the request's hash). A stage no such execution
finished reads "to run", though a job that another spec shares (the lab, say) may still be found there:
saying more would need the services, which compute the requests from the outputs of earlier stages.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from genleak.cli.checks import check_local_inputs, read_spec_file
from genleak.controller.journal import list_runs
from genleak.controller.runner import experiment_plan
from genleak.controller.spec import ExperimentSpec, load_spec_text
from genleak.core.errors import InvalidSpec
from genleak.core.settings import Settings
from genleak.core.store import ArtifactStore


@dataclass(frozen=True)
class Plan:
    spec: str
    run: str
    scenario: str
    targets: list[str]
    spec_sha256: str
    store: str
    stages: list[dict[str, Any]]  # {"name", "cached"}

    @property
    def cached(self) -> int:
        return sum(1 for stage in self.stages if stage["cached"])


def validate_command(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 with the plan for a valid spec; 2 with the one-line reason otherwise (as JSON with --json)."""
    try:
        plan = build_plan(args.spec, getattr(args, "run_name", ""), ArtifactStore(settings.store),
                          remote=getattr(args, "remote", False))
    except InvalidSpec as exc:
        if not args.json:
            raise
        print(json.dumps({"spec": args.spec, "valid": False, "key": exc.field, "error": exc.message}, indent=1))
        return 2
    print(json.dumps({**asdict(plan), "valid": True, "cached": plan.cached}, indent=1) if args.json
          else render_plan(plan))
    return 0


def build_plan(spec_path: str, run_name: str, store: ArtifactStore, remote: bool = False) -> Plan:
    """Everything `genleak run` checks before it starts the services, then the stages and their cache status.
    The spec is turned into what `genleak run` submits (local datasets, and with `remote` local model
    folders, published content-keyed, so the run reuses them; hf:// models pinned), because the spec the
    controller runs, and so its hash, names their URIs."""
    from genleak.cli.run import submitted_spec_text

    text = read_spec_file(spec_path)
    spec = load_spec_text(text, source=spec_path)
    check_local_inputs(spec, Path(spec_path).parent, remote=remote)
    ran = load_spec_text(submitted_spec_text(text, spec, store, Path(spec_path).parent, remote), source=spec_path)
    done = cached_stages(store, ran)
    stages = [{"name": name, "cached": name in done} for name in experiment_plan(ran)]
    return Plan(spec=spec_path, run=run_name or spec.name, scenario=spec.scenario, targets=spec.target_list(),
                spec_sha256=ran.spec_hash(), store=store.root, stages=stages)


def cached_stages(store: ArtifactStore, spec: ExperimentSpec) -> set[str]:
    """The stages that earlier executions of this spec (under any run name) finished in this store; all of
    them once one execution succeeded."""
    same = [e for e in list_runs(store) if e.get("spec_sha256") == spec.spec_hash()]
    if any(e.get("state") == "succeeded" for e in same):
        return set(experiment_plan(spec))
    return {name for e in same for name in e.get("stages_done", [])}


def render_plan(plan: Plan) -> str:
    width = max(len(stage["name"]) for stage in plan.stages) if plan.stages else 0
    targets = f"{len(plan.targets)} targets" if len(plan.targets) > 1 else f"target {plan.targets[0]}"
    lines = [f"{plan.spec}: valid (run {plan.run}, scenario {plan.scenario}, {targets})",
             f"plan: {len(plan.stages)} stages, {plan.cached} cached in {plan.store}"]
    lines += [f"  {i:>3}  {stage['name']:<{width}}  {'cached' if stage['cached'] else 'to run'}"
              for i, stage in enumerate(plan.stages, start=1)]
    lines.append("(cached: finished by an earlier execution of this spec in this store, so answered from it; "
                 "stages that run side by side are listed in the order they are submitted)")
    return "\n".join(lines)
