"""Event-loop CPU per relayed stream event: same dialect (OpenAI -> OpenAI) and translated (Anthropic ->
OpenAI), one event per upstream read.

The upstream is an aiohttp server in its own process (``--serve-upstream``) that writes each event of a
chat stream on its own, ``--gap-ms`` apart, so that the sidecar reads, parses, judges and writes every
event separately (as with a real provider, whose tokens arrive tens of milliseconds apart). The number
of content events is in the upstream model's name (``events-N``). ``--streams`` streams run at once, for
``--seconds``, first with ``--short`` content events per stream and then with ``--long``; the CPU time of
the sidecar's event-loop thread (``/proc/PID/task/PID/schedstat``, nanoseconds) per stream is read for
each, and the difference divided by the difference in events is the cost of one more event: the
per-request work (parsing the request, routing, the upstream call, the access line) cancels out.

    python bench/relay_cost.py [--seconds 6] [--rounds 3] [--streams 8] [--gap-ms 2] [--baseline REF]

The featureless relay (``--serve-minimal``: aiohttp's client read, aiohttp's server write, nothing
else) is measured alongside as the floor: what aiohttp and the kernel cost per event whatever the
sidecar does.

``--baseline REF`` also measures the sidecar at git revision REF (``sidecar_under_test.checkout``), in the same
rounds (the order changes every round: ``measuring.in_turn``). Results move with the shared machine's
load: compare the sidecars within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from listening import serve_until_stopped, start_with_ports_file, stop_all
from measuring import in_turn
from sidecar_under_test import checkout, sidecar_on_port_zero

OPENAI_CHUNK = (
    b'data: {"id":"chatcmpl-relay","object":"chat.completion.chunk","created":1700000000,"model":"events",'
    b'"choices":[{"index":0,"delta":{"content":"tok "},"logprobs":null,"finish_reason":null}]}\n\n'
)
OPENAI_FIRST = (
    b'data: {"id":"chatcmpl-relay","object":"chat.completion.chunk","created":1700000000,"model":"events",'
    b'"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n'
)
OPENAI_LAST = (
    b'data: {"id":"chatcmpl-relay","object":"chat.completion.chunk","created":1700000000,"model":"events",'
    b'"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n'
    b'data: {"id":"chatcmpl-relay","object":"chat.completion.chunk","created":1700000000,"model":"events",'
    b'"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":40,"total_tokens":52}}\n\n'
    b"data: [DONE]\n\n"
)
ANTHROPIC_FIRST = (
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"id":"msg_relay","type":"message","role":"assistant",'
    b'"model":"events","content":[],"stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":12,"output_tokens":1}}}\n\n'
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
)
ANTHROPIC_CHUNK = (
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"tok "}}\n\n'
)
ANTHROPIC_LAST = (
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b"event: message_delta\n"
    b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
    b'"usage":{"output_tokens":40}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)

GEMINI_CHUNK = (
    b'data: {"candidates":[{"content":{"parts":[{"text":"tok "}],"role":"model"},"index":0}],'
    b'"modelVersion":"events","responseId":"gemini-relay"}\n\n'
)
GEMINI_LAST = (
    b'data: {"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"finishReason":"STOP","index":0}],'
    b'"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":40,"totalTokenCount":52},'
    b'"modelVersion":"events","responseId":"gemini-relay"}\n\n'
)


def gemini_usage_chunk(tokens: int) -> bytes:
    """A Gemini text fragment carrying the stream's usage so far, as Gemini sends every fragment: the
    prompt's 12 tokens and ``tokens`` candidates tokens (``serve_upstream`` counts them up)."""
    return (
        b'data: {"candidates":[{"content":{"parts":[{"text":"tok "}],"role":"model"},"index":0}],'
        b'"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":%d,"totalTokenCount":%d},'
        b'"modelVersion":"events","responseId":"gemini-relay"}\n\n' % (tokens, 12 + tokens)
    )


STREAMS = {
    "openai": (OPENAI_FIRST, OPENAI_CHUNK, OPENAI_LAST),
    "anthropic": (ANTHROPIC_FIRST, ANTHROPIC_CHUNK, ANTHROPIC_LAST),
    "gemini": (GEMINI_CHUNK, GEMINI_CHUNK, GEMINI_LAST),
    "gemini-usage": (gemini_usage_chunk(1), gemini_usage_chunk(2), GEMINI_LAST),
}
"""Each dialect's stream: its first event, a content event (repeated), its last events. ``gemini-usage``
(a Gemini model named ``usage-...``) is Gemini's as Gemini sends it, usage on every fragment: its content
events are ``gemini_usage_chunk`` with the count growing by one each."""


def serve_upstream(ports_file: Path, gap_s: float) -> None:
    """The paced upstream: OpenAI chat streams on /v1/chat/completions, Anthropic on /v1/messages, Gemini
    on /v1beta/models/{model}:streamGenerateContent; the number of content events is the model's ``-N``.
    It listens on any free port and writes it to ``ports_file``."""
    from aiohttp import web

    async def stream(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/v1beta/"):
            model = request.match_info["tail"].split(":", 1)[0]
            dialect = "gemini-usage" if model.startswith("usage-") else "gemini"
        else:
            dialect = "anthropic" if request.path.endswith("/messages") else "openai"
            model = str((await request.json())["model"])
        count = int(model.rsplit("-", 1)[1])
        first, chunk, last = STREAMS[dialect]
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(first)
        for index in range(count):
            await asyncio.sleep(gap_s)
            await response.write(gemini_usage_chunk(index + 2) if dialect == "gemini-usage" else chunk)
        await asyncio.sleep(gap_s)
        await response.write(last)
        await response.write_eof()
        return response

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", stream)
    app.router.add_post("/v1/messages", stream)
    app.router.add_post("/v1beta/models/{tail}", stream)
    app.router.add_get("/healthz", healthz)

    async def main() -> None:
        await serve_until_stopped(web.AppRunner(app, access_log=None), ports_file)

    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())


def serve_minimal(ports_file: Path, upstream: int, short: int, long: int) -> None:
    """The floor: a featureless aiohttp stream relay (read a chunk from the upstream, write it to the caller)."""
    import orjson
    import uvloop
    from aiohttp import web

    models = {"same-short": f"events-{short}", "same-long": f"events-{long}"}

    async def main() -> None:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1024))

        async def relay(request: web.Request) -> web.StreamResponse:
            body = orjson.loads(await request.read())
            body["model"] = models[body["model"]]
            url = f"http://127.0.0.1:{upstream}/v1/chat/completions"
            async with session.post(url, data=orjson.dumps(body), headers={"content-type": "application/json"}) as up:
                response = web.StreamResponse(status=up.status, headers={"content-type": "text/event-stream"})
                await response.prepare(request)
                async for chunk in up.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response

        async def readyz(request: web.Request) -> web.Response:
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/v1/chat/completions", relay)
        app.router.add_get("/readyz", readyz)
        await serve_until_stopped(web.AppRunner(app, access_log=None), ports_file)

    uvloop.run(main())


def policy(workdir: Path, upstream: int, short: int, long: int) -> Path:
    text = f"""
version: 1
providers:
  paced-openai: {{dialect: openai, base_url: "http://127.0.0.1:{upstream}/v1"}}
  paced-anthropic: {{dialect: anthropic, base_url: "http://127.0.0.1:{upstream}"}}
models:
  same-short: {{provider: paced-openai, model: events-{short}}}
  same-long: {{provider: paced-openai, model: events-{long}}}
  translated-short: {{provider: paced-anthropic, model: events-{short}, max_output_tokens: 1024}}
  translated-long: {{provider: paced-anthropic, model: events-{long}, max_output_tokens: 1024}}
"""
    path = workdir / "policy.yaml"
    path.write_text(text)
    return path


TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")


def loop_cpu(pid: int) -> tuple[int, float]:
    """CPU time of the process's main thread (its event loop) in nanoseconds, and the user part of it
    (clock ticks, in nanoseconds)."""
    total = int(Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[0])
    stat = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return total, int(stat[11]) * TICK_NS


async def load(url: str, model: str, streams: int, seconds: float) -> int:
    """``streams`` streamed chats at a time to ``model`` for ``seconds``; returns how many completed."""
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "count"}]}
    done = 0
    stop_at = time.monotonic() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while time.monotonic() < stop_at:
            async with session.post(url, json=body) as response:
                data = await response.read()
            if response.status != 200 or not data.endswith(b"data: [DONE]\n\n"):
                raise RuntimeError(f"{model}: status {response.status}, ends {data[-80:]!r}")
            done += 1

    connector = aiohttp.TCPConnector(limit=streams)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(streams)))
    return done


def cpu_per_stream(pid: int, url: str, model: str, streams: int, seconds: float) -> tuple[float, float]:
    """Event-loop CPU per stream in nanoseconds: all of it, and the user part."""
    total, user = loop_cpu(pid)
    done = asyncio.run(load(url, model, streams, seconds))
    total_after, user_after = loop_cpu(pid)
    return (total_after - total) / done, (user_after - user) / done


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve-upstream", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--serve-minimal", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--streams", type=int, default=8, help="streams in flight at once")
    parser.add_argument("--gap-ms", type=float, default=2.0, help="pause between two upstream events")
    parser.add_argument("--short", type=int, default=5, help="content events of a short stream")
    parser.add_argument("--long", type=int, default=105, help="content events of a long stream")
    parser.add_argument("--baseline", help="also measure the sidecar at this git revision")
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream, args.gap_ms / 1000)
        return 0
    if args.serve_minimal:
        ports_file, upstream_port = args.serve_minimal
        serve_minimal(Path(ports_file), int(upstream_port), args.short, args.long)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-relay-"))
    ports = workdir / "upstream.ports"
    upstream_proc, upstream = start_with_ports_file(
        [sys.executable, __file__, "--serve-upstream", str(ports), "--gap-ms", str(args.gap_ms)], ports
    )
    procs = [upstream_proc]
    sidecars: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    results: dict[tuple[str, str], list[float]] = {}
    try:
        path = policy(workdir, upstream, args.short, args.long)
        code = {"sidecar": None}
        if args.baseline:
            code[f"sidecar@{args.baseline}"] = checkout(args.baseline, workdir)
        for name, directory in code.items():
            proc, port = sidecar_on_port_zero(path, workdir / f"{name}.ports", {}, code=directory)
            procs.append(proc)
            sidecars[name] = (proc, f"http://127.0.0.1:{port}/v1/chat/completions")
        ports = workdir / "minimal.ports"
        lengths = ("--short", str(args.short), "--long", str(args.long))
        minimal, port = start_with_ports_file(
            [sys.executable, __file__, "--serve-minimal", str(ports), str(upstream), *lengths], ports
        )
        procs.append(minimal)
        sidecars["minimal relay"] = (minimal, f"http://127.0.0.1:{port}/v1/chat/completions")
        baseline = f" --baseline {args.baseline}" if args.baseline else ""
        print(
            f"Command: `python bench/relay_cost.py --seconds {args.seconds:g} --rounds {args.rounds} "
            f"--streams {args.streams} --gap-ms {args.gap_ms:g} --short {args.short} --long {args.long}{baseline}` "
            f"({time.strftime('%Y-%m-%d %H:%M')})\n"
        )
        print("| round | sidecar | same dialect, us per event | translated, us per event |")
        # user: the part of it spent outside the kernel (clock ticks: +-10 ms over the run, rougher)
        print("|---|---|---|---|")
        for round_number in range(args.rounds):
            for name, (proc, url) in in_turn(list(sidecars.items()), round_number):
                row = []
                for kind in ("same", "translated") if name != "minimal relay" else ("same",):
                    short = cpu_per_stream(proc.pid, url, f"{kind}-short", args.streams, args.seconds)
                    long = cpu_per_stream(proc.pid, url, f"{kind}-long", args.streams, args.seconds)
                    per_event, user = (
                        (b - a) / (args.long - args.short) / 1000 for a, b in zip(short, long, strict=True)
                    )
                    results.setdefault((name, kind), []).append(per_event)
                    results.setdefault((name, kind + "-user"), []).append(user)
                    row.append(f"{per_event:.1f} ({user:.0f} user)")
                row.append("")
                print(f"| {round_number + 1} | {name} | {row[0]} | {row[1]} |", flush=True)
        print()
        for name in sidecars:
            if name == "minimal relay":
                same, same_user = (statistics.median(results[(name, kind)]) for kind in ("same", "same-user"))
                print(f"median {name} (the floor): {same:.1f} us per event ({same_user:.1f} user)")
                continue
            same, translated, same_user, translated_user = (
                statistics.median(results[(name, kind)])
                for kind in ("same", "translated", "same-user", "translated-user")
            )
            print(
                f"median {name}: same dialect {same:.1f} us per event ({same_user:.1f} user), "
                f"translated {translated:.1f} us per event ({translated_user:.1f} user)"
            )
    finally:
        stop_all(procs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
