"""The docs against the tree: what README.md and docs/*.md point at exists, and what they tell a user to
type is accepted, with the defaults the code has.

- Where a page sends the reader: links and their anchors resolve; a section named in words
  (`docs/api.md, "Errors"`, from the docs, the package's own messages or deploy files; a page's
  `"Section" above`) is a heading or bold title there; the files and tests a page names exist; README.md
  links every page.
- What a page tells a user to type: every `llm-sidecar` command line shown names a command and flags the
  parser has, every `make` target one the Makefile has, every `bench/` command a script with the flags
  shown.
- Names and defaults: every policy field and every example of policies/ is named in the docs;
  configuration.md's, observability.md's, fake-provider.md's and cli.md's defaults are the code's, and
  so are the listener's caps in api.md and the dropped-params limits in headers.md.

Other tests hold the content of single pages (tests/test_cli.py: cli.md's sections; tests/test_settings.py:
configuration.md's names; tests/telemetry, tests/deploy: metrics, logs, alerts; tests/policy: the policy
examples; tests/test_readme.py: README's quick start)."""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

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


BENCH = re.compile(r"(bench/[\w/]+\.py)((?: --?[a-z][\w-]*(?:[ =](?!-)[^\s`|;)]+)?)*)")


def test_every_bench_command_shown_names_a_script_with_those_flags() -> None:
    """Each ``bench/SCRIPT.py --flag ...`` the docs show names a script of bench/ (or one the dated
    records say was removed) that declares every flag shown."""
    wrong = []
    for page in PAGES:
        text = flat(page.read_text())
        for script, args in BENCH.findall(text):
            path = ROOT / script
            if not path.exists():
                if page.name not in HISTORY or not re.search(rf"`?{re.escape(script)}`?,? \(?removed", text):
                    wrong.append(f"{page.name}: {script} does not exist")
                continue
            source = path.read_text()
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


def test_every_policy_field_is_named_in_the_docs() -> None:
    """Each field of the policy's JSON Schema (every block, every level) is named in the docs: in
    inline code (`cache.stale_s`: each dotted part) or in an annotated YAML block, so no field exists
    that only the schema knows."""
    import json

    from sidecar.policy.schema import policy_json_schema

    fields: set[str] = set()

    def collect(node: object) -> None:
        if isinstance(node, dict):
            fields.update(node.get("properties", {}))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(json.loads(policy_json_schema()))
    named: set[str] = set()
    for page in (ROOT / "docs").glob("*.md"):
        text = page.read_text()
        named.update(part for code in re.findall(r"`([^`\n]+)`", prose(text)) for part in re.findall(r"\w+", code))
        named.update(re.findall(r"\w+", "\n".join(re.findall(r"```ya?ml\n(.*?)```", text, re.S))))
    assert len(fields) > 150 and sorted(fields - named) == []


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
    header fields, a head of 32 KiB, 4 MiB of unfinished heads, and an unread body read away for 2 s."""
    from sidecar.server import listener

    text = flat((ROOT / "docs" / "api.md").read_text().split("## HTTP on the listener", 1)[1].split("\n## ", 1)[0])
    said = {
        "line": re.search(r"at most ([\d,]+) bytes \(431", text),
        "fields": re.search(r"at most (\d+) fields", text),
        "head": re.search(r"incomplete after (\d+) KiB", text),
        "heads": re.search(r"past (\d+) MiB together", text),
        "linger": re.search(r"read away for up to ([\d.]+) s", text),
    }
    shown = {name: match.group(1).replace(",", "") if match else None for name, match in said.items()}
    assert shown == {
        "line": str(listener.MAX_LINE_BYTES),
        "fields": str(listener.MAX_FIELDS),
        "head": str(listener.MAX_HEAD_BYTES // 1024),
        "heads": str(listener.HEADS_BUDGET_BYTES // 1024 // 1024),
        "linger": f"{listener.LINGER_S:g}",
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
