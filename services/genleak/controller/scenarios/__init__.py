"""Experiment scenarios: what `scenario:` in a spec selects. Importing the package registers the built-in
ones (genleak.controller imports it, so a spec is never validated before they are registered).

- base.py: the `Scenario` interface, what the runner lends a scenario, register/get;
- extraction.py: scenario A, PII extraction after fine-tuning;
- membership.py: scenario B, membership inference after fine-tuning.

A third scenario is one new module here: a class implementing `Scenario` (its report's builder and
renderers as a genleak.report `ScenarioReport`) and a `register_scenario(...)` line, imported below.
"""

from genleak.controller.scenarios.base import (ATTACK_SETTINGS, LabRefs, Runner, Scenario, get_scenario,
                                               register_scenario, scenario_names, unregister_scenario)
from genleak.controller.scenarios import extraction as _extraction  # noqa: F401  (registers "extraction")
from genleak.controller.scenarios import membership as _membership  # noqa: F401  (registers "membership")

__all__ = ["ATTACK_SETTINGS", "LabRefs", "Runner", "Scenario", "get_scenario", "register_scenario",
           "scenario_names", "unregister_scenario"]
