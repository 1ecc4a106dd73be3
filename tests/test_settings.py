"""Process settings: SIDECAR_* variables, flags over them, checks, and the docs listing every one."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from sidecar.settings import _ABOVE_ZERO, LEAST_VALUES, Settings, SettingsError, env_name, unknown_variables

DOCS = Path(__file__).parents[1] / "docs" / "configuration.md"


def test_variables_are_read_and_converted() -> None:
    """SIDECAR_* values become typed settings; unset and empty ones keep the defaults."""
    settings = Settings.from_env(
        {"SIDECAR_POLICY": "p.yaml", "SIDECAR_PORT": "9090", "SIDECAR_KEEPALIVE_S": "300", "SIDECAR_APP": ""}
    )
    assert (settings.policy_path, settings.port, settings.keepalive_s) == ("p.yaml", 9090, 300.0)
    assert settings.app_name == "" and settings.receive_timeout_s == 60.0


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("On", True), ("no", False), ("0", False)])
def test_switches_read_the_usual_words(raw: str, expected: bool) -> None:
    """A yes/no setting (SIDECAR_HEALTH_METRICS) reads 1/true/yes/on and 0/false/no/off, any case."""
    assert Settings.from_env({"SIDECAR_HEALTH_METRICS": raw}).health_metrics is expected


def test_flags_win_over_variables() -> None:
    """An override that is not None (a command-line flag) replaces the variable's value."""
    settings = Settings.from_env({"SIDECAR_PORT": "9090"}, port=7070, host=None)
    assert (settings.port, settings.host) == (7070, "127.0.0.1")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SIDECAR_PORT": "eighty"}, "SIDECAR_PORT='eighty' is not a number"),
        ({"SIDECAR_PORT": "70000"}, "SIDECAR_PORT .--port. 70000 is out of range"),
        ({"SIDECAR_KEEPALIVE_S": "0"}, "SIDECAR_KEEPALIVE_S=0.0: must be positive"),
        ({"SIDECAR_RECEIVE_TIMEOUT_S": "-1"}, "must be positive"),
        ({"SIDECAR_RELOAD_INTERVAL_S": "nan"}, "SIDECAR_RELOAD_INTERVAL_S=nan: must be positive"),
        ({"SIDECAR_MAX_BODY_BYTES": "10"}, "SIDECAR_MAX_BODY_BYTES=10: must be at least 1024"),
        ({"SIDECAR_DRAIN_TIMEOUT_S": "nan"}, "SIDECAR_DRAIN_TIMEOUT_S=nan: must be at least 0"),
        ({"SIDECAR_DRAIN_TIMEOUT_S": "1e999"}, "SIDECAR_DRAIN_TIMEOUT_S='1e999' is not a finite number"),
        ({"SIDECAR_KEEPALIVE_S": "-inf"}, "SIDECAR_KEEPALIVE_S='-inf' is not a finite number"),
        ({"SIDECAR_MAX_HELD_BYTES": "1000"}, "SIDECAR_MAX_HELD_BYTES=1000: must be at least 1048576"),
        ({"SIDECAR_HEALTH_PORT": "8080"}, "must differ"),
        ({"SIDECAR_LOG_LEVEL": "loud"}, "is not debug"),
        ({"SIDECAR_HEALTH_METRICS": "enabled"}, "SIDECAR_HEALTH_METRICS='enabled' is not one of 1, true"),
    ],
)
def test_bad_values_are_refused_with_the_reason(env: dict[str, str], message: str) -> None:
    """A value that cannot work stops the start with a message naming it."""
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


@pytest.mark.parametrize("name", [name for name, _ in LEAST_VALUES] + list(_ABOVE_ZERO))
def test_a_number_below_its_least_is_refused_naming_the_variable(name: str) -> None:
    """A numeric setting below the least it can take stops the start with a message that names its
    variable and that least, so the SRE knows which line of the pod spec to fix."""
    variable = env_name(name)
    least = dict(LEAST_VALUES).get(name, 0)
    with pytest.raises(SettingsError, match=rf"^{variable}=.*: must be (at least {least}|positive)$"):
        Settings.from_env({variable: str(least - 1)})


def test_the_configuration_page_gives_each_least_value() -> None:
    """docs/configuration.md's row of a setting with a least value says it (``at least 1024``; the drain
    timeout's ``at least 0``), so a value the start refuses is not a surprise."""
    rows = dict(re.findall(r"^\| `(SIDECAR_[A-Z_]+)` \|(.*)$", DOCS.read_text(), re.M))
    missing = [env_name(name) for name, least in LEAST_VALUES if f"at least {least}" not in rows[env_name(name)]]
    assert missing == []


def test_every_setting_is_documented() -> None:
    """docs/configuration.md has a row for every setting's variable."""
    text = DOCS.read_text()
    missing = [env_name(f.name) for f in fields(Settings) if f"`{env_name(f.name)}`" not in text]
    assert missing == []


def test_every_documented_sidecar_variable_is_a_setting() -> None:
    """Every ``SIDECAR_*`` row of docs/configuration.md's table is a setting's variable: the table shows
    none that is gone (the telemetry ones are in docs/observability.md, checked there)."""
    import re

    rows = re.findall(r"^\| `(SIDECAR_[A-Z_]+)` \|", DOCS.read_text(), re.M)
    assert rows and sorted(set(rows) - {env_name(f.name) for f in fields(Settings)}) == []


def test_the_flag_column_names_the_run_flag_that_sets_each_variable() -> None:
    """docs/configuration.md's flag column gives, for each variable, the ``llm-sidecar run`` flag that
    sets the same setting, and none for a variable no flag sets; each flag's help names its variable
    and, where it gives one, the setting's default (``llm-sidecar run --help`` agrees with the page)."""
    from sidecar.cli import _parser

    run = next(a for a in _parser(["run"])._actions if a.dest == "command").choices["run"]  # type: ignore[attr-defined]
    flags = {a.dest: a for a in run._actions if a.dest != "help"}
    rows = dict(re.findall(r"^\| `(SIDECAR_[A-Z_]+)` \| ([^|]*) \|", DOCS.read_text(), re.M))
    shown = {variable: flag.strip("` ") for variable, flag in rows.items() if flag.strip()}
    assert shown == {env_name(dest): action.option_strings[0] for dest, action in flags.items()}
    defaults = Settings()
    for dest, action in flags.items():
        assert f"env {env_name(dest)}" in action.help, action.option_strings
        said = re.search(r"default ([^,;)]+)", action.help)
        assert said is None or said.group(1) == str(getattr(defaults, dest)), action.help


def test_a_misspelt_variable_is_named_with_the_closest_setting() -> None:
    """A ``SIDECAR_*`` variable no setting reads (a typo in a pod spec, silently ignored otherwise) is
    listed, with the known name it is closest to; known ones, the telemetry ones and others are not."""
    env = {
        "SIDECAR_DRAIN_TIMEOUT": "60",
        "SIDECAR_HEALTH_METRIC": "true",
        "SIDECAR_FROBNICATE": "1",
        "SIDECAR_PORT": "8080",
        "SIDECAR_CAPTURE_CONTENT": "true",
        "SIDECAR_CAPTURE_CONTENT_MAX_BYTES": "100",
        "OTHER_SIDECAR_PORT": "1",
    }
    assert unknown_variables(env) == [
        "SIDECAR_DRAIN_TIMEOUT (SIDECAR_DRAIN_TIMEOUT_S?)",
        "SIDECAR_FROBNICATE",
        "SIDECAR_HEALTH_METRIC (SIDECAR_HEALTH_METRICS?)",
    ]


def test_every_sidecar_variable_the_package_reads_is_known() -> None:
    """Every ``"SIDECAR_..."`` name in the package's code is a setting's or one ``unknown_variables``
    knows (the telemetry ones), so a variable the sidecar reads is never reported as unknown."""
    package = Path(__file__).parents[1] / "sidecar"
    named = {
        name
        for path in package.rglob("*.py")
        for name in re.findall(r"[\"'](SIDECAR_[A-Z_]*[A-Z])[\"']", path.read_text())
    }
    assert named and unknown_variables(dict.fromkeys(named, "x")) == []


# A variable's name as the package spells it where it reads one: ours, OpenTelemetry's, the CA and proxy ones.
ENV_NAME = r"(SIDECAR|OTEL)_[A-Z0-9_]+|[A-Z][A-Z0-9]*(_[A-Z0-9]+)*(_BUNDLE|_PROXY|_FILE|_DIR)|HOME|NETRC"


def test_every_variable_the_package_reads_by_name_is_documented() -> None:
    """Each environment variable the package reads by its name (``env.get("REQUESTS_CA_BUNDLE")``,
    ``env["OTEL_SERVICE_NAME"]``), the settings' and telemetry's included, is named in backticks in
    docs/configuration.md or docs/observability.md (whole, or as the stem of a pattern there)."""
    import ast

    root = Path(__file__).parents[1]
    docs = DOCS.read_text() + (root / "docs" / "observability.md").read_text()
    read: dict[str, str] = {}
    for module in sorted((root / "sidecar").rglob("*.py")):
        if "fake_provider" in module.parts:  # a tool of its own; docs/fake-provider.md
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            name = None
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("get", "getenv", "pop") and node.args:
                name = node.args[0]
            elif isinstance(node, ast.Subscript):
                name = node.slice
            text = name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else ""
            if re.fullmatch(ENV_NAME, text):
                read.setdefault(text, f"{module.relative_to(root)}:{node.lineno}")
    assert len(read) >= 5
    assert sorted(f"{name} ({where})" for name, where in read.items() if not re.search(rf"`{name}(`|_?\[)", docs)) == []


def test_every_default_a_page_gives_a_variable_in_passing_is_the_settings() -> None:
    """A default a page gives a variable beside its name (```SIDECAR_RELOAD_INTERVAL_S`, 0.5 s``,
    ```SIDECAR_UPSTREAM_CONNECTIONS` (default 4096``, ```SIDECAR_UPSTREAM_MAX_BODY_BYTES`, 64 MiB``) is
    the one the setting starts with (the dated benchmark records aside)."""
    root = Path(__file__).parents[1]
    names = {env_name(f.name): f.name for f in fields(Settings)}
    units = {"": 1, " s": 1, " KiB": 1024, " MiB": 1024 * 1024}
    said, wrong = 0, []
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        if page.name.startswith("benchmarks"):
            continue
        text = " ".join(page.read_text().split())
        for name, number, unit in re.findall(
            r"`(SIDECAR_[A-Z_]+)`(?:,| \(default) (\d[\d,.]*\d|\d)( s| KiB| MiB)?\b", text
        ):
            if name not in names:
                continue
            said += 1
            if float(number.replace(",", "")) * units[unit] != float(getattr(Settings(), names[name])):
                wrong.append(f"{page.name}: {name} {number}{unit}")
    assert said >= 5
    assert wrong == []
