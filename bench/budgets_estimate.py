"""How far the budgets' byte estimate of a prompt (``sidecar.budgets.estimate``) is from real token
counts, next to the routing estimator it replaces on the request path, per dialect and kind of text.

    python bench/budgets_estimate.py

The texts are ``bench/token_estimate.py``'s held-out pieces (English prose, Python code, JSON, CJK,
other scripts and emoji, numbers; 120 to 6,000 characters), each sent as a one-message chat request in
each dialect (OpenAI chat, Anthropic messages, Gemini generateContent) with a short system prompt,
serialised twice: UTF-8 as is (orjson, most SDKs) and with ASCII escapes (Python's ``json.dumps``
default: a CJK character is 6 bytes). The reference is the o200k_base count of the texts plus 4 tokens
per message (``routing.features.MESSAGE_TOKENS``). Reported per kind: the mean error of the byte
estimate (``byte_estimate``), its worst, and the share of bodies it estimates low (a reservation
below the prompt); the share of bodies ``estimate_request`` walks instead (``WALK_MARKERS``: a
doc's "file" or "image", escaped non-ASCII) and the mean error of what it returns; the routing
estimator's mean error on the same bodies for comparison.
"""

from __future__ import annotations

import json
import statistics
import sys
from typing import Any

import orjson
import quicktok
from token_estimate import samples

from sidecar.budgets.estimate import byte_estimate, estimate_request
from sidecar.dialects import Dialect, Operation
from sidecar.request_facts import RequestFacts
from sidecar.routing.features import MESSAGE_TOKENS

SYSTEM = "You are a careful assistant. Answer briefly."


def bodies(text: str) -> list[tuple[Dialect, Operation, dict[str, Any]]]:
    return [
        (
            Dialect.OPENAI,
            Operation.CHAT,
            {"model": "m", "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]},
        ),
        (
            Dialect.ANTHROPIC,
            Operation.CHAT,
            {"model": "m", "max_tokens": 512, "system": SYSTEM, "messages": [{"role": "user", "content": text}]},
        ),
        (
            Dialect.GEMINI,
            Operation.GENERATE_CONTENT,
            {
                "systemInstruction": {"parts": [{"text": SYSTEM}]},
                "contents": [{"role": "user", "parts": [{"text": text}]}],
            },
        ),
    ]


def main() -> int:
    encoding = quicktok.get_encoding("o200k_base")
    system_tokens = len(encoding.encode_ordinary(SYSTEM))
    rows: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for i, (kind, text) in enumerate(samples()):
        if i % 2 == 0:
            continue
        real = len(encoding.encode_ordinary(text)) + system_tokens + 2 * MESSAGE_TOKENS
        for dialect, operation, body in bodies(text):
            for encoded, raw in (("utf-8", orjson.dumps(body)), ("ascii", json.dumps(body).encode())):
                facts = RequestFacts(dialect, operation, "m", {}, "a", body=body)
                used, _ = estimate_request(facts, raw)
                walked = facts.known_features is not None
                cheap = byte_estimate(raw, dialect)
                precise = RequestFacts(dialect, operation, "m", {}, "a", body=body).features.prompt_tokens
                key = (kind, f"{dialect.value}, {encoded}")
                errors = [(value - real) / real * 100 for value in (cheap, used, precise)]
                rows.setdefault(key, []).append((*errors, float(walked)))
    print(
        "| text | dialect, body bytes | bodies | byte estimate: mean error, worst, low "
        "| walked; what the budgets use: mean | routing estimator: mean |"
    )
    print("|---|---|---|---|---|---|")
    for (kind, where), found in rows.items():
        cheap = [row[0] for row in found]
        low = sum(1 for e in cheap if e < 0) / len(cheap) * 100
        walked = statistics.fmean(row[3] for row in found) * 100
        used, precise = (statistics.fmean(row[i] for row in found) for i in (1, 2))
        print(
            f"| {kind} | {where} | {len(found)} | {statistics.fmean(cheap):+.0f}%, "
            f"{max(cheap, key=abs):+.0f}%, {low:.0f}% | {walked:.0f}%; {used:+.0f}% | {precise:+.0f}% |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
