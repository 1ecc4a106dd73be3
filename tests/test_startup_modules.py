"""What a plain sidecar loads at start-up, as the image starts it: a real ``python -OO -P -m sidecar run``
process with the Dockerfile's ``ENV``, on a policy without any feature block, its imports listed by
``-X importtime``. Modules only a rare path needs stay out (docs/operations.md, "Memory and the
optimised server"); the feature packages' request paths are tests/server/test_app.py's, and that a policy
with features loads them when it is loaded, not on a first request, too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .deploy.dockerfile import stages
from .live_stack import Processes

POLICY = """
version: 1
providers:
  p: {dialect: openai, base_url: "http://127.0.0.1:9/v1"}
models:
  a: {provider: p, model: a}
  b: {provider: p, model: b}
routes:
  - {name: r, match: {model: m}, target: [a, b]}
"""


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The modules a plain sidecar imported from its start until it was ready."""
    workdir = tmp_path_factory.mktemp("startup")
    policy = workdir / "policy.yaml"
    policy.write_text(POLICY)
    settings = " ".join(stages()[-1].args("ENV"))
    image_env = {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', settings) if k != "PATH"}
    image_env.pop("SIDECAR_POLICY")
    processes = Processes(workdir)
    try:
        processes.start_sidecar(policy, image_env, python=("-OO", "-P", "-X", "importtime"))
    finally:
        processes.close()
    lines = Path(workdir / "sidecar.err").read_text().splitlines()
    return {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:") and "|" in line}


def test_the_server_starts_without_the_hint_matcher(loaded: set[str]) -> None:
    """``difflib`` is imported only to make a "did you mean" hint (a mistyped policy name or
    ``SIDECAR_*`` variable), never by a start without one."""
    assert "sidecar.server.app" in loaded  # the listing is the server's
    assert "difflib" not in loaded


def test_the_image_loads_no_cxx_extension(loaded: set[str]) -> None:
    """With the image's ``FROZENLIST_NO_EXTENSIONS``, frozenlist's C++ extension (the only module that
    maps libstdc++, 1 MB of RSS) is not loaded: aiohttp gets the pure-Python list."""
    assert "frozenlist" in loaded
    assert "frozenlist._frozenlist" not in loaded
