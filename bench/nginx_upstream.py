"""The fixed upstream of the benchmarks: nginx answering every POST with a fixed body, in C, so that the
upstream's own CPU is not the sidecar's on this shared machine.

``start_nginx`` serves a 400-byte OpenAI chat.completion (``RESPONSE``) on any path, a 20-event OpenAI
stream (``sse_body``) under ``/stream/``, Anthropic's message and stream (``ANTHROPIC_RESPONSE``,
``anthropic_sse_body``) under ``/anthropic/`` and ``/anthropic-stream/``, and discards OTLP exports;
``nginx_on_free_port`` starts it on a free port; ``nginx_running`` does so for a ``with`` block and stops it
after. Needs `apt-get install nginx-light`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from listening import start_on_free_port

RESPONSE = (
    '{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model",'
    '"choices":[{"index":0,"message":{"role":"assistant","content":"Hello, benchmark! Nice to meet you."},'
    '"finish_reason":"stop"}],"usage":{"prompt_tokens":31,"completion_tokens":9,"total_tokens":40},'
    '"system_fingerprint":"fp_bench"}'
)


ANTHROPIC_RESPONSE = (
    '{"id":"msg_bench","type":"message","role":"assistant","model":"claude-bench",'
    '"content":[{"type":"text","text":"Hello, benchmark! Nice to meet you."}],"stop_reason":"end_turn",'
    '"stop_sequence":null,"usage":{"input_tokens":31,"output_tokens":9}}'
)


def anthropic_sse_body() -> str:
    events = [
        (
            "message_start",
            '{"type":"message_start","message":{"id":"msg_b","type":"message","role":"assistant",'
            '"model":"claude-bench","content":[],"stop_reason":null,"stop_sequence":null,'
            '"usage":{"input_tokens":31,"output_tokens":1}}}',
        ),
        ("content_block_start", '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'),
    ]
    events += [
        ("content_block_delta", '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"tok "}}')
    ] * 20
    events += [
        ("content_block_stop", '{"type":"content_block_stop","index":0}'),
        (
            "message_delta",
            '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
            '"usage":{"output_tokens":20}}',
        ),
        ("message_stop", '{"type":"message_stop"}'),
    ]
    return "".join(f"event: {name}\ndata: {data}\n\n" for name, data in events)


def sse_body() -> str:
    chunk = (
        '{"id":"c","object":"chat.completion.chunk","created":1,"model":"bench-model",'
        '"choices":[{"index":0,"delta":{"content":"tok "},"finish_reason":null}]}'
    )
    return "".join(f"data: {chunk}\n\n" for _ in range(20)) + "data: [DONE]\n\n"


def nginx_on_free_port(workdir: Path, *, stream_rate: int | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """``start_nginx`` on a free port (``listening.start_on_free_port``); nginx and its port."""
    return start_on_free_port(lambda port: start_nginx(workdir, port, stream_rate=stream_rate))


@contextmanager
def nginx_running(workdir: Path, *, stream_rate: int | None = None) -> Iterator[int]:
    """``nginx_on_free_port`` for the block: its port, nginx stopped when the block ends, however it ends."""
    nginx, port = nginx_on_free_port(workdir, stream_rate=stream_rate)
    try:
        yield port
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)


def start_nginx(workdir: Path, port: int, *, stream_rate: int | None = None) -> subprocess.Popen[bytes]:
    """nginx answering every POST with a fixed body (``/stream/`` with a fixed SSE stream, paced at
    ``stream_rate`` bytes per second when given)."""
    pacing = f"limit_rate {stream_rate}; sendfile off; postpone_output 0; " if stream_rate else ""
    (workdir / "www").mkdir(exist_ok=True)  # again when ``listening.start_on_free_port`` picks again
    (workdir / "www/chat.json").write_text(RESPONSE)
    (workdir / "www/stream.sse").write_text(sse_body())
    (workdir / "www/anthropic.json").write_text(ANTHROPIC_RESPONSE)
    (workdir / "www/anthropic.sse").write_text(anthropic_sse_body())
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 1;
daemon off;
error_log {workdir}/error.log;
pid {workdir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {workdir};
  types {{ application/json json; text/event-stream sse; }}
  server {{
    listen 127.0.0.1:{port} reuseport;
    root {workdir}/www;
    # error_page redirects a POST as a GET to the file's own exact location (not to `/`, which would
    # answer chat.json whatever the file)
    location = /stream.sse {{ {pacing}}}
    location = /anthropic.json {{ }}
    location = /anthropic.sse {{ }}
    location /stream/ {{ error_page 405 =200 /stream.sse; try_files /stream.sse =404; }}
    location /anthropic/ {{ error_page 405 =200 /anthropic.json; try_files /anthropic.json =404; }}
    location /anthropic-stream/ {{ error_page 405 =200 /anthropic.sse; try_files /anthropic.sse =404; }}
    location / {{ error_page 405 =200 /chat.json; try_files /chat.json =404; }}
    # The OTLP/HTTP collector of the tracing variant: accepts and discards each export in C, so that a
    # sink's own CPU is not taken from the sidecar on this shared 2-core machine.
    location = /v1/traces {{ default_type application/x-protobuf; return 200 ""; }}
    location = /v1/metrics {{ default_type application/x-protobuf; return 200 ""; }}
  }}
}}
"""
    )
    return subprocess.Popen(["nginx", "-c", str(conf), "-p", str(workdir)])
