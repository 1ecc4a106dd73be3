"""deploy/ci/validate-policies.yaml: a GitHub Actions workflow that installs llm-sidecar, validates the
policies and renders every kustomization before anything is applied."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
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
    installs = [i for i, s in enumerate(steps) if "pip install" in s and "LLM_SIDECAR_SOURCE" in s]
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
    """The policy files the workflow names (paths, or globs) are the base's and the overlays' that exist
    in this repository."""
    named = [word for s in run_steps() for word in s.split() if word.endswith("policy.yaml") and "/" in word]
    assert named
    assert all(list(REPO.glob(path)) for path in named)
    kit = {str(path.relative_to(REPO)) for path in (REPO / "deploy" / "k8s").glob("**/policy.yaml")}
    assert kit <= {str(path.relative_to(REPO)) for word in named for path in REPO.glob(word)}


def test_workflow_installs_llm_sidecar_from_a_source_it_names_not_a_registry_name() -> None:
    """The install step installs the source LLM_SIDECAR_SOURCE names (a git URL at a tag), never a bare
    `llm-sidecar` from PyPI: the package of that name there is another project's (it installed that, or
    failed on its missing 0.1.0)."""
    (install,) = [s for s in run_steps() if "pip install" in s]
    assert install.strip() == 'pip install "${LLM_SIDECAR_SOURCE}"'
    assert load()["env"]["LLM_SIDECAR_SOURCE"].startswith("git+https://")


def diff_step() -> dict[Any, Any]:
    steps = [step for job in load()["jobs"].values() for step in job["steps"]]
    (step,) = [s for s in steps if "llm-sidecar diff" in s.get("run", "")]
    return step


def run_diff_step(tmp_path: Path, new_policy: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """The diff step's script, run by bash in a git repository whose origin/main holds the base policy
    and whose work tree holds ``new_policy``, with llm-sidecar on PATH as the install step leaves it."""
    repo = tmp_path / "repo"
    (repo / "deploy" / "k8s" / "base").mkdir(parents=True)
    policy = repo / "deploy" / "k8s" / "base" / "policy.yaml"
    policy.write_text((REPO / "deploy" / "k8s" / "base" / "policy.yaml").read_text())
    git = ["git", "-C", str(repo), "-c", "user.name=ci", "-c", "user.email=ci@example.com"]
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "base"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    subprocess.run([*git, "update-ref", "refs/remotes/origin/main", "HEAD"], check=True)
    policy.write_text(new_policy)
    summary = tmp_path / "summary.md"
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "BASE_REF": "main",
        "GITHUB_STEP_SUMMARY": str(summary),
        **{k: str(v) for k, v in load()["env"].items()},
    }
    result = subprocess.run(
        ["bash", "-e", "-c", diff_step()["run"]], cwd=repo, env=env, capture_output=True, text=True, timeout=60
    )
    return result, summary.read_text() if summary.exists() else ""


def test_the_diff_step_runs_on_pull_requests_after_the_install() -> None:
    """The diff step runs only on pull requests, after llm-sidecar is installed, on a full clone."""
    steps = run_steps()
    assert diff_step()["if"] == "github.event_name == 'pull_request'"
    assert min(i for i, s in enumerate(steps) if "pip install" in s) < steps.index(diff_step()["run"])
    checkout = next(s for job in load()["jobs"].values() for s in job["steps"] if "checkout" in s.get("uses", ""))
    assert checkout["with"]["fetch-depth"] == 0


def test_the_diff_step_writes_the_change_into_the_job_summary(tmp_path: Path) -> None:
    """Run for real: a changed chain in deploy/k8s/base/policy.yaml appears in the job summary."""
    base = (REPO / "deploy" / "k8s" / "base" / "policy.yaml").read_text()
    result, summary = run_diff_step(
        tmp_path, base.replace("target: [claude-haiku, gpt-4o-mini]", "target: claude-haiku")
    )
    assert result.returncode == 0, result.stderr
    assert "~ claude (routes[0]) target: [claude-haiku, gpt-4o-mini] -> [claude-haiku]" in summary


def test_the_diff_step_fails_on_an_invalid_policy(tmp_path: Path) -> None:
    """Run for real: a new policy naming an unknown model fails the step."""
    base = (REPO / "deploy" / "k8s" / "base" / "policy.yaml").read_text()
    result, _ = run_diff_step(tmp_path, base.replace("target: [claude-haiku, gpt-4o-mini]", "target: gpt-5x"))
    assert result.returncode != 0
    assert "unknown model 'gpt-5x'" in result.stderr
