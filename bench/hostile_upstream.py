"""Hostile provider benchmark: what a broken or malicious upstream answer costs the sidecar process.

For each case, a fresh harness process runs the sidecar app in-process (``build_state`` and
``start_app``, as ``llm-sidecar run`` does, on uvloop, default settings, one-target route) and calls it
once; the upstream, a separate process, answers with the case's bytes. While the call is in flight a
monitor task yields to the event loop (``asyncio.sleep(0)``) over and over and records, between two of
its turns, the thread's CPU time and the wall time: the longest is the longest the loop was held by
one piece of work (every other request of the pod waits that long). CPU time does not count the time
the process waited for a core on this shared machine; wall time does. Reported per case: the app's
status and error code, the time to the answer, the longest loop turn in CPU and in wall time, and the
process's peak RSS (VmHWM).

    python bench/hostile_upstream.py [--baseline REF] [--cases control,bomb,members,members-trickle,large]
        [--concurrent N] [--out FILE]

Cases: ``control``: a valid answer after 0.5 s (the machine's noise); ``bomb``: a 1 MB gzip body
inflating to 1 GiB of zeros; ``members``: 2 MB of empty gzip members in one write; ``members-trickle``:
the same in 4 KiB writes; ``large``: a 300 MB plain body; ``preamble``: a stream of 30 role-only chunks
padded to 8 MiB each (all held back before the first content event), then 1 MiB of content;
``event-drip``: a stream whose one event never ends (``data: `` and then ``x``), 4 KiB a millisecond
until 20 MiB (before 2026-12-06 each chunk of an unfinished event copied and scanned all the event before
it); ``drips``: ``event-drip`` on N streams at once; ``answers``: N calls at once, each answered a valid
60 MiB chat completion; ``held-streams``: N streams at once on a route with a quality gate (each held
whole until the gate checks it), each a valid 16 MiB stream of 64 KiB content events; ``slow-readers``:
N calls one after another, each answered a valid 16 MiB chat completion, whose app reads nothing of it
until the last one's head came (the answers wait in the sidecar to be written); ``slow-streams``: the
same with a 16 MiB stream each (relayed, not held); ``shadow``: N calls one
after another answered 16 MiB each on a route that shadows all of them (``sample: 1``) to a candidate
that answers after 3 s; ``ensemble``: N calls 0.5 s apart on an ensemble route whose one member answers
16 MiB at once and the other a short answer after 3 s (no early quorum: the vote waits for both; before
wave 40 it decided on the first answer, which never waited). N: ``--concurrent``, else 8 drips, 3 answers and
4 of the others: each case past a 192 Mi pod's memory before the process-wide ceiling
(``sidecar.held_bytes``) counted it (the ensemble's members' answers since wave 40). The app's
statuses and error codes are then counted (``200 x1, 502 held_bytes_full x2``). ``--baseline REF``
runs the same cases against the sidecar at git revision REF (``sidecar_under_test.checkout``), in the
same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from listening import start_with_ports_file, write_ports_file
from measuring import peak_rss_mb
from sidecar_under_test import checkout

MiB = 1024 * 1024
CASES = {
    "control": "(control) a valid answer after 0.5 s",
    "bomb": "1 MB gzip body inflating to 1 GiB",
    "members": "2 MB of empty gzip members, one write",
    "members-trickle": "2 MB of empty gzip members, 4 KiB writes",
    "large": "300 MB plain body",
    "event-drip": "stream: one event never ended, 4 KiB a ms",
    "drips": "event-drip on N streams at once",
    "answers": "N calls at once, each a 60 MiB answer",
    "preamble": "stream: 30 role-only chunks of 8 MiB before content",
    "held-streams": "N gated streams at once, 16 MiB each, held for the gate",
    "slow-readers": "N 16 MiB answers to apps that read none until the last",
    "slow-streams": "N 16 MiB streams to apps that read none until the last",
    "shadow": "N 16 MiB answers in turn, each shadowed (candidate 3 s)",
    "ensemble": "N ensemble calls 0.5 s apart, a 16 MiB member waiting for one of 3 s",
}
# the calls of the cases that make several, by default
CONCURRENT = {
    "drips": 8,
    "answers": 3,
    "held-streams": 4,
    "slow-readers": 4,
    "slow-streams": 4,
    "shadow": 4,
    "ensemble": 4,
}
MODEL = {
    "held-streams": "gated",
    "shadow": "shadowed",
    "ensemble": "voted",
}  # the model the app asks for, when not ``m``
STREAMED = ("event-drip", "drips", "held-streams", "preamble", "slow-streams")
ANSWER_MIB = 16  # the content of each answer of the held-streams, slow-readers and shadow cases


def zero_bomb(inflated: int) -> bytes:
    """gzip of ``inflated`` zero bytes: one compressed MiB repeated (a full flush makes blocks independent)."""
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    one_mib = block.compress(bytes(MiB)) + block.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + one_mib * (inflated // MiB) + end + bytes(8)


def chat_completion(content: bytes) -> bytes:
    return (
        b'{"id":"c","object":"chat.completion","created":1,"model":"b","choices":[{"index":0,'
        b'"message":{"role":"assistant","content":"' + content + b'"},"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}'
    )


def chat_stream(content_mib: int, preamble: int = 0) -> bytes:
    """A valid OpenAI chat stream whose content is ``content_mib`` MiB, 64 KiB an event, after ``preamble``
    role-only chunks of 8 MiB each (a field the SDKs ignore padding them)."""
    role = (
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"b","pad":"'
        + b"x" * (8 * MiB)
        + b'","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}\n\n'
    )
    event = (
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"b","choices":[{"index":0,'
        b'"delta":{"content":"' + b"y" * 65536 + b'"},"finish_reason":null}]}\n\n'
    )
    end = (
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"b","choices":[{"index":0,'
        b'"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    )
    return role * preamble + event * (content_mib * 16) + end


def answer(case: str) -> tuple[bytes, bytes, int]:
    """The head, the body, and the size of each write of the body."""
    if case in ("slow-readers", "shadow", "ensemble"):
        body, coding, piece = chat_completion(b"y" * (ANSWER_MIB * MiB)), b"", 1 << 20
    elif case in ("held-streams", "slow-streams", "preamble"):
        body = chat_stream(1, preamble=30) if case == "preamble" else chat_stream(ANSWER_MIB)
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        return head + b"content-length: %d\r\n\r\n" % len(body), body, 1 << 20
    elif case == "control":
        body = (
            b'{"id":"c","object":"chat.completion","created":1,"model":"b","choices":[{"index":0,'
            b'"message":{"role":"assistant","content":"fine"},"finish_reason":"stop"}],'
            b'"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}'
        )
        coding, piece = b"", len(body)
    elif case == "bomb":
        body, coding, piece = zero_bomb(1024 * MiB), b"content-encoding: gzip\r\n", 65536
    elif case.startswith("members"):
        body, coding = gzip.compress(b"") * (2 * MiB // 20), b"content-encoding: gzip\r\n"
        piece = 4096 if case == "members-trickle" else len(body)
    elif case == "answers":
        body = (
            b'{"id":"c","object":"chat.completion","created":1,"model":"b","choices":[{"index":0,'
            b'"message":{"role":"assistant","content":"' + b"y" * (60 * MiB) + b'"},"finish_reason":"stop"}],'
            b'"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}'
        )
        coding, piece = b"", 1 << 20
    elif case in ("event-drip", "drips"):
        body = b"data: " + b"x" * (20 * MiB)
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        return head + b"content-length: %d\r\n\r\n" % len(body), body, 4096
    else:
        body, coding, piece = b" " * (300 * MiB), b"", 1 << 20
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" + coding
    return head + b"content-length: %d\r\n\r\n" % len(body), body, piece


async def serve(ports_file: Path, case: str) -> None:
    """The hostile upstream (run in its own process): every request gets the case's answer. It listens on
    any free port once the answer is built, and writes the port to ``ports_file``."""
    head, body, piece = answer(case)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in request.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                asked = await reader.readexactly(length)
                if case == "control":
                    await asyncio.sleep(0.5)
                if b"candidate" in asked:  # the shadow case's candidate: a short answer, late
                    await asyncio.sleep(3)
                    short = chat_completion(b"y")
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
                    writer.write(b"content-length: %d\r\n\r\n" % len(short) + short)
                    continue
                writer.write(head)
                for start in range(0, len(body), piece):
                    writer.write(body[start : start + piece])
                    await writer.drain()
                    if case in ("event-drip", "drips"):
                        await asyncio.sleep(0.001)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    write_ports_file(ports_file, server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


async def harness(upstream_port: int, workdir: Path, concurrent: int) -> dict[str, float | int | str]:
    """Run the sidecar app in this process, call it once, and watch the event loop meanwhile."""
    import io

    from sidecar.policy import load_policy
    from sidecar.server.app import build_state, start_app
    from sidecar.settings import Settings
    from sidecar.telemetry import Telemetry
    from sidecar.telemetry.logging import configure_logging

    policy = workdir / "policy.yaml"
    policy.write_text(
        "version: 1\nproviders:\n"
        f"  bad: {{dialect: openai, base_url: 'http://127.0.0.1:{upstream_port}/v1'}}\n"
        "models:\n  m: {provider: bad, model: b}\n  candidate: {provider: bad, model: candidate}\n"
        "routes:\n"
        "  - {name: gated, match: {model: gated}, target: [m], gates: {regex: {pattern: 'y'}}}\n"
        "  - {name: shadowed, match: {model: shadowed}, target: [m],\n"
        "     shadow: {candidates: [candidate], sample: 1, normalizer: text, max_concurrent: 16}}\n"
        "  - {name: voted, match: {model: voted},\n"
        "     ensemble: {members: [m, candidate], strategy: majority, early_quorum: false}}\n"
    )
    telemetry = Telemetry.from_env({}, service_version="bench")
    log_output = configure_logging("warning", stream=io.StringIO())
    state = build_state(
        Settings.from_env(os.environ, policy_path=str(policy)), load_policy(policy), telemetry, {}, log_output
    )
    app, server = await start_app(state, "127.0.0.1", 0)
    longest_cpu = longest_wall = 0.0
    turns = 0
    done = asyncio.Event()

    async def monitor() -> None:
        nonlocal longest_cpu, longest_wall, turns
        cpu, wall = time.thread_time(), time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0)
            now_cpu, now_wall = time.thread_time(), time.perf_counter()
            longest_cpu, longest_wall = max(longest_cpu, now_cpu - cpu), max(longest_wall, now_wall - wall)
            cpu, wall, turns = now_cpu, now_wall, turns + 1

    watching = asyncio.create_task(monitor())
    try:
        url = f"http://127.0.0.1:{server.port}/v1/chat/completions"
        stream = os.environ.get("HOSTILE_STREAM") == "1"
        model = os.environ.get("HOSTILE_MODEL", "m")
        started = time.perf_counter()
        if os.environ.get("HOSTILE_SLOW_READERS") == "1":
            answers = await slow_readers(url, concurrent, stream)
        elif model == "shadowed":  # one after another: each served answer's shadow task outlives its call
            answers = [await one_call(url, stream, model) for _ in range(concurrent)]
        elif model == "voted":  # 0.5 s apart: each member's answer read alone, then kept for the vote
            answers = list(await asyncio.gather(*(staggered(url, model, 0.5 * i) for i in range(concurrent))))
        else:
            answers = await asyncio.gather(*(one_call(url, stream, model) for _ in range(concurrent)))
        if model == "shadowed":  # the candidates answer 3 s after the calls: the process's peak may come then
            await asyncio.sleep(4)
        seconds = time.perf_counter() - started
        counted = Counter(f"{status} {code}".strip() for status, code, _ in answers)
        status = ", ".join(f"{answer} x{count}" for answer, count in sorted(counted.items()))
        code = ""
        if concurrent == 1:
            status, code = str(answers[0][0]), answers[0][1]
    finally:
        done.set()
        await watching
        await server.shutdown(0)
        await app.close()
    return {
        "status": status,
        "code": code,
        "seconds": seconds,
        "cpu_ms": longest_cpu * 1000,
        "wall_ms": longest_wall * 1000,
        "turns": turns,
        "rss_mb": peak_rss_mb(os.getpid()),
    }


async def staggered(url: str, model: str, after_s: float) -> tuple[int, str, float]:
    await asyncio.sleep(after_s)
    return await one_call(url, False, model)


async def slow_readers(url: str, calls: int, stream: bool) -> list[tuple[int, str, float]]:
    """``calls`` calls made one after another, each once the one before has its answer's head; none read
    until the last has its head (the answers wait in the sidecar to be written), then all read."""
    go = asyncio.Event()
    heads: list[asyncio.Event] = []
    tasks = []
    for _ in range(calls):
        heads.append(asyncio.Event())
        tasks.append(asyncio.create_task(one_call(url, stream, "m", head=heads[-1], go=go)))
        await heads[-1].wait()
    await asyncio.sleep(1)  # the answers written as far as the sockets take them
    go.set()
    return list(await asyncio.gather(*tasks))


async def one_call(
    url: str, stream: bool = False, model: str = "m", head: asyncio.Event | None = None, go: asyncio.Event | None = None
) -> tuple[int, str, float]:
    body = {"model": model, "messages": [{"role": "user", "content": "x"}], "stream": stream}
    started = time.perf_counter()
    kept = b""  # the answer's first 64 KiB only (an error's is whole): the harness's RSS is the sidecar's
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        if head is not None and go is not None:  # a slow app: nothing read until ``go``
            head.set()
            await go.wait()
        async for chunk in response.content.iter_chunked(65536):
            kept += chunk[: 65536 - len(kept)]
    try:
        data = json.loads(kept)
    except ValueError:
        data = None
    code = (data.get("error") or {}).get("code", "") if isinstance(data, dict) else ""
    return response.status, str(code), time.perf_counter() - started


def run_case(workdir: Path, case: str, code: Path | None, concurrent: int | None) -> str:
    ports = workdir / f"upstream-{case}.ports"
    upstream, upstream_port = start_with_ports_file([sys.executable, __file__, "--serve", str(ports), case], ports)
    env = {
        **os.environ,
        "HOSTILE_STREAM": "1" if case in STREAMED else "0",
        "HOSTILE_MODEL": MODEL.get(case, "m"),
        "HOSTILE_SLOW_READERS": "1" if case in ("slow-readers", "slow-streams") else "0",
    }
    calls = (concurrent or CONCURRENT[case]) if case in CONCURRENT else 1
    if code is not None:
        env["PYTHONPATH"] = str(code)
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--harness", str(upstream_port), str(workdir), str(calls)],
            env=env,
            cwd=code,  # ``code``'s sidecar first on sys.path
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        return (
            f"| {CASES[case].replace('N ', f'{calls} ')} | {r['status']} {r['code']} | {r['seconds']:.2f} s | "
            f"{r['cpu_ms']:.1f} ms | "
            f"{r['wall_ms']:.1f} ms | {r['turns']:,} | {r['rss_mb']:.0f} MB |"
        )
    finally:
        upstream.terminate()
        upstream.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--concurrent", type=int, help="calls at once for drips and answers (default 8 and 3)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--serve", nargs=2, metavar=("PORTS_FILE", "CASE"), help=argparse.SUPPRESS)
    parser.add_argument("--harness", nargs=3, metavar=("UPSTREAM_PORT", "WORKDIR", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(Path(args.serve[0]), args.serve[1]))
        return 0
    if args.harness:
        import uvloop

        print(json.dumps(uvloop.run(harness(int(args.harness[0]), Path(args.harness[1]), int(args.harness[2])))))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-hostile-"))
    versions: list[tuple[str, Path | None]] = [("this checkout", None)]
    if args.baseline:
        versions.append((f"at {args.baseline}", checkout(args.baseline, workdir)))
    lines = [
        f"Command: `python bench/hostile_upstream.py{f' --baseline {args.baseline}' if args.baseline else ''} "
        f"--cases {args.cases}{f' --concurrent {args.concurrent}' if args.concurrent else ''}` "
        f"({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores)",
        "",
    ]
    for name, code in versions:
        lines += [
            f"Sidecar {name}:",
            "",
            "| upstream answer | app got | answered in | longest loop turn, CPU | longest loop turn, wall "
            "| loop turns | peak RSS |",
            "|---|---|---|---|---|---|---|",
        ]
        for case in args.cases.split(","):
            lines.append(run_case(workdir, case, code, args.concurrent))
            print(lines[-1], flush=True)
        lines.append("")
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
