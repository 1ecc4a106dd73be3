"""Command line: ``llm-sidecar fake-provider`` (wired by ``sidecar.cli``), or
``python -m sidecar.fake_provider``.

``add_arguments`` declares the flags on a parser; ``run_from_args`` builds a ``FakeConfig`` from them and
serves until SIGINT or SIGTERM. ``--port 0`` listens on any free port: the "listening on" line and the
``--ports-file`` (``sidecar.ports_file``) say which. Exit codes: 0 after a signal, 1 when the server
cannot listen, 2 for a bad option.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

from sidecar import ports_file
from sidecar.fake_provider.config import FakeConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the fake provider's flags."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9000, help="port to listen on (default 9000; 0: any free port)")
    parser.add_argument(
        "--ports-file", metavar="PATH", default=None, help="write the bound port here as JSON once listening"
    )
    parser.add_argument("--name", default="fake", help="server name; `name:spec` fault items target it")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before the response headers")
    parser.add_argument("--ttft-ms", type=float, default=0.0, help="time to first token")
    parser.add_argument(
        "--tokens-per-s",
        type=float,
        default=0.0,
        help="stream pacing in output tokens per second (0 = unlimited)",
    )
    parser.add_argument("--fault", default=None, help="default fault spec, e.g. 'status=503' (docs/fake-provider.md)")
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=None,
        help="probability 0..1 of applying --fault to a request (default 1 when --fault is given, else 0)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for ids and fault-rate draws")
    parser.add_argument("--reply", default=None, help="fixed reply text (default: echo the last user text)")
    parser.add_argument(
        "--quality",
        default=None,
        metavar="FILE|JSON",
        help="quality profiles by model name: a YAML/JSON file, or inline JSON (docs/fake-provider.md)",
    )


def config_from_args(args: argparse.Namespace) -> FakeConfig:
    """The ``FakeConfig`` the flags describe; ``ValueError`` when one is invalid."""
    rate = args.fault_rate if args.fault_rate is not None else (1.0 if args.fault else 0.0)
    return FakeConfig(
        name=args.name,
        latency_ms=args.latency_ms,
        ttft_ms=args.ttft_ms,
        tokens_per_s=args.tokens_per_s,
        fault=args.fault,
        fault_rate=rate,
        seed=args.seed,
        reply=args.reply,
        quality=_quality(args.quality),
    )


def _quality(value: str | None) -> dict[str, Any]:
    """The ``--quality`` profiles: inline JSON (starts with ``{``) or a YAML/JSON file; ``ValueError``."""
    if value is None:
        return {}
    text = value
    if not value.lstrip().startswith("{"):
        try:
            text = Path(value).read_text()
        except OSError as exc:
            raise ValueError(f"--quality: cannot read {value}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"--quality: not valid YAML or JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("--quality: must be a mapping of model name -> profile")
    return data


def run_from_args(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; return the process exit code."""
    try:
        if not 0 <= args.port <= 65535:  # else bind() raises OverflowError: a traceback, exit 1
            raise ValueError(f"--port {args.port} is out of range (0 to 65535)")
        config = config_from_args(args)
        if args.ports_file:
            ports_file.clear(args.ports_file)
    except (ValueError, OSError) as exc:
        print(f"fake-provider: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(config, args.host, args.port, args.ports_file))
    except OSError as exc:
        print(f"fake-provider: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(config: FakeConfig, host: str, port: int, ports_path: str | None) -> None:
    # Imported here: ``llm-sidecar run`` builds this command's flags too and must not load aiohttp.
    from aiohttp import web

    from sidecar.fake_provider.app import build_app

    runner = web.AppRunner(build_app(config), access_log=None, handle_signals=False)
    await runner.setup()
    loop = asyncio.get_running_loop()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = ports_file.one_port(runner.addresses)  # the kernel's choice for port 0
        if ports_path:
            ports_file.write(ports_path, {"port": bound})
        print(f"fake provider {config.name!r} listening on http://{host}:{bound}", file=sys.stderr, flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
        # Before the loop closes: asyncio closes its signal pipe first and removes the handlers after, so a
        # second signal in between (``llm-sidecar demo`` stopped by a process-group signal, then by its
        # parent) printed "Exception ignored when trying to write to the signal wakeup fd".
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m sidecar.fake_provider``."""
    parser = argparse.ArgumentParser(prog="fake-provider", description="A fake OpenAI/Anthropic/Gemini server.")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))
