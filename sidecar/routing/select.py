"""Cheapest capable selection: which candidate models can serve a request, cheapest first, and why not.

``select_cheapest(candidates, features, task=..., min_tier=..., output_tokens=...)`` keeps a candidate
only when it

1. has every capability the request needs (``needs``): tools -> ``tools``, images or video ->
   ``vision``, audio -> ``audio``, a JSON schema -> ``json``, streaming -> ``streaming``, thinking (OpenAI
   ``reasoning_effort``, Anthropic ``thinking``, a positive Gemini ``thinkingBudget`` or a
   ``thinkingLevel``) -> ``thinking``;
2. fits: a known context window at least the estimated prompt times ``1 + headroom`` (the estimate's
   margin of error) plus the output tokens (the request's max, else the expected output);
3. is good enough: its tier for the task (``Candidate.task_tiers``, else its ``tier``) at least ``min_tier``;

and orders the survivors by expected cost, ``(prompt x input price + expected output x output
price) / 1e6`` (a price with a long-context tier or an audio input price, ``Candidate.tiered``, decided
at load: by ``cost.expected_usd``, the long-context tier's prices when the prompt is above its
threshold, the request's audio at the audio price; a candidate priced at a service tier,
``at_service_tier``, at that tier's: ``plans.TieredSelectPlan`` selects so for a request asking for the
tier, as ``record.expected_cost`` prices it; a price with a web-search fee, the searches the request is
expected to run, ``searches``: ``record.expected_searches``), with candidates of unknown price last; ties keep
the candidates' order. The result is the whole chain, so the first is called and the rest are its
fallbacks in cost order, and every excluded candidate with the reason, for ``llm-sidecar explain``.

Expected output tokens are the smaller of the request's max and the class's expected output: a max is
a ceiling, not a forecast.

``Candidate`` is what the policy's ``models.<name>`` maps onto (``compile.candidates``): its
``capabilities``, ``context_window``, ``price`` and ``quality: {tier, tasks}`` (ranks in
``routing.tiers``). A model that declares no quality counts as the lowest tier.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple, cast

from ..cost import expected_usd
from ..policy.prices import PriceSpec
from .features import AUDIO_TOKENS, RequestFeatures

_NO_TIERS: Mapping[str, int] = MappingProxyType({})
_CHOICE = operator.itemgetter(3)  # a kept entry's Choice


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    capabilities: frozenset[str]
    context_window: int | None = None
    input_per_mtok: float | None = None  # US dollars per million tokens; None: unknown
    output_per_mtok: float | None = None
    tier: int = 0  # rank in routing.tiers
    task_tiers: Mapping[str, int] = field(default_factory=lambda: _NO_TIERS)  # task class -> rank
    # the price, when it has a long-context tier, an audio input price or a web-search fee
    # (``cost.expected_usd``), or when the candidate is priced at a service tier it names
    # (``service_tier``); else None
    tiered: PriceSpec | None = field(default=None, compare=False)
    long_from: int | None = None  # the long-context tier's threshold, when it has one
    # the service tier it is priced at (``at_service_tier``: a selection for a request asking for it); its
    # input and output prices are then that tier's
    service_tier: str | None = None

    def expected_cost(
        self, input_tokens: int, output_tokens: int, audio_tokens: int = 0, searches: int = 0
    ) -> float | None:
        if self.input_per_mtok is None or self.output_per_mtok is None:
            return None
        if self.tiered is not None:
            return expected_usd(self.tiered, input_tokens, audio_tokens, output_tokens, self.service_tier, searches)
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


def tiered_price(price: PriceSpec | None) -> PriceSpec | None:
    """``price`` when routing's expected cost depends on more than its input and output prices (a
    long-context tier, an audio input price, a web-search fee: ``Candidate.tiered``), decided at load;
    else None."""
    if price is None or not price.tiered():
        return None
    return price


def at_service_tier(candidate: Candidate, price: PriceSpec | None, tier: str) -> Candidate:
    """``candidate`` priced at the service tier ``tier`` when its ``price`` names it (its input and output
    prices that tier's, ``cost.expected_usd`` told the tier: what ``record.expected_cost`` gives a request
    asking for it), else ``candidate`` (the standard tier, as the provider serves it). Made at load."""
    named = price.service_tiers.get(tier) if price is not None else None
    if named is None:
        return candidate
    per_input, per_output = named.input_per_mtok, named.output_per_mtok
    return dataclasses.replace(
        candidate, input_per_mtok=per_input, output_per_mtok=per_output, tiered=price, service_tier=tier
    )


class Choice(NamedTuple):  # per request, like Selection: named tuples are cheaper to build
    candidate: Candidate
    expected_cost: float | None  # US dollars


@dataclass(frozen=True, slots=True)
class Excluded:
    candidate: Candidate
    reason: str


class Selection(NamedTuple):
    chain: tuple[Choice, ...]  # cheapest first
    excluded: tuple[Excluded, ...]
    input_tokens: int
    output_tokens: int


# Per request the named tuples are made as their own ``__new__`` makes them, without its Python call; typed
# by their fields' types, so mypy checks each tuple handed to them
_new_choice = cast(Callable[[type[Choice], tuple[Candidate, float | None]], Choice], tuple.__new__)
_new_selection = cast(
    Callable[[type[Selection], tuple[tuple[Choice, ...], tuple[Excluded, ...], int, int]], Selection], tuple.__new__
)


def needs(features: RequestFeatures) -> tuple[tuple[str, str], ...]:
    """(capability, why) pairs the request needs."""
    out = []
    if features.tools:
        out.append(("tools", f"the request declares {features.tools} tool(s)"))
    if features.images or features.video:
        out.append(("vision", "the request has images or video"))
    if features.audio:
        out.append(("audio", "the request has audio"))
    if features.json_schema:
        out.append(("json", "the request asks for JSON with a schema"))
    if features.stream:
        out.append(("streaming", "the request streams"))
    if features.thinking:
        out.append(("thinking", "the request asks the model to think"))
    return tuple(out)


def select_cheapest(
    candidates: Sequence[Candidate],
    features: RequestFeatures,
    *,
    task: str,
    min_tier: int,
    output_tokens: int,
    headroom: float = 0.1,
    tier_names: Sequence[str] = (),
    searches: int = 0,
) -> Selection:
    """``searches``: the web searches the request is expected to run (``record.expected_searches``)."""
    return select(candidates, features, task, min_tier, output_tokens, headroom, tier_names, searches)


def select(
    candidates: Sequence[Candidate],
    features: RequestFeatures,
    task: str,
    min_tier: int,
    output_tokens: int,
    headroom: float,
    tier_names: Sequence[str],
    searches: int = 0,
) -> Selection:
    """``select_cheapest`` with positional arguments (the request path's call: no keywords to match)."""
    requested = features.max_output_tokens
    prompt = features.prompt_tokens
    expected_output = min(requested, output_tokens) if requested else output_tokens
    window_need = math.ceil(prompt * (1 + headroom)) + (requested or expected_output)
    needs_any = (
        features.tools
        or features.images
        or features.video
        or features.audio
        or features.json_schema
        or features.stream
        or features.thinking
    )
    required = needs(features) if needs_any else ()
    kept: list[tuple[bool, float, int, Choice]] = []  # (no price, cost, position): the sort key, stable
    excluded: list[Excluded] = []
    for position, candidate in enumerate(candidates):
        window = candidate.context_window
        if required and any(cap not in candidate.capabilities for cap, _ in required):
            missing = [(cap, why) for cap, why in required if cap not in candidate.capabilities]
            excluded.append(Excluded(candidate, "; ".join(f"no {cap} capability ({why})" for cap, why in missing)))
        elif window is not None and window < window_need:
            reason = (
                f"context window {window:,} < {window_need:,} needed "
                f"(prompt ~{prompt:,} + {headroom:.0%} margin + {requested or expected_output:,} output)"
            )
            excluded.append(Excluded(candidate, reason))
        elif (tier := candidate.task_tiers.get(task, candidate.tier)) < min_tier:
            reason = f"tier {_tier_name(tier_names, tier)} for {task} is below {_tier_name(tier_names, min_tier)}"
            excluded.append(Excluded(candidate, reason))
        else:  # the cost as ``Candidate.expected_cost`` computes it, without the call
            per_input, per_output = candidate.input_per_mtok, candidate.output_per_mtok
            if per_input is None or per_output is None:
                kept.append((True, 0.0, position, _new_choice(Choice, (candidate, None))))
            else:
                if candidate.tiered is None:
                    cost = (prompt * per_input + expected_output * per_output) / 1e6
                else:  # a long-context tier, an audio price, a service tier, a search fee: the request's
                    audio, priced_at = features.audio * AUDIO_TOKENS, candidate.service_tier
                    cost = expected_usd(candidate.tiered, prompt, audio, expected_output, priced_at, searches)
                kept.append((False, cost, position, _new_choice(Choice, (candidate, cost))))
    if len(kept) > 1:
        kept.sort()  # cheapest first, unknown prices last; ties keep the candidates' order (position)
    return _new_selection(Selection, (tuple(map(_CHOICE, kept)), tuple(excluded), prompt, expected_output))


def _tier_name(tier_names: Sequence[str], rank: int) -> str:
    return tier_names[rank] if rank < len(tier_names) else f"tier {rank}"


class Shortlist(NamedTuple):
    """The candidates good enough for one (task, minimum tier), sorted out at load."""

    priced: tuple[tuple[int, Candidate, float, float], ...]  # (position, candidate, input, output price)
    unpriced: tuple[Choice, ...]  # their choices as made per request (no cost), in the candidates' order
    excluded: tuple[Excluded, ...]  # the others, each with its tier reason, in the candidates' order
    # the chain's names when its order does not depend on the request (at most one priced candidate)
    fixed: tuple[str, ...] | None


class Menu:
    """``select`` for one route's candidates with the tier filter done at load: per (task, minimum
    tier) a ``Shortlist``. A request that needs no capability and fits every candidate's context window
    (the usual one) only prices the shortlist's priced candidates and sorts them when there are several;
    any other request (a prompt above a candidate's long-context threshold among them, a request expected
    to search, any request when a candidate pays a search fee on every call), or a task no shortlist was
    made for, goes through ``select``. Both answer the
    same ``Selection`` (the chain, the excluded candidates in the candidates' order, with their reasons)."""

    __slots__ = ("_select_above", "_shortlists", "_smallest_window", "candidates", "tier_names")

    def __init__(self, candidates: Sequence[Candidate], tasks: Sequence[str], tier_names: Sequence[str]) -> None:
        self.candidates = tuple(candidates)
        self.tier_names = tuple(tier_names)
        windows = [c.context_window for c in self.candidates if c.context_window is not None]
        self._smallest_window = min(windows) if windows else None
        # a prompt above it goes through ``select``: priced at some candidate's long-context tier; every
        # prompt (-1) when a candidate pays a search fee on every call (``web_search_billed_per: call``)
        long_from = min((c.long_from for c in self.candidates if c.long_from is not None), default=sys.maxsize)
        per_call = any(c.tiered is not None and c.tiered.searches_billed(0) for c in self.candidates)
        self._select_above = -1 if per_call else long_from
        self._shortlists = {
            (task, min_tier): self._shortlist(task, min_tier)
            for task in dict.fromkeys(("", *tasks))
            for min_tier in range(max(len(self.tier_names), 1))
        }

    def fixed_chains(self) -> frozenset[tuple[str, ...]]:
        """Every chain ``fixed_chain`` may answer."""
        return frozenset(s.fixed for s in self._shortlists.values() if s.fixed is not None)

    def _shortlist(self, task: str, min_tier: int) -> Shortlist:
        priced, unpriced, excluded = [], [], []
        for position, candidate in enumerate(self.candidates):
            tier = candidate.task_tiers.get(task, candidate.tier)
            if tier < min_tier:
                names = self.tier_names
                reason = f"tier {_tier_name(names, tier)} for {task} is below {_tier_name(names, min_tier)}"
                excluded.append(Excluded(candidate, reason))
            elif candidate.input_per_mtok is None or candidate.output_per_mtok is None:
                unpriced.append(Choice(candidate, None))
            else:
                priced.append((position, candidate, candidate.input_per_mtok, candidate.output_per_mtok))
        fixed = (*(c.name for _, c, _, _ in priced), *(c.candidate.name for c in unpriced)) if len(priced) < 2 else None
        return Shortlist(tuple(priced), tuple(unpriced), tuple(excluded), fixed)

    def usual(
        self, features: RequestFeatures, task: str, min_tier: int, output_tokens: int, headroom: float
    ) -> Shortlist | None:
        """The shortlist of (``task``, ``min_tier``) when the request is the usual one (no capability
        needed, every context window large enough: no candidate needs testing); else None."""
        shortlist = self._shortlists.get((task, min_tier))
        if shortlist is None or not self.fits(features, output_tokens, headroom):
            return None
        return shortlist

    def shortlist(self, task: str, min_tier: int) -> Shortlist | None:
        """The shortlist made at load for (``task``, ``min_tier``); None for a task it was not made for."""
        return self._shortlists.get((task, min_tier))

    def fits(self, features: RequestFeatures, output_tokens: int, headroom: float) -> bool:
        """Whether the request is the usual one: it needs no capability and fits every candidate's
        context window (no candidate needs testing)."""
        if (
            features.tools
            or features.images
            or features.audio
            or features.video
            or features.json_schema
            or features.stream
            or features.thinking
        ):
            return False
        smallest = self._smallest_window
        if smallest is not None:
            need = math.ceil(features.prompt_tokens * (1 + headroom)) + (features.max_output_tokens or output_tokens)
            if smallest < need:
                return False
        return True

    def fixed_chain(
        self, features: RequestFeatures, task: str, min_tier: int, output_tokens: int, headroom: float
    ) -> tuple[str, ...] | None:
        """The names of ``select``'s chain, in its order, when the usual request's (``usual``) does not
        depend on its tokens: at most one priced candidate in the shortlist (the request path needs no
        more than the order); else None."""
        shortlist = self.usual(features, task, min_tier, output_tokens, headroom)
        return None if shortlist is None else shortlist.fixed

    def select(
        self,
        features: RequestFeatures,
        task: str,
        min_tier: int,
        output_tokens: int,
        headroom: float,
        searches: int = 0,
    ) -> Selection:
        """``select(self.candidates, features, task, min_tier, output_tokens, headroom, self.tier_names,
        searches)``."""
        requested = features.max_output_tokens
        prompt = features.prompt_tokens
        expected_output = requested if requested and requested < output_tokens else output_tokens  # min, no call
        shortlist = self.usual(features, task, min_tier, output_tokens, headroom)
        if shortlist is None or prompt > self._select_above or searches:
            candidates, names = self.candidates, self.tier_names
            return select(candidates, features, task, min_tier, output_tokens, headroom, names, searches)
        priced = shortlist.priced
        if len(priced) == 1:
            _, candidate, per_input, per_output = priced[0]
            cost = (prompt * per_input + expected_output * per_output) / 1e6
            chain = (_new_choice(Choice, (candidate, cost)), *shortlist.unpriced)
        elif priced:
            kept = sorted(
                [
                    ((prompt * per_input + expected_output * per_output) / 1e6, position, candidate)
                    for position, candidate, per_input, per_output in priced
                ]
            )
            chain = (*[_new_choice(Choice, (candidate, cost)) for cost, _, candidate in kept], *shortlist.unpriced)
        else:
            chain = shortlist.unpriced
        return _new_selection(Selection, (chain, shortlist.excluded, prompt, expected_output))
