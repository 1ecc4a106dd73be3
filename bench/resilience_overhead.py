"""CPU the resilience machinery adds to one successful request (breaker, retry budget, bulkhead, state lookup).

    python bench/resilience_overhead.py

The happy path of a request does: look up the target's state, record a request in its retry budget,
take a breaker permit, take and release a bulkhead slot, record the success. This measures exactly
those calls on the real objects, to compare with the CPU a whole request costs (1 / req/s measured by
proxy_bench.py at saturation).
"""

from __future__ import annotations

import asyncio
import time

from sidecar.policy import load_policy_bytes
from sidecar.server.targets import TargetStates

POLICY = b"""
version: 1
providers:
  p: {dialect: openai, base_url: "http://127.0.0.1:9/v1"}
models:
  m: {provider: p, model: m}
"""


async def main(n: int = 200_000) -> None:
    policy = load_policy_bytes(POLICY, "bench")
    states = TargetStates()
    target = policy.models["m"]
    started = time.perf_counter()
    for _ in range(n):
        state = states.get(target, policy)
        state.budget.record_request()
        permit = state.breaker.try_acquire()
        assert permit is not None
        async with state.bulkhead.slot():
            pass
        permit.record_success(0.001)
    per_request_us = (time.perf_counter() - started) / n * 1e6
    print(f"resilience machinery per successful request: {per_request_us:.2f} us ({n} requests)")


if __name__ == "__main__":
    asyncio.run(main())
