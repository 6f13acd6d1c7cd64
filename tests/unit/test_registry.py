"""The one registry type behind every plugin family, the model-reference schemes, and the import layers."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import genleak
from genleak.core.errors import InvalidSpec
from genleak.core.registry import Registry

SERVICES = Path(genleak.__file__).resolve().parents[1]


def test_register_get_names_and_contains():
    registry: Registry[int] = Registry("widget", field="widget.name")
    assert registry.register("b", 2) == 2
    registry.register("a", 1)
    assert registry.get("a") == 1 and "b" in registry and "c" not in registry
    assert registry.names() == ["a", "b"]
    assert len(registry) == 2 and registry.family == "widget"


def test_items_keep_registration_order():
    registry: Registry[str] = Registry("widget")
    for name in ("zeta", "alpha", "mu"):
        registry.register(name, name.upper())
    assert list(registry) == ["zeta", "alpha", "mu"]
    assert registry.items() == [("zeta", "ZETA"), ("alpha", "ALPHA"), ("mu", "MU")]
    assert registry.values() == ["ZETA", "ALPHA", "MU"]


def test_register_as_decorator():
    registry: Registry[type] = Registry("widget")

    @registry.register("plain")
    class Plain:
        pass

    assert registry.get("plain") is Plain  # the decorator returns what it decorates


def test_duplicate_name_is_refused_unless_replacing():
    registry: Registry[int] = Registry("widget")
    registry.register("a", 1)
    registry.register("b", 2)
    with pytest.raises(ValueError, match="widget 'a' is already registered"):
        registry.register("a", 3)
    assert registry.get("a") == 1
    registry.register("a", 3, replace=True)
    assert registry.items() == [("a", 3), ("b", 2)]  # the replacement keeps the name's place


def test_unknown_name_names_the_field_and_the_sorted_valid_names():
    registry: Registry[int] = Registry("widget", field="widget.name")
    for name in ("c", "a", "b"):
        registry.register(name, 0)
    with pytest.raises(InvalidSpec) as err:
        registry.get("nope")
    assert err.value.field == "widget.name"
    assert err.value.message == "widget.name: unknown widget 'nope'; valid: a, b, c"
    with pytest.raises(InvalidSpec) as err:
        registry.get("nope", field="spec.widgets")
    assert err.value.field == "spec.widgets"
    with pytest.raises(InvalidSpec, match="valid: none registered"):
        Registry("widget").get("x")


def test_unregister_forgets_a_name():
    registry: Registry[int] = Registry("widget")
    registry.register("a", 1)
    registry.unregister("a")
    registry.unregister("never-there")
    assert "a" not in registry and registry.names() == []


def test_concurrent_registrations_all_land():
    registry: Registry[int] = Registry("widget")
    threads = [threading.Thread(target=registry.register, args=(f"w{i}", i)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(registry) == 32


def test_every_plugin_family_uses_the_registry_type():
    from genleak.attacker.mia.registry import ATTACKS
    from genleak.attacker.mia.scorers import SCORERS
    from genleak.attacker.extraction.templates import TEMPLATES
    from genleak.core.models import MODEL_SCHEMES
    from genleak.controller.spec import SCENARIOS
    from genleak.core.store.registry import STORES
    from genleak.engines.registry import ENGINES
    from genleak.finetuner.methods.registry import METHODS
    from genleak.generator.tasks.registry import TASKS
    from genleak.presidio.recognizers.registry import RECOGNIZERS
    from genleak.report.scenarios import REPORTS
    from genleak.zoo.registry import ZOO

    families = {
        "engines": (ENGINES, {"hf", "vllm"}),
        "tasks": (TASKS, {"continuation", "self_instruct"}),
        "methods": (METHODS, {"lora", "dora", "pissa", "full"}),
        "attacks": (ATTACKS, {"loss", "zlib", "min_k", "min_k_plus_plus", "reference", "lowercase", "ne"}),
        "scorers": (SCORERS, {"hf", "vllm"}),
        "templates": (TEMPLATES, {"A", "B", "C", "D"}),
        "recognizers": (RECOGNIZERS, {"us_street_address"}),
        "stores": (STORES, {"file", "s3"}),
        "zoo": (ZOO, {"smollm2-135m-instruct", "gemma-3-270m"}),
        "model schemes": (MODEL_SCHEMES, {"zoo"}),
        "scenarios": (SCENARIOS, {"extraction", "membership"}),
        "report scenarios": (REPORTS, {"extraction", "membership"}),
    }
    for family, (registry, builtin) in families.items():
        assert isinstance(registry, Registry), family
        assert builtin <= set(registry.names()), (family, registry.names())


def test_family_functions_keep_their_errors():
    from genleak.attacker.mia import get_attack, get_scorer
    from genleak.finetuner.methods import get_method
    from genleak.generator.tasks import get_task
    from genleak.presidio.recognizers import create_recognizer

    cases = [(lambda: get_attack("nope"), "attack", "unknown MIA attack 'nope'"),
             (lambda: get_scorer("nope"), "engine.name", "unknown scoring engine 'nope'"),
             (lambda: get_method("nope", "train.method"), "train.method", "unknown fine-tune method 'nope'"),
             (lambda: get_task("nope"), "task", "unknown task 'nope'"),
             (lambda: create_recognizer("nope", "en"), "analyzer.recognizers", "unknown genleak recognizer 'nope'")]
    for call, field, message in cases:
        with pytest.raises(InvalidSpec) as err:
            call()
        assert err.value.field == field and message in err.value.message


def test_a_second_plugin_under_a_taken_name_is_refused():
    from genleak.attacker.mia import register_attack
    from genleak.attacker.mia.loss import LossConfig, loss_score

    with pytest.raises(ValueError, match="MIA attack 'loss' is already registered"):
        register_attack("loss", LossConfig, loss_score)


# ---- model-reference schemes: core resolves them, the zoo package registers "zoo"


def _store(tmp_path: Path):
    from genleak.core.settings import StoreSettings
    from genleak.core.store import ArtifactStore

    return ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))


def test_a_reference_with_an_unregistered_scheme_is_a_clear_invalid_spec(tmp_path):
    import genleak.zoo  # noqa: F401  (registers "zoo", which the error lists)
    from genleak.core.models import require_model, resolve_model_dir

    store = _store(tmp_path)
    for call in (lambda: resolve_model_dir(store, "nosuch:model", where="generator.model"),
                 lambda: require_model(store, "nosuch:model", where="generator.model")):
        with pytest.raises(InvalidSpec) as err:
            call()
        assert err.value.field == "generator.model"
        assert "unknown model reference scheme 'nosuch'; valid: " in err.value.message and "zoo" in err.value.message


def test_zoo_references_go_to_the_zoo_scheme(tmp_path):
    import genleak.zoo  # noqa: F401
    from genleak.core.models import require_model, resolve_model_dir

    for call in (lambda: require_model(_store(tmp_path), "zoo:no-such-model", where="generator.model"),
                 lambda: resolve_model_dir(_store(tmp_path), "zoo:no-such-model", where="generator.model")):
        with pytest.raises(InvalidSpec, match="unknown zoo model 'no-such-model'; valid: zoo:gemma-3-270m, zoo:smollm2-135m-instruct"):
            call()


def test_a_local_folder_with_a_colon_in_its_name_is_still_a_folder(tmp_path, monkeypatch):
    from genleak.core.models import require_model

    folder = tmp_path / "run:1"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    require_model(_store(tmp_path), "run:1")


def _run(code: str) -> str:
    """`code`'s output in a fresh interpreter (what a module imports is only visible there)."""
    env = {**os.environ, "PYTHONPATH": str(SERVICES)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=env).stdout.strip()


def test_core_models_imports_no_zoo_and_each_service_entry_registers_it():
    assert _run("import genleak.core.models, sys; print([m for m in sys.modules if m.startswith('genleak.zoo')])") \
        == "[]"
    # Every module that resolves model references, imported alone, has the zoo scheme registered.
    for entry in ("genleak.generator.service", "genleak.finetuner.service", "genleak.attacker.service",
                  "genleak.attacker.mia.job", "genleak.attacker.extraction.job", "genleak.attacker.pii_scan.job", "genleak.zoo"):
        code = f"import {entry}; from genleak.core.models import MODEL_SCHEMES; print(MODEL_SCHEMES.names())"
        assert _run(code) == "['zoo']", entry


def _genleak_imports(module_file: Path) -> set[str]:
    """Every genleak module a file imports, at the top or inside functions (type-only imports too)."""
    found = set()
    for node in ast.walk(ast.parse(module_file.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("genleak"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("genleak"))
    return found


def test_the_registry_type_needs_no_dependency():
    code = ("import genleak.core.registry, sys; "
            "print(sorted(m for m in sys.modules if m.startswith(('genleak.', 'torch', 'pydantic', 'numpy'))))")
    assert _run(code) == "['genleak.core', 'genleak.core.errors', 'genleak.core.registry']"


def test_core_imports_nothing_above_core():
    offenders = {}
    for path in (SERVICES / "genleak" / "core").rglob("*.py"):
        above = {m for m in _genleak_imports(path) if not m.startswith("genleak.core") and m != "genleak"}
        if above:
            offenders[str(path.relative_to(SERVICES))] = sorted(above)
    assert offenders == {}


@pytest.mark.parametrize(("low", "high"), [("engines/precision.py", "genleak.engines.vllm_engine"),
                                           ("zoo/registry.py", "genleak.zoo.gguf"),
                                           ("engines/vllm_runtime.py", "genleak.engines.precision"),
                                           ("engines/vllm_runtime.py", "genleak.engines.vllm_engine")])
def test_broken_import_cycles_stay_broken(low, high):
    assert high not in _genleak_imports(SERVICES / "genleak" / low)
