"""A model's ``price`` in the policy: US dollars per million tokens, what its provider bills.

- ``TokenPrices``: the prices of one tier (fresh input, cache reads, 5-minute and 1-hour cache writes,
  output, and audio input and output); ``sidecar.cost`` applies them to a call's usage.
- ``LongContextPrices``: the tier a long prompt is billed at: a call whose prompt counts more than
  ``above_input_tokens`` (cache reads and writes included) has every token, its output too, at these
  prices (Gemini 2.5 Pro and 3 Pro above 200k, Claude Sonnet 4 and 4.5 with the 1M window above 200k,
  OpenAI's long-context models above 272k).
- ``PriceSpec``: the standard tier, and optionally the long-context one (``long_context``) and the prices
  of the service tiers the provider may say it served a call at (``service_tiers``: OpenAI's ``flex`` at
  half, ``priority`` at about twice the standard prices; ``Usage.service_tier``), and the fee per 1,000
  web searches the provider runs (``web_search_per_1k_calls``: ``Usage.web_search_calls``), billed apart
  from the tokens at every tier, per search, per prompt that searched or per call (``web_search_billed_per``:
  Gemini 3's grounding bills each query, Gemini 2.5's each grounded prompt, OpenAI's search models one
  search on every chat call, with or without ``web_search_options``; ``search_unit_problem`` makes a
  Gemini model say which of its two, at load).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Spec


class TokenPrices(Spec):
    """US dollars per million tokens, one tier."""

    input_per_mtok: float = Field(0.0, ge=0)
    output_per_mtok: float = Field(0.0, ge=0)
    cached_input_per_mtok: float | None = Field(
        None, ge=0, description="Input tokens read from the provider's prompt cache. Default: the input price."
    )
    cache_write_per_mtok: float | None = Field(
        None,
        ge=0,
        description="Input tokens written to the prompt cache (Anthropic's cache_creation_input_tokens, "
        "1.25 times the input price for 5-minute writes). Default: the input price.",
    )
    cache_write_1h_per_mtok: float | None = Field(
        None,
        ge=0,
        description="Input tokens written to the prompt cache for one hour (Anthropic's "
        "cache_creation.ephemeral_1h_input_tokens, a part of the writes). Default: twice the input price, "
        "Anthropic's price for 1-hour writes.",
    )
    audio_input_per_mtok: float | None = Field(
        None,
        ge=0,
        description="Audio prompt tokens not read from a cache (OpenAI's prompt_tokens_details.audio_tokens, Gemini's "
        "AUDIO promptTokensDetails). Default: the input price. A model priced so reserves every call's prompt at "
        "the higher of the two.",
    )
    audio_output_per_mtok: float | None = Field(
        None,
        ge=0,
        description="Audio output tokens (OpenAI's completion_tokens_details.audio_tokens, Gemini's AUDIO "
        "candidatesTokensDetails). Default: the output price. A model priced so reserves every call's output at "
        "the higher of the two.",
    )


class LongContextPrices(TokenPrices):
    """The prices of a call whose prompt is long: every token of it, output included (each field's default
    is relative to this tier's input price, as in the standard tier)."""

    above_input_tokens: int = Field(
        gt=0,
        description="A call whose prompt counts more tokens than this (cache reads and writes included, as the "
        "providers count) is billed at this tier: 200000 for Gemini 2.5 Pro and Claude's 1M window, 272000 "
        "for OpenAI's long-context models.",
    )
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class PriceSpec(TokenPrices):
    """US dollars per million tokens."""

    long_context: LongContextPrices | None = Field(
        None,
        description="The prices of a call whose prompt is longer than long_context.above_input_tokens: every token "
        "of it, output included (Gemini 2.5 Pro, Claude's 1M window). Default: none, every call at the prices above.",
    )
    service_tiers: dict[str, TokenPrices] = Field(
        default_factory=dict,
        description="The prices of a call the provider says it served at a service tier, by the tier's name as it "
        "says it (OpenAI's service_tier: flex, priority; Anthropic's usage.service_tier: priority), whatever the "
        "prompt's length. A tier not named here (OpenAI's default, Anthropic's standard) is at the prices above. "
        "A reservation prices a call at the highest of them all.",
    )

    web_search_per_1k_calls: float | None = Field(
        None,
        ge=0,
        description="US dollars per 1,000 web searches the provider runs for a call, billed apart from its tokens "
        "(Anthropic's web_search tool, usage.server_tool_use.web_search_requests: 10; OpenAI's web search, a "
        "Responses answer's web_search_call items, or a chat answer of a search model citing the web, one "
        "search: 10 to 50 by model and search context size; Gemini's grounding with Google Search, each distinct "
        "non-empty groundingMetadata.webSearchQueries entry: Gemini 3's 14), at every tier. Default: none, searches "
        "not priced. The budgets charge it once the answer says; a reservation includes the searches the request "
        "allows (a search tool's bound, else budgets.default_web_searches); routing's expected cost the searches it is "
        "expected to run (one per search tool it offers).",
    )
    web_search_billed_per: Literal["search", "prompt", "call"] | None = Field(
        None,
        description="What web_search_per_1k_calls is billed per: search (each search the provider says it ran; "
        "Gemini 3's grounding: each distinct query), prompt (a call that searched at all, once, whatever its "
        "queries: Gemini 2.5 and older's grounded prompts) or call (the model searches on every call, once, "
        "whatever the request asks or the answer shows: OpenAI's search models, gpt-4o-search-preview, "
        "gpt-5-search-api, called with or without web_search_options; every reservation of such a call holds "
        "one search). Required for a model served by Gemini with a search fee (the two bill differently); "
        "default: search.",
    )

    @model_validator(mode="after")
    def _search_unit_names_a_fee(self) -> PriceSpec:
        if self.web_search_billed_per is not None and self.web_search_per_1k_calls is None:
            raise ValueError("web_search_billed_per: names no fee (set web_search_per_1k_calls, or drop it)")
        return self

    def search_unit_problem(self, gemini: bool) -> str | None:
        """What is wrong with the unit of the search fee for a model whose provider speaks Gemini
        (``gemini``) or another dialect: Gemini's grounding needs one said; only Gemini bills per prompt."""
        if gemini and self.web_search_per_1k_calls is not None and self.web_search_billed_per is None:
            return (
                "web_search_billed_per: required with web_search_per_1k_calls for a Gemini model: search "
                "(Gemini 3: each grounding query) or prompt (Gemini 2.5 and older: each grounded prompt)"
            )
        if not gemini and self.web_search_billed_per == "prompt":
            return "web_search_billed_per: prompt is Gemini's grounding only; this provider bills each search"
        if gemini and self.web_search_billed_per == "call":
            return (
                "web_search_billed_per: call is for a model that searches on every call (OpenAI's search models); "
                "Gemini bills its grounding per query (search) or per grounded prompt (prompt)"
            )
        return None

    def searches_billed(self, searches: int) -> int:
        """The searches a call is billed for when it ran (or may run) ``searches`` (``web_search_billed_per``):
        at most one per prompt, exactly one per call."""
        unit = self.web_search_billed_per
        if unit is None or unit == "search":
            return searches
        return 1 if unit == "call" else min(searches, 1)

    def tiered(self) -> bool:
        """Whether an expected cost needs more than the standard input and output prices: a long-context
        tier, an audio input price or a web-search fee (``cost.expected_usd``; decided at load,
        ``Target.tiered``)."""
        return (
            self.long_context is not None or self.audio_input_per_mtok is not None or bool(self.web_search_per_1k_calls)
        )

    def for_prompt(self, input_tokens: int) -> TokenPrices:
        """The tier a call whose prompt counts ``input_tokens`` is billed at."""
        tier = self.long_context
        return tier if tier is not None and input_tokens > tier.above_input_tokens else self

    def for_call(self, input_tokens: int, service_tier: str | None) -> TokenPrices:
        """The prices a call is billed at: its service tier's when the price names it, else by its prompt."""
        if service_tier is not None and (named := self.service_tiers.get(service_tier)) is not None:
            return named
        return self.for_prompt(input_tokens)

    def for_estimate(self, input_tokens: int) -> tuple[TokenPrices, ...]:
        """The prices a reservation of a prompt of ``input_tokens`` must cover: by the prompt, and every
        service tier's (the request does not say which tier the provider will serve it at)."""
        return (self.for_prompt(input_tokens), *self.service_tiers.values())
