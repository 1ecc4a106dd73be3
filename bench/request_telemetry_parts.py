"""Instructions of a plain request's telemetry (untraced: its metrics), without the server around it.

    python bench/request_telemetry_parts.py [--few 1000] [--many 11000] [--baseline REF]

Runs this file under ``valgrind --tool=cachegrind`` twice, doing ``--few`` and then ``--many`` times, in
process, what the server asks of ``Telemetry`` for a plain request of bench/instructions.py (an OpenAI
chat, one successful call, no tracing): ``start_request``, ``route_decided``, ``attempt``, the call's
``finish(keep=True)`` and the request's ``finish`` (the call's and the request's metric updates: counts,
durations, tokens, cost). The difference of the totals over the difference of the counts is one
request's share, to set against a whole request through the sidecar (bench/instructions.py).
``--baseline REF``: the same with the ``sidecar`` package of git revision REF. Needs valgrind.
"""

from __future__ import annotations

import sys

from parts_command import parts_main

from sidecar.telemetry import Telemetry
from sidecar.telemetry.config import TelemetryConfig
from sidecar.telemetry.genai import Usage


def requests(n: int) -> None:
    """``n`` plain requests' telemetry, as the server asks for it."""
    telemetry = Telemetry(TelemetryConfig(), service_version="bench")
    targets = ("bench-upstream/bench-model", "backup/bench-model")
    usage = Usage(31, 9)
    for _ in range(n):
        trace = telemetry.start_request(
            method="POST",
            path="/v1/chat/completions",
            headers={},
            dialect="openai",
            operation="chat",
            requested_model="bench-model",
            stream=False,
        )
        trace.route_decided(route="default", targets=targets)
        call = trace.attempt(
            target="bench-upstream/bench-model",
            provider="bench-upstream",
            provider_name="openai",
            request_model="bench-model",
            server_address="127.0.0.1",
            server_port=8080,
            resend_count=0,
            breaker_state="",
        )
        call.finish(
            status=200,
            error_type=None,
            response_model="bench-model",
            response_id="chatcmpl-1",
            finish_reasons=("stop",),
            usage=usage,
            keep=True,
        )
        trace.finish(
            status=200,
            outcome="ok",
            route="default",
            served_model="bench-model",
            provider="bench-upstream",
            attempts=1,
            fallback_reason=None,
            usage=usage,
            cost_usd=1e-5,
            error_type=None,
            streamed=False,
        )


def main() -> int:
    return parts_main(__file__, requests, "instructions per plain request, its telemetry (untraced)")


if __name__ == "__main__":
    sys.exit(main())
