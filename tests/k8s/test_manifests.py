"""The Kubernetes manifests: both overlays (and prod with the HPA instead of KEDA) render with the pinned
kustomize, every object validates against its schema, and the settings that matter hold together:
probes, security, instance ids, budgets, replicas, autoscaling bounds and the configuration."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamer.config import Settings, load_settings
from streamer.errors import ConfigError
from tests.k8s.manifests import K8S, ROOT, Manifest, by_kind, crd_schemas, kubectl, one, render, validate

OVERLAYS = ("dev", "prod")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Manifest]]:
    if not kubectl().exists():
        pytest.fail(f"{kubectl()} is missing: run `make install`")
    out = {name: render(K8S / "overlays" / name) for name in OVERLAYS}
    # The commented alternative in the prod overlay: the plain HPA instead of KEDA, as an operator
    # would switch it, on a copy of k8s/.
    copy = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, copy)
    kustomization = copy / "overlays" / "prod" / "kustomization.yaml"
    keda, hpa = "  - ../../components/keda\n", "  # - ../../components/hpa\n"
    text = kustomization.read_text()
    assert keda + hpa in text
    kustomization.write_text(text.replace(keda + hpa, "  # - ../../components/keda\n  - ../../components/hpa\n"))
    variant = copy / "overlays" / "prod"
    out["hpa"] = render(variant)
    return out


def statefulset(manifests: list[Manifest]) -> Manifest:
    return one(manifests, "StatefulSet")


def pod(manifests: list[Manifest]) -> Manifest:
    spec: Manifest = statefulset(manifests)["spec"]["template"]["spec"]
    return spec


def worker(manifests: list[Manifest]) -> Manifest:
    (container,) = pod(manifests)["containers"]
    return container


def configmap(manifests: list[Manifest], prefix: str) -> Manifest:
    (found,) = [m for m in by_kind(manifests, "ConfigMap") if m["metadata"]["name"].startswith(prefix + "-")]
    return found


def worker_env(manifests: list[Manifest]) -> dict[str, str]:
    """The STREAMER_* environment from the ConfigMaps the worker loads, as the pod sees it."""
    env: dict[str, str] = {}
    names = {m["metadata"]["name"]: m.get("data", {}) for m in by_kind(manifests, "ConfigMap")}
    for source in worker(manifests).get("envFrom", []):
        env.update(names[source["configMapRef"]["name"]])
    env.update({e["name"]: e["value"] for e in worker(manifests).get("env", []) if "value" in e})
    return env


@pytest.mark.parametrize("overlay", [*OVERLAYS, "hpa"])
def test_every_object_validates_against_its_schema(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    crds = crd_schemas()
    assert crds, "the KEDA CRDs are missing from tests/k8s/crds"
    for manifest in rendered[overlay]:
        validate(manifest, crds)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_operators_objects_are_all_there(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    manifests = rendered[overlay]
    kinds = sorted(m["kind"] for m in manifests)
    for kind in ("StatefulSet", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy", "Namespace"):
        assert kinds.count(kind) == 1, kind
    assert kinds.count("Service") == 2 and kinds.count("ConfigMap") == 2
    assert not by_kind(manifests, "Secret"), "Secrets are the operator's to create, never in the repository"
    unlabelled = [m["kind"] for m in manifests
                  if m["kind"] != "Namespace" and m["metadata"]["labels"].get("app.kubernetes.io/part-of") != "streamer"]
    assert not unlabelled
    assert {m["metadata"].get("namespace") for m in manifests if m["kind"] != "Namespace"} == {
        one(manifests, "Namespace")["metadata"]["name"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_statefulset_identity_storage_and_shutdown(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    manifests = rendered[overlay]
    spec = statefulset(manifests)["spec"]
    assert spec["podManagementPolicy"] == "Parallel"
    env = {e["name"]: e for e in worker(manifests)["env"]}
    assert env["STREAMER_INSTANCE_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    # One volume claim per pod, mounted where the worker keeps its tables.
    (claim,) = spec["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in worker(manifests)["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == worker_env(manifests)["STREAMER_DATA_DIR"]
    # The headless Service gives each pod its DNS name.
    headless = [s for s in by_kind(manifests, "Service") if s["spec"].get("clusterIP") == "None"]
    assert [s["metadata"]["name"] for s in headless] == [spec["serviceName"]]
    # Shutdown: the preStop pause plus the worker's 30 s (CONTRACT 7) fit the grace period, with margin.
    pause = int(worker(manifests)["lifecycle"]["preStop"]["exec"]["command"][1])
    grace = pod(manifests)["terminationGracePeriodSeconds"]
    assert pause + 30 + 5 <= grace <= 90


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_web_view_binds_every_address_on_the_service_port(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    manifests = rendered[overlay]
    env = worker_env(manifests)
    # Bind address and advertised host are one setting in streamer: it must be 0.0.0.0 in a pod.
    assert env["STREAMER_WEB_HOST"] == "0.0.0.0"
    (port,) = worker(manifests)["ports"]
    assert port["containerPort"] == int(env["STREAMER_WEB_PORT"]) == 6066
    for service in by_kind(manifests, "Service"):
        assert service["spec"]["selector"].items() <= statefulset(manifests)["spec"]["template"]["metadata"]["labels"].items()
        assert {p["targetPort"] for p in service["spec"]["ports"]} == {port["name"]}
    # Services named streamer* must not leak STREAMER_SERVICE_HOST and friends into the settings.
    assert pod(manifests)["enableServiceLinks"] is False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_are_split(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    container = worker(rendered[overlay])
    startup, liveness, readiness = (container[p] for p in ("startupProbe", "livenessProbe", "readinessProbe"))
    assert startup["httpGet"]["path"] == "/ready"
    # Table recovery may take minutes: at least five before the kubelet gives up on a start.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    assert liveness["httpGet"]["path"] == "/health"
    # Not /ready: it turns false on every replica during a rebalance and would empty the Service.
    assert readiness["httpGet"]["path"] == "/ready?scope=web"
    for probe in (startup, liveness, readiness):
        assert probe["httpGet"]["port"] == container["ports"][0]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pod_is_locked_down(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    manifests = rendered[overlay]
    spec, container = pod(manifests), worker(manifests)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["securityContext"]["runAsUser"] == dockerfile_uid()
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert len(tmp) == 1 and "emptyDir" in volumes[tmp[0]["name"]]
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert "memory" in container["resources"]["limits"]
    account = one(manifests, "ServiceAccount")
    assert spec["serviceAccountName"] == account["metadata"]["name"]
    assert account["automountServiceAccountToken"] is False and spec["automountServiceAccountToken"] is False
    namespace = one(manifests, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_optional_references(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in worker(rendered[overlay])["env"]
            if "secretKeyRef" in e.get("valueFrom", {})}
    assert {"STREAMER_SASL_USERNAME", "STREAMER_SASL_PASSWORD", "STREAMER_API_TOKEN"} <= refs.keys()
    assert all(ref["optional"] is True for ref in refs.values())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_disruption_budget_and_network_policy(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    manifests = rendered[overlay]
    labels = statefulset(manifests)["spec"]["template"]["metadata"]["labels"]
    budget = one(manifests, "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    policy = one(manifests, "NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    ingress = {(p["port"], p["protocol"]) for rule in policy["ingress"] for p in rule["ports"]}
    assert ingress == {(int(worker_env(manifests)["STREAMER_WEB_PORT"]), "TCP")}
    egress = {(p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"]}
    broker_ports = {int(url.rsplit(":", 1)[1]) for url in worker_settings(manifests).bootstrap_servers}
    assert {(port, "TCP") for port in broker_ports} | {(53, "UDP"), (443, "TCP")} <= egress


def test_replicas_per_overlay(rendered: dict[str, list[Manifest]]) -> None:
    dev, prod = rendered["dev"], rendered["prod"]
    assert statefulset(dev)["spec"]["replicas"] == 1
    assert statefulset(prod)["spec"]["replicas"] == 3
    assert worker_env(prod)["STREAMER_REPLICATION_FACTOR"] == "3"
    assert worker_env(prod)["STREAMER_STANDBY_REPLICAS"] == "1"
    assert worker_env(dev)["STREAMER_REPLICATION_FACTOR"] == "1"
    # Dev talks to a Kafka Service, never to an embedded broker on the loopback.
    assert worker_env(dev)["STREAMER_BROKER"] == "kafka://kafka:9092"
    limits = [mebibytes(worker(m)["resources"]["limits"]["memory"]) for m in (dev, prod)]
    assert limits[0] < limits[1]


def test_exactly_one_autoscaler(rendered: dict[str, list[Manifest]]) -> None:
    def autoscalers(manifests: list[Manifest]) -> list[str]:
        return sorted(m["kind"] for m in manifests if m["kind"] in ("ScaledObject", "HorizontalPodAutoscaler"))

    assert autoscalers(rendered["dev"]) == []
    assert autoscalers(rendered["prod"]) == ["ScaledObject"]
    assert autoscalers(rendered["hpa"]) == ["HorizontalPodAutoscaler"]
    hpa = one(rendered["hpa"], "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "streamer"}
    assert hpa["maxReplicas"] == worker_settings(rendered["hpa"]).partitions
    assert hpa["minReplicas"] == statefulset(rendered["hpa"])["spec"]["replicas"] == 3


def test_keda_scales_on_the_predictions_lag_up_to_the_partition_count(rendered: dict[str, list[Manifest]]) -> None:
    prod = rendered["prod"]
    settings = worker_settings(prod)
    scaled = one(prod, "ScaledObject")["spec"]
    target = statefulset(prod)
    assert scaled["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                        "name": target["metadata"]["name"]}
    assert scaled["maxReplicaCount"] == settings.partitions == 8
    assert scaled["minReplicaCount"] == target["spec"]["replicas"]
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    assert metadata["topic"] == settings.topic_predictions
    # Faust's consumer group is the app id.
    assert metadata["consumerGroup"] == settings.app_id
    assert metadata["bootstrapServers"].split(",") == settings.bootstrap_servers
    assert metadata["allowIdleConsumers"] == "false"
    assert int(metadata["lagThreshold"]) > 0
    auth = {m["metadata"]["name"]: m for m in by_kind(prod, "TriggerAuthentication")}
    assert trigger["authenticationRef"]["name"] in auth


def worker_settings(manifests: list[Manifest]) -> Settings:
    """The Settings a worker of these manifests starts with (the config file left out)."""
    env = {k: v for k, v in worker_env(manifests).items() if k != "STREAMER_CONFIG"}
    return load_settings(env)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_configuration_file_loads(rendered: dict[str, list[Manifest]], overlay: str, tmp_path: Path) -> None:
    manifests = rendered[overlay]
    env = worker_env(manifests)
    # The file is mounted where STREAMER_CONFIG says.
    (mount,) = [m for m in worker(manifests)["volumeMounts"] if m["name"] == "config"]
    volume = {v["name"]: v for v in pod(manifests)["volumes"]}["config"]
    config = {m["metadata"]["name"]: m for m in by_kind(manifests, "ConfigMap")}[volume["configMap"]["name"]]
    assert Path(env["STREAMER_CONFIG"]).parent == Path(mount["mountPath"])
    text = config["data"][Path(env["STREAMER_CONFIG"]).name]
    # Secrets only by reference, and the pod defines every variable the file names.
    named = secret_variables(yaml.safe_load(text))
    defined = {e["name"] for e in worker(manifests)["env"]}
    assert named <= defined, f"named in the file but not in the pod: {sorted(named - defined)}"
    file = tmp_path / "streamer.yaml"
    file.write_text(text)
    secrets = {name: "https://hooks.example.com/test" if name.endswith("_URL") else "set-by-secret" for name in defined}
    settings = load_config(file, {**env, **secrets, "STREAMER_CONFIG": str(file)})
    assert settings.data_dir == env["STREAMER_DATA_DIR"]


def test_prod_configures_notifications(rendered: dict[str, list[Manifest]]) -> None:
    text = configmap(rendered["prod"], "streamer-config")["data"]["streamer.yaml"]
    config = yaml.safe_load(text)
    assert {"channels", "alerting"} <= config.keys()
    assert secret_variables(config) == {"SLACK_WEBHOOK_URL", "WEBHOOK_SECRET", "SMTP_USER", "SMTP_PASSWORD",
                                        "RETRAIN_URL", "CI_TOKEN"}


def test_dockerfile_builds_the_image_the_manifests_run() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("\nFROM python:3.11-slim") == 2
    assert 'ENTRYPOINT ["streamer"]' in text and 'CMD ["worker"]' in text
    assert "EXPOSE 6066" in text
    assert re.search(r"^USER 10001", text, re.MULTILINE)
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*") + 1:][:3] == ["!pyproject.toml", "!README.md", "!streamer/"]


def mebibytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "Gi" else 1)


def dockerfile_uid() -> int:
    match = re.search(r"--uid (\d+)", (ROOT / "Dockerfile").read_text())
    assert match, "the Dockerfile creates its user with a fixed --uid"
    return int(match.group(1))


def secret_variables(config: Any) -> set[str]:
    """Environment variables a configuration file names for its secrets: ``*_env: NAME``, ``{env: NAME}``."""
    found: set[str] = set()
    if isinstance(config, dict):
        for key, value in config.items():
            if isinstance(value, str) and (key == "env" or str(key).endswith("_env")):
                found.add(value)
            else:
                found |= secret_variables(value)
    elif isinstance(config, list):
        for item in config:
            found |= secret_variables(item)
    return found


def load_config(file: Path, env: dict[str, str]) -> Settings:
    """``load_settings`` on the file; where this build does not know notifications yet, on the rest of it."""
    try:
        return load_settings(env)
    except ConfigError as exc:
        if "'channels'" not in str(exc) and "'alerting'" not in str(exc):
            raise
    config = yaml.safe_load(file.read_text())
    config.pop("channels", None)
    config.pop("alerting", None)
    for overrides in (config.get("models") or {}).values():
        overrides.pop("alerting", None)
    file.write_text(yaml.safe_dump(config))
    return load_settings(env)
