"""The docs against the tree: what README.md and docs/*.md point at exists, and what they tell a user to
type is accepted, with the defaults the code has.

- Where a page sends the reader: links and their anchors resolve; a section named in words
  (`docs/api.md, "Errors"`, from the docs, the package's own messages or deploy files; a page's
  `"Section" above`) is a heading or bold title there; the files and tests a page names exist, and none
  is outside the repository; README.md links every page, and its row for docs/cli.md names every
  command.
- What a page tells a user to type: every `llm-sidecar` command line shown names a command and flags the
  parser has, every `make` target one the Makefile has (and every target of the Makefile is shown),
  every `bench/` command a script with the flags shown.
- Names and defaults: every policy field is named in the docs and written in an "Every field, annotated"
  example, whose comments give the schema's defaults, and every example of policies/ is named in the
  docs; configuration.md's, observability.md's, fake-provider.md's and cli.md's defaults are the code's,
  and so are the listener's caps in api.md, the dropped-params limits in headers.md and the cache key
  version, and caching.md's fields left out of the key, reasons a request is not cached and answer
  fields an entry keeps; api.md's endpoint table is the paths the registry serves, its GET paths those
  the listeners route.
- What a page shows a policy do: every YAML block of docs/ loads as a policy without a warning (a
  fragment inside a policy defining what it names), or is listed as what else it is; every `explain`
  transcript is what explain prints, every `validate` one's line for a file of the repository what
  validate prints, routing.md's learned-router session what `router train` and `eval` print; what the
  example policies' comments say a request does is what explain decides.
- Maps: docs/dialects.md names every module of the dialect packages and of sidecar/translate/.
- Versions: the sidecar's version wherever a page or a deploy file gives it is the package's, and the
  Node SDK releases a page says were checked are those bench/node/package.json pins.
- Names in passing: a metric, an `x-sidecar-*` header, a `SIDECAR_*` variable or an alert any page
  names (not only the page whose table lists them) is one the sidecar exposes, names, reads or alerts
  on (a misspelling shown as one aside).

Other tests hold the content of single pages (tests/test_cli.py: cli.md's sections and explain's JSON,
every argument's help text; tests/test_settings.py: configuration.md's names and the defaults pages give
in passing; tests/telemetry, tests/deploy: metrics and their units, span attributes, logs and the
lifecycle events' fields and levels, alerts;
tests/server/test_errors.py: api.md's error codes and statuses; tests/server/test_admin.py: /status;
tests/policy: the policy examples; tests/test_readme.py: README's quick start; tests/test_package_maps.py:
the package docstrings' maps)."""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from sidecar.settings import Settings, env_name

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
HISTORY = {"benchmarks.md", "benchmarks-resilience.md"}  # dated records: they name files since removed


def prose(text: str) -> str:
    """The text without its fenced code blocks (a ``# comment`` there is not a heading)."""
    kept, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    return "\n".join(kept)


def code_lines(text: str) -> Iterator[str]:
    """The lines of the fenced code blocks, without a shell prompt."""
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced:
            yield line.strip().removeprefix("$ ")


def headings(page: Path) -> list[str]:
    return [h.strip() for h in re.findall(r"^#+ +(.+?) *$", prose(page.read_text()), re.M)]


def titles(page: Path) -> list[str]:
    """The headings and the bold titles that open a paragraph or an item (``**Other OTLP settings.**``)."""
    text = prose(page.read_text())
    return [*headings(page), *re.findall(r"^(?:- |\d+\. )?\*\*(.+?)\*\*", text, re.M)]


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def flat(text: str) -> str:
    """The text on one line (a reference may be wrapped), Python comments' ``#`` gone."""
    return " ".join(re.sub(r"^\s*# ?", "", text, flags=re.M).split())


def test_every_link_and_anchor_resolves() -> None:
    """Each relative Markdown link of README.md and docs/*.md names a file that exists and, with an
    ``#anchor``, a heading of that page."""
    broken = []
    for page in PAGES:
        for link in re.findall(r"\]\(([^)\s]+)\)", prose(page.read_text())):
            if re.match(r"[a-z]+:", link):
                continue
            path, _, fragment = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            if not target.exists():
                broken.append(f"{page.name}: {link}: no such file")
            elif fragment and target.suffix == ".md" and fragment not in map(anchor, headings(target)):
                broken.append(f"{page.name}: {link}: no such heading")
    assert broken == []


def test_the_readme_lists_every_page_of_docs() -> None:
    """README.md's documentation table links every page of docs/, so none is found only by chance."""
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)\)", (ROOT / "README.md").read_text()))
    assert sorted(p.name for p in (ROOT / "docs").glob("*.md") if p.name not in linked) == []


def named_sections(text: str) -> Iterator[tuple[str, str]]:
    """``(page, section)`` for each ``docs/PAGE.md, "Section"`` (or ``("Section")``, ``'s "Section"``)."""
    for match in re.finditer(r"docs/([a-z-]+\.md)(?:'s|,|:)? \(?\"([^\"]+)\"", flat(text)):
        yield match.group(1), match.group(2)


def test_every_section_named_in_words_is_a_heading() -> None:
    """A section a page, a package message or a deploy file sends the reader to by name (`docs/api.md,
    "Errors"`) is (part of) a heading of that page, or the bold title of one of its paragraphs."""
    sources = [*PAGES, *(ROOT / "sidecar").rglob("*.py"), *(ROOT / "deploy").rglob("*.y*ml"), ROOT / "Dockerfile"]
    missing = []
    for source in sources:
        for page, section in named_sections(source.read_text()):
            target = ROOT / "docs" / page
            if not target.exists():
                missing.append(f"{source.relative_to(ROOT)}: docs/{page} does not exist")
            elif not any(section.lower() in h.strip("`").lower() for h in titles(target)):
                missing.append(f'{source.relative_to(ROOT)}: docs/{page} has no heading "{section}"')
    assert missing == []


def test_every_section_a_page_names_above_or_below_is_there() -> None:
    """A page's ``"Section" above`` (or ``below``) is a heading or bold title of that page, on that side
    of the reference."""
    wrong = []
    for page in PAGES:
        text = prose(page.read_text())
        lines = text.splitlines()
        for match in re.finditer(r'"([A-Z][^"]{2,80}?)"\s+(above|below)', text):
            section, side = " ".join(match.group(1).split()), match.group(2)
            here = text.count("\n", 0, match.start())
            title = re.compile(rf"(#+ |(- |\d+\. )?\*\*).*{re.escape(section)}")
            places = [i for i, line in enumerate(lines) if title.match(line.replace("`", ""))]
            if not places:
                wrong.append(f'{page.name}: no "{section}"')
            elif not any(i < here if side == "above" else i > here for i in places):
                wrong.append(f'{page.name}: "{section}" is not {side}')
    assert wrong == []


PATH = re.compile(r"(?<![\w/.-])((?:docs|sidecar|bench|tests|deploy|policies)/[\w./*-]*[\w*]/?)")


def test_every_file_a_page_names_exists() -> None:
    """The files and directories a page names (``sidecar/server/routes.py``, ``deploy/k8s/base/``) are in
    the repository (the dated benchmark records excepted; a ``kubectl ... deploy/NAME`` is a resource)."""
    missing = []
    for page in PAGES:
        if page.name in HISTORY:
            continue
        text = re.sub(r"kubectl [^`\n]*", "", page.read_text())
        missing += [f"{page.name}: {p}" for p in PATH.findall(text) if not any(ROOT.glob(p.rstrip("/")))]
    assert missing == []


def test_every_example_policy_is_named_in_the_docs() -> None:
    """Each example of policies/ is named by a page (the dated records aside), so none is found only by
    listing the directory."""
    named = "".join(page.read_text() for page in PAGES if page.name not in HISTORY)
    examples = [f"policies/{path.name}" for path in (ROOT / "policies").glob("*.yaml")]
    assert examples and [example for example in examples if example not in named] == []


def test_every_test_a_page_names_exists() -> None:
    """A test a page cites by its function name (`test_two_pods_sharing_...`) is a test of tests/."""
    defined = {m for f in (ROOT / "tests").rglob("test_*.py") for m in re.findall(r"def (test_\w+)", f.read_text())}
    cited = {name for page in PAGES for name in re.findall(r"`(test_\w+)`", page.read_text())}
    assert cited and sorted(cited - defined) == []


def shown_commands(prefix: str) -> Iterator[tuple[str, str]]:
    """``(page, command line)`` for each line of a code block starting with ``prefix``, and each inline
    code span starting with it."""
    for page in PAGES:
        text = page.read_text()
        yield from ((page.name, line) for line in code_lines(text) if line.startswith(prefix))
        yield from ((page.name, span) for span in re.findall(rf"`({re.escape(prefix)}[^`]*)`", flat(text)))


def argv_of(line: str) -> list[str]:
    """The words of a shown command line, up to a comment, pipe or redirection; a synopsis's
    ``[--flag VALUE]`` brackets dropped."""
    line = re.split(r"\s+(?:#|\||>|&&)\s", line)[0].replace("[", "").replace("]", "")
    return shlex.split(line)


def unknown_options(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """The options of ``argv`` that ``parser``'s command (or subcommand) does not have."""
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if actions and argv and not argv[0].startswith("-"):
        command = actions[0].choices.get(argv[0])
        return [f"no command {argv[0]!r}"] if command is None else unknown_options(command, argv[1:])
    known = {option for action in parser._actions for option in action.option_strings}
    return [word for word in argv if word.startswith("-") and word != "-" and word.split("=")[0] not in known]


def test_every_llm_sidecar_command_shown_is_one_the_parser_takes() -> None:
    """Each ``llm-sidecar ...`` line of the docs (commands run as shown, synopses, inline mentions) names
    a command the CLI has and only flags that command accepts."""
    from sidecar.cli import _parser

    wrong = []
    for prefix in ("llm-sidecar ", "python -m sidecar ", "python -OO -P -m sidecar "):
        for page, line in shown_commands(prefix):
            argv = argv_of(line)[len(prefix.split()) :]
            if argv[:1] == ["--version"] or "..." in argv or re.match(r"[\d.]+$", "".join(argv[:1])):  # its output
                continue
            wrong += [f"{page}: {line}: {problem}" for problem in unknown_options(_parser(argv), argv)]
    assert wrong == []


def test_every_make_target_shown_is_in_the_makefile() -> None:
    """Each ``make TARGET`` the docs show is a target of the Makefile."""
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))
    shown = {(page, line.split()[1]) for page, line in shown_commands("make ") if len(line.split()) > 1}
    assert shown and sorted(f"{page}: make {target}" for page, target in shown if target not in targets) == []


def test_every_make_target_is_shown_in_the_docs() -> None:
    """Each target the Makefile declares (``.PHONY``) is shown as ``make TARGET`` in README.md or a page
    of docs/ (the dated records aside), so a newcomer finds every one without reading the Makefile."""
    phony = re.search(r"^\.PHONY: (.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert phony is not None
    shown = {line.split()[1] for page, line in shown_commands("make ") if page not in HISTORY and len(line.split()) > 1}
    assert sorted(set(phony.group(1).split()) - shown) == []


BENCH = re.compile(r"(bench/[\w/]+\.py)((?: --?[a-z][\w-]*(?:[ =](?!-)[^\s`|;)]+)?)*)")


def with_bench_imports(path: Path) -> str:
    """The source of the bench script at ``path`` and of the bench modules it imports from (a shared
    command line, ``bench/parts_command.py``, declares the flags of the scripts that use it)."""
    source = path.read_text()
    imported = (path.parent / f"{name}.py" for name in re.findall(r"^from (\w+) import", source, re.M))
    return source + "".join(module.read_text() for module in imported if module.exists())


def test_every_bench_command_shown_names_a_script_with_those_flags() -> None:
    """Each ``bench/SCRIPT.py --flag ...`` the docs show names a script of bench/ (or one the dated
    records say was removed) that declares every flag shown, itself or in a bench module it imports."""
    wrong = []
    for page in PAGES:
        text = flat(page.read_text())
        for script, args in BENCH.findall(text):
            path = ROOT / script
            if not path.exists():
                if page.name not in HISTORY or not re.search(rf"`?{re.escape(script)}`?,? \(?removed", text):
                    wrong.append(f"{page.name}: {script} does not exist")
                continue
            source = with_bench_imports(path)
            flags = [word.split("=")[0] for word in args.split() if re.match(r"--?[a-z]", word)]
            wrong += [f"{page.name}: {script} {flag}" for flag in flags if f'"{flag}"' not in source]
    assert wrong == []


def configuration_rows() -> dict[str, str]:
    """docs/configuration.md's table: variable -> its default cell."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    return dict(re.findall(r"^\| `(SIDECAR_[A-Z_]+)` \|[^|]*\| ([^|]*) \|", text, re.M))


@pytest.mark.parametrize("name", [f.name for f in fields(Settings)])
def test_configuration_shows_each_settings_default(name: str) -> None:
    """docs/configuration.md's default for a setting is the one the code starts with: the value in
    backticks (``8080``, ``0.0.0.0``), ``unset`` or ``empty`` for none, ``(required)`` for the policy."""
    variable = env_name(name)
    cell = configuration_rows()[variable].strip()
    default = getattr(Settings(), name)
    if name == "policy_path":
        assert cell == "(required)"
    elif default is None or default == "":
        assert cell in ("unset", "empty"), cell
    else:
        shown = re.match(r"`([^`]+)`", cell)
        assert shown, cell
        written = {bool: lambda v: str(v).lower(), float: lambda v: f"{v:g}"}.get(type(default), str)(default)
        assert shown.group(1) == written


def schema_fields() -> dict[str, set[str]]:
    """Each field of the policy's JSON Schema (every block, every level) -> the blocks (``$defs``) it is in."""
    import json

    from sidecar.policy.schema import policy_json_schema

    schema = json.loads(policy_json_schema())
    fields: dict[str, set[str]] = {}

    def collect(node: object, block: str) -> None:
        if isinstance(node, dict):
            for name in node.get("properties", {}):
                fields.setdefault(name, set()).add(block)
            for value in node.values():
                collect(value, block)
        elif isinstance(node, list):
            for value in node:
                collect(value, block)

    for block, definition in schema.get("$defs", {}).items():
        collect(definition, block)
    collect({key: value for key, value in schema.items() if key != "$defs"}, "the policy")
    return fields


def test_every_policy_field_is_named_in_the_docs() -> None:
    """Each field of the policy's JSON Schema (every block, every level) is named in the docs: in
    inline code (`cache.stale_s`: each dotted part) or in an annotated YAML block, so no field exists
    that only the schema knows."""
    fields = schema_fields()
    named: set[str] = set()
    for page in (ROOT / "docs").glob("*.md"):
        text = page.read_text()
        named.update(part for code in re.findall(r"`([^`\n]+)`", prose(text)) for part in re.findall(r"\w+", code))
        named.update(re.findall(r"\w+", "\n".join(re.findall(r"```ya?ml\n(.*?)```", text, re.S))))
    assert len(fields) > 150 and sorted(set(fields) - named) == []


def test_every_policy_field_is_in_an_annotated_example() -> None:
    """Each field of the policy's JSON Schema is written in an "Every field, annotated" YAML example
    (docs/policy.md's, or those of docs/budgets.md, caching.md and ensembles.md that it points to), as
    a key or in the comment beside one: a user reads every field where the example shows it."""
    annotated: set[str] = set()
    pages = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text()
        if "\n## Every field, annotated\n" in text:
            pages.append(page.name)
            section = text.split("\n## Every field, annotated\n", 1)[1].split("\n## ", 1)[0]
            annotated.update(re.findall(r"\w+", "\n".join(re.findall(r"```ya?ml\n(.*?)```", section, re.S))))
    missing = [
        f"{name} ({', '.join(sorted(blocks))})"
        for name, blocks in sorted(schema_fields().items())
        if name not in annotated
    ]
    assert "policy.md" in pages and len(pages) >= 4
    assert missing == []


def test_observability_shows_each_telemetry_default() -> None:
    """docs/observability.md's "Configuration" table gives the defaults telemetry starts with (the
    values in the default cell's backticks, in the order of its variables; times in ms)."""
    from sidecar.telemetry.config import TelemetryConfig

    text = (ROOT / "docs" / "observability.md").read_text().split("## Configuration", 1)[1]
    cells = {
        re.findall(r"`([A-Z_]+)`", name)[0]: re.findall(r"`([^`]+)`", default)
        for name, default in re.findall(r"^\| ([^|]+) \| ([^|]+) \|", text, re.M)
        if name.startswith("`")
    }
    config = TelemetryConfig.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    batch, otlp = config.batch, config.traces.otlp
    assert otlp is not None
    expected = {
        "OTEL_SERVICE_NAME": [config.service_name],
        "OTEL_EXPORTER_OTLP_PROTOCOL": [otlp.protocol],
        "OTEL_EXPORTER_OTLP_TIMEOUT": [f"{otlp.timeout_s * 1000:g}"],
        "OTEL_EXPORTER_OTLP_COMPRESSION": [otlp.compression],
        "OTEL_TRACES_SAMPLER": [config.sampler, f"{config.sampler_arg:.1f}"],
        "OTEL_BSP_MAX_QUEUE_SIZE": [str(batch.max_queue_size)],
        "OTEL_BSP_SCHEDULE_DELAY": [f"{batch.schedule_delay_s * 1000:g}"],
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": [str(batch.max_export_batch_size)],
        "OTEL_BSP_EXPORT_TIMEOUT": [f"{batch.export_timeout_s * 1000:g}"],
        "OTEL_METRIC_EXPORT_INTERVAL": [f"{config.metric_interval_s * 1000:g}", f"{config.metric_timeout_s * 1000:g}"],
        "SIDECAR_CAPTURE_CONTENT": [str(config.capture_content).lower()],
        "SIDECAR_CAPTURE_CONTENT_MAX_BYTES": [str(config.capture_max_bytes)],
    }
    assert {name: cells.get(name) for name in expected} == expected


def test_the_fake_providers_option_table_shows_each_default() -> None:
    """docs/fake-provider.md's option table gives each flag's default as the parser has it: a value in
    backticks, or a word (none, random, echo) where the parser has none."""
    from sidecar.fake_provider import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    defaults = {a.option_strings[0]: a.default for a in parser._actions if a.option_strings[0].startswith("--")}
    text = (ROOT / "docs" / "fake-provider.md").read_text()
    rows = dict(re.findall(r"^\| `(--[a-z-]+)` \| ([^|]+) \|", text, re.M))
    shown = {}
    for flag, cell in rows.items():
        value = re.match(r"`([^`]+)`", cell.strip())
        shown[flag] = value.group(1) if value and flag != "--fault-rate" else None
    written = {
        flag: None if v is None else f"{v:g}" if isinstance(v, float) else str(v) for flag, v in defaults.items()
    }
    assert shown == written
    assert rows["--fault-rate"].strip() == "`1` with `--fault`, else `0`"


def test_the_defaults_cli_headings_show_are_the_parsers() -> None:
    """A value docs/cli.md's command headings give an optional flag (`[--holdout 0.2]`, `[--port
    8080]`; not a placeholder such as `[--app A]`) is that flag's default."""
    from sidecar.cli import _parser

    wrong, seen = [], 0
    for heading in re.findall(r"^## `llm-sidecar ([^`]+)`", (ROOT / "docs" / "cli.md").read_text(), re.M):
        argv = heading.split("[")[0].split()
        command = [word for word in argv if not word.startswith("-") and not word.isupper()][:2]
        parser = _parser(command)
        for flag, value in re.findall(r"\[(--[a-z-]+) ([^\]A-Z][^\]]*)\]", heading):
            action = unknown_options(parser, [*command, flag])
            defaults = [a.default for a in _subparser(parser, command)._actions if flag in a.option_strings]
            seen += 1
            if action or defaults != [type(defaults[0])(value)]:
                wrong.append(f"{heading}: {flag} {value} (default {defaults})")
    assert seen >= 4 and wrong == []


def _subparser(parser: argparse.ArgumentParser, command: list[str]) -> argparse.ArgumentParser:
    for word in command:
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions or word not in actions[0].choices:
            break
        parser = actions[0].choices[word]
    return parser


def test_the_listener_limits_api_md_gives_are_the_listeners() -> None:
    """docs/api.md's "HTTP on the listener" gives the caps the listener has: a line of 8,190 bytes, 100
    header fields, a head of 32 KiB, 4 MiB of unfinished heads, an unread body read away for 2 s, 32
    pipelined requests parsed ahead (aiohttp's), and the settings' keep-alive, receive deadline and
    connection caps as they start."""
    from aiohttp import web_protocol

    from sidecar.server import listener

    text = flat((ROOT / "docs" / "api.md").read_text().split("## HTTP on the listener", 1)[1].split("\n## ", 1)[0])
    said = {
        "line": re.search(r"at most ([\d,]+) bytes \(431", text),
        "fields": re.search(r"at most (\d+) fields", text),
        "head": re.search(r"incomplete after (\d+) KiB", text),
        "heads": re.search(r"past (\d+) MiB together", text),
        "linger": re.search(r"read away for up to ([\d.]+) s", text),
        "pipelined": re.search(r"at most (\d+) parsed requests wait", text),
        "keepalive": re.search(r"closed after \*\*(\d+) s\*\* \(`SIDECAR_KEEPALIVE_S`\)", text),
        "receive": re.search(r"within \*\*(\d+) s\*\* of its first byte", text),
        "connections": re.search(r"`SIDECAR_MAX_CONNECTIONS` \(\*\*(\d+)\*\*\)", text),
        "health connections": re.search(r"`SIDECAR_HEALTH_MAX_CONNECTIONS` \(\*\*(\d+)\*\*\)", text),
    }
    shown = {name: match.group(1).replace(",", "") if match else None for name, match in said.items()}
    assert shown == {
        "line": str(listener.MAX_LINE_BYTES),
        "fields": str(listener.MAX_FIELDS),
        "head": str(listener.MAX_HEAD_BYTES // 1024),
        "heads": str(listener.HEADS_BUDGET_BYTES // 1024 // 1024),
        "linger": f"{listener.LINGER_S:g}",
        "pipelined": str(web_protocol.MAX_MSG_QUEUE_SIZE),
        "keepalive": f"{Settings().keepalive_s:g}",
        "receive": f"{Settings().receive_timeout_s:g}",
        "connections": str(Settings().max_connections),
        "health connections": str(Settings().health_max_connections),
    }


def test_the_dropped_params_limits_headers_md_gives_are_the_codes() -> None:
    """docs/headers.md's ``x-sidecar-dropped-params`` row gives the limits the code has: a name cut at 64
    characters, at most 32 names, the whole value at most 2,048 characters."""
    from sidecar.server.answer_headers import DROPPED_HEADER_CHARS
    from sidecar.translate.options import MAX_DROPPED, NAME_CHARS

    lines = (ROOT / "docs" / "headers.md").read_text().splitlines()
    row = next(line for line in lines if line.startswith("| `x-sidecar-dropped-params`"))
    said = [
        re.search(r"cut at ([\d,]+) characters", row),
        re.search(r"at most ([\d,]+) names", row),
        re.search(r"the whole value at most ([\d,]+) characters", row),
    ]
    assert [m.group(1).replace(",", "") if m else None for m in said] == [
        str(NAME_CHARS),
        str(MAX_DROPPED),
        str(DROPPED_HEADER_CHARS),
    ]


# A policy a doc's fragment is put in: the providers and models the pages' examples name, and the route
# `chat` a budget limit scopes (a fragment's own blocks replace or extend these).
FRAGMENT_BASE = """
version: 1
providers:
  openai: {kind: openai, base_url: https://api.openai.com/v1, api_key: {env: OPENAI_API_KEY}}
  anthropic: {kind: anthropic, base_url: https://api.anthropic.com, api_key: {env: ANTHROPIC_API_KEY}}
  gemini: {kind: gemini, base_url: https://generativelanguage.googleapis.com, api_key: {env: GEMINI_API_KEY}}
models:
  gpt-4o: {provider: openai, model: gpt-4o, price: {input_per_mtok: 2.5, output_per_mtok: 10}, quality: {tier: premium}}
  gpt-4o-mini: {provider: openai, model: gpt-4o-mini, price: {input_per_mtok: 0.15, output_per_mtok: 0.6}}
  small: {provider: openai, model: gpt-4o-mini, price: {input_per_mtok: 0.15, output_per_mtok: 0.6}}
  claude-sonnet:  # premium, and it thinks: a select route of the pages' examples can serve every request
    provider: anthropic
    model: claude-sonnet-4-5
    price: {input_per_mtok: 3, output_per_mtok: 15}
    capabilities: [chat, streaming, tools, vision, json, thinking]
    quality: {tier: premium}
  claude-haiku: {provider: anthropic, model: claude-haiku-4-5, price: {input_per_mtok: 1, output_per_mtok: 5}}
  claude-haiku-eu: {provider: anthropic, model: claude-haiku-4-5, price: {input_per_mtok: 1, output_per_mtok: 5}}
  gemini-flash: {provider: gemini, model: gemini-2.5-flash, price: {input_per_mtok: 0.3, output_per_mtok: 2.5}}
routes:
  - {name: chat, match: {model: chat}, target: gpt-4o}
"""

# The YAML blocks of the docs that are no policy, by their first key: what they are instead.
NOT_POLICIES = {
    "fake-mini": "the fake provider's --quality profiles (loaded by its own parser below)",
    "relabel_configs": "a Prometheus scrape job's relabelling (checked by promtool below)",
    "metric_relabel_configs": "a Prometheus scrape job's relabelling (checked by promtool below)",
    "env": "a container's environment in a Deployment",
}
SECTIONS = {
    "version",
    "defaults",
    "providers",
    "models",
    "routing",
    "routes",
    "default",
    "budgets",
    "cache",
    "access_log",
    "passthrough",
}


def yaml_blocks() -> Iterator[tuple[str, str]]:
    """``(page:line, text)`` of every fenced YAML block of docs/ (indented blocks dedented)."""
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text()
        for match in re.finditer(r"^( *)```ya?ml\n(.*?)^\1```", text, re.S | re.M):
            lines = [line[len(match.group(1)) :] for line in match.group(2).splitlines()]
            yield f"{page.name}:{text.count(chr(10), 0, match.start()) + 1}", "\n".join(lines)


def as_policy(block: object) -> dict[str, object] | None:
    """The whole policy a block shows: itself when it is one (``version``), else the block put in
    ``FRAGMENT_BASE`` (a list of budget limits as ``budgets.limits``); None for a block that is no policy."""
    import yaml

    if isinstance(block, list) and all(isinstance(item, dict) and "measure" in item for item in block):
        block = {"budgets": {"limits": block}}
    if not isinstance(block, dict) or not set(block) <= SECTIONS:
        return None
    if "version" in block:
        return block
    policy: dict[str, object] = yaml.safe_load(FRAGMENT_BASE)
    for key, value in block.items():
        base = policy.get(key)
        policy[key] = {**base, **value} if isinstance(base, dict) and isinstance(value, dict) else value
    return policy


@pytest.mark.parametrize(("where", "text"), list(yaml_blocks()), ids=[where for where, _ in yaml_blocks()])
def test_every_yaml_block_of_the_docs_loads_as_a_policy(where: str, text: str, tmp_path: Path) -> None:
    """Each YAML block of docs/ is a policy that loads as the sidecar loads it, without a warning (a
    fragment in a policy that defines the providers, models and route the pages name; a learned router
    beside it when it names one), or a block NOT_POLICIES says is something else."""
    import yaml

    from sidecar.policy import PolicyError, load_policy

    from .policy.policies import write_router

    block = yaml.safe_load(text)
    policy = as_policy(block)
    if policy is None:
        assert isinstance(block, dict) and next(iter(block)) in NOT_POLICIES, f"{where}: neither a policy nor listed"
        return
    write_router(tmp_path)
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))
    try:
        loaded = load_policy(tmp_path / "policy.yaml")
    except PolicyError as error:
        pytest.fail(f"{where}: {error.errors}")
    assert list(loaded.warnings) == []


def test_the_quality_profiles_docs_show_are_ones_the_fake_provider_takes() -> None:
    """docs/fake-provider.md's ``--quality`` file parses as the fake provider parses profiles."""
    import yaml

    from sidecar.fake_provider.profiles import parse_profiles

    [text] = [text for where, text in yaml_blocks() if text.startswith("# --quality")]
    assert set(parse_profiles(yaml.safe_load(text))) == {"fake-mini", "member-*"}


def test_the_prometheus_relabelling_docs_show_is_a_config_promtool_accepts(tmp_path: Path) -> None:
    """docs/operations.md's ``relabel_configs`` and ``metric_relabel_configs`` blocks, in a scrape job,
    are a Prometheus configuration ``promtool check config`` accepts."""
    import shutil
    import subprocess

    import yaml

    job: dict[str, object] = {"job_name": "llm-sidecar", "static_configs": [{"targets": ["127.0.0.1:8081"]}]}
    blocks = [yaml.safe_load(text) for _, text in yaml_blocks()]
    shown = [
        block
        for block in blocks
        if isinstance(block, dict) and set(block) & {"relabel_configs", "metric_relabel_configs"}
    ]
    for block in shown:
        job.update(block)
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({"scrape_configs": [job]}))
    result = subprocess.run(
        [
            shutil.which("promtool") or pytest.fail("promtool is required"),
            "check",
            "config",
            str(tmp_path / "prometheus.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert len(shown) == 2 and result.returncode == 0, result.stdout + result.stderr


def transcripts(command: str) -> Iterator[tuple[str, str, list[str]]]:
    """``(page, command line, lines shown)`` for each ``$ llm-sidecar COMMAND ...`` block of docs/."""
    for page in PAGES:
        for block in re.findall(r"```\n(.*?)```", page.read_text(), re.S):
            first, *shown = block.splitlines()
            if first.startswith(f"$ llm-sidecar {command} "):
                yield page.name, first.removeprefix("$ "), shown


def request_files(page: str) -> dict[str, str]:
    """The request files a page defines in words: ``req.json` holding `{...}``, ``(`proof.json`: `{...}`)``."""
    text = flat((ROOT / "docs" / page).read_text())
    return dict(re.findall(r"`(\w+\.json)`(?: holding|:) `(\{.*?\})`", text))


def shown_as(shown: list[str], printed: list[str]) -> bool:
    """Whether the printed lines are the shown ones: ``...`` in a line stands for any text, a line that
    is only ``...`` for any lines."""
    pattern = "".join(
        r"(?:.*\n)*?" if line.strip() == "..." else ".*".join(map(re.escape, line.split("..."))) + r"\n"
        for line in shown
    )
    return re.fullmatch(pattern, "".join(f"{line}\n" for line in printed)) is not None


EXPLAINED = list(transcripts("explain"))


@pytest.mark.parametrize(
    ("page", "line", "shown"), EXPLAINED, ids=[f"{p}-{n}" for n, (p, _, _) in enumerate(EXPLAINED)]
)
def test_every_explain_transcript_is_what_explain_prints(
    page: str, line: str, shown: list[str], tmp_path: Path
) -> None:
    """Each ``$ llm-sidecar explain ...`` a page shows, run as shown with the request file the page
    defines, prints the lines shown (``...`` standing for what the page leaves out)."""
    import subprocess
    import sys

    argv = shlex.split(line)[1:]
    for name, body in request_files(page).items():
        (tmp_path / name).write_text(body)
        argv = [str(tmp_path / name) if word == name else word for word in argv]
    result = subprocess.run(
        [sys.executable, "-m", "sidecar", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert shown_as(shown, result.stdout.splitlines()), result.stdout


def test_every_validate_transcript_prints_what_validate_prints_for_the_repositorys_files() -> None:
    """Each ``$ llm-sidecar validate ...`` a page shows prints, for a file of the repository it names
    (``policies/production.yaml``), the line validate prints for it: its version hash and counts are
    today's, not those of an older edit of the file."""
    import subprocess
    import sys

    checked, wrong = 0, []
    for page, line, shown in transcripts("validate"):
        for file in shlex.split(line)[2:]:
            said = [text for text in shown if text.startswith(f"{file}: ")]
            if not (ROOT / file).is_file() or not said:
                continue
            result = subprocess.run(
                [sys.executable, "-m", "sidecar", "validate", file],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )
            checked += 1
            if result.stdout.splitlines() != said:
                wrong.append(f"{page}: shows {said}, validate prints {result.stdout.splitlines()}")
    assert checked >= 1 and wrong == []


def test_the_token_estimators_error_table_in_routing_md_is_what_its_bench_prints() -> None:
    """docs/routing.md's table of the estimator's error is what ``bench/token_estimate.py`` prints now, on
    its fixed samples: the figures the docs give are today's estimator's, not an older one's."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "bench/token_estimate.py"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    printed = result.stdout.splitlines()
    text = (ROOT / "docs" / "routing.md").read_text().splitlines()
    start = text.index(printed[0])
    assert result.returncode == 0 and text[start : start + len(printed)] == printed


def test_the_learned_router_session_routing_md_shows_is_what_the_commands_print(tmp_path: Path) -> None:
    """docs/routing.md's session (the labeled examples of bench/routing_data.py written out, ``router
    train`` on them, ``router eval`` on bench/data/routing_heldout.jsonl), run as shown (from the
    repository, the files it writes in a directory of its own), prints what the page shows: the accuracies
    its text then reads."""
    import subprocess
    import sys

    text = (ROOT / "docs" / "routing.md").read_text()
    [block] = [b for b in re.findall(r"```\n(.*?)```", text, re.S) if "$ llm-sidecar router train " in b]
    session = re.split(r"^\$ ", block, flags=re.M)[1:]
    assert len(session) == 3
    for step in session:
        command, *shown = step.splitlines()
        command = command.split("   #")[0]
        for name in ("labeled.jsonl", "router.json"):
            command = re.sub(rf"(?<![\w/]){re.escape(name)}", str(tmp_path / name), command)
        command = re.sub(
            r"^(python|llm-sidecar)",
            lambda m: shlex.quote(sys.executable) + ("" if m.group(1) == "python" else " -m sidecar"),
            command,
        )
        result = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        printed = result.stdout.replace(f"{tmp_path}/", "")  # the files as the page names them
        assert shown_as(shown, printed.splitlines()), (command, printed)


def hello(model: str, **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": "hello"}], **extra}


# What the example policies' comments (and README.md's demo) say a request does: (policy, path, headers,
# app, body) -> (route, the models it calls in order or "deny", what the cache does with it).
PRODUCTION, CACHING, CHAT = "policies/production.yaml", "policies/caching.yaml", "/v1/chat/completions"
CLAIMS = [
    (PRODUCTION, CHAT, {}, "", hello("gpt-3.5-turbo"), ("retired", "deny", "off")),
    (PRODUCTION, "/v1/embeddings", {}, "", {"model": "x", "input": "a"}, ("embeddings", "text-embedding", "off")),
    (PRODUCTION, CHAT, {}, "checkout", hello("gpt-4o"), ("premium", "claude-sonnet gpt-4o gemini-pro", "off")),
    (
        PRODUCTION,
        CHAT,
        {"x-task": "summarize-long"},
        "",
        hello("gpt-4o"),
        ("long-documents", "gemini-pro claude-sonnet", "off"),
    ),
    (PRODUCTION, CHAT, {}, "", hello("claude-3-opus"), ("claude-family", "claude-sonnet gpt-4o", "off")),
    (PRODUCTION, CHAT, {}, "", hello("mistral"), ("default", "gpt-4o-mini gemini-pro", "off")),
    (
        CACHING,
        CHAT,
        {},
        "",
        hello("classifier", temperature=0),
        ("classify", "gpt-4o-mini claude-haiku", "ttl_s 86400"),
    ),
    (CACHING, CHAT, {}, "eval-runner", hello("x", temperature=1), ("evals", "gpt-4o-mini", "ttl_s 604800")),
    (CACHING, CHAT, {}, "", hello("gpt-4o", temperature=0), ("default", "gpt-4o-mini", "off")),
    (
        "sidecar/demo/policy.yaml",
        CHAT,
        {},
        "",
        hello("smart"),
        ("smart", "claude-haiku gpt-4o-mini gemini-flash", "off"),
    ),
]


@pytest.mark.parametrize(
    ("policy", "path", "headers", "app", "body", "expected"), CLAIMS, ids=[f"{c[0]}-{c[5][0]}" for c in CLAIMS]
)
def test_what_an_example_policy_says_a_request_does_is_what_explain_says(
    policy: str, path: str, headers: dict[str, str], app: str, body: dict[str, Any], expected: tuple[str, ...]
) -> None:
    """The route, the chain and the caching an example policy's comments (README.md, for the demo) give a
    request are the ones explain, from the server's own code, decides."""
    from sidecar.explain import explain_report
    from sidecar.policy import load_policy
    from sidecar.request_facts import describe_request

    route = explain_report(load_policy(ROOT / policy), describe_request(path, headers, {}, body, app=app))["route"]
    cache = route["cache"]
    cached = f"ttl_s {cache['ttl_s']:g}" if cache["enabled"] and cache["cacheable"] else "off"
    calls = "deny" if route["deny"] else " ".join(target["model"] for target in route["targets"])
    assert (route["name"], calls, cached) == expected


@pytest.mark.parametrize(
    ("temperature", "header", "said"),
    [
        (0, None, "cache: looked up and stored (ttl_s 86400)"),
        (None, None, "cache: not cacheable (nondeterministic): x-sidecar-cache: bypass"),
        (0, "x-sidecar-cache: bypass", "not cacheable (client_bypass)"),
        (0, "cache-control: no-store", "not cacheable (client_bypass)"),
        (0, "x-sidecar-cache: refresh", "cache: not looked up (the app asks for a new answer), stored (ttl_s 86400)"),
        (0, "cache-control: no-cache", "cache: not looked up (the app asks for a new answer), stored (ttl_s 86400)"),
        (0, "cache-control: max-age=0", "cache: not looked up (the app asks for a new answer), stored (ttl_s 86400)"),
    ],
)
def test_the_cache_lines_cli_md_quotes_are_what_explain_prints(
    temperature: int | None, header: str | None, said: str
) -> None:
    """docs/cli.md's cache lines of explain (a route caching for a day: policies/caching.yaml's classify),
    for a deterministic request, a sampled one and the app's cache headers, are the lines explain prints."""
    from sidecar.explain import explain_report, explain_text
    from sidecar.policy import load_policy
    from sidecar.request_facts import describe_request

    assert said in flat((ROOT / "docs" / "cli.md").read_text())
    body = hello("classifier", **({} if temperature is None else {"temperature": temperature}))
    name, _, value = (header or "").partition(":")
    headers = {name: value.strip()} if header else {}
    request = describe_request(CHAT, headers, {}, body, app="")
    printed = explain_text(explain_report(load_policy(ROOT / CACHING), request))
    assert said in printed.splitlines()[-1]


def documented_endpoints() -> list[tuple[str, str]]:
    """``(dialect cell, path)`` of each ``POST`` path of docs/api.md's "Proxied endpoints" table, its short
    forms written out: ``.../embeddings`` after ``/openai/deployments/{name}/chat/completions``, and
    ``:countTokens`` after ``/v1beta/models/{model}:generateContent`` (a query string dropped); the
    ``/v1/models/...`` forms of the Gemini paths when the text below the table says they are served."""
    text = (ROOT / "docs" / "api.md").read_text()
    table = text.split("\n## Proxied endpoints\n", 1)[1].split("\n## ", 1)[0]
    found = []
    for row in table.splitlines():
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        if len(cells) < 3 or not cells[1].startswith("`POST "):
            continue
        base = ""
        for token in re.findall(r"`([^`]+)`", cells[1]):
            if token.startswith("POST "):
                base = path = token.removeprefix("POST ")
            elif token.startswith(".../"):
                path = re.sub(r"\}/.*", "}/", base) + token.removeprefix(".../")
            elif token.startswith(":"):
                path = base.split(":")[0] + token
            else:
                continue
            found.append((cells[0], path.split("?")[0]))
    if "`/v1/models/...` is accepted as well as `/v1beta/models/...` for Gemini" in flat(text):  # below the table
        found += [(dialect, path.replace("/v1beta/", "/v1/")) for dialect, path in found if "/v1beta/" in path]
    return found


def test_the_api_docs_endpoint_table_is_the_paths_the_sidecar_serves() -> None:
    """Each ``POST`` path of docs/api.md's "Proxied endpoints" table is one the registry serves, in the
    dialect its row names; and each path the registry serves (a Gemini path with each of its methods) is
    a row of the table, so an SDK user finds every endpoint there and none that is gone."""
    from sidecar.dialects.gemini.wire import METHODS
    from sidecar.dialects.registry import ENDPOINTS, find_endpoint

    documented = documented_endpoints()
    wrong = []
    for dialects, path in documented:
        found = find_endpoint(re.sub(r"\{\w+\}", "m", path))
        if found is None or str(found[0].dialect).lower() not in dialects.lower().replace("azure openai", "openai"):
            wrong.append(f"documented but not served as {dialects}: {path}")
    patterns = [re.compile(re.sub(r"\\\{\w+\\\}", "[^/:]+", re.escape(path)) + "$") for _, path in documented]
    for endpoint in ENDPOINTS:
        tails = [f"m:{method}" for method in METHODS] if "{tail}" in endpoint.path else ["m"]
        for tail in tails:
            served = re.sub(r"\{\w+\}", tail, endpoint.path)
            if not any(pattern.match(served) for pattern in patterns):
                wrong.append(f"served but not documented: {served}")
    assert len(documented) > 12
    assert wrong == []


def served_get_paths() -> set[str]:
    """The ``GET`` paths the sidecar's listeners route (the proxy port's and the health port's), as
    ``sidecar/server/app.py`` and ``lifecycle.py`` list them (``("GET", "/status", handler)``), a ``{model+}``
    written ``{model}``."""
    import ast

    trees = [ast.parse((ROOT / "sidecar" / "server" / name).read_text()) for name in ("app.py", "lifecycle.py")]
    return {
        node.elts[1].value.replace("+}", "}")
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Tuple)
        and len(node.elts) == 3
        and all(isinstance(elt, ast.Constant) and isinstance(elt.value, str) for elt in node.elts[:2])
        and node.elts[0].value == "GET"  # type: ignore[attr-defined]
    }


def test_the_api_docs_get_endpoints_are_the_ones_the_sidecar_serves() -> None:
    """docs/api.md's ``GET`` paths (the model listing among the proxied endpoints, and the table of the
    sidecar's own: /healthz, /readyz, /status, /metrics; Gemini's ``/v1beta/...`` forms where a row says
    so) are the paths the listeners route, none missing and none gone."""
    text = (ROOT / "docs" / "api.md").read_text()
    tables = text.split("\n## Proxied endpoints\n", 1)[1].split("\n### ", 1)[0]
    documented: set[str] = set()
    for row in tables.splitlines():
        paths = re.findall(r"`GET (/[^`]+)`", row)
        documented.update(paths)
        if "`/v1beta/...` too" in row:
            documented.update(path.replace("/v1/", "/v1beta/", 1) for path in paths)
    served = served_get_paths()
    assert len(served) >= 8
    assert {"undocumented": served - documented, "not served": documented - served} == {
        "undocumented": set(),
        "not served": set(),
    }


def annotated_defaults() -> Iterator[tuple[str, str, str, str]]:
    """``(page, key, value, default said)`` for each line of an "Every field, annotated" example whose
    comment gives the key's default (``min_confidence: 0.7  # ... (default 0.6)``, ``default true``)."""
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text()
        if "\n## Every field, annotated\n" not in text:
            continue
        section = text.split("\n## Every field, annotated\n", 1)[1].split("\n## ", 1)[0]
        for block in re.findall(r"```ya?ml\n(.*?)```", section, re.S):
            for line in block.splitlines():
                field = re.match(r"\s*(?:- )?([a-z_]+):\s*(.*?)\s+#(.*)$", line)
                said = re.search(r"\(default:? ([^)]+)\)|default:? ([\w.-]+)", field.group(3)) if field else None
                if field and said:
                    yield page.name, field.group(1), field.group(2), (said.group(1) or said.group(2)).strip()


def test_the_defaults_the_annotated_examples_give_are_the_schemas() -> None:
    """A default an annotated example's comment gives a field (a number, true or false, a word; ``shown``:
    the value on the line; ``both``: a list of two) is that field's default in the JSON Schema (of the
    block, among those that have the field, whose default it can be)."""
    import json

    import yaml

    from sidecar.policy.schema import policy_json_schema

    defaults: dict[str, list[object]] = {}
    for block in json.loads(policy_json_schema())["$defs"].values():
        for name, spec in block.get("properties", {}).items():
            if spec.get("default") is not None:
                defaults.setdefault(name, []).append(spec["default"])

    def written(value: object) -> str:
        return (
            str(value).lower() if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else str(value)
        )

    checked, wrong = 0, []
    for page, key, value, said in annotated_defaults():
        if key not in defaults or not re.fullmatch(r"[\w.-]+", said):
            continue  # no default in the schema (computed at load: `first model`), or words
        checked += 1
        if said == "shown":
            matches = [yaml.safe_load(value) == d for d in defaults[key]]
        elif said == "both":
            matches = [isinstance(d, list) and len(d) == 2 for d in defaults[key]]
        else:
            matches = [written(d) == said for d in defaults[key]]
        if not any(matches):
            wrong.append(f"{page}: {key}: says default {said}, the schema has {defaults[key]}")
    assert checked >= 12
    assert wrong == []


def test_every_sidecar_version_the_docs_and_manifests_give_is_the_packages() -> None:
    """The sidecar's version where a page or a deploy file writes it (``llm-sidecar 0.1.0`` from
    ``--version``, the image tag ``llm-sidecar:0.1.0``, ``/status``'s ``"version"``, the CI's ``@v0.1.0``)
    is the package's, so a release that bumps it leaves no page or manifest on the old one."""
    from sidecar import __version__

    sources = [*(page for page in PAGES if page.name not in HISTORY), *(ROOT / "deploy").rglob("*.y*ml")]
    pattern = re.compile(r'llm-sidecar[ :](\d+\.\d+\.\d+)\b|"version": "(\d+\.\d+\.\d+)"|llm-sidecar@v(\d+\.\d+\.\d+)')
    said = {
        f"{source.relative_to(ROOT)}: {''.join(match)}"
        for source in sources
        for match in pattern.findall(source.read_text())
    }
    assert len(said) >= 4
    assert sorted(line for line in said if not line.endswith(f": {__version__}")) == []


def test_the_cache_key_version_the_docs_give_is_the_codes() -> None:
    """The cache keys the docs show (``"<key_prefix>:v3:<blake2b>"``) carry the key version the code
    writes, so an SRE looking keys up in Redis finds them."""
    from sidecar.cache.key import KEY_VERSION

    shown = {
        v for page in PAGES if page.name not in HISTORY for v in re.findall(r"<key_prefix>:(v\d+):", page.read_text())
    }
    assert shown == {KEY_VERSION}


def named_in_passing(pattern: str) -> dict[str, list[str]]:
    """Each name matching ``pattern`` that README.md or a page (the dated records aside) writes, prose,
    tables and code blocks alike, -> the pages writing it; a family written as a prefix
    (``llm_sidecar_cache_*``, ``x-sidecar-budget-*``) is not a name."""
    named: dict[str, list[str]] = {}
    for page in PAGES:
        if page.name not in HISTORY:
            for name, after in re.findall(rf"\b({pattern})([*\w-]?)", page.read_text()):
                if not after and not name.endswith(("_", "-")):
                    named.setdefault(name, []).append(page.name)
    return named


def package_strings(pattern: str) -> set[str]:
    """The quoted strings of the package's source (the fake provider aside) matching ``pattern``."""
    return {
        name
        for module in (ROOT / "sidecar").rglob("*.py")
        if "fake_provider" not in module.parts
        for name in re.findall(rf"[\"']({pattern})[\"']", module.read_text())
    }


def named_but_not(named: dict[str, list[str]], known: set[str]) -> list[str]:
    """``name (pages)`` for each name of ``named`` that is not in ``known``."""
    return sorted(f"{name} ({', '.join(sorted(set(pages)))})" for name, pages in named.items() if name not in known)


def test_every_metric_a_page_names_is_one_the_sidecar_exposes() -> None:
    """A metric a page names in passing (a runbook's ``llm_sidecar_skips_total``, a PromQL line's
    ``gen_ai_client_operation_duration_seconds_bucket``), not only in docs/observability.md's tables, is
    one a new ``Telemetry``'s registry exposes on ``/metrics``, as a family or one of its samples."""
    from sidecar.telemetry.facade import Telemetry

    exposed = set()
    for family in Telemetry.from_env({}, service_version="1.0").registry.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}.get(family.type, [])
        exposed |= {family.name, *(family.name + suffix for suffix in suffixes)}
    named = named_in_passing(r"llm_sidecar_\w+|gen_ai_client_\w+")
    assert len(named) >= 40
    assert named_but_not(named, exposed) == []


def test_every_sidecar_header_a_page_names_is_one_the_package_names() -> None:
    """An ``x-sidecar-*`` header a page names in passing (docs/caching.md's ``x-sidecar-cache: bypass``),
    not only in docs/headers.md's tables, is one the package writes or reads."""
    in_code = package_strings(r"x-sidecar-[a-z-]+")
    named = named_in_passing(r"x-sidecar-[a-z0-9-]+")
    assert len(named) >= 20
    assert named_but_not(named, in_code) == []


def test_every_sidecar_variable_a_page_names_is_one_the_package_reads() -> None:
    """A ``SIDECAR_*`` variable a page names in passing is one the package reads (a setting's, or
    telemetry's ``SIDECAR_CAPTURE_CONTENT``), except a misspelling shown as one: a name the variable it
    stands for begins with follows within the sentence (``SIDECAR_DRAIN_TIMEOUT`` for
    ``SIDECAR_DRAIN_TIMEOUT_S``)."""
    read = {env_name(f.name) for f in fields(Settings)} | package_strings(r"SIDECAR_[A-Z_]+")
    wrong = []
    for name, pages in named_in_passing(r"SIDECAR_[A-Z0-9_]+").items():
        for page in sorted(set(pages)):
            text = flat((ROOT if page == "README.md" else ROOT / "docs").joinpath(page).read_text())
            shown_as_misspelt = all(
                re.match(rf"[^.]{{0,80}}\b{name}_\w*\b", text[at.end() :]) for at in re.finditer(rf"\b{name}\b", text)
            )
            if name not in read and not shown_as_misspelt:
                wrong.append(f"{page}: {name}")
    assert len(read) >= 20
    assert wrong == []


def test_every_alert_a_page_names_is_one_the_rules_hold() -> None:
    """An alert a page names (``LLMSidecarBudgetNearLimit`` in docs/observability.md, a runbook's
    neighbour) is one of deploy/prometheus/llm-sidecar-alerts.yaml, so a renamed alert leaves no page on
    the old name."""
    import yaml

    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "llm-sidecar-alerts.yaml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}
    named = named_in_passing(r"LLMSidecar\w+")
    assert len(alerts) >= 10 and len(named) >= 10
    assert named_but_not(named, alerts) == []


def caching_key_section() -> str:
    text = (ROOT / "docs" / "caching.md").read_text()
    return text.split("\n## The key\n", 1)[1].split("\n## ", 1)[0]


def test_the_fields_caching_md_leaves_out_of_the_key_are_the_dialects() -> None:
    """docs/caching.md's "fields left out of the key" table names, for each dialect, exactly the
    transport fields its wire leaves out of the canonical body (a name in parentheses explains, a
    Gemini field named in camelCase covers its snake_case spelling)."""
    from sidecar.dialects import Dialect
    from sidecar.dialects.registry import wire

    dialects = {"OpenAI": Dialect.OPENAI, "Anthropic": Dialect.ANTHROPIC, "Gemini": Dialect.GEMINI}
    rows = re.findall(r"^\| (OpenAI|Anthropic|Gemini) \| ([^|]+) \|", caching_key_section(), re.M)
    wrong = {}
    for title, cell in rows:
        shown = set(re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", cell)))
        covered = shown | {re.sub(r"[A-Z]", lambda m: f"_{m.group().lower()}", name) for name in shown}
        left_out = set(wire(dialects[title]).transport_fields)
        if left_out - covered or shown - left_out:
            wrong[title] = {"not in the table": sorted(left_out - covered), "not left out": sorted(shown - left_out)}
    assert len(rows) == 3 and wrong == {}


def cache_bypass_reasons() -> dict[str, str]:
    """Each reason a request is not cached for (``KeyDecision.reason``, explain's ``not cacheable
    (...)``, the span's ``sidecar.cache.reason``), with where: a constant returned by a dialect's
    ``cache_unfaithful`` or by ``uncacheable``, a field of the tuple one of them returns names from, a
    constant given to ``KeyDecision``."""
    import ast

    reasons: dict[str, str] = {}
    sources = [*sorted((ROOT / "sidecar" / "dialects").glob("*/bodies.py")), *(ROOT / "sidecar" / "cache").glob("*.py")]
    for path in sources:
        tree = ast.parse(path.read_text())
        tuples = {
            t.id: n.value for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
        }
        for node in ast.walk(tree):
            found: list[ast.AST] = []
            if isinstance(node, ast.FunctionDef) and node.name in ("cache_unfaithful", "uncacheable"):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Return) and inner.value is not None:
                        found.append(inner.value)
                    elif isinstance(inner, ast.For) and isinstance(inner.iter, ast.Name) and inner.iter.id in tuples:
                        found += ast.walk(tuples[inner.iter.id])
            elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "KeyDecision" and len(node.args) == 2:
                found.append(node.args[1])
            for value in found:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    reasons.setdefault(value.value, f"{path.relative_to(ROOT)}:{value.lineno}")
    return reasons


def test_the_reasons_caching_md_gives_a_request_not_cached_are_the_codes() -> None:
    """docs/caching.md's "Requests that are never cached" table names every reason the code gives a
    request it does not cache (what explain prints in ``not cacheable (...)``), and only those."""
    table = caching_key_section().split("**Requests that are never cached**", 1)[1].split("\n\n", 2)[1]
    shown = {name for cell in re.findall(r"^\| ([^|]+) \|", table, re.M) for name in re.findall(r"`(\w+)`", cell)}
    reasons = cache_bypass_reasons()
    assert len(reasons) >= 15
    assert {
        "not in the table": sorted(f"{reason} ({where})" for reason, where in reasons.items() if reason not in shown),
        "not a reason": sorted(shown - set(reasons)),
    } == {"not in the table": [], "not a reason": []}


def test_every_module_of_the_dialects_and_translate_packages_is_on_the_dialects_page() -> None:
    """docs/dialects.md, the developers' map for adding a dialect, names every module: each one of a
    dialect's package in its table of files, each one of ``sidecar/translate/`` in its paragraph of what
    every dialect shares, each one of ``sidecar/dialects/`` itself by its path."""
    text = (ROOT / "docs" / "dialects.md").read_text()
    table = text.split("| file in `sidecar/dialects/<dialect>/` |", 1)[1].split("\n\n", 1)[0]
    shared = text.split("What every dialect shares stays in `sidecar/translate/`", 1)[1].split("\n\n", 1)[0]
    dialects = ROOT / "sidecar" / "dialects"
    missing = [
        *(f"{m.relative_to(ROOT)}" for m in dialects.glob("*/*.py") if f"`{m.name}`" not in table),
        *(
            f"{m.relative_to(ROOT)}"
            for m in (ROOT / "sidecar" / "translate").glob("*.py")
            if f"`{m.name}`" not in shared
        ),
        *(f"{m.relative_to(ROOT)}" for m in dialects.glob("*.py") if f"`{m.relative_to(ROOT)}`" not in text),
    ]
    assert sorted(m for m in missing if not m.endswith("__init__.py")) == []


def test_the_node_sdk_versions_the_pages_give_are_the_ones_bench_node_pins() -> None:
    """The Node SDK releases a page says the sidecar was checked on (``openai 7.60.0, @anthropic-ai/sdk
    1.17.0, @google/genai 3.6.1``) are those bench/node/package.json pins, the ones its check last ran
    on, so a re-pinned check leaves no page on the old releases."""
    import json

    pinned = json.loads((ROOT / "bench" / "node" / "package.json").read_text())["dependencies"]
    pattern = re.compile(
        r"(@anthropic-ai/sdk|@google/genai) (\d+\.\d+\.\d+)|(openai) (\d+\.\d+\.\d+),? @anthropic-ai/sdk"
    )
    said = {
        (page.name, name or node_openai, version or node_version)
        for page in PAGES
        if page.name not in HISTORY
        for name, version, node_openai, node_version in pattern.findall(flat(page.read_text()))
    }
    assert len(said) >= 4
    assert sorted(f"{page}: {name} {version}" for page, name, version in said if pinned[name] != version) == []


def test_no_page_names_a_file_outside_the_repository() -> None:
    """No page (the dated records aside) sends the reader to a file outside the repository
    (``../shared/...``, ``/work/...``): one who has only the repository cannot open it."""
    outside = re.compile(r"(?<![\w.])(\.\./[\w./-]+|/work/[\w./-]+)")
    named = [
        f"{page.name}: {path}"
        for page in PAGES
        if page.name not in HISTORY
        for path in outside.findall(page.read_text())
    ]
    assert named == []


def test_the_readme_row_of_the_cli_page_names_every_command() -> None:
    """README.md's documentation table row for docs/cli.md names every command of ``llm-sidecar``, so a
    command added is found from the README."""
    from sidecar.cli import _parser

    [row] = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| [docs/cli.md]")]
    commands = next(a for a in _parser([])._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert len(commands) >= 8
    assert sorted(name for name in commands if f"`{name}" not in row) == []


def test_the_answer_fields_caching_md_says_an_entry_keeps_are_the_dialects() -> None:
    """docs/caching.md's "What is stored" names every field of an answer outside the common form that
    an entry keeps for a hit of its dialect (each dialect's ``answer_extras``), and its 2,048-character
    bound is the code's."""
    from sidecar.cache.extras import MAX_CHARS
    from sidecar.dialects.registry import DIALECTS, wire

    text = flat((ROOT / "docs" / "caching.md").read_text().split("## What is stored", 1)[1].split("\n## ", 1)[0])
    kept = {".".join(map(str, path)) for dialect in DIALECTS for path in wire(dialect).answer_extras}
    assert len(kept) >= 10
    assert sorted(path for path in kept if not re.search(rf"`(?:\w+\.)*{path.split('.')[-1]}`", text)) == []
    assert f"at most {MAX_CHARS:,} characters" in text
