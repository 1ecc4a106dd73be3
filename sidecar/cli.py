"""The ``llm-sidecar`` command.

llm-sidecar run --policy FILE [--host H] [--port P]   serve (env: SIDECAR_POLICY, SIDECAR_HOST, ...)
llm-sidecar validate FILE...                          check policies: exit 0, or 1 listing every error
llm-sidecar explain --policy FILE --request REQ.json  which route a request takes, and why
llm-sidecar diff OLD NEW [--replay ACCESS_LOG]        what a policy change changes; exit 1 if one is invalid
llm-sidecar schema                                    the policy's JSON Schema
llm-sidecar router train LABELED.jsonl -o router.json fit a learned router (docs/routing.md)
llm-sidecar router eval --model router.json LABELED   its accuracy and confusion matrix
llm-sidecar fake-provider [--port P] ...              a fake OpenAI/Anthropic/Gemini server
llm-sidecar demo                                      fake providers + the sidecar on a demo policy
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections.abc import Coroutine, Sequence
from dataclasses import fields
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from . import __version__, ports_file
from .credentials import app_key
from .policy.compiled import PolicyError
from .policy.load import load_policy
from .request_facts import RequestProblem, describe_request
from .settings import Settings, SettingsError, unknown_variables

if TYPE_CHECKING:
    import subprocess

    from .telemetry.logging import LogOutput

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` names (None: the process's arguments); its exit code. Ctrl-C is left to
    the entry point (``entry.main``), which also covers the imports before this runs."""
    parser = _parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        result: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left (``| head``): stop quietly, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush does not raise
        return EXIT_INVALID
    return result


def _parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The command line's parser. The ``router`` and ``fake-provider`` commands' own arguments (and the
    modules that define them: the learned router's trainer, the fake provider) are loaded only when
    ``argv`` names the command: ``run`` does not import them, which keeps them out of the start time."""
    parser = argparse.ArgumentParser(prog="llm-sidecar", description="LLM traffic proxy sidecar.")
    parser.add_argument("--version", action="version", version=f"llm-sidecar {__version__}")
    commands = parser.add_subparsers(dest="command")

    # Each flag of run sets the setting its dest names, over the variable (docs/configuration.md).
    defaults = Settings()
    run = commands.add_parser("run", help="serve the proxy")
    run.add_argument("--policy", dest="policy_path", metavar="POLICY", help="policy file (env SIDECAR_POLICY)")
    run.add_argument("--host", help=f"listen address (env SIDECAR_HOST, default {defaults.host})")
    run.add_argument(
        "--port", type=int, help=f"listen port, 0: any free one (env SIDECAR_PORT, default {defaults.port})"
    )
    run.add_argument(
        "--health-port",
        type=int,
        help="extra listener for /healthz and /readyz only, /metrics too with SIDECAR_HEALTH_METRICS"
        " (env SIDECAR_HEALTH_PORT)",
    )
    run.add_argument(
        "--ports-file",
        metavar="PATH",
        help="write the bound ports here as JSON once listening, for --port 0 (env SIDECAR_PORTS_FILE)",
    )
    run.set_defaults(func=cmd_run)

    validate = commands.add_parser("validate", help="check policy files, like nginx -t")
    validate.add_argument(
        "files", nargs="+", metavar="FILE", help="policy files (YAML or JSON); exit 1 if one is invalid"
    )
    validate.set_defaults(func=cmd_validate)

    explain = commands.add_parser("explain", help="show which route a request takes and why")
    explain.add_argument("--policy", required=True, help="the policy file, as run loads it")
    explain.add_argument("--request", required=True, help="JSON request body file ('-' for stdin)")
    explain.add_argument("--path", default="/v1/chat/completions", help="the path the app calls (default %(default)s)")
    explain.add_argument("-H", "--header", action="append", default=[], help="'name: value', repeatable")
    explain.add_argument("--app", default="", help="the pod's SIDECAR_APP: the calling app without x-sidecar-app")
    explain.add_argument("--json", action="store_true", help="machine-readable output")
    explain.set_defaults(func=cmd_explain)

    diff = commands.add_parser("diff", help="what changes between two policies, and for logged requests")
    diff.add_argument("old", help="the policy serving now")
    diff.add_argument("new", help="the policy to apply")
    diff.add_argument("--replay", metavar="ACCESS_LOG", help="the sidecar's JSON log ('-' for stdin)")
    diff.add_argument("--app", default="", help="the calling app for replayed requests (SIDECAR_APP)")
    diff.add_argument("--json", action="store_true", help="machine-readable output")
    diff.set_defaults(func=cmd_diff)

    schema = commands.add_parser("schema", help="print the policy JSON Schema")
    schema.set_defaults(func=cmd_schema)

    router = commands.add_parser("router", help="train and evaluate a learned router file")
    if "router" in argv:
        from .routing.learned.commands import add_arguments as add_router_arguments

        add_router_arguments(router)

    fake = commands.add_parser("fake-provider", help="run a fake OpenAI/Anthropic/Gemini server")
    if "fake-provider" in argv:
        from .fake_provider import add_arguments, run_from_args

        add_arguments(fake)
        fake.set_defaults(func=run_from_args)

    demo = commands.add_parser("demo", help="fake providers and the sidecar on the built-in demo policy")
    demo.add_argument(
        "--port", type=int, default=8080, help="the sidecar's port (default 8080; the fake providers: 9101-9103)"
    )
    demo.set_defaults(func=cmd_demo)
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    # SIGHUP re-reads the policy once the server runs (server.lifecycle.serve installs that); until then its
    # default action would end a sidecar that is still starting (an SRE's SIGHUP to every pod).
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        flags = {field.name: getattr(args, field.name, None) for field in fields(Settings)}
        settings = Settings.from_env(os.environ, **flags)
        if settings.ports_file:
            ports_file.clear(settings.ports_file)
    except (SettingsError, OSError) as exc:
        print(f"llm-sidecar: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not settings.policy_path:
        print("llm-sidecar: no policy: pass --policy FILE or set SIDECAR_POLICY", file=sys.stderr)
        return EXIT_USAGE
    return _serve(settings, started)


def _serve(settings: Settings, started: float) -> int:
    from .telemetry.logging import configure_logging

    log_output = configure_logging(settings.log_level)
    try:
        return _serve_logging(settings, started, log_output)
    finally:
        log_output.close()  # the lines still waiting for stdout's reader are written (for at most 1 s)


def _serve_logging(settings: Settings, started: float, log_output: LogOutput) -> int:
    from .fd_limit import fit_to_file_descriptors
    from .server.app import build_state
    from .server.lifecycle import serve
    from .telemetry import Telemetry, TelemetryConfigError
    from .telemetry.logging import get_logger

    log = get_logger("sidecar")
    unknown = unknown_variables(os.environ)
    if unknown:  # a typo in a pod spec would otherwise be ignored in silence
        log.warning("settings_unknown", variables=unknown)
    settings, max_fds = fit_to_file_descriptors(settings, log)
    try:
        policy = load_policy(settings.policy_path)
    except PolicyError as exc:
        for error in exc.errors:
            print(f"{settings.policy_path}: {error}", file=sys.stderr)
        log.error("policy_invalid", source=settings.policy_path, errors=exc.errors)
        return EXIT_INVALID
    for warning in policy.warnings:
        log.warning("policy_warning", source=policy.source, warning=warning)
    try:
        telemetry = Telemetry.from_env(os.environ, service_version=__version__)
    except TelemetryConfigError as exc:
        print(f"llm-sidecar: {exc}", file=sys.stderr)
        return EXIT_USAGE
    state = build_state(settings, policy, telemetry, os.environ, log_output)
    state.started = started
    state.max_fds = max_fds
    log.info("held_bytes_ceiling", ceiling=state.held.ceiling, source=state.held.source)
    for warning in state.credentials.unset_variables({name: p.api_key for name, p in policy.providers.items()}):
        log.warning("policy_warning", source=policy.source, warning=warning)
    try:
        _run_loop(serve(state))
    except OSError as exc:  # cannot listen (the port is taken, the address is not this host's): no traceback
        print(f"llm-sidecar: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if state.listener_stopped:  # logged as listener_stopped; the drain ran: exit non-zero, to be restarted
        print("llm-sidecar: a listening socket stopped accepting connections; exiting", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        asyncio.run(main)
    else:
        uvloop.run(main)


def cmd_schema(args: argparse.Namespace) -> int:
    from .policy.schema import policy_json_schema

    sys.stdout.write(policy_json_schema())
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        try:
            policy = load_policy(path)
        except PolicyError as exc:
            failed += 1
            for error in exc.errors:
                print(f"{path}: {error}")
            continue
        for warning in policy.warnings:
            print(f"{path}: warning: {warning}")
        sizes = ((len(policy.providers), "provider"), (len(policy.models), "model"), (len(policy.routes), "route"))
        print(f"{path}: ok (version {policy.version}, {', '.join(_counted(n, noun) for n, noun in sizes)})")
    if failed:
        print(f"{failed} of {len(args.files)} policies invalid", file=sys.stderr)
    return EXIT_INVALID if failed else EXIT_OK


def _counted(count: int, noun: str) -> str:
    """``1 route``, ``5 routes``, ``0 routes``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def cmd_explain(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.policy)
    except PolicyError as exc:
        for error in exc.errors:
            print(f"{args.policy}: {error}", file=sys.stderr)
        return EXIT_INVALID
    try:
        raw = sys.stdin.buffer.read() if args.request == "-" else Path(args.request).read_bytes()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"the request is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ValueError("the request must be a JSON object")
        headers = {}
        for header in args.header:
            name, sep, value = header.partition(":")
            if not sep:
                raise ValueError(f"header {header!r} is not 'name: value'")
            headers[name.strip().lower()] = value.strip()
    except (OSError, ValueError) as exc:  # a file unread in validate's words, not Python's ``[Errno 2] ...``
        why = f"cannot read {args.request}: {exc.strerror or exc}" if isinstance(exc, OSError) else exc
        print(f"llm-sidecar explain: {why}", file=sys.stderr)
        return EXIT_USAGE
    query = dict(parse_qsl(urlsplit(args.path).query))
    try:
        request = describe_request(args.path, headers, query, body, app=args.app)
    except RequestProblem as problem:
        said = policy.passthrough.explain("POST", args.path, headers) if policy.passthrough else None
        if said:
            print(said)
            return EXIT_OK
        print(f"llm-sidecar explain: the sidecar answers {problem.status}: {problem.message}", file=sys.stderr)
        return EXIT_USAGE
    from .explain import explain_report, explain_text  # here: ``run`` does not load it (start time)

    report = explain_report(policy, request, app_key(headers, query))
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        print(explain_text(report))
    return EXIT_OK if report["route"] else EXIT_INVALID


def cmd_diff(args: argparse.Namespace) -> int:
    from .diff import diff_policies, json_report, replay, text_report

    policies = []
    for path in (args.old, args.new):
        try:
            policies.append(load_policy(path))
        except PolicyError as exc:
            for error in exc.errors:
                print(f"{path}: {error}", file=sys.stderr)
    if len(policies) != 2:
        return EXIT_INVALID
    old, new = policies
    replayed = None
    if args.replay:
        try:
            if args.replay == "-":
                replayed = replay(old, new, sys.stdin.buffer, app=args.app)
            else:
                with open(args.replay, "rb") as log:
                    replayed = replay(old, new, log, app=args.app)
        except OSError as exc:
            print(f"llm-sidecar diff: cannot read {args.replay}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
    changes = diff_policies(old, new)
    if args.json:
        report = json_report(old, new, changes, replayed, args.replay or "")
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        print(text_report(old, new, changes, replayed, args.replay or ""))
    return EXIT_OK


DEMO_PROVIDERS = ((9101, "fake-openai"), (9102, "fake-anthropic"), (9103, "fake-gemini"))
"""The embedded demo policy's fake providers: (port, name); ``sidecar/demo/policy.yaml`` names these ports."""


def cmd_demo(args: argparse.Namespace) -> int:
    """Three fake providers in the background and the sidecar on the embedded demo policy, started once
    every provider listens (so the first request a newcomer sends is answered, not a connect error)."""
    import subprocess

    demo_policy = str(resources.files("sidecar").joinpath("demo/policy.yaml"))
    taken = [port for port, _ in DEMO_PROVIDERS if answers(port)]
    if taken:  # checked before the providers start: once they run, an answer could be theirs or not
        ports = ", ".join(map(str, taken))
        print(f"llm-sidecar demo: port {ports} already in use (another demo running?)", file=sys.stderr)
        return 1
    command = [sys.executable, "-m", "sidecar", "fake-provider", "--ttft-ms", "150", "--tokens-per-s", "40"]
    children = [
        (subprocess.Popen([*command, "--port", str(port), "--name", name]), port, name) for port, name in DEMO_PROVIDERS
    ]
    try:
        problem = wait_listening(children)
        if problem is not None:
            print(f"llm-sidecar demo: {problem}", file=sys.stderr)
            return 1
        print(
            f"llm-sidecar demo: fake providers on 9101-9103, sidecar on http://127.0.0.1:{args.port}",
            file=sys.stderr,
        )
        print(
            f"  try: curl -s http://127.0.0.1:{args.port}/v1/chat/completions "
            "-H 'content-type: application/json' "
            '-d \'{"model": "smart", "messages": [{"role": "user", "content": "hello"}]}\'',
            file=sys.stderr,
        )
        settings = Settings.from_env(os.environ, policy_path=demo_policy, port=args.port)
        return _serve(settings, time.monotonic())
    finally:
        for child, _, _ in children:
            child.terminate()
        for child, _, _ in children:
            child.wait(timeout=5)


def answers(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def wait_listening(children: Sequence[tuple[subprocess.Popen[bytes], int, str]], timeout_s: float = 20.0) -> str | None:
    """Wait until each ``(process, port, name)`` accepts connections on 127.0.0.1:``port`` (a port
    nothing answered on before the process started). None when all do; else what went wrong: a
    process that exited (its port taken, most likely) or one that did not listen within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    for process, port, name in children:
        while True:
            if answers(port) and process.poll() is None:
                break
            if process.poll() is not None:
                return f"fake provider {name!r} exited (code {process.returncode}); is port {port} in use?"
            if time.monotonic() >= deadline:
                return f"fake provider {name!r} did not listen on port {port} within {timeout_s:g} s"
            time.sleep(0.05)
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
