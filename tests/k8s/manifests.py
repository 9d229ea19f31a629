"""Rendering k8s/ with the pinned kustomize and validating what comes out, for the manifest tests.

Kubernetes objects are checked against the OpenAPI schemas that ``kubernetes-validate`` ships (strict:
an unknown field is an error, as ``kubectl apply`` would make it); KEDA's objects against KEDA's own
CustomResourceDefinitions in ``crds/``, with the unknown-field check the API server's pruning implies.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
CRDS = Path(__file__).resolve().parent / "crds"

#: The oldest Kubernetes the manifests are meant for, and the newest the schemas know.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())

Manifest = dict[str, Any]


def kubectl() -> Path:
    """The kubectl that ``make install`` puts beside the virtualenv's python."""
    return Path(sys.executable).parent / "kubectl"


def render(directory: Path) -> list[Manifest]:
    """``kustomize build directory``, parsed."""
    done = subprocess.run([str(kubectl()), "kustomize", str(directory)], capture_output=True, text=True,
                          timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"kustomize build {directory} failed:\n{done.stderr}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def crd_schemas() -> dict[tuple[str, str], Manifest]:
    """(apiVersion, kind) -> openAPIV3Schema of every served version of the CRDs in ``crds/``."""
    schemas = {}
    for path in sorted(CRDS.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd:
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served", True):
                    schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


def unknown_fields(value: Any, schema: Manifest, path: str = "") -> Iterator[str]:
    """Fields the API server would prune: keys a structural schema does not declare."""
    if isinstance(value, dict) and schema.get("type") == "object":
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if schema.get("x-kubernetes-preserve-unknown-fields") or (properties is None and not isinstance(extra, dict)):
            return  # a free-form object: anything goes
        for key, item in value.items():
            if properties is not None and key in properties:
                yield from unknown_fields(item, properties[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                yield from unknown_fields(item, extra, f"{path}.{key}")
            else:
                yield f"{path}.{key}"
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from unknown_fields(item, schema["items"], f"{path}[{index}]")


def validate(manifest: Manifest, crds: dict[tuple[str, str], Manifest]) -> None:
    """Raise AssertionError naming the object and the problem when ``manifest`` is invalid."""
    name = f"{manifest.get('kind')}/{manifest.get('metadata', {}).get('name')}"
    key = (manifest.get("apiVersion", ""), manifest.get("kind", ""))
    if key in crds:
        schema = crds[key]
        try:
            jsonschema.validate(manifest, schema)
        except jsonschema.ValidationError as exc:
            raise AssertionError(f"{name}: {exc.message} at {list(exc.absolute_path)}") from exc
        extra = list(unknown_fields(manifest, schema))
        assert not extra, f"{name}: fields its CRD does not declare: {extra}"
        return
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{name} (Kubernetes {version}): {exc.message} at {list(exc.path)}") from exc


def by_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def one(manifests: list[Manifest], kind: str) -> Manifest:
    found = by_kind(manifests, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]
