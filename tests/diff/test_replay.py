"""diff --replay on access lines of the documented shape: which requests move, and what they cost."""

from __future__ import annotations

from sidecar.diff import replay
from sidecar.diff.replay import Decision
from sidecar.request_facts import describe_request
from sidecar.routing.plans import SelectPlan

from ..routing.policies import TWO_MODELS
from .access_lines import access, chat
from .policies import edited, policy, production_text

CHEAP_FIRST = ("routes:\n", "routes:\n  - name: cheap\n    match: {model: 'gpt-4.1'}\n    target: gpt-4o-mini\n\n")


def test_unchanged_policy_moves_nothing_and_costs_the_same() -> None:
    """Replayed against the same policy, no request moves and both cost estimates are equal."""
    lines = [chat("gpt-4.1", "default", "gpt-4o-mini"), chat("claude-3", "claude-family", "claude-sonnet")]
    result = replay(policy(production_text()), policy(production_text()), lines)
    assert (result.replayed, result.routed_differently, result.old_agrees_with_log) == (2, 0, 2)
    assert result.old_cost_usd == result.new_cost_usd > 0


def test_a_new_rule_moves_the_requests_it_catches_to_its_chain() -> None:
    """Requests for gpt-4.1 (default route) move to a new first rule; others stay. The move is grouped
    by old and new decision, with its request count."""
    lines = [chat("gpt-4.1", "default", "gpt-4o-mini")] * 3 + [chat("claude-3", "claude-family", "claude-sonnet")]
    result = replay(policy(production_text()), edited(CHEAP_FIRST), lines)
    assert result.routed_differently == 3
    (move,) = result.moves.values()
    assert move.old == Decision("default", ("gpt-4o-mini", "gemini-pro"))
    assert move.new == Decision("cheap", ("gpt-4o-mini",))
    assert move.requests == 3


def test_moved_requests_are_priced_at_the_new_chains_first_target() -> None:
    """A request moved from claude-sonnet ($3/$15 per Mtok) to gpt-4o-mini ($0.15/$0.6) costs, with the
    logged 1000 input and 100 output tokens, $0.0045 before and $0.00021 after."""
    new = edited(("target: [claude-sonnet, gpt-4o]", "target: [gpt-4o-mini]"))
    result = replay(policy(production_text()), new, [chat("claude-3", "claude-family", "claude-sonnet")])
    assert round(result.old_cost_usd, 8) == 0.0045
    assert round(result.new_cost_usd, 8) == 0.00021
    (move,) = result.moves.values()
    assert round(move.cost_delta_usd, 8) == round(0.00021 - 0.0045, 8)


def test_a_price_change_alone_changes_the_estimate_not_the_routing() -> None:
    """With the same routes and a new price, no request moves and the new estimate uses the new price
    for the model that served each request (a fallback's model included)."""
    new = edited(
        ("price: {input_per_mtok: 1.25, output_per_mtok: 10.0}", "price: {input_per_mtok: 2.5, output_per_mtok: 10.0}")
    )
    result = replay(policy(production_text()), new, [chat("gpt-4.1", "default", "gemini-pro", (1000, 0))])
    assert result.routed_differently == 0
    assert (round(result.old_cost_usd, 8), round(result.new_cost_usd, 8)) == (0.00125, 0.0025)


def test_a_request_the_new_policy_denies_costs_nothing() -> None:
    """A request the new policy denies is a move to `deny 403`, priced at zero."""
    new = edited(('match: {model: ["gpt-3.5*", "text-davinci-*"]}', 'match: {model: ["gpt-3.5*", "claude-*"]}'))
    result = replay(policy(production_text()), new, [chat("claude-3", "claude-family", "claude-sonnet")])
    (move,) = result.moves.values()
    assert move.new == Decision("retired", deny=403)
    assert result.new_cost_usd == 0.0


def test_the_app_given_for_the_log_reaches_app_rules() -> None:
    """The access line has no app: `app=` stands for SIDECAR_APP of the pod, so the checkout rule
    (premium) matches, as the log recorded, and the old policy agrees with the log."""
    line = chat("gpt-4o", "premium", "claude-sonnet")
    assert replay(policy(production_text()), policy(production_text()), [line]).old_agrees_with_log == 0
    assert replay(policy(production_text()), policy(production_text()), [line], app="checkout").old_agrees_with_log == 1


def test_gemini_and_anthropic_paths_route_by_their_dialect_and_model() -> None:
    """A Gemini line (model in the path) and an Anthropic line are routed like the server routes them."""
    gemini = access(
        path="/v1beta/models/claude-x:generateContent",
        dialect="gemini",
        requested_model="claude-x",
        route="claude-family",
    )
    anthropic = access(path="/v1/messages", dialect="anthropic", requested_model="claude-3", route="claude-family")
    result = replay(policy(production_text()), policy(production_text()), [gemini, anthropic])
    assert (result.replayed, result.old_agrees_with_log) == (2, 2)


def test_lines_that_cannot_be_replayed_are_counted_by_reason() -> None:
    """Lifecycle lines, non-JSON lines, bodies rejected before routing and unknown paths are skipped and
    counted; a 404 (no route) is replayed, since a new policy may route it."""
    lines = [
        b'{"event": "listening", "component": "sidecar"}',
        b"I0101 something else",
        access(requested_model=None, route=None, status=400, outcome="rejected"),
        access(path="/v2/unknown", requested_model="x", route="default"),
        access(requested_model="nothing-matches", route=None, status=404, outcome="rejected"),
    ]
    result = replay(policy(production_text()), policy(production_text()), lines)
    assert dict(result.skipped) == {
        "not an access line": 1,
        "not JSON": 1,
        "rejected before routing": 1,
        "not a proxied path": 1,
    }
    assert result.replayed == 1


def test_a_line_is_routed_with_the_app_and_header_values_it_logged() -> None:
    """The app and the matched headers in a line route it as the server did: here the premium route
    (app checkout) and the long-documents route (x-task), which a line without them misses."""
    premium = access(requested_model="gpt-4o", route="premium", served_model="claude-sonnet", app="checkout")
    long_doc = access(
        requested_model="gpt-4o", route="long-documents", served_model="gemini-pro", headers={"x-task": "long-pdf"}
    )
    result = replay(policy(production_text()), policy(production_text()), [premium, long_doc])
    assert (result.replayed, result.old_agrees_with_log) == (2, 2)


def test_a_line_without_an_app_takes_the_one_given_on_the_command_line() -> None:
    """Lines written before the access line had ``app`` are routed with ``--app``."""
    line = access(requested_model="gpt-4o", route="premium", served_model="claude-sonnet")
    assert replay(policy(production_text()), policy(production_text()), [line], app="checkout").old_agrees_with_log
    assert not replay(policy(production_text()), policy(production_text()), [line]).old_agrees_with_log


def test_cached_input_tokens_are_priced_at_the_cached_rate() -> None:
    """A line's cached_input_tokens cost the model's cached price, not its fresh one."""
    fresh = access(requested_model="gpt-4o", route="default", served_model="gpt-4o", input_tokens=1000, output_tokens=0)
    cached = access(
        requested_model="gpt-4o",
        route="default",
        served_model="gpt-4o",
        input_tokens=1000,
        output_tokens=0,
        cached_input_tokens=1000,
    )
    costs = [
        replay(policy(production_text()), policy(production_text()), [line]).old_cost_usd for line in (fresh, cached)
    ]
    assert costs == [1000 * 2.5 / 1e6, 1000 * 1.25 / 1e6]


def test_cache_write_tokens_are_priced_at_the_cache_write_rate() -> None:
    """A line's cache_write_tokens (Anthropic's cache writes) cost the model's cache-write price."""
    line = access(
        requested_model="gpt-4o",
        route="default",
        served_model="claude-sonnet",
        input_tokens=1000,
        output_tokens=0,
        cache_write_tokens=1000,
    )
    assert replay(policy(production_text()), policy(production_text()), [line]).old_cost_usd == 1000 * 3.75 / 1e6


# big (premium) and mini (economy), one class, a route for "auto" whose target each test sets
SELECTING = (
    TWO_MODELS
    + "routing: {classes: [{name: extraction, rules: [{keywords: [extract]}]}]}\n"
    + "routes:\n  - {name: auto, match: {model: auto}, target: TARGET}\n"
)


def test_a_select_route_is_replayed_with_the_chain_it_selects_for_the_logged_decision() -> None:
    """On a select route the replayed chain is the selection for the line's task and tier, cheapest first
    (a simple request on mini, priced at mini; a complex one on big alone), not every candidate in
    the order of ``from``; a request no candidate can serve is said so and costs nothing."""
    old = policy(SELECTING.replace("TARGET", "big"))
    new = policy(SELECTING.replace("TARGET", "{select: cheapest, from: [big, mini]}"))

    def line(tier: str, complexity: str) -> bytes:
        return access(
            requested_model="auto",
            route="auto",
            served_model="big",
            input_tokens=1000,
            output_tokens=100,
            task="extraction",
            features={"prompt_tokens": 1000, "turns": 1},
            complexity=complexity,
            tier=tier,
        )

    result = replay(old, new, [line("economy", "simple"), line("premium", "complex")])
    moved = {move.new: move for move in result.moves.values()}
    assert set(moved) == {Decision("auto", ("mini", "big"))}
    assert round(result.new_cost_usd, 8) == round(0.00021 + 0.0035, 8)  # mini for the simple one, big unchanged
    only_mini = policy(SELECTING.replace("TARGET", "{select: cheapest, from: [mini]}"))
    refused = replay(old, only_mini, [line("premium", "complex")])
    (move,) = refused.moves.values()
    assert move.new.text() == "auto: no model can serve it (400 no_capable_model)"
    assert refused.new_cost_usd == 0.0


def test_a_prompt_over_the_new_caps_max_input_tokens_is_replayed_as_its_413() -> None:
    """A new ``caps.max_input_tokens`` below a logged request's prompt estimate (its ``features``) refuses it
    with the routing stage's 413 (docs/routing.md, "On the request path"): the replay moves it to a deny 413,
    priced at nothing; a request under the cap stays. Before, the cap was not read and nothing moved."""
    old = policy(SELECTING.replace("TARGET", "big"))
    new = policy(SELECTING.replace("TARGET", "big, caps: {max_input_tokens: 500}"))

    def line(prompt_tokens: int) -> bytes:
        return access(
            requested_model="auto",
            route="auto",
            served_model="big",
            input_tokens=prompt_tokens,
            output_tokens=100,
            task="extraction",
            features={"prompt_tokens": prompt_tokens, "turns": 1},
            complexity="simple",
            tier="economy",
        )

    result = replay(old, new, [line(1000), line(200)])
    (move,) = result.moves.values()
    assert (move.old, move.new, move.requests) == (Decision("auto", ("big",)), Decision("auto", deny=413), 1)
    assert move.new.text() == "auto: deny 413"
    big_200 = 200 * 2.5e-6 + 100 * 10e-6  # big: $2.5 / $10 per Mtok
    assert round(result.new_cost_usd, 8) == round(big_200, 8)
    assert round(result.old_cost_usd, 8) == round(1000 * 2.5e-6 + 100 * 10e-6 + big_200, 8)


# two standard models whose order depends on the expected output: in-cheap is the cheaper by input alone,
# even-priced with the class's 2,000 expected output tokens
OUTPUT_ORDERED = """
version: 1
providers:
  openai: {kind: openai, base_url: "https://api.openai.com/v1", api_key: {env: OPENAI_API_KEY}}
models:
  in-cheap: {provider: openai, model: a, quality: {tier: standard}, price: {input_per_mtok: 0.1, output_per_mtok: 10}}
  even: {provider: openai, model: b, quality: {tier: standard}, price: {input_per_mtok: 1, output_per_mtok: 1}}
routing: {classes: [{name: extraction, output_tokens: 2000, rules: [{keywords: [extract]}]}]}
routes:
  - {name: auto, match: {model: auto}, target: TARGET}
"""


def test_a_select_route_is_replayed_with_the_output_its_class_expects() -> None:
    """The replayed selection orders the candidates with the expected output the policy gives the line's
    task (its class's ``output_tokens``), as the server's does (checked against the server's own chain for
    the request the line stands for): before, the replay ordered them with no output, by input price."""
    old = policy(OUTPUT_ORDERED.replace("TARGET", "in-cheap"))
    new = policy(OUTPUT_ORDERED.replace("TARGET", "{select: cheapest, from: [in-cheap, even]}"))
    body = {"model": "auto", "messages": [{"role": "user", "content": "extract the dates from: 1 May, 2 June"}]}
    live = describe_request("/v1/chat/completions", {}, {}, body, app="")
    route = new.route(live)
    assert route is not None and isinstance(route.plan, SelectPlan)
    served = tuple(target.name for target in route.plan.chain(live))
    assert served == ("even", "in-cheap")  # 2,000 output tokens: even's $1/Mtok beats in-cheap's $10
    decided = live.routing.decision if live.routing is not None else None
    assert decided is not None
    line = access(
        requested_model="auto",
        route="auto",
        served_model="even",
        input_tokens=20,
        output_tokens=100,
        task=decided.task.label,
        features={"prompt_tokens": live.features.prompt_tokens, "turns": 1},
        complexity=decided.complexity.label,
        tier=decided.tier,
    )
    (move,) = replay(old, new, [line]).moves.values()
    assert move.new == Decision("auto", served)
