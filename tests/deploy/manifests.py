"""Helpers for the deploy tests: render the kustomizations once, and look into the rendered pod spec.

``rendered(name)`` runs ``kubectl kustomize`` on ``deploy/k8s/base`` or ``deploy/k8s/overlays/<name>``
(cached: each renders once per session). ``pod_spec``, ``sidecar``, ``env`` and friends read the
example Deployment the way the kubelet would: the sidecar is the container named ``llm-sidecar``,
wherever it sits (an init container when native, a regular container in the legacy overlay).
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
SIDECAR = "llm-sidecar"
POLICY_KEY = "policy.yaml"

# Every kustomization: the base and each overlay directory, found on disk so a new overlay is tested too.
KUSTOMIZATIONS: dict[str, Path] = {
    "base": K8S / "base",
    **{path.name: path for path in sorted((K8S / "overlays").iterdir()) if (path / "kustomization.yaml").exists()},
}
# Overlays that keep llm-sidecar a native sidecar (an init container with restartPolicy: Always).
NATIVE = [name for name in KUSTOMIZATIONS if name != "legacy-sidecar"]

Obj = dict[str, Any]


@functools.cache
def render_text(name: str) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (with its built-in kustomize) is required by tests/deploy")
    result = subprocess.run(
        [kubectl, "kustomize", str(KUSTOMIZATIONS[name])],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {name} failed:\n{result.stderr}"
    return result.stdout


def rendered(name: str) -> list[Obj]:
    """The objects of one kustomization, freshly parsed (callers may not mutate a shared copy)."""
    return [doc for doc in yaml.safe_load_all(render_text(name)) if doc]


def one(objects: list[Obj], kind: str) -> Obj:
    matches = [obj for obj in objects if obj["kind"] == kind]
    assert len(matches) == 1, f"expected one {kind}, found {len(matches)}"
    return matches[0]


def pod_spec(objects: list[Obj]) -> Obj:
    spec: Obj = one(objects, "Deployment")["spec"]["template"]["spec"]
    return spec


def all_containers(spec: Obj) -> list[Obj]:
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def container(spec: Obj, name: str) -> Obj:
    found = [c for c in all_containers(spec) if c["name"] == name]
    assert len(found) == 1, f"expected one container {name!r}, found {len(found)}"
    return found[0]


def sidecar(spec: Obj) -> Obj:
    return container(spec, SIDECAR)


def app(spec: Obj) -> Obj:
    """The application: the regular container that is not the sidecar."""
    apps = [c for c in spec["containers"] if c["name"] != SIDECAR]
    assert len(apps) == 1, f"expected one app container, found {[c['name'] for c in apps]}"
    return apps[0]


def env(c: Obj) -> dict[str, str]:
    """A container's literal env values (valueFrom entries are left out)."""
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}


def port_number(c: Obj, port: int | str) -> int:
    """A probe's port as a number, resolving a named port through the container's ports."""
    if isinstance(port, int):
        return port
    if port.isdigit():
        return int(port)
    named = [p["containerPort"] for p in c.get("ports", []) if p.get("name") == port]
    assert named, f"container {c['name']} has no port named {port!r}"
    return int(named[0])


def volume(spec: Obj, name: str) -> Obj:
    found = [v for v in spec.get("volumes", []) if v["name"] == name]
    assert len(found) == 1, f"expected one volume {name!r}"
    return found[0]


def prestop_seconds(c: Obj) -> int:
    """How long a container's preStop keeps it alive: the sleep action or an exec `sleep N`; 0 if none."""
    pre = c.get("lifecycle", {}).get("preStop")
    if pre is None:
        return 0
    if "sleep" in pre:
        return int(pre["sleep"]["seconds"])
    command = " ".join(pre.get("exec", {}).get("command", []))
    match = re.search(r"\bsleep\s+(\d+)", command)
    assert match, f"preStop of {c['name']} is not a sleep: {pre}"
    return int(match.group(1))


def policy_configmaps(objects: list[Obj]) -> list[Obj]:
    return [obj for obj in objects if obj["kind"] == "ConfigMap" and POLICY_KEY in obj.get("data", {})]
