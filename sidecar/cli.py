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

Here: the parser and ``run`` (the settings, the policy, the telemetry, then ``server.lifecycle.serve`` on
uvloop). The policy file commands are ``policy_commands``'s, ``demo`` is ``demo_command``'s, ``router``'s
and ``fake-provider``'s are their packages' (loaded only when named); the exit codes are ``exit_codes``'.
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
from functools import partial
from typing import TYPE_CHECKING, Any

from . import __version__, ports_file
from .demo_command import cmd_demo
from .exit_codes import EXIT_INVALID, EXIT_OK, EXIT_USAGE
from .policy.compiled import PolicyError
from .policy.load import load_policy
from .policy_commands import cmd_diff, cmd_explain, cmd_schema, cmd_validate
from .settings import Settings, SettingsError, unknown_variables

if TYPE_CHECKING:
    from .telemetry.logging import LogOutput


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
    demo.set_defaults(func=partial(cmd_demo, serve=_serve))
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
