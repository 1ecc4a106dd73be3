"""deploy/ci/validate-policies.yaml: a GitHub Actions workflow that installs llm-sidecar, validates the
policies and renders every kustomization before anything is applied."""

from __future__ import annotations

from typing import Any

import yaml

from .manifests import REPO

WORKFLOW = REPO / "deploy" / "ci" / "validate-policies.yaml"


def load() -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return workflow


def run_steps() -> list[str]:
    return [step["run"] for job in load()["jobs"].values() for step in job["steps"] if "run" in step]


def test_workflow_is_a_github_actions_workflow() -> None:
    """The file parses as YAML with a trigger (`on`, which YAML 1.1 reads as True) and jobs with steps."""
    workflow = load()
    assert workflow.get("on", workflow.get(True))
    assert all(job["steps"] and job["runs-on"] for job in workflow["jobs"].values())


def test_workflow_installs_and_runs_llm_sidecar_validate() -> None:
    """A step pip-installs llm-sidecar and a later step runs `llm-sidecar validate` on policy files."""
    steps = run_steps()
    installs = [i for i, s in enumerate(steps) if "pip install" in s and "llm-sidecar" in s]
    validates = [i for i, s in enumerate(steps) if "llm-sidecar validate" in s]
    assert installs
    assert validates
    assert min(installs) < min(validates)


def test_workflow_renders_the_kustomizations() -> None:
    """A step renders the base and the overlays with `kubectl kustomize`."""
    rendering = [s for s in run_steps() if "kubectl kustomize" in s]
    assert rendering
    assert "deploy/k8s/overlays" in rendering[0]


def test_workflow_validates_the_base_policy_path_that_exists() -> None:
    """The policy file the workflow names is the base policy that exists in this repository."""
    named = [word for s in run_steps() for word in s.split() if word.endswith("policy.yaml") and "/" in word]
    assert named
    assert all((REPO / path).is_file() for path in named)
