"""CPU time of loading a large policy, and of its never-matching-route check alone, per shape of route.

Each shape is ``--routes`` routes that differ by one condition (a header, an app, a model, an app under
one shared model, a model glob); none can be flagged, so each is compared with every earlier route it
could fall under. Printed per shape: the check's CPU time (``unreachable_routes``) and the whole
``load_policy_bytes`` (parse, validate, compile, check). ``PYTHONPATH`` picks the tree.

    PYTHONPATH=/tmp/x python bench/policy_load_cost.py [--routes 1000]
"""

from __future__ import annotations

import argparse
import time

from sidecar.policy import load_policy_bytes
from sidecar.policy.load import parse_document
from sidecar.policy.spec import PolicySpec
from sidecar.policy.unreachable import unreachable_routes

BASE = """version: 1
providers:
  openai: {kind: openai, base_url: "https://api.openai.com/v1", api_key: {env: OPENAI_API_KEY}}
models:
  gpt-4o: {provider: openai, model: gpt-4o-2024-08-06}
routes:
"""

SHAPES = {
    "header": "{{match: {{headers: {{x-tenant: t{i}}}}}, target: gpt-4o}}",
    "app": "{{match: {{app: app-{i}, operation: [chat]}}, target: gpt-4o}}",
    "model": "{{match: {{model: m{i}}}, target: gpt-4o}}",
    "one model, app": "{{match: {{model: gpt-4o, app: a{i}}}, target: gpt-4o}}",
    "model glob": "{{match: {{model: 'm{i}-*'}}, target: gpt-4o}}",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--routes", type=int, default=1000)
    args = parser.parse_args()
    for shape, route in SHAPES.items():
        text = (BASE + "".join(f"  - {route.format(i=i)}\n" for i in range(args.routes))).encode()
        spec = PolicySpec.model_validate(parse_document(text)[0])
        started = time.process_time()
        unreachable_routes(list(spec.routes), spec.default)
        check = time.process_time() - started
        started = time.process_time()
        load_policy_bytes(text, "bench.yaml")
        load = time.process_time() - started
        print(f"{shape:15} check {check * 1000:7.1f} ms CPU   whole load {load * 1000:7.1f} ms CPU")


if __name__ == "__main__":
    main()
