"""A small Dockerfile reader for the tests: instructions per build stage, without a Docker engine."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

from .manifests import REPO

DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [arg for kw, arg in self.instructions if kw == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, with comments dropped and continuation lines joined."""
    joined, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    result = []
    for line in joined:
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def stages() -> list[Stage]:
    """The build stages, with `ARG`s declared before the first FROM substituted into the base images."""
    global_args: dict[str, str] = {}
    result: list[Stage] = []
    for keyword, rest in instructions(DOCKERFILE.read_text()):
        if keyword == "ARG" and not result:
            name, _, default = rest.partition("=")
            global_args[name] = default
        elif keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(base, name))
        else:
            assert result, f"{keyword} before the first FROM"
            result[-1].instructions.append((keyword, rest))
    return result


def builder_sources() -> list[str]:
    """What the first (builder) stage COPYs from the build context: the files the wheel is built from."""
    return [
        src
        for arg in stages()[0].args("COPY")
        if not arg.startswith("--from")
        for src in shlex.split(arg)[:-1]
        if not src.startswith("--")
    ]


def entrypoint() -> list[str]:
    """The final stage's exec-form ENTRYPOINT."""
    [arg] = stages()[-1].args("ENTRYPOINT")
    command: list[str] = json.loads(arg)
    return command


def builder_compile_options() -> list[str]:
    """The options the builder's ``python -m compileall`` compiles the venv with (levels, quiet, jobs)."""
    runs = " ".join(stages()[0].args("RUN"))
    found = re.search(r"/opt/llm-sidecar/bin/python -m compileall (.*?) /opt/llm-sidecar/lib\b", runs)
    assert found is not None, "the builder does not compile the venv's bytecode"
    return shlex.split(found.group(1))
