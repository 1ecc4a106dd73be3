"""The llm-sidecar command: validate, explain, schema, diff, and run's startup checks (as a user runs them),
and its --help (every argument explained); the demo's are in test_cli_demo.py."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sidecar.policy.schema import policy_json_schema

from .conftest import SidecarFactory

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "policies/production.yaml"


def cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sidecar", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=30,
        env=env,
    )


def test_validate_accepts_good_policies() -> None:
    """validate exits 0 and says ok for each valid file."""
    result = cli("validate", str(GOOD), str(ROOT / "policies/minimal.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": ok (version ") == 2


def test_validate_lists_every_error_and_exits_1(tmp_path: Path) -> None:
    """validate exits 1 and prints each error with its file and path."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        GOOD.read_text()
        .replace("target: [gemini-pro, claude-sonnet]", "target: [gemini-pro, gpt-5x]")
        .replace("base_url: https://api.anthropic.com", "base_url: api.anthropic.com")
    )
    result = cli("validate", str(GOOD), str(bad))
    assert result.returncode == 1
    assert f"{bad}: providers.anthropic.base_url: must start with http:// or https://" in result.stdout
    assert "1 of 2 policies invalid" in result.stderr


def test_explain_names_the_matching_rule_and_why_others_failed(tmp_path: Path) -> None:
    """explain shows each rule's verdict and the chosen chain."""
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"model": "gpt-4o", "messages": []}))
    result = cli("explain", "--policy", str(GOOD), "--request", str(request), "-H", "x-task: long-report")
    assert result.returncode == 0, result.stderr
    assert "skip  routes[2] premium  (app '' is not checkout)" in result.stdout
    assert "MATCH routes[3] long-documents" in result.stdout
    assert "=> long-documents (routes[3], by rule): gemini-pro" in result.stdout


def test_explain_says_a_request_file_that_is_not_json_is_not_json(tmp_path: Path) -> None:
    """explain given a request file that is not JSON says so in words (exit 2), not only the parser's message."""
    request = tmp_path / "req.json"
    request.write_text("model: gpt-4o")
    result = cli("explain", "--policy", str(GOOD), "--request", str(request))
    assert result.returncode == 2
    assert result.stderr.startswith("llm-sidecar explain: the request is not valid JSON: "), result.stderr
    assert "Traceback" not in result.stderr


def test_explain_json_for_an_anthropic_request(tmp_path: Path) -> None:
    """explain --json reports the route for a /v1/messages request by model glob."""
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"model": "claude-3-opus", "max_tokens": 5, "messages": []}))
    result = cli("explain", "--policy", str(GOOD), "--request", str(request), "--path", "/v1/messages", "--json")
    report = json.loads(result.stdout)
    assert report["route"]["name"] == "claude-family"
    assert [t["model"] for t in report["route"]["targets"]] == ["claude-sonnet", "gpt-4o"]


def test_explain_lists_the_budget_limits_a_request_counts_in(tmp_path: Path) -> None:
    """explain --json lists every budget limit of the route with its scope value (a key by its hash,
    never the key) and what admission would reserve; a provider quota per target of its provider."""
    request = tmp_path / "req.json"
    request.write_text(
        json.dumps({"model": "chat", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]})
    )
    policy = GOOD.with_name("budgets.yaml")
    args = ("explain", "--policy", str(policy), "--request", str(request), "-H", "x-team: ads", "--json")
    result = cli(*args, "-H", "authorization: Bearer sk-secret-1")
    rows = {row["limit"]: row for row in json.loads(result.stdout)["budgets"]}
    assert rows["team-day"]["value"] == "ads" and rows["chat-month"]["value"] == "chat"
    assert rows["key-rpm"]["value"] == hashlib.sha256(b"sk-secret-1").hexdigest()[:16]
    assert rows["openai-tpm"]["target"] == "gpt-4o" and rows["openai-tpm"]["reserves"] > 100
    assert "sk-secret-1" not in result.stdout


def test_explain_never_shows_a_credential_header_a_route_matches_on(tmp_path: Path) -> None:
    """A route matching on authorization or x-api-key that does not match: explain says so without the
    value the caller sent (text and --json), as everything else keeps credentials out of its output."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nproviders:\n  p: {dialect: fake, base_url: 'http://127.0.0.1:9'}\n"
        "models:\n  m: {provider: p, model: m}\n"
        "routes:\n  - {name: team-a, match: {headers: {authorization: 'Bearer sk-team-a-*'}}, target: m}\n"
        "  - {name: team-b, match: {headers: {x-api-key: 'sk-team-b-*'}}, target: m}\n  - {name: rest, target: m}\n"
    )
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
    keys = ("-H", "authorization: Bearer sk-secret-2", "-H", "x-api-key: sk-secret-3")
    for extra in ((), ("--json",)):
        result = cli("explain", "--policy", str(policy), "--request", str(request), *keys, *extra)
        assert result.returncode == 0, result.stderr
        assert "sk-secret" not in result.stdout
        assert "header authorization (a credential, not shown) is not Bearer sk-team-a-*" in result.stdout


def test_explain_says_whether_the_route_caches_the_request(tmp_path: Path) -> None:
    """On a caching route explain says a deterministic request is cached and why another is not."""
    caching = str(ROOT / "policies/caching.yaml")
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"model": "classifier", "temperature": 0, "messages": []}))
    assert (
        "cache: looked up and stored (ttl_s 86400)"
        in cli("explain", "--policy", caching, "--request", str(request)).stdout
    )
    request.write_text(json.dumps({"model": "classifier", "temperature": 0.7, "messages": []}))
    result = cli("explain", "--policy", caching, "--request", str(request))
    assert "cache: not cacheable (nondeterministic): x-sidecar-cache: bypass" in result.stdout


@pytest.mark.timeout(200)  # six processes, each up to cli()'s 30 s: at a load of 30 they took over 60 s together
def test_explain_reads_the_apps_cache_headers_as_the_cache_does(tmp_path: Path) -> None:
    """A deterministic request the app sends with ``x-sidecar-cache: bypass`` or ``cache-control:
    no-store`` is neither looked up nor stored, and one with ``refresh`` or ``no-cache`` is stored
    without a lookup: explain says so (it said "looked up and stored", whatever the headers); a route
    whose ``client_control`` is off reads neither header."""
    caching = str(ROOT / "policies/caching.yaml")
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"model": "classifier", "temperature": 0, "messages": []}))

    def cache_line(*headers: str, policy: str = caching) -> str:
        result = cli("explain", "--policy", policy, "--request", str(request), *(f"-H{h}" for h in headers))
        return result.stdout.splitlines()[-1].strip()

    bypass = "cache: not cacheable (client_bypass): x-sidecar-cache: bypass"
    refresh = "cache: not looked up (the app asks for a new answer), stored (ttl_s 86400)"
    assert [cache_line("x-sidecar-cache: bypass"), cache_line("cache-control: no-cache, no-store")] == [bypass] * 2
    assert [cache_line("x-sidecar-cache: refresh"), cache_line("cache-control: max-age=0")] == [refresh] * 2
    report = json.loads(
        cli("explain", "--policy", caching, "--request", str(request), "--json", "-H", "x-sidecar-cache: bypass").stdout
    )
    assert report["route"]["cache"]["directive"] == "bypass"
    closed = tmp_path / "closed.yaml"
    closed.write_text(
        (ROOT / "policies/caching.yaml").read_text().replace("cache: {", "cache: {client_control: false, ", 1)
    )
    assert cache_line("x-sidecar-cache: bypass", policy=str(closed)) == "cache: looked up and stored (ttl_s 86400)"


def test_schema_prints_the_committed_schema() -> None:
    """llm-sidecar schema prints what policies/policy.schema.json holds."""
    assert cli("schema").stdout == policy_json_schema()


def test_run_with_an_invalid_policy_exits_nonzero_listing_errors(tmp_path: Path) -> None:
    """run refuses to start on a broken policy, printing every error."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nproviders: {}\nmodels: {m: {provider: nope, model: x}}\n")
    result = cli("run", "--policy", str(bad), "--port", "18080")
    assert result.returncode == 1
    assert "models.m.provider: unknown provider 'nope'" in result.stderr


def test_run_warns_of_a_misspelt_setting_variable(tmp_path: Path) -> None:
    """run logs ``settings_unknown`` at start for a ``SIDECAR_*`` variable no setting reads, naming the
    setting it is closest to: a typo in a pod spec is otherwise silently ignored (here the start then
    stops on an invalid policy, so the test needs no server)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nproviders: {}\n")
    env = {"PATH": "/usr/bin:/bin", "SIDECAR_DRAIN_TIMEOUT": "60", "SIDECAR_HEALTH_METRICS": "true"}
    result = cli("run", "--policy", str(bad), "--port", "0", env=env)
    [line] = [json.loads(line) for line in result.stdout.splitlines() if '"settings_unknown"' in line]
    assert line["level"] == "warning"
    assert line["variables"] == ["SIDECAR_DRAIN_TIMEOUT (SIDECAR_DRAIN_TIMEOUT_S?)"]


@pytest.mark.timeout(60)
def test_run_survives_a_sighup_while_it_starts(tmp_path: Path) -> None:
    """A SIGHUP that comes while run is starting (here: while it reads its policy, a FIFO held open) does
    not end the process, whose SIGHUP handler is not installed yet: it starts, listens and exits 0 on
    SIGTERM. docs/operations.md has SREs send SIGHUP to every pod; one may be starting."""
    import os
    import signal
    import time

    fifo, ports = tmp_path / "policy.yaml", tmp_path / "ports.json"
    os.mkfifo(fifo)
    command = [sys.executable, "-m", "sidecar", "run", "--policy", str(fifo), "--port", "0", "--ports-file", str(ports)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with fifo.open("wb") as writer:  # returns once run has opened the policy to read it
            proc.send_signal(signal.SIGHUP)
            time.sleep(0.2)
            writer.write(GOOD.read_bytes())
        regular = tmp_path / "policy.tmp"
        regular.write_bytes(GOOD.read_bytes())
        regular.replace(fifo)  # what the reload watcher finds next: a plain file, the same policy
        deadline = time.monotonic() + 30
        while not ports.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None and ports.exists(), proc.returncode
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


def test_run_without_a_policy_is_a_usage_error() -> None:
    """run with neither --policy nor SIDECAR_POLICY exits 2 with a hint."""
    result = cli("run", env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2 and "SIDECAR_POLICY" in result.stderr


def test_run_on_a_port_in_use_exits_1_in_one_line() -> None:
    """run on a port another process listens on exits 1 with the reason on one line, no traceback."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = cli("run", "--policy", str(GOOD), "--port", str(taken.getsockname()[1]))
    assert result.returncode == 1
    assert result.stderr.startswith("llm-sidecar: ") and "address already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_on_a_host_that_does_not_resolve_names_it_in_one_line() -> None:
    """run with ``--host`` a name that does not resolve (a typo in SIDECAR_HOST) exits 1 with one line that
    names the host; it said only ``[Errno -2] Name or service not known``."""
    result = cli("run", "--policy", str(GOOD), "--host", "no-such-host.invalid", "--port", "0")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("llm-sidecar: ")]
    assert "cannot listen on 'no-such-host.invalid', a name that does not resolve: " in line


def test_run_with_a_ports_file_it_cannot_write_is_a_usage_error(tmp_path: Path) -> None:
    """--ports-file in a directory that does not exist stops the start at once (exit 2), not once listening."""
    result = cli("run", "--policy", str(GOOD), "--port", "0", "--ports-file", str(tmp_path / "no" / "ports.json"))
    assert result.returncode == 2 and f"no directory {tmp_path / 'no'}" in result.stderr


def test_diff_of_two_valid_policies_exits_0_and_prints_the_changes(tmp_path: Path) -> None:
    """diff OLD NEW exits 0 and prints the changes with both versions."""
    new = tmp_path / "new.yaml"
    new.write_text(GOOD.read_text().replace("max_concurrent: 256", "max_concurrent: 64"))
    result = cli("diff", str(GOOD), str(new))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2:] == ["defaults:", "  ~ bulkhead max_concurrent: 256 -> 64", "1 change"]


def test_diff_exits_1_when_the_new_policy_is_invalid(tmp_path: Path) -> None:
    """diff exits 1 when NEW does not validate, listing its errors on stderr and printing no diff."""
    new = tmp_path / "new.yaml"
    new.write_text(GOOD.read_text().replace("target: [gemini-pro, claude-sonnet]", "target: [gemini-pro, gpt-5x]"))
    result = cli("diff", str(GOOD), str(new))
    assert result.returncode == 1
    assert f"{new}: routes[3].target[1]: unknown model 'gpt-5x'" in result.stderr
    assert result.stdout == ""


def test_diff_replay_json_reads_the_log_from_stdin(tmp_path: Path) -> None:
    """diff --replay - --json reads access lines from stdin and reports the replay as JSON."""
    line = {"event": "access", "path": "/v1/chat/completions", "requested_model": "claude-3", "route": "claude-family"}
    result = cli("diff", str(GOOD), str(GOOD), "--replay", "-", "--json", stdin=json.dumps(line) + "\n")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["changes"], report["replay"]["replayed"], report["replay"]["routed_differently"]) == ([], 1, 0)


def test_diff_with_an_unreadable_log_is_a_usage_error(tmp_path: Path) -> None:
    """diff --replay on a missing file exits 2 naming the file."""
    result = cli("diff", str(GOOD), str(GOOD), "--replay", str(tmp_path / "missing.log"))
    assert result.returncode == 2
    assert "missing.log" in result.stderr


def test_validate_prints_a_deprecated_name_as_a_warning_and_exits_0(tmp_path: Path) -> None:
    """validate passes a policy that uses the old provider field ``dialect``, and says what to write."""
    old = tmp_path / "old.yaml"
    old.write_text((ROOT / "policies/minimal.yaml").read_text().replace("kind: openai", "dialect: openai"))
    result = cli("validate", str(old))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{old}: warning: providers.openai.dialect: deprecated name of kind; write kind: openai" in result.stdout
    assert f"{old}: ok (version " in result.stdout


EXPLAIN_POLICY = """version: 1
providers:
  up: {kind: openai, base_url: "http://127.0.0.1:9/v1"}
models:
  m: {provider: up, model: m}
routes:
""" + "".join(
    f"  - {{name: {d}-{o}, match: {{dialect: [{d}], operation: [{o}]}}, deny: {{message: {d} {o}, status: 418}}}}\n"
    for d in ("openai", "anthropic", "gemini")
    for o in ("chat", "text_completion", "embeddings", "responses", "count_tokens")
)
GEMINI_TAILS = (
    "gem-1:generateContent",
    "gem-1:streamGenerateContent?alt=sse",
    "gem-1:countTokens",
    "gem-1:embedContent",
    "gem-1:batchEmbedContents",
)


def served_paths(state: Any) -> list[str]:
    """Every POST path of the server's router, as a request would spell it."""
    from sidecar.server.app import SidecarApp

    templates = set(SidecarApp(state).routes.templates("POST"))
    paths = []
    for template in sorted(templates):
        if "{tail}" in template:
            paths += [template.replace("{tail}", tail) for tail in GEMINI_TAILS]
        else:
            paths.append(template.replace("{model}", "deployment-1"))
    return paths


async def test_explain_takes_the_route_the_server_takes_on_every_path_it_serves(sidecar: SidecarFactory) -> None:
    """For each path the server routes (Azure deployments and every Gemini method included), explain's
    route is the one the server answers with."""
    import aiohttp

    from sidecar.explain import explain_report
    from sidecar.request_facts import describe_request

    running = await sidecar(EXPLAIN_POLICY)
    policy = running.state.holder.policy
    paths = served_paths(running.state)
    assert "/openai/deployments/deployment-1/chat/completions" in paths
    async with aiohttp.ClientSession() as session:
        for path in paths:
            body = {"model": "m", "messages": [], "input": "x", "prompt": "x"}
            async with session.post(running.url + path, json=body) as response:
                assert response.status == 418, path
                served = response.headers["x-sidecar-route"]
            query = {"alt": "sse"} if "alt=sse" in path else {}
            explained = explain_report(policy, describe_request(path, {}, query, body, app=""))
            assert explained["route"]["name"] == served, path


def test_explain_reads_an_azure_deployment_path(tmp_path: Path) -> None:
    """explain --path /openai/deployments/NAME/chat/completions routes the deployment name as the model."""
    request = tmp_path / "req.json"
    request.write_text('{"messages": [{"role": "user", "content": "hi"}]}')
    policy = tmp_path / "p.yaml"
    policy.write_text(
        EXPLAIN_POLICY.replace("routes:\n", "routes:\n  - {name: azure, match: {model: gpt-4o}, target: m}\n")
    )
    path = "/openai/deployments/gpt-4o/chat/completions"
    result = cli("explain", "--policy", str(policy), "--request", str(request), "--path", path, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["request"]["model"], report["route"]["name"]) == ("gpt-4o", "azure")


def test_explain_says_what_the_server_answers_for_a_path_it_does_not_serve(tmp_path: Path) -> None:
    """A path the server does not serve is reported with the 404 the app would get (exit 2)."""
    request = tmp_path / "req.json"
    request.write_text('{"model": "m"}')
    result = cli("explain", "--policy", str(GOOD), "--request", str(request), "--path", "/v1/assistants")
    assert result.returncode == 2
    assert "the sidecar answers 404: POST /v1/assistants is not a path the sidecar serves" in result.stderr


def test_explain_shows_an_ensemble_its_gates_and_a_shadow(tmp_path: Path) -> None:
    """explain lists what a route does besides its chain: the vote, the gates (each one the route turns on:
    refund-decision's regex, which the line left out, naming json_schema alone), the shadow."""
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"model": "x", "messages": []}))
    policy = str(ROOT / "policies/ensemble.yaml")
    result = cli("explain", "--policy", policy, "--request", str(request), "--app", "refunds")
    assert result.returncode == 0, result.stderr
    assert "   ensemble: majority of gpt-4o-mini=[gpt-4o-mini], haiku=[claude-haiku, claude-sonnet]" in result.stdout
    gates = "non_empty, refusal, json_schema request, regex '(?i)\\b(approve|deny|escalate)\\b'"
    assert f"   gates: every answer checked ({gates}); on failure: next target" in result.stdout
    other = cli("explain", "--policy", policy, "--request", str(request))
    assert "   shadow: 5.0% of requests also sent to gpt-4o-mini, gemini-flash" in other.stdout


LOADED_BY_RUN = """
import sys
from sidecar.cli import _parser
args = _parser(["run", "--port", "0"]).parse_args(["run", "--port", "0"])
print(sorted(m for m in sys.modules if m.startswith(("sidecar.routing.learned", "sidecar.fake_provider"))))
"""


def test_run_does_not_load_the_router_trainer_or_the_fake_provider() -> None:
    """Parsing a ``run`` command line imports neither the learned router's commands nor the fake provider
    (they only add arguments to their own commands), so they cost the sidecar's start nothing."""
    result = subprocess.run([sys.executable, "-c", LOADED_BY_RUN], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


LOADED_BY_SERVING = """
import sys
import sidecar.cli, sidecar.server.app
print(sorted(m for m in sys.modules if m in ("sidecar.explain", "sidecar.routing.explain", "fastjsonschema")))
"""


def test_serving_does_not_load_the_explainer_or_the_json_schema_compiler() -> None:
    """The command line and the server import neither ``explain`` (the ``explain`` command's) nor
    fastjsonschema (the first JSON Schema gate's), so a sidecar without them pays no start time for them."""
    result = subprocess.run([sys.executable, "-c", LOADED_BY_SERVING], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def documented_commands() -> dict[str, str]:
    """docs/cli.md's sections by command (``router train``, ...): the section's text."""
    import re

    text = (Path(__file__).parents[1] / "docs" / "cli.md").read_text()
    sections = re.split(r"^## `llm-sidecar ", text, flags=re.M)[1:]
    return {re.match(r"[a-z-]+(?: (?:train|eval))?", section).group(0): section for section in sections}  # type: ignore[union-attr]


def command_flags() -> dict[str, list[tuple[str, ...]]]:
    """Every command's options (each with its names: ``-H``, ``--header``), as its parser has them
    (``router``'s two commands each)."""
    flags: dict[str, list[tuple[str, ...]]] = {}
    for name, parser in command_parsers().items():
        options = [tuple(a.option_strings) for a in parser._actions if a.option_strings]
        flags[name] = [o for o in options if "--help" not in o]
    return flags


def command_parsers() -> dict[str, argparse.ArgumentParser]:
    """Every command's parser by its name (``router``'s two commands each: ``router train``)."""
    from sidecar.cli import _parser

    def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return dict(found[0].choices) if found else {}

    return {
        f"{name} {sub}" if sub else name: subparser
        for name, parser in subcommands(_parser(["router", "fake-provider"])).items()
        for sub, subparser in subcommands(parser).items() or [(None, parser)]
    }


def test_every_argument_has_a_help_text_and_the_default_it_gives_is_the_parsers() -> None:
    """``llm-sidecar COMMAND --help`` says what each argument of each command is (a positional too),
    and a default a help text gives (``default 8080``, ``(default 0.2)``) is the one the parser starts
    with (``run``'s flags default to their settings: tests/test_settings.py checks those)."""
    import re

    silent, wrong = [], []
    for name, parser in command_parsers().items():
        for action in parser._actions:
            if "--help" in action.option_strings:
                continue
            label = f"{name} {'/'.join(action.option_strings) or action.dest}"
            if not action.help:
                silent.append(label)
                continue
            said = re.search(r"default:? ([^,;)]+)", action.help % {"default": action.default})
            if said and action.default is not None and said.group(1) != str(action.default):
                wrong.append(f"{label}: says default {said.group(1)}, the parser has {action.default}")
    assert len(command_parsers()) >= 9
    assert {"without help": silent, "wrong default": wrong} == {"without help": [], "wrong default": []}


def test_every_command_and_flag_is_documented_and_every_documented_flag_exists() -> None:
    """docs/cli.md has a section for every command, naming each of its flags (the fake provider's are in
    docs/fake-provider.md's table); a flag a section's heading shows is one the command has."""
    import re

    sections = documented_commands()
    fake_doc = (Path(__file__).parents[1] / "docs" / "fake-provider.md").read_text()
    problems = []
    for command, flags in command_flags().items():
        if command not in sections:
            problems.append(f"{command}: no section")
            continue
        text = fake_doc if command == "fake-provider" else sections[command]
        problems += [
            f"{command} {'/'.join(names)}: undocumented"
            for names in flags
            if not any(re.search(rf"[`\s\[]{name}\b", text) for name in names)
        ]
        known = {name for names in flags for name in names}
        heading = sections[command].split("\n", 1)[0]
        problems += [f"{command} {flag}: not a flag" for flag in re.findall(r"--[a-z-]+", heading) if flag not in known]
    assert problems == []


def test_output_cut_short_by_its_reader_ends_without_a_traceback() -> None:
    """A command whose reader closed the pipe (``llm-sidecar schema | head -1``) exits 1 quietly: no
    ``BrokenPipeError`` traceback on stderr."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write
    try:
        result = subprocess.run(
            [sys.executable, "-m", "sidecar", "schema"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (1, "")


def test_validate_names_a_broken_file_once_and_says_what_is_wrong(tmp_path: Path) -> None:
    """A file that cannot be read, is empty, is not YAML or is not a mapping: one line each, the file
    named once at its start (not twice), saying what is wrong; exit 1."""
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "syntax.yaml").write_text("version: 1\nproviders: [\n")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "bad.json").write_text('{"version": 1,')
    names = ["missing.yaml", "empty.yaml", "syntax.yaml", "list.yaml", "bad.json"]
    result = subprocess.run(
        [sys.executable, "-m", "sidecar", "validate", *names], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "missing.yaml: cannot read the file: No such file or directory",
        "empty.yaml: the file is empty",
        "syntax.yaml: invalid YAML at line 3, column 1, after providers: "
        "expected the node content, but found '<stream end>'",
        "list.yaml: the policy must be a mapping, not a list",
        "bad.json: invalid JSON: unexpected end of data: line 1 column 15 (char 14)",
    ]


def test_validate_warns_about_a_key_written_twice(tmp_path: Path) -> None:
    """YAML forbids a mapping key twice, and the YAML library keeps only its last value (a second
    `routes:` block silently drops the first): validate names each repeat with its line, as a warning
    (exit 0, the policy loads as before), like kubectl's duplicate field warnings."""
    text = GOOD.read_text() + "defaults:\n  resilience: {max_attempts_per_target: 1}\n"
    policy = tmp_path / "twice.yaml"
    policy.write_text(text)
    line = text.count("\n") - 1
    result = cli("validate", str(policy))
    assert result.returncode == 0, result.stderr
    assert f"{policy}: warning: line {line}: key 'defaults' written twice: only the last one is used" in result.stdout
    assert f"{policy}: ok (version" in result.stdout


def test_validate_warns_of_an_access_log_that_writes_no_error_line(tmp_path: Path) -> None:
    """production.yaml's access_log turned to ``sample: 0`` with ``always: []`` (a misconfiguration: a failed
    request would leave no line in the log): validate names the rate as a warning and exits 0 (the policy
    loads: no access log at all may be meant)."""
    text = GOOD.read_text()
    always = (
        "  always: [error, client_closed, stream_error, drain_cut, degraded, fallback, retry, budget, cache_stale]\n"
    )
    assert "  sample: 0.1 " in text and always in text
    policy = tmp_path / "silent.yaml"
    policy.write_text(text.replace("  sample: 0.1 ", "  sample: 0   ").replace(always, "  always: []\n"))
    result = cli("validate", str(policy))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stdout.splitlines() if ": warning: " in line]
    assert warnings == [
        f"{policy}: warning: access_log.sample: 0 and access_log.always without error: no access line is written "
        "for a request answered with an error status (4xx, 5xx), only the metrics count it "
        "(llm_sidecar_requests_total by status_class); add error to access_log.always to keep those lines"
    ]
    assert f"{policy}: ok (version" in result.stdout


def test_explain_exit_codes_for_an_invalid_policy_and_an_unreadable_request(tmp_path: Path) -> None:
    """As docs/cli.md says: an invalid policy exits 1 with its errors on stderr, as validate prints them;
    a request file that is missing or not JSON exits 2."""
    request = tmp_path / "req.json"
    request.write_text('{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}')
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 2\n")
    result = cli("explain", "--policy", str(broken), "--request", str(request))
    assert result.returncode == 1 and f"{broken}: version: Input should be 1" in result.stderr.splitlines()
    (tmp_path / "bad.json").write_text("{bad")
    for name in ("missing.json", "bad.json"):
        result = cli("explain", "--policy", str(GOOD), "--request", str(tmp_path / name))
        assert result.returncode == 2 and result.stderr.startswith("llm-sidecar explain: "), result.stderr


def test_explain_says_a_request_file_it_cannot_read_in_words_not_pythons(tmp_path: Path) -> None:
    """A request file that is missing or a directory: exit 2 and ``cannot read PATH: <reason>``, as validate
    says a policy file it cannot read, not Python's ``[Errno 2] No such file or directory: 'PATH'``."""
    for path, reason in ((tmp_path / "missing.json", "No such file or directory"), (tmp_path, "Is a directory")):
        result = cli("explain", "--policy", str(GOOD), "--request", str(path))
        assert (result.returncode, result.stderr) == (2, f"llm-sidecar explain: cannot read {path}: {reason}\n")


def shown_sessions() -> list[tuple[str, str]]:
    """docs/cli.md's code blocks that show a command (``$ llm-sidecar ...``) on files of the repository
    (policies/, and the ``req.json`` the page gives) and its output: (command line, output shown)."""
    text = (ROOT / "docs" / "cli.md").read_text()
    sessions = []
    for block in re.findall(r"```\n\$ (llm-sidecar [^\n]+)\n(.*?)```", text, re.S):
        files = [word for word in shlex.split(block[0]) if re.search(r"\.(ya?ml|json)$", word)]
        if all(word == "req.json" or (ROOT / word).exists() for word in files):
            sessions.append(block)
    return sessions


def test_the_sessions_cli_md_shows_print_what_it_shows(tmp_path: Path) -> None:
    """Each command docs/cli.md shows run on the shipped policies (explain on production.yaml and
    ensemble.yaml, with the page's req.json) prints the lines shown; a shown ``...`` stands for lines
    left out, ``(...)`` for a part of a line."""
    request = re.search(r"`req.json` holding\s+`(\{.*?\})`", (ROOT / "docs" / "cli.md").read_text(), re.S)
    assert request is not None
    (tmp_path / "req.json").write_text(request.group(1))
    sessions = shown_sessions()
    assert len(sessions) >= 2
    for command, shown in sessions:
        argv = [str(ROOT / word) if (ROOT / word).exists() else word for word in shlex.split(command)[1:]]
        result = subprocess.run(
            [sys.executable, "-m", "sidecar", *argv], capture_output=True, text=True, timeout=30, cwd=tmp_path
        )
        pattern = "".join(
            r"(?:.*\n)*?" if line == "..." else re.escape(line).replace(r"\(\.\.\.\)", r"\(.*?\)") + r"\n"
            for line in shown.splitlines()
        )
        assert re.fullmatch(pattern, result.stdout), (command, result.stdout, result.stderr)


def test_validate_counts_in_words_a_reader_expects() -> None:
    """The ok line of a policy with one provider and one model says so in the singular (it said `1
    providers, 1 models`)."""
    result = cli("validate", str(GOOD.with_name("minimal.yaml")))
    assert re.fullmatch(r".*minimal\.yaml: ok \(version \w+, 1 provider, 1 model, 0 routes\)\n", result.stdout)


def json_fields(value: Any, path: str = "") -> set[str]:
    """Every key of a JSON value as ``path.key`` (list items as ``[]``), but those of routing's
    ``features`` (docs/routing.md lists them) and of ``expected_cost_usd`` (the policy's model names)."""
    found: set[str] = set()
    if isinstance(value, dict) and not path.endswith((".routing.features", ".expected_cost_usd")):
        for key, item in value.items():
            found.add(f"{path}.{key}")
            found |= json_fields(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            found |= json_fields(item, f"{path}[]")
    return found


def test_every_field_explain_json_prints_is_in_the_cli_docs() -> None:
    """Each field of ``explain --json`` (on the shipped policies: rules, a route with a cache, an
    ensemble, routing's decision, a selection, a split, caps, budget limits) is named in docs/cli.md's
    explain section, so a script reading the JSON finds what each field is."""
    from sidecar.explain import explain_report
    from sidecar.policy import load_policy
    from sidecar.request_facts import describe_request

    def chat(model: str, text: str, **extra: object) -> dict[str, Any]:
        return {"model": model, "messages": [{"role": "user", "content": text}], **extra}

    requests = [
        chat("classifier", "hi", temperature=0),
        chat("auto", "Extract the invoice number from this"),
        chat("auto", "Prove step by step that the sum of two even numbers is even, derive it"),
        chat("gpt-4o", "Summarize the report"),
    ]
    fields: set[str] = set()
    for name in ("caching", "routing", "budgets", "ensemble", "production"):
        policy = load_policy(ROOT / "policies" / f"{name}.yaml")
        for body in requests:
            for app in ("checkout", "refunds"):
                request = describe_request("/v1/chat/completions", {"x-team": "search"}, {}, body, app=app)
                fields |= json_fields(explain_report(policy, request, None))
    section = (ROOT / "docs" / "cli.md").read_text().split("## `llm-sidecar explain", 1)[1].split("\n## ", 1)[0]
    assert {".routing.split.arms[].weight", ".budgets[].reserves", ".route.cache.directive"} <= fields
    assert sorted(field for field in fields if f"`{field.rsplit('.', 1)[-1]}`" not in section) == []


def test_explain_says_where_a_passthrough_path_is_forwarded(tmp_path: Path) -> None:
    """A path the policy's ``passthrough`` forwards is reported as forwarded, to which provider (exit 0)."""
    request = tmp_path / "req.json"
    request.write_text('{"model": "m"}')
    result = cli("explain", "--policy", str(GOOD), "--request", str(request), "--path", "/v1/files?purpose=x")
    assert result.returncode == 0, result.stderr
    assert "POST /v1/files is forwarded as sent to provider 'openai' (passthrough of openai /v1/files)" in result.stdout
