"""What routing decided, on the answer: the ``x-sidecar-*`` headers, the savings metric, the access
line's fields (``server.answer_headers`` and ``server.access`` call these, for a request whose facts
carry a routing record). The savings are counted for every request (``count_savings``); the line's
fields are written only into a line the policy's ``access_log`` block keeps (``add_line_fields``).

Headers: ``x-sidecar-task``, ``x-sidecar-complexity``, ``x-sidecar-tier``, ``x-sidecar-split-arm``,
``x-sidecar-estimated-cost`` (the estimate for the model that answered, in US dollars, from the
estimated prompt and the expected output: the figure a cheapest selection orders by).

The savings metric is two counters per route and task: what the served model cost (its price and the
reported usage) and what the model the app asked for would have cost for the same tokens; savings are
their difference (a negative difference is routing sending traffic to a dearer model). A request whose
requested model is not a priced model of the policy (``model: auto``) counts in neither.

``from_access_line`` gives a request rebuilt from an access line (``diff --replay``) the features, task
and complexity the line recorded.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from itertools import compress
from typing import TYPE_CHECKING, Any

from ..cost import cost_usd
from ..header_text import header_text
from .features import RequestFeatures
from .record import Routed, expected_cost, routed

if TYPE_CHECKING:
    from ..policy.compiled import Target
    from ..request_facts import RequestFacts
    from ..server.exchange import Exchange
    from ..translate import Usage

FEATURE_FIELDS = (
    "prompt_tokens",
    "max_output_tokens",
    "turns",
    "last_user_chars",
    "tools",
    "tool_choice_forced",
    "images",
    "audio",
    "video",
    "files",
    "json_mode",
    "json_schema",
    "thinking",
)
"""Features written on the access line (those not zero, false or absent), for ``diff --replay``."""
_FEATURE_VALUES = operator.attrgetter(*FEATURE_FIELDS)  # their values in one call


def add_answer_headers(headers: dict[str, str], facts: RequestFacts, record: Routed, target: Target | None) -> None:
    """Add routing's headers to the answer's ``headers``: the decision's (made with it), the arm, the
    estimated cost on ``target``."""
    decision = record.decision
    if decision is not None:
        headers.update(decision.headers)
    if record.arm is not None:
        headers["x-sidecar-split-arm"] = header_text(record.arm)
    if target is not None:
        cost = expected_cost(facts, record, target)
        if cost is not None:
            headers["x-sidecar-estimated-cost"] = cost.__format__(".6f")  # f"{cost:.6f}", a call cheaper


def count_savings(
    exchange: Exchange, record: Routed, served: Target | None, usage: Usage | None, served_cost: float | None
) -> float | None:
    """Record the savings counters (and the estimate on the span) for a request whose served model and
    requested model are priced; what the requested model would have cost (None: counted in neither).
    ``served_cost``: what the served model cost (``cost.cost_usd`` of its price and ``usage``, which the
    access line computed). Made for every request, before its span ends; the line's fields
    (``add_line_fields``) only for a line written."""
    if served_cost is None:
        return None
    facts = exchange.facts
    requested = exchange.policy.models.get(facts.model)
    if requested is None:
        return None
    # served as asked (or at the same price): the same cost
    requested_cost = served_cost if served is not None and requested.price is served.price else None
    if requested_cost is None:
        requested_cost = cost_usd(requested.price, usage)
        if requested_cost is None:
            return None
    trace = exchange.trace
    # the estimate goes on the span only: not read for a request without one (``expected_cost`` keeps it
    # on the record anyway for the access line when the answer's header made it)
    estimated = expected_cost(facts, record, served) if served is not None and trace.span is not None else None
    decision = record.decision
    task = decision.task.label if decision is not None else ""
    route = exchange.route
    # positional: a call with keywords matches each by name
    trace.routing_cost(route.name if route is not None else "", task, served_cost, requested_cost, estimated)
    return requested_cost


def add_line_fields(
    fields: dict[str, Any], exchange: Exchange, record: Routed, served: Target | None, requested_cost: float | None
) -> None:
    """Write the access line's routing fields into the line's ``fields``, in docs/logs.md's order (no dict
    of their own merged into it); ``requested_cost``: what ``count_savings`` returned."""
    decision = record.decision
    if decision is not None:
        fields.update(decision.fields)  # the decision's fields, made with it
    if record.arm is not None:
        fields["split_arm"] = record.arm
    if record.capped_to is not None:
        fields["capped_max_output_tokens"] = record.capped_to
    facts = exchange.facts
    features = record.asked or facts.known_features or facts.features  # the app's request's (a re-ask's: asked)
    fields["features"] = logged_features(features)
    # the estimate ``count_savings`` or the answer's header made is kept on the record: not made again
    estimated = expected_cost(facts, record, served) if served is not None else None
    if estimated is not None:
        # 8 decimals as access.py writes cost_usd (``round``, without the builtin's look-up of ``__round__``)
        fields["estimated_cost_usd"] = (estimated * 1e8).__round__() / 1e8
    if requested_cost is not None:
        fields["requested_model_cost_usd"] = (requested_cost * 1e8).__round__() / 1e8


def logged_features(features: RequestFeatures) -> dict[str, Any]:
    """The access line's ``features``: those of ``FEATURE_FIELDS`` not zero, false or absent, in that
    order. A request with tools, media, JSON output or thinking has them picked in C; the usual one (none
    of those) with its four set is one dict display, else its four are written out one by one."""
    # each a slot's read (``LOAD_ATTR_SLOT``), once
    prompt = features.prompt_tokens
    output = features.max_output_tokens
    turns = features.turns
    last = features.last_user_chars
    if (
        features.tools
        or features.tool_choice_forced
        or features.images
        or features.audio
        or features.video
        or features.files
        or features.json_mode
        or features.json_schema
        or features.thinking
    ):
        values = _FEATURE_VALUES(features)
        # ``values`` are ``FEATURE_FIELDS``' own (the same length): no ``strict=True``, whose keyword
        # zip parses per call
        return dict(compress(zip(FEATURE_FIELDS, values), values))  # noqa: B905
    if prompt and output and turns and last:  # the usual request: one dict display
        return {"prompt_tokens": prompt, "max_output_tokens": output, "turns": turns, "last_user_chars": last}
    logged: dict[str, Any] = {}
    if prompt:
        logged["prompt_tokens"] = prompt
    if output:
        logged["max_output_tokens"] = output
    if turns:
        logged["turns"] = turns
    if last:
        logged["last_user_chars"] = last
    return logged


def from_access_line(facts: RequestFacts, line: Mapping[str, Any]) -> None:
    """Give ``facts`` (a request rebuilt from an access line, ``diff --replay``) the features and the
    task and complexity the line recorded, so routes that match on them route it as the server did."""
    logged = line.get("features")
    if isinstance(logged, dict):
        values = {name: logged.get(name) for name in FEATURE_FIELDS}
        facts.features = RequestFeatures(
            prompt_tokens=_int(values["prompt_tokens"]),
            max_output_tokens=_int(values["max_output_tokens"]) or None,
            turns=_int(values["turns"]),
            tools=_int(values["tools"]),
            tool_choice_forced=bool(values["tool_choice_forced"]),
            images=_int(values["images"]),
            audio=_int(values["audio"]),
            video=_int(values["video"]),
            files=_int(values["files"]),
            json_mode=bool(values["json_mode"]),
            json_schema=bool(values["json_schema"]),
            stream=bool(line.get("stream")),
            last_user_chars=_int(values["last_user_chars"]),
            system_text="",
            last_user_text="",
            thinking=bool(values["thinking"]),
        )
    task, complexity, tier = line.get("task"), line.get("complexity"), line.get("tier")
    if isinstance(task, str) and isinstance(complexity, str) and isinstance(tier, str):
        from .matrix import Verdict, make_decision  # here: the access line's path does not load the router

        routed(facts).decision = make_decision(Verdict(task, "log"), Verdict(complexity, "log"), tier, None, 0)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
