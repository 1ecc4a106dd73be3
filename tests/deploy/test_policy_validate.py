"""The policy each kustomization ships in its ConfigMap passes `llm-sidecar validate` (the lead's CLI)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .manifests import KUSTOMIZATIONS, POLICY_KEY, policy_configmaps, rendered


def llm_sidecar() -> str:
    """The `llm-sidecar` console script of the interpreter running the tests (the project's venv)."""
    beside = Path(sys.executable).parent / "llm-sidecar"
    found = str(beside) if beside.exists() else shutil.which("llm-sidecar")
    assert found, "the llm-sidecar command is not installed (pip install -e .)"
    return found


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_configmap_policy_passes_llm_sidecar_validate(name: str, tmp_path: Path) -> None:
    """`llm-sidecar validate` exits 0 on the policy.yaml inside the rendered ConfigMap."""
    [configmap] = policy_configmaps(rendered(name))
    policy = tmp_path / POLICY_KEY
    policy.write_text(configmap["data"][POLICY_KEY])
    result = subprocess.run(
        [llm_sidecar(), "validate", str(policy)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
