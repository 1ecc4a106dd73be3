"""The export thread's CPU per span by batch size: ``python bench/tracing_batch_cpu.py``.

Makes 512 spans as the pipeline does (``telemetry_cost.one_request``, 256 requests of two spans), then exports
them with the SDK's OTLP/HTTP span exporter to a local sink (a stdlib HTTP server in another process,
keep-alive, answering 200) in batches of each ``--sizes`` entry, ``--repeat`` times over per round, and
prints the exporting thread's CPU time per span (``time.thread_time``: the OTLP encoding and the HTTP
request, which is what ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` trades against the memory a batch holds).
``--exporters``: ``sidecar``, the exporter as the sidecar builds it (``telemetry.export.span_exporter``:
the SDK's urllib3 transport), ``sidecar-gzip``, the same with ``OTEL_EXPORTER_OTLP_COMPRESSION=gzip``
(the SDK gzips each request body), and/or ``sdk``, the SDK's exporter with its default transport
(``requests``). Timed, so compare sizes and exporters within a round.

    python bench/tracing_batch_cpu.py [--rounds 3] [--sizes 512,128,64] [--repeat 4]
        [--exporters sidecar,sidecar-gzip,sdk]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from listening import start_with_ports_file
from measuring import wait_http
from telemetry_cost import one_request

_SINK = """
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *_):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)  # any free port, written to sys.argv[1]
sys.path.insert(0, sys.argv[2])
from listening import write_ports_file
write_ports_file(__import__("pathlib").Path(sys.argv[1]), server.server_address[1])
server.serve_forever()
"""


def main() -> int:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from sidecar.telemetry import Telemetry
    from sidecar.telemetry.config import OtlpTarget, TelemetryConfig
    from sidecar.telemetry.export import span_exporter
    from sidecar.telemetry.tracing import Tracing

    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="512,128,64")
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--exporters", default="sidecar")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    ports = Path(tempfile.mkdtemp(prefix="tracing-batch-cpu-")) / "sink.ports"
    sink, port = start_with_ports_file([sys.executable, "-c", _SINK, str(ports), str(Path(__file__).parent)], ports)
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        spans = InMemorySpanExporter()
        telemetry = Telemetry(
            TelemetryConfig(), service_version="bench", tracing=lambda resource, _: Tracing.for_tests(spans, resource)
        )
        for _ in range(256):
            one_request(telemetry)
        batch = list(spans.get_finished_spans())
        endpoint = f"http://127.0.0.1:{port}/v1/traces"
        exporters = {
            "sidecar": span_exporter("otlp", OtlpTarget("http/protobuf", endpoint, {}, 10.0), sys.stderr),
            "sidecar-gzip": span_exporter("otlp", OtlpTarget("http/protobuf", endpoint, {}, 10.0, "gzip"), sys.stderr),
            "sdk": OTLPSpanExporter(endpoint=endpoint),
        }
        chosen = {name: exporters[name] for name in args.exporters.split(",")}
        for exporter in chosen.values():
            exporter.export(batch[:8])  # the connection opened
        print("| round | exporter | spans per export | CPU per span (µs) |")
        print("|---|---|---|---|")
        for round_number in range(args.rounds):
            for size in sizes:
                for name, exporter in chosen.items():
                    exported = 0
                    started = time.thread_time()
                    for _ in range(args.repeat):
                        for first in range(0, len(batch), size):
                            exporter.export(batch[first : first + size])
                            exported += len(batch[first : first + size])
                    per_span = (time.thread_time() - started) / exported * 1e6
                    print(f"| {round_number} | {name} | {size} | {per_span:.1f} |", flush=True)
        for exporter in exporters.values():
            exporter.shutdown()
    finally:
        sink.terminate()
        sink.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
