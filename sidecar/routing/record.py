"""What routing decided for one request: ``Routed``, kept on ``RequestFacts.routing``.

Filled as the request goes, by whoever needs it first, and read by the answer's headers, the access
line, the span and the metrics:

- ``decision`` (``matrix.Decision``: task, complexity, tier): ``decide(facts, router)``, computed once
  whether a route condition (``match: {task: ...}``), the routing stage or a selection asks first
  (again for another router: ``diff --replay`` routes one request by two policies); a decision given
  with no router (a logged request's labels) stands for every router;
- ``targets``: a ``select: cheapest`` route's chain of targets in cost order (``plans.SelectPlan.chain``);
- ``selection`` (``select.Selection``: the chain in cost order with the expected costs, and the
  excluded candidates with their reasons): made when asked (``plans.SelectPlan.selection``: ``explain``,
  a chain's order that depends on the request's tokens, an empty chain's error);
- ``arm``: a split route's arm (``plans.SplitPlan``);
- ``capped_to``: the max output tokens the route's caps wrote into the body;
- ``asked``: the features of the request as the app sent it, once a quality gate's re-ask replaced it
  (``server.gating``): the headers' and the access line's features and estimated cost describe the
  app's request, not the re-ask.

``expected_cost(target)`` is the estimated cost of the request on that model: the estimated
prompt tokens and the expected output (the request's max output tokens, else the class's expected
output; the smaller of the two): a price with a long-context tier, an audio input price or service
tiers (``Target.tiered``, decided at load) by ``cost.expected_usd``: the prices of the service tier an
OpenAI request asks for when the price names it (``cost.requested_tier``: ``flex``, ``priority``; the
request's body is read only for such a price), else the long-context tier's when the estimated prompt
is above its threshold, the request's audio at the audio input price, and the web searches it is
expected to run (``expected_searches``: one per search tool it offers) at a price's search fee (the
request's body is read for them only for a price with one). A cheapest selection orders by the same
figure (``plans.TieredSelectPlan``: the asked tier's plan, its candidates at that tier's prices; a
plan some of whose candidates have a search fee: ``SelectPlan.searched``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..budgets.estimate import searches_offered
from ..cost import expected_usd, requested_tier
from ..dialects import Dialect
from .features import AUDIO_TOKENS

if TYPE_CHECKING:
    from ..policy.compiled import Target
    from ..policy.price_plan import CallPrices
    from ..request_facts import RequestFacts
    from .features import RequestFeatures
    from .matrix import Decision, Router
    from .select import Selection


class Routed:
    """Slotted, every field set in ``__init__`` (no keyword defaults to bind: cheaper to make than a
    dataclass's)."""

    __slots__ = (
        "arm",
        "asked",
        "capped_to",
        "decision",
        "estimated",
        "estimated_for",
        "output_tokens",
        "router",
        "selection",
        "targets",
    )

    def __init__(self) -> None:
        self.decision: Decision | None = None
        self.selection: Selection | None = None
        self.targets: tuple[Target, ...] | None = None  # the selection's chain as the fallback loop walks it
        self.arm: str | None = None
        self.capped_to: int | None = None
        # the app's request's features, once a quality gate's re-ask replaced the request's facts (whose
        # features are then the re-ask's): what the answer's headers and the access line describe
        self.asked: RequestFeatures | None = None
        self.output_tokens = 0  # expected output tokens for cost (set with the decision or the selection)
        self.router: Router | None = None  # whose decision it is (None: given, e.g. from a logged request)
        # the price of the last ``expected_cost`` (the headers', read again by the access line) and its result
        self.estimated_for: CallPrices | None = None
        self.estimated = 0.0

    def __repr__(self) -> str:
        return f"Routed({', '.join(f'{name}={getattr(self, name)!r}' for name in self.__slots__)})"


def routed(facts: RequestFacts) -> Routed:
    """The request's record, made on first use."""
    record = facts.routing
    if record is None:
        record = facts.routing = Routed()
    return record


def decide(facts: RequestFacts, router: Router) -> Decision:
    """The request's task, complexity and tier by ``router``: computed once per request."""
    record = facts.routing
    if record is None:
        record = facts.routing = Routed()
    decision = record.decision
    if decision is None or (record.router is not None and record.router is not router):
        features = facts.known_features or facts.features  # known when a route condition read it: no property call
        decision = record.decision = router.classifier.decide(features, facts.headers)  # ``Router.decide``
        record.router = router
        requested = features.max_output_tokens
        expected = decision.output_tokens
        record.output_tokens = requested if requested and requested < expected else expected  # min, no call
    return decision


DEFAULT_OUTPUT_TOKENS = 512
"""Expected output tokens for cost when the policy has no ``routing`` block (``routing.output_tokens``)."""


def expected_cost(facts: RequestFacts, record: Routed, target: Target) -> float | None:
    """US dollars the request is expected to cost on ``target`` (None: no price, no estimate)."""
    prices = target.prices  # ``target.price`` in slots (read as the bill reads it: no model's field look-ups)
    if prices is None:
        return None
    if prices is record.estimated_for:  # the answer's header computed it; the access line reads it again
        return record.estimated
    features = record.asked or facts.known_features or facts.features  # known by now: no property call
    output = record.output_tokens
    if not output:
        requested = features.max_output_tokens
        output = min(requested, DEFAULT_OUTPUT_TOKENS) if requested else DEFAULT_OUTPUT_TOKENS
    if not target.tiered:  # the usual price, two numbers (decided at load: reading the price's fields costs)
        cost = (features.prompt_tokens * prices.input_per_mtok + output * prices.output_per_mtok) / 1e6
    else:  # the service tier asked for, the long-context tier above its threshold, the audio at its price
        price = prices.spec
        tier = requested_tier(facts.body) if price.service_tiers and facts.dialect is Dialect.OPENAI else None
        searches = expected_searches(facts) if price.web_search_per_1k_calls else 0
        cost = expected_usd(price, features.prompt_tokens, features.audio * AUDIO_TOKENS, output, tier, searches)
    record.estimated_for, record.estimated = prices, cost
    return cost


def expected_searches(facts: RequestFacts) -> int:
    """The web searches the request is expected to run: one per search tool it offers (OpenAI's
    ``web_search_options`` or Responses ``web_search`` tool, Anthropic's ``web_search`` tool, Gemini's
    ``google_search``), none for a tool whose bound is 0 (``max_uses``, ``max_tool_calls``). An
    expectation, not the budgets' bound (``budgets.estimate.searches_asked``: a tool's ``max_uses``,
    else ``default_web_searches``): what the request is likely to cost, as its expected output is the
    class's and not its maximum. Read only for a price with a search fee (decided at load)."""
    return searches_offered(facts, 1, 1)
