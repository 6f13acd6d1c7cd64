"""Readers for the deployment files (compose, Dockerfiles, rendered kustomize, NetworkPolicy semantics, the
MinIO init script) used by test_deploy_static."""

from __future__ import annotations

import copy
import json
import re
import shlex
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml
from genleak.core.settings import Settings
from kustomize_lite import render

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE_FILES = ("docker-compose.yml", "deploy/compose.cpu.yml", "deploy/compose.tls.yml", "deploy/compose.direct.yml",
                 "deploy/compose.external-s3.yml")
SERVICES = ("generator", "finetuner", "attacker", "controller")
WORKERS = ("generator", "finetuner", "attacker")


# ---- settings ----

class _Recorder(dict):
    def __init__(self):
        super().__init__()
        self.names: set[str] = set()

    def get(self, key, default=None):
        self.names.add(key)
        return default


def settings_env_names() -> set[str]:
    """Every GENLEAK_* variable Settings.from_env reads (recorded, not listed by hand)."""
    recorder = _Recorder()
    Settings.from_env(recorder)
    return {n for n in recorder.names if n.startswith("GENLEAK_")}


# ---- compose ----

class Reset:
    """Compose's `!reset` tag: the override removes the key."""


@dataclass
class Override:
    """Compose's `!override` tag: the override's value replaces the base's instead of merging into it."""

    value: Any


class _ComposeLoader(yaml.SafeLoader):
    pass


def _override(loader: yaml.SafeLoader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_scalar(node))


_ComposeLoader.add_constructor("!reset", lambda loader, node: Reset())
_ComposeLoader.add_constructor("!override", _override)


def load_compose(relative: str) -> dict:
    return yaml.load((ROOT / relative).read_text(), _ComposeLoader)


def for_schema(doc: Any) -> Any:
    """The document as the schema sees it (which knows no tags): a key set to `!reset` is left out, as the
    merged project has it; an `!override` value is validated as the value it puts in place."""
    if isinstance(doc, Override):
        return for_schema(doc.value)
    if isinstance(doc, dict):
        return {k: for_schema(v) for k, v in doc.items() if not isinstance(v, Reset)}
    if isinstance(doc, list):
        return [for_schema(v) for v in doc]
    return doc


def merge_compose(base: dict, override: dict) -> dict:
    """`docker compose -f base -f override` for the keys the tests read (maps merge, !reset removes)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Reset):
            out.pop(key, None)
        elif isinstance(value, Override):
            out[key] = copy.deepcopy(value.value)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_compose(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def compose_schema() -> dict:
    path = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(path.read_text())


def env_file_names(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


# ---- Dockerfiles ----

@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, instruction: str) -> list[str]:
        return [args for ins, args in self.instructions if ins == instruction]

    def last(self, instruction: str) -> str | None:
        found = self.all(instruction)
        return found[-1] if found else None


def dockerfile_stages(path: Path) -> list[Stage]:
    text = re.sub(r"\\\n", " ", "\n".join(line for line in path.read_text().splitlines()
                                        if not line.lstrip().startswith("#")))
    stages: list[Stage] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        instruction, _, args = line.strip().partition(" ")
        instruction, args = instruction.upper(), args.strip()
        if instruction == "FROM":
            parts = args.split()
            stages.append(Stage(parts[0], parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else ""))
        elif stages:
            stages[-1].instructions.append((instruction, args))
    return stages


def stage_env(stage: Stage) -> dict[str, str]:
    """The ENV a stage sets (KEY=VALUE pairs; later ones win)."""
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for word in shlex.split(args):
            key, _, value = word.partition("=")
            env[key] = value
    return env


def image_stage(image: str) -> tuple[Path, Stage]:
    """The Dockerfile stage an image reference of ours is built from (genleak/NAME:VERSION[-cpu|-gpu])."""
    repository, _, tag = image.partition(":")
    service = repository.removeprefix("genleak/")
    path = DEPLOY / "docker" / f"{service}.Dockerfile"
    target = tag.rsplit("-", 1)[1] if tag.endswith(("-cpu", "-gpu")) else service
    return path, next(s for s in dockerfile_stages(path) if s.name == target)


def exec_form(args: str) -> list[str]:
    """CMD/ENTRYPOINT/HEALTHCHECK CMD arguments (JSON exec form, or shell words)."""
    args = args.split("CMD", 1)[1].strip() if args.startswith(("--", "CMD")) else args
    return json.loads(args) if args.startswith("[") else shlex.split(args)


def port_arg(argv: list[str]) -> int:
    return int(argv[argv.index("--port") + 1])


def health_port(argv: list[str]) -> int:
    address = next(a for a in argv if re.fullmatch(r"[\w.\-]+:\d+", a))
    return int(address.rsplit(":", 1)[1])


# ---- Kubernetes ----

def overlays() -> list[str]:
    return sorted(str(p.parent.relative_to(K8S)) for p in (K8S / "overlays").glob("*/kustomization.yaml"))


def render_targets() -> list[str]:
    return ["base", *overlays()]


_RENDERED: dict[str, list[dict]] = {}


def rendered(target: str) -> list[dict]:
    if target not in _RENDERED:
        _RENDERED[target] = render(K8S / target)
    return copy.deepcopy(_RENDERED[target])


GENLEAK_CONFIG = "genleak-config"


def genleak_config(docs: list[dict]) -> dict:
    """The services' ConfigMap: base's configMapGenerator makes it as genleak-config-<hash of its data>."""
    found = [d for d in docs if d["kind"] == "ConfigMap"
             and re.fullmatch(rf"{GENLEAK_CONFIG}-[a-z0-9]{{10}}", d["metadata"]["name"])]
    assert len(found) == 1, [d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"]
    return found[0]


def of_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_specs(docs: list[dict]) -> dict[str, tuple[dict, dict]]:
    """name -> (template labels, pod spec) for every workload."""
    return {d["metadata"]["name"]: (d["spec"]["template"]["metadata"].get("labels", {}), d["spec"]["template"]["spec"])
            for d in docs if d["kind"] in ("Deployment", "Job")}


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# ---- NetworkPolicy ----

def _peer_admits(peer: Mapping[str, Any], labels: Mapping[str, str], same_namespace: bool,
                 namespace_labels: Mapping[str, str]) -> bool:
    """One `from` peer: a podSelector alone means this namespace; with a namespaceSelector, namespaces so
    labelled (both selectors in one peer: both must match). ipBlocks and matchExpressions are not used."""
    assert "ipBlock" not in peer, "ipBlock peers are not checked here"
    for selector in (peer.get("podSelector"), peer.get("namespaceSelector")):
        assert selector is None or set(selector) <= {"matchLabels"}, f"only matchLabels is checked: {selector}"
    if "namespaceSelector" in peer:
        namespace_ok = selects(peer["namespaceSelector"].get("matchLabels", {}), namespace_labels)
    else:
        namespace_ok = same_namespace
    pod_ok = "podSelector" not in peer or selects(peer["podSelector"].get("matchLabels", {}), labels)
    return namespace_ok and pod_ok


def admits(policies: list[dict], dest: tuple[Mapping[str, str], Mapping[str, Any]], port: int,
           source_labels: Mapping[str, str], *, same_namespace: bool = True,
           namespace_labels: Mapping[str, str] | None = None) -> bool:
    """Whether the ingress NetworkPolicies let a pod (its labels, its namespace's) open TCP `port` on `dest`
    (template labels, pod spec). Named ports resolve against dest's container ports, as Kubernetes does."""
    dest_labels, spec = dest
    named = {p["name"]: p["containerPort"] for c in spec["containers"] for p in c.get("ports", []) if "name" in p}
    isolating = [p for p in policies if "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
                 and selects(p["spec"]["podSelector"].get("matchLabels", {}), dest_labels)]
    if not isolating:
        return True
    for rule in (r for p in isolating for r in p["spec"].get("ingress", [])):
        ports = rule.get("ports")
        port_ok = not ports or any(p.get("protocol", "TCP") == "TCP" and named.get(p["port"], p["port"]) == port
                                   for p in ports)
        peers = rule.get("from")
        if port_ok and (peers is None or any(_peer_admits(peer, source_labels, same_namespace, namespace_labels or {})
                                             for peer in peers)):
            return True
    return False


# ---- MinIO init scripts ----

def minio_policy(script: str) -> dict:
    """The JSON policy an init script writes with printf (the one `mc admin policy create` reads)."""
    match = re.search(r"printf '%s\\n' '(\{.*\})' > (\S+)", script)
    assert match, "the init script writes its policy with printf '%s\\n' '{...}' > FILE"
    return json.loads(match.group(1))


def compose_shell(script: str) -> str:
    """A compose command as the shell receives it: compose turns `$$` into `$` (no other interpolation used)."""
    assert "$" not in script.replace("$$", ""), "a single $ in a compose command is compose's interpolation"
    return script.replace("$$", "$")
