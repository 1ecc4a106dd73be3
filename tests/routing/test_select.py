"""Cheapest capable selection: capability, context window and quality filters, cost order, reasons."""

from __future__ import annotations

from sidecar.policy.prices import PriceSpec
from sidecar.routing.features import AUDIO_TOKENS, RequestFeatures
from sidecar.routing.select import Candidate, Menu, Selection, select_cheapest, tiered_price

from .requests import features

TIERS = ("economy", "standard", "premium")
MINI = Candidate("mini", frozenset({"chat", "streaming", "tools", "json"}), 128_000, 0.15, 0.60, tier=0)
FLASH = Candidate("flash", frozenset({"chat", "streaming", "tools", "vision", "json"}), 1_000_000, 0.30, 2.50, tier=0)
SMALL_CTX = Candidate(
    "small-ctx", frozenset({"chat", "streaming", "tools", "vision", "json"}), 8_192, 0.05, 0.10, tier=0
)
SONNET = Candidate("sonnet", frozenset({"chat", "streaming", "tools", "vision", "json"}), 200_000, 3.0, 15.0, tier=2)
GPT4O = Candidate(
    "gpt-4o",
    frozenset({"chat", "streaming", "tools", "vision", "json"}),
    128_000,
    2.5,
    10.0,
    tier=1,
    task_tiers={"code": 2},
)
TEXT_ONLY = Candidate("text-only", frozenset({"chat"}), 32_000, 0.01, 0.02, tier=0)
ALL = (SONNET, GPT4O, FLASH, MINI, SMALL_CTX, TEXT_ONLY)


def select(f: RequestFeatures, task: str = "general", min_tier: int = 0, output_tokens: int = 500) -> Selection:
    return select_cheapest(ALL, f, task=task, min_tier=min_tier, output_tokens=output_tokens, tier_names=TIERS)


def names(selection: Selection) -> list[str]:
    return [c.candidate.name for c in selection.chain]


def test_cheapest_first_then_the_rest_in_cost_order() -> None:
    """With nothing special needed, the chain is every candidate by expected cost."""
    assert names(select(features("hello"))) == ["text-only", "small-ctx", "mini", "flash", "gpt-4o", "sonnet"]


def test_tools_need_the_tools_capability() -> None:
    """A request with tools never selects a model without tools; the exclusion says why."""
    s = select(features("hi", tools=[{"type": "function", "function": {"name": "f"}}]))
    assert "text-only" not in names(s)
    assert [(e.candidate.name, e.reason) for e in s.excluded] == [
        ("text-only", "no tools capability (the request declares 1 tool(s))")
    ]


def test_images_need_vision() -> None:
    """An image excludes models without vision."""
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    s = select(features("x", messages=[{"role": "user", "content": [image]}]))
    assert names(s) == ["small-ctx", "flash", "gpt-4o", "sonnet"]


def test_json_schema_needs_json() -> None:
    """A JSON schema response format excludes models without json."""
    fmt = {"type": "json_schema", "json_schema": {"name": "r", "schema": {}}}
    assert "text-only" not in names(select(features("x", response_format=fmt)))


def test_thinking_needs_the_thinking_capability() -> None:
    """A request asking the model to think excludes every model without thinking, saying why."""
    thinker = Candidate("thinker", frozenset({"chat", "thinking"}), 200_000, 1.0, 4.0)
    s = select_cheapest(
        (MINI, thinker), features("x", reasoning_effort="low"), task="general", min_tier=0, output_tokens=500
    )
    assert names(s) == ["thinker"]
    assert [(e.candidate.name, e.reason) for e in s.excluded] == [
        ("mini", "no thinking capability (the request asks the model to think)")
    ]


def test_audio_needs_the_audio_capability() -> None:
    """An audio part (OpenAI input_audio here) excludes every model without audio, saying why: a chat
    model that takes no audio is never picked for it."""
    listener = Candidate("listener", frozenset({"chat", "audio"}), 1_000_000, 0.10, 0.40)
    clip = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
    request = features("x", messages=[{"role": "user", "content": [clip, {"type": "text", "text": "Transcribe."}]}])
    s = select_cheapest((MINI, listener), request, task="general", min_tier=0, output_tokens=500)
    assert names(s) == ["listener"]
    assert [(e.candidate.name, e.reason) for e in s.excluded] == [
        ("mini", "no audio capability (the request has audio)")
    ]
    assert Menu((MINI, listener), ("general",), TIERS).select(request, "general", 0, 500, 0.1) == s


def test_audio_is_priced_at_the_audio_input_price() -> None:
    """A request with audio: the audio part of its prompt (``AUDIO_TOKENS`` a clip) at a model's audio input
    price, so a model cheap for text but dear for audio is not the cheapest (until wave 40 it was)."""
    price = PriceSpec(input_per_mtok=0.10, output_per_mtok=0.40, audio_input_per_mtok=10.0)
    dear = Candidate("dear-audio", frozenset({"chat", "audio"}), None, 0.10, 0.40, tiered=tiered_price(price))
    flat = Candidate("flat", frozenset({"chat", "audio"}), None, 0.50, 0.50)
    clip = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
    request = features("x", messages=[{"role": "user", "content": [clip, {"type": "text", "text": "Transcribe."}]}])
    s = select_cheapest((dear, flat), request, task="general", min_tier=0, output_tokens=500)
    assert names(s) == ["flat", "dear-audio"]
    prompt = s.input_tokens
    assert s.chain[1].expected_cost == (prompt * 0.10 + 500 * 0.40 + AUDIO_TOKENS * (10.0 - 0.10)) / 1e6


def test_long_prompt_excludes_small_windows() -> None:
    """A prompt of ~30k tokens never goes to an 8k or 32k window; the reason shows the arithmetic."""
    s = select(features("word " * 30_000))
    assert "small-ctx" not in names(s) and "text-only" not in names(s)
    reason = next(e.reason for e in s.excluded if e.candidate.name == "small-ctx")
    assert reason.startswith("context window 8,192 < ") and "10% margin" in reason


def test_requested_max_tokens_count_against_the_window() -> None:
    """A small prompt asking for 10,000 output tokens does not fit an 8k window."""
    assert "small-ctx" not in names(select(features("hi", max_tokens=10_000)))


def test_minimum_tier_excludes_cheaper_tiers() -> None:
    """min_tier premium keeps premium models only, with the tier in each reason."""
    s = select(features("prove it"), min_tier=2)
    assert names(s) == ["sonnet"]
    assert (
        next(e.reason for e in s.excluded if e.candidate.name == "gpt-4o")
        == "tier standard for general is below premium"
    )


def test_task_tier_overrides_the_model_tier() -> None:
    """gpt-4o declares premium quality for code: it qualifies for premium code, not premium math."""
    assert names(select(features("x"), task="code", min_tier=2)) == ["gpt-4o", "sonnet"]
    assert names(select(features("x"), task="math", min_tier=2)) == ["sonnet"]


def test_expected_output_is_the_smaller_of_max_and_class_default() -> None:
    """max_tokens 100 with a class default of 500: cost counts 100 output tokens."""
    s = select(features("hi", max_tokens=100), output_tokens=500)
    assert s.output_tokens == 100
    mini = next(c for c in s.chain if c.candidate.name == "mini")
    assert mini.expected_cost == (s.input_tokens * 0.15 + 100 * 0.60) / 1e6


def test_output_price_can_change_the_order() -> None:
    """A long expected output favours the cheaper output price even at a higher input price."""
    a = Candidate("cheap-in", frozenset({"chat"}), None, 0.10, 10.0)
    b = Candidate("cheap-out", frozenset({"chat"}), None, 0.50, 1.0)
    prompt = features("word " * 1000)
    short = select_cheapest((a, b), prompt, task="t", min_tier=0, output_tokens=1)
    long = select_cheapest((a, b), prompt, task="t", min_tier=0, output_tokens=4000)
    assert names(short) == ["cheap-in", "cheap-out"] and names(long) == ["cheap-out", "cheap-in"]


def test_unknown_price_goes_last() -> None:
    """A candidate without a price is kept but ordered after every priced one."""
    free = Candidate("unpriced", frozenset({"chat"}))
    s = select_cheapest((free, SONNET), features("hi"), task="t", min_tier=0, output_tokens=10)
    assert names(s) == ["sonnet", "unpriced"] and s.chain[1].expected_cost is None


def test_equal_costs_keep_the_candidates_order() -> None:
    """Candidates of the same expected cost stay in the order written (and unpriced ones too)."""
    twins = [Candidate(name, frozenset({"chat"}), None, 1.0, 2.0) for name in ("b", "a", "c")]
    free = [Candidate(name, frozenset({"chat"})) for name in ("z", "y")]
    s = select_cheapest((free[0], *twins, free[1]), features("hi"), task="t", min_tier=0, output_tokens=10)
    assert names(s) == ["b", "a", "c", "z", "y"]


def test_menu_selects_what_select_cheapest_selects() -> None:
    """``Menu`` (the tier filter done at load) answers the same selection as ``select_cheapest``, chain,
    costs, exclusions and their reasons, for requests that need capabilities or large windows or
    neither, every task and minimum tier, with priced and unpriced candidates."""
    free = Candidate("unpriced", frozenset({"chat"}), tier=1)
    twin = Candidate("mini-twin", MINI.capabilities, None, 0.15, 0.60, tier=0, task_tiers={"math": 2})
    candidates = (*ALL, free, twin)
    menu = Menu(candidates, ("general", "code", "math"), TIERS)
    requests = [
        features("hello"),
        features("hello", max_tokens=50),
        features("word " * 3000),
        features("word " * 9000),
        features("hi", tools=[{"type": "function", "function": {"name": "f"}}]),
        features("hi", stream=True),
        features("hi", response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}),
        features("hi", reasoning_effort="high"),
    ]
    compared = 0
    for request in requests:
        for task in ("general", "code", "math", "not-a-class"):
            for min_tier in range(len(TIERS)):
                for output_tokens in (1, 500, 20_000):
                    expected = select_cheapest(
                        candidates, request, task=task, min_tier=min_tier, output_tokens=output_tokens, tier_names=TIERS
                    )
                    assert menu.select(request, task, min_tier, output_tokens, 0.1) == expected
                    compared += 1
    assert compared == len(requests) * 4 * 3 * 3


def test_menu_with_one_priced_candidate_prices_it_first() -> None:
    """A menu whose shortlist has one priced candidate answers it first, the unpriced after it."""
    free = Candidate("unpriced", frozenset({"chat"}))
    menu = Menu((free, SONNET), ("t",), TIERS)
    s = menu.select(features("hi"), "t", 0, 10, 0.1)
    assert names(s) == ["sonnet", "unpriced"] and s.chain[0].expected_cost is not None


def test_menu_fixed_chain_is_the_selections_chain() -> None:
    """``Menu.fixed_chain`` (the chain made at load, for a shortlist of at most one priced candidate)
    names the chain ``select_cheapest`` answers whenever it answers one, and answers for the usual
    request of a shortlist with one priced candidate; it answers None for a request that needs a
    capability or whose tokens may not fit, and for a shortlist whose order depends on costs."""
    free = Candidate("unpriced", frozenset({"chat"}), tier=1)
    small = Candidate("small-window", frozenset({"chat"}), 1000, 0.1, 0.2, tier=2)
    requests = [
        features("hello"),
        features("hello", max_tokens=50),
        features("word " * 3000),
        features("hi", tools=[{"type": "function", "function": {"name": "f"}}]),
        features("hi", stream=True),
    ]
    answered = 0
    for candidates in ((free, SONNET), (*ALL, free), (small, free), (free,)):
        menu = Menu(candidates, ("general", "math"), TIERS)
        for request in requests:
            for task in ("general", "math", "not-a-class"):
                for min_tier in range(len(TIERS)):
                    for output_tokens in (1, 500, 20_000):
                        names = menu.fixed_chain(request, task, min_tier, output_tokens, 0.1)
                        if names is None:
                            continue
                        expected = select_cheapest(
                            candidates, request, task=task, min_tier=min_tier, output_tokens=output_tokens
                        )
                        assert names == tuple(c.candidate.name for c in expected.chain)
                        answered += 1
    assert answered > 0
    assert Menu((free, SONNET), ("t",), TIERS).fixed_chain(features("hi"), "t", 0, 10, 0.1) == ("sonnet", "unpriced")
    assert Menu(ALL, ("t",), TIERS).fixed_chain(features("hi"), "t", 0, 10, 0.1) is None
