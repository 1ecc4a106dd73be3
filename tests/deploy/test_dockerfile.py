"""Dockerfile and .dockerignore invariants, read from the files (no Docker engine needed): a multi-stage
build on one base, a final stage with the venv only (no compilers, no package installs), a non-root
numeric user, the optimised server (`python -OO -m sidecar run`) as the entrypoint, and a build context
without local state."""

from __future__ import annotations

import fnmatch
import re
import shlex

import pytest

from .dockerfile import Stage, builder_compile_options, builder_sources, entrypoint, stages
from .manifests import REPO

DOCKERIGNORE = REPO / ".dockerignore"


def final() -> Stage:
    return stages()[-1]


def dockerignore_patterns() -> list[str]:
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the context (last matching pattern wins; `!` re-includes)."""
    verdict = False
    for pattern in dockerignore_patterns():
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        bare = pattern.removeprefix("**/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        candidates = prefixes if bare == pattern else prefixes + parts
        if any(fnmatch.fnmatch(c, bare) for c in candidates):
            verdict = not negate
    return verdict


def test_dockerfile_is_multi_stage_on_one_base() -> None:
    """A named builder stage and a final stage, both from the same slim Python 3.11 image."""
    all_stages = stages()
    assert len(all_stages) >= 2
    assert all_stages[0].name is not None
    bases = {s.base for s in all_stages}
    assert len(bases) == 1
    assert re.fullmatch(r"python:3\.11-slim[\w.-]*(@sha256:[0-9a-f]+)?", bases.pop())


def test_builder_builds_the_wheel_into_a_venv() -> None:
    """The builder runs `pip wheel` and installs the wheel into the venv the final stage copies."""
    builder_runs = " ".join(stages()[0].args("RUN"))
    assert "pip wheel" in builder_runs
    assert "-m venv" in builder_runs


def test_builder_needs_no_compiler_and_checks_the_install() -> None:
    """The package is pure Python: the builder installs no toolchain, builds from pyproject.toml, and
    fails unless the installed command runs."""
    builder = stages()[0]
    runs = " ".join(builder.args("RUN"))
    for tool in ("apt-get", "gcc", "build-essential", "clang"):
        assert tool not in runs
    assert "pyproject.toml" in builder_sources()
    assert "/opt/llm-sidecar/bin/llm-sidecar --version" in runs


def test_builder_installs_the_locked_dependencies_with_their_hashes() -> None:
    """The builder copies requirements.lock and installs exactly it with --require-hashes (wheels only),
    then the wheel with --no-deps (nothing resolved from the index), then runs `pip check`."""
    assert "requirements.lock" in builder_sources()
    runs = [command.strip() for arg in stages()[0].args("RUN") for command in arg.split("&&")]
    [locked] = [c for c in runs if "-r requirements.lock" in c]
    assert "--require-hashes" in locked.split()
    assert "--only-binary :all:" in locked
    [wheel] = [c for c in runs if c.endswith("/tmp/wheels/*.whl") and " install " in c]
    assert "--no-deps" in wheel.split()
    assert runs.index(locked) < runs.index(wheel) < runs.index("pip --python /opt/llm-sidecar/bin/python check")


def test_builder_compiles_the_bytecode_the_optimised_server_reads() -> None:
    """Besides pip's plain .pyc files, the builder compiles the venv at optimisation level 2 (the
    .opt-2.pyc files `python -OO` reads): nothing can write them in the read-only image."""
    options = builder_compile_options()
    levels = {options[i + 1] for i, option in enumerate(options[:-1]) if option == "-o"}
    assert {"0", "2"} <= levels


def test_final_stage_copies_only_the_venv_from_the_builder() -> None:
    """The final stage's only COPY is the venv from the builder, and its only RUN compiles the base image's
    standard library to bytecode, plain and -OO (the official images ship it without): no apt, pip or
    compilers."""
    stage = final()
    builder = stages()[0].name
    copies = [shlex.split(arg) for arg in stage.args("COPY") + stage.args("ADD")]
    assert copies == [[f"--from={builder}", "/opt/llm-sidecar", "/opt/llm-sidecar"]]
    [run] = stage.args("RUN")
    assert run.startswith("python -m compileall ")
    assert {"-o 0", "-o 2"} <= set(re.findall(r"-o \d", run))
    assert """get_path("stdlib")""" in run
    for word in ("pip", "apt", "&&", ";"):
        assert word not in run


def test_final_stage_mentions_no_compiler() -> None:
    """No build-essential, gcc or other toolchain appears anywhere in the final stage."""
    text = " ".join(arg for _, arg in final().instructions)
    for tool in ("build-essential", "gcc", "g++", "clang", "make ", "apt-get", "apk add"):
        assert tool not in text


def test_image_runs_as_non_root_numeric_user() -> None:
    """USER is a numeric, non-zero uid (and gid), so runAsNonRoot can verify it without /etc/passwd."""
    [user] = final().args("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit()
    assert int(uid) > 0
    assert gid == "" or (gid.isdigit() and int(gid) > 0)


def test_entrypoint_runs_the_server_optimised() -> None:
    """ENTRYPOINT is exec-form (the sidecar is PID 1 and receives SIGTERM): the venv's Python, optimised
    (-OO), without the working directory on sys.path (-P), running `-m sidecar run`; no CMD, so
    `docker run IMAGE --policy ...` passes arguments to `run`."""
    assert entrypoint() == ["/opt/llm-sidecar/bin/python", "-OO", "-P", "-m", "sidecar", "run"]
    assert final().args("CMD") == []


def test_environment_suits_a_read_only_root() -> None:
    """The final stage puts the venv on PATH, disables .pyc writes and points at the mounted policy."""
    values = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', " ".join(final().args("ENV"))))
    assert values["PYTHONDONTWRITEBYTECODE"] == "1"
    assert values["SIDECAR_POLICY"] == "/etc/llm-sidecar/policy.yaml"
    assert values["PATH"].strip('"').startswith("/opt/llm-sidecar/bin:")


def test_each_sidecar_variable_the_image_sets_is_given_in_the_configuration_docs() -> None:
    """A ``SIDECAR_*`` variable the image's ENV sets (the policy's path) is named with that value in its
    row of docs/configuration.md, so a reader of the table knows what the image starts with."""
    values = dict(re.findall(r'(SIDECAR_\w+)=("[^"]*"|\S+)', " ".join(final().args("ENV"))))
    rows = dict(re.findall(r"^\| `(SIDECAR_[A-Z_]+)` \|(.*)$", (REPO / "docs" / "configuration.md").read_text(), re.M))
    shown = {name: "`" + value.strip('"') + "`" for name, value in values.items()}
    assert shown and [name for name, value in shown.items() if value not in rows[name]] == []


def test_each_other_variable_the_image_sets_is_given_in_the_configuration_docs() -> None:
    """A variable the image's ENV sets for a library (``SSL_CERT_FILE``, ``FROZENLIST_NO_EXTENSIONS``: the
    process's memory) has a row of docs/configuration.md that names it and says the image's value."""
    values = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', " ".join(final().args("ENV"))))
    others = {k: v.strip('"') for k, v in values.items() if k != "PATH" and not k.startswith(("PYTHON", "SIDECAR_"))}
    rows = [line for line in (REPO / "docs" / "configuration.md").read_text().splitlines() if line.startswith("| `")]
    missing = [
        name
        for name, value in others.items()
        if not any(f"`{name}`" in row.split("|")[1] and f"{name}={value}`" in row for row in rows)
        and not any(f"`{name}`" in row.split("|")[1] and f"the image sets `{value}`" in row for row in rows)
    ]
    assert others and missing == []


def test_image_exposes_proxy_and_health_ports() -> None:
    """EXPOSE lists the proxy port 8080 and the health port 8081 used by the manifests."""
    exposed = " ".join(final().args("EXPOSE")).split()
    assert {"8080", "8081"} <= {p.partition("/")[0] for p in exposed}


@pytest.mark.parametrize(
    "path", [".venv", ".git", "tests", ".pytest_cache", ".mypy_cache", "sidecar/__pycache__", "x.egg-info"]
)
def test_dockerignore_keeps_local_state_out(path: str) -> None:
    """.dockerignore excludes the local venv, git history, tests and caches from the build context."""
    assert ignored(path)


def test_dockerignore_keeps_what_the_builder_copies() -> None:
    """Every file or directory the builder COPYs from the context is left in it by .dockerignore."""
    sources = builder_sources()
    assert sources
    for src in sources:
        assert (REPO / src).exists(), src
        assert not ignored(src), src
