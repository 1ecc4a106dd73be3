"""Hostile provider benchmark: what a broken or malicious upstream answer costs the sidecar process.

For each case, a fresh sidecar (``python -m sidecar run``, default settings, one-target route) calls an
upstream (a separate process, writing exact bytes) that answers every request with the case's bytes.
While that one request is in flight, a probe sends ``GET /healthz`` back to back on a kept-alive
connection: the longest probe is how long the sidecar's event loop stalled (every other request in the
pod would have waited that long). Reported per case: the app's status and error code, the time to the
answer, the longest and median probe, and the process's peak RSS (VmHWM) afterwards.

    python bench/hostile_upstream.py [--baseline REF] [--cases control,bomb,members,members-trickle,large]
        [--out FILE]

Cases: ``control``: a valid answer after 0.5 s (the probes' noise floor on this machine); ``bomb``: a
1 MB gzip body inflating to 1 GiB of zeros; ``members``: 2 MB of empty gzip members in one write;
``members-trickle``: the same in 4 KiB writes; ``large``: a 300 MB plain body. ``--baseline REF`` runs
the same cases against the sidecar at git revision REF (``proxy_bench.checkout``), in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy_bench import checkout, free_port, peak_rss_mb, start_sidecar, wait_http

MiB = 1024 * 1024
CASES = {
    "control": "(control) a valid answer after 0.5 s",
    "bomb": "1 MB gzip body inflating to 1 GiB",
    "members": "2 MB of empty gzip members, one write",
    "members-trickle": "2 MB of empty gzip members, 4 KiB writes",
    "large": "300 MB plain body",
}


def zero_bomb(inflated: int) -> bytes:
    """gzip of ``inflated`` zero bytes: one compressed MiB repeated (a full flush makes blocks independent)."""
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    one_mib = block.compress(bytes(MiB)) + block.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + one_mib * (inflated // MiB) + end + bytes(8)


def answer(case: str) -> tuple[bytes, bytes, int]:
    """The head, the body, and the size of each write of the body."""
    if case == "control":
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
    else:
        body, coding, piece = b" " * (300 * MiB), b"", 1 << 20
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" + coding
    return head + b"content-length: %d\r\n\r\n" % len(body), body, piece


async def serve(port: int, case: str) -> None:
    """The hostile upstream (run in its own process): every request gets the case's answer."""
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
                await reader.readexactly(length)
                if case == "control":
                    await asyncio.sleep(0.5)
                writer.write(head)
                for start in range(0, len(body), piece):
                    writer.write(body[start : start + piece])
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


async def probe_while(url: str, call: asyncio.Task[tuple[int, str, float]]) -> list[float]:
    """Milliseconds of each /healthz request sent back to back until ``call`` is done."""
    samples: list[float] = []
    async with aiohttp.ClientSession() as session:
        while not call.done():
            started = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
            samples.append((time.perf_counter() - started) * 1000)
    return samples


async def one_call(url: str) -> tuple[int, str, float]:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        data = await response.json(content_type=None)
    code = (data.get("error") or {}).get("code", "") if isinstance(data, dict) else ""
    return response.status, str(code), time.perf_counter() - started


async def measure(sidecar_port: int) -> tuple[int, str, float, list[float]]:
    base = f"http://127.0.0.1:{sidecar_port}"
    call = asyncio.create_task(one_call(f"{base}/v1/chat/completions"))
    samples = await probe_while(f"{base}/healthz", call)
    status, code, seconds = await call
    return status, code, seconds, samples


def run_case(workdir: Path, case: str, code: Path | None) -> str:
    upstream_port, port = free_port(), free_port()
    upstream = subprocess.Popen([sys.executable, __file__, "--serve", str(upstream_port), case])
    policy = workdir / "policy.yaml"
    policy.write_text(
        "version: 1\nproviders:\n"
        f"  bad: {{dialect: openai, base_url: 'http://127.0.0.1:{upstream_port}/v1'}}\n"
        "models:\n  m: {provider: bad, model: b}\n"
    )
    proc = None
    try:
        time.sleep(0.5 if case == "bomb" else 0.3)  # the upstream builds its answer
        proc, _ = start_sidecar(policy, port, {"SIDECAR_LOG_LEVEL": "warning"}, code)
        wait_http(f"http://127.0.0.1:{port}/readyz")
        status, error, seconds, samples = asyncio.run(measure(port))
        rss = peak_rss_mb(proc.pid)
        worst = max(samples) if samples else float("nan")
        median = statistics.median(samples) if samples else float("nan")
        return (
            f"| {CASES[case]} | {status} {error} | {seconds:.2f} s | {worst:.1f} ms | {median:.2f} ms "
            f"({len(samples)}) | {rss:.0f} MB |"
        )
    finally:
        for child in (proc, upstream):
            if child is not None and child.poll() is None:
                child.terminate()
                child.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(int(args.serve[0]), args.serve[1]))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-hostile-"))
    versions: list[tuple[str, Path | None]] = [("this checkout", None)]
    if args.baseline:
        versions.append((f"at {args.baseline}", checkout(args.baseline, workdir)))
    lines = [
        f"Command: `python bench/hostile_upstream.py{f' --baseline {args.baseline}' if args.baseline else ''} "
        f"--cases {args.cases}` ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores)",
        "",
    ]
    for name, code in versions:
        lines += [
            f"Sidecar {name}:",
            "",
            "| upstream answer | app got | answered in | longest /healthz (stall) | median /healthz (probes) "
            "| peak RSS |",
            "|---|---|---|---|---|---|",
        ]
        for case in args.cases.split(","):
            lines.append(run_case(workdir, case, code))
            print(lines[-1], flush=True)
        lines.append("")
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
