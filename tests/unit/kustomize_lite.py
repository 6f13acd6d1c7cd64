"""A small kustomize for the tests: renders deploy/k8s without a kustomize binary.

Supports what our manifests use and nothing more: resources (files, folders), components, namespace,
labels (pairs, includeTemplates), images, replicas, patches (strategic merge with Kubernetes'
merge keys, or JSON 6902 lists with a target), and configMapGenerator (envs files, literals; behavior
create/merge/replace; the name hash suffix added last, over the final data, and the workloads' references
renamed with it, as kustomize does). Generators run after resources and components; transformers then run
in kustomize's order (patches, namespace, labels, replicas, images); a component's transformers see
everything accumulated before it.
An unsupported field raises, so the tests cannot silently render something kustomize would not.
tests/unit/test_deploy_static.py checks that the output equals `kubectl kustomize` where kubectl exists.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "namespace", "resources", "components", "labels", "images", "replicas", "patches",
             "configMapGenerator"}
NEEDS_HASH = "kustomize-lite/needs-hash"  # internal annotation, removed before render() returns
CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
                  "CustomResourceDefinition", "PriorityClass"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
# Strategic-merge keys of the list fields our manifests patch (from the Kubernetes OpenAPI patch-merge-key).
MERGE_KEYS = {"containers": "name", "initContainers": "name", "volumes": "name", "env": "name",
              "volumeMounts": "mountPath", "imagePullSecrets": "name"}


def render(root: Path) -> list[dict]:
    docs = _build(Path(root), [])
    _add_hashes(docs)
    return docs


def _build(root: Path, accumulated: list[dict]) -> list[dict]:
    k = yaml.safe_load((root / "kustomization.yaml").read_text())
    unknown = set(k) - SUPPORTED
    if unknown:
        raise NotImplementedError(f"{root}: kustomize_lite does not support {sorted(unknown)}")
    if k.get("kind", "Kustomization") == "Kustomization":
        docs = []
        for entry in k.get("resources", []):
            docs += _load(root / entry)
    else:  # a Component transforms what its parent accumulated, plus its own resources
        docs = accumulated + [d for entry in k.get("resources", []) for d in _load(root / entry)]
    for entry in k.get("components", []):
        docs = _build(root / entry, docs)
    for generator in k.get("configMapGenerator", []):
        _generate_config_map(root, generator, docs)
    for patch in k.get("patches", []):
        _patch(root, patch, docs)
    if "namespace" in k:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = k["namespace"]
    for label in k.get("labels", []):
        _labels(label, docs)
    for replica in k.get("replicas", []):
        for doc in _named(docs, replica["name"], kinds=WORKLOADS):
            doc["spec"]["replicas"] = replica["count"]
    for image in k.get("images", []):
        _images(image, docs)
    return docs


def _load(path: Path) -> list[dict]:
    if path.is_dir():
        return _build(path, [])
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _named(docs: list[dict], name: str, kinds=None, kind: str | None = None) -> list[dict]:
    return [d for d in docs if d["metadata"]["name"] == name and (kinds is None or d["kind"] in kinds)
            and (kind is None or d["kind"] == kind)]


def _labels(label: dict, docs: list[dict]) -> None:
    if label.get("includeSelectors"):
        raise NotImplementedError("labels.includeSelectors")
    for doc in docs:
        doc["metadata"].setdefault("labels", {}).update(label["pairs"])
        if label.get("includeTemplates") and doc["kind"] in WORKLOADS:
            doc["spec"]["template"].setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])


def _images(image: dict, docs: list[dict]) -> None:
    for doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        spec = doc["spec"]["template"]["spec"]
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"


def _patch(root: Path, patch: dict, docs: list[dict]) -> None:
    body = yaml.safe_load((root / patch["path"]).read_text()) if "path" in patch else yaml.safe_load(patch["patch"])
    if isinstance(body, list):  # JSON 6902
        target = patch["target"]
        matches = _named(docs, target["name"], kind=target.get("kind"))
        if not matches:
            raise LookupError(f"JSON patch target {target} not found")
        for doc in matches:
            for op in body:
                _json_op(doc, op)
        return
    matches = _named(docs, body["metadata"]["name"], kind=body["kind"])
    if len(matches) != 1:
        raise LookupError(f"patch {patch['path']}: {len(matches)} targets")
    merged = _merge(matches[0], body)
    matches[0].clear()
    matches[0].update(merged)


def _merge(base: Any, patch: Any, field: str = "") -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = _merge(base[key], value, key) if key in base else copy.deepcopy(value)
        return out
    key = MERGE_KEYS.get(field) or ("containerPort" if field == "ports" and _has(patch, "containerPort") else
                                    "port" if field == "ports" else None)
    if isinstance(base, list) and isinstance(patch, list) and key:
        out, added = [copy.deepcopy(item) for item in base], []
        for item in patch:
            same = [i for i, old in enumerate(out) if old.get(key) == item.get(key)]
            if same:
                out[same[0]] = _merge(out[same[0]], item, field)
            else:
                added.append(copy.deepcopy(item))
        return added + out  # kustomize puts a patch's new items before the existing ones
    return copy.deepcopy(patch)


def _has(items: Any, key: str) -> bool:
    return isinstance(items, list) and any(isinstance(i, dict) and key in i for i in items)


def _json_op(doc: dict, op: dict) -> None:
    *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if op["op"] == "remove":
        del node[int(last) if isinstance(node, list) else last]
    elif isinstance(node, list):
        value = copy.deepcopy(op["value"])
        if last == "-":
            node.append(value)
        elif op["op"] == "add":
            node.insert(int(last), value)
        else:
            node[int(last)] = value
    elif op["op"] in ("add", "replace"):
        if op["op"] == "replace" and last not in node:
            raise KeyError(f"replace of missing {op['path']}")
        node[last] = copy.deepcopy(op["value"])
    else:
        raise NotImplementedError(op["op"])


# ---- configMapGenerator ----

def _env_file(path: Path) -> dict[str, str]:
    """kustomize's env file: KEY=VALUE a line, the value as is; blank lines and lines starting with # skipped."""
    data = {}
    for line in path.read_text().splitlines():
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise NotImplementedError(f"{path}: {line!r} (a value from the environment)")
        key, value = line.split("=", 1)
        data[key] = value
    return data


def _literal(source: str) -> tuple[str, str]:
    key, value = source.split("=", 1)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return key, value


def _generate_config_map(root: Path, generator: dict, docs: list[dict]) -> None:
    unknown = set(generator) - {"name", "envs", "literals", "behavior", "options"}
    if unknown or set(generator.get("options", {})) - {"disableNameSuffixHash"}:
        raise NotImplementedError(f"configMapGenerator {sorted(unknown)} {generator.get('options')}")
    data: dict[str, str] = {}
    for env in generator.get("envs", []):
        data.update(_env_file(root / env))
    data.update(_literal(source) for source in generator.get("literals", []))
    behavior = generator.get("behavior", "create")
    existing = _named(docs, generator["name"], kind="ConfigMap")
    if behavior == "create":
        if existing:
            raise ValueError(f"configMapGenerator {generator['name']}: already exists (behavior: create)")
        doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": generator["name"]}, "data": data}
        docs.append(doc)
    else:
        if len(existing) != 1:
            raise LookupError(f"configMapGenerator {generator['name']} (behavior: {behavior}): no such ConfigMap")
        doc = existing[0]
        doc["data"] = {**doc.get("data", {}), **data} if behavior == "merge" else data
    if not generator.get("options", {}).get("disableNameSuffixHash"):
        doc["metadata"].setdefault("annotations", {})[NEEDS_HASH] = "true"


def _go_json(value) -> str:
    """Go's json.Marshal of maps of strings: sorted keys, no spaces, <, > and & escaped as Go does."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                          ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def config_map_hash(data: dict[str, str]) -> str:
    """kustomize's name suffix for a ConfigMap (api/hasher): sha256 of {data, kind, name} in Go's JSON, where
    the name is always "" (kustomize looks up a field literally called "metadata/name"), first 10 hex digits
    with 0, 1, 3, a, e spelled g, h, k, m, t."""
    digest = hashlib.sha256(_go_json({"data": data, "kind": "ConfigMap", "name": ""}).encode()).hexdigest()
    return digest[:10].translate(str.maketrans("013ae", "ghkmt"))


def _add_hashes(docs: list[dict]) -> None:
    renamed: dict[tuple[str, str], str] = {}
    for doc in docs:
        annotations = doc["metadata"].get("annotations", {})
        if annotations.pop(NEEDS_HASH, None) is None:
            continue
        if not annotations:
            del doc["metadata"]["annotations"]
        old = doc["metadata"]["name"]
        doc["metadata"]["name"] = f"{old}-{config_map_hash(doc.get('data', {}))}"
        renamed[(doc["metadata"].get("namespace", ""), old)] = doc["metadata"]["name"]
    for doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        namespace, spec = doc["metadata"].get("namespace", ""), doc["spec"]["template"]["spec"]

        def rename(ref: dict | None, namespace: str = namespace) -> None:
            if ref and (namespace, ref.get("name")) in renamed:
                ref["name"] = renamed[(namespace, ref["name"])]

        for container in spec.get("containers", []) + spec.get("initContainers", []):
            for source in container.get("envFrom", []):
                rename(source.get("configMapRef"))
            for env in container.get("env", []):
                rename(env.get("valueFrom", {}).get("configMapKeyRef"))
        for volume in spec.get("volumes", []):
            rename(volume.get("configMap"))
            for source in volume.get("projected", {}).get("sources", []):
                rename(source.get("configMap"))
