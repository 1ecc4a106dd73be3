"""What tracing keeps in memory, step by step, in one process: ``python bench/tracing_memory.py``.

Prints the process's RSS and peak RSS (``/proc/self/status`` VmRSS, VmHWM) and its module count after:
the sidecar's server imported (what every sidecar holds); a ``Telemetry`` with the OTLP/HTTP span
exporter built (the SDK's exporter and what it imports: ``requests``, ``urllib3``, protobuf and the
OTLP messages); one request traced and exported to a local sink (a stdlib HTTP server on a free port
that answers 200); ``--requests`` more, each traced (two spans), as fast as they go, with the batch
processor's queue and batch sizes (``--queue``, ``--batch``: ``OTEL_BSP_MAX_QUEUE_SIZE``,
``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``; the defaults by default) and ``--delay-ms`` between exports. Each
request is driven through the facade as ``bench/telemetry_cost.py``'s ``one_request`` does. The counts say
where tracing's share of a sidecar's memory is; ``proxy_bench.py`` measures a whole sidecar under load.

    python bench/tracing_memory.py [--requests 4000] [--delay-ms 5000] [--queue 2048] [--batch 512]

``--sink``: only the sink, its port printed on the first line (``tracing_instructions.py``'s
``export-post-span`` posts to it from another process).
"""

from __future__ import annotations

import argparse
import http.server
import sys
import threading
import time
from pathlib import Path


def _status(stage: str) -> None:
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(rest.split()[0]) / 1024
    print(f"| {stage} | {fields['VmRSS']:.1f} | {fields['VmHWM']:.1f} | {len(sys.modules)} |", flush=True)


class OtlpSink(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that takes every export and discards it (200, empty body; kept alive)."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--delay-ms", type=int, default=5000)
    parser.add_argument("--queue", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)  # the sink alone, its port printed
    args = parser.parse_args()
    if args.sink:
        alone = http.server.HTTPServer(("127.0.0.1", 0), OtlpSink)
        print(alone.server_port, flush=True)
        alone.serve_forever()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    options = f"--requests {args.requests} --delay-ms {args.delay_ms} --queue {args.queue} --batch {args.batch}"
    print(f"Command: `python bench/tracing_memory.py {options}`\n")
    print("| after | RSS (MB) | peak RSS (MB) | modules |\n|---|---|---|---|")
    import sidecar.server.app  # noqa: F401 - what every sidecar imports

    _status("the server imported")
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OtlpSink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    from telemetry_cost import one_request

    from sidecar.telemetry import Telemetry

    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.server_port}",
        "OTEL_METRICS_EXPORTER": "prometheus",
        "OTEL_BSP_SCHEDULE_DELAY": str(args.delay_ms),
        "OTEL_BSP_MAX_QUEUE_SIZE": str(args.queue),
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": str(args.batch),
    }
    telemetry = Telemetry.from_env(env, service_version="bench")
    _status("tracing with the OTLP/HTTP exporter built")
    one_request(telemetry)
    telemetry._tracing.provider.force_flush()  # type: ignore[union-attr]
    _status("one request traced and exported")
    for _ in range(args.requests):
        one_request(telemetry)
    _status(f"{args.requests} more requests traced")
    telemetry._tracing.provider.force_flush()  # type: ignore[union-attr]
    time.sleep(0.5)
    _status("their spans exported")
    sink.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
