"""Mistakes an SRE plausibly makes editing policies/production.yaml, each told in one clear line with its
path: by ``validate`` (the loader), and by a running sidecar's hot reload (a broken file is rejected
and logged while the last good policy keeps serving; a file that loads but cannot be meant is loaded
with a ``policy_warning`` saying why)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from sidecar.policy import PolicyError, load_policy_bytes

from ..conftest import RunningSidecar, SidecarFactory

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = (ROOT / "policies" / "production.yaml").read_text()
ROUTING = (ROOT / "policies" / "routing.yaml").read_text()


@dataclass(frozen=True)
class Edit:
    """``serving`` with ``old`` replaced by ``new``: the broken file written over the serving one."""

    old: str
    new: str
    serving: str = PRODUCTION

    def __call__(self) -> str:
        assert self.old in self.serving
        return self.serving.replace(self.old, self.new, 1)


def unpriced_budget() -> str:
    """A usd budget over gemini-pro, whose price was left out."""
    text = PRODUCTION.replace("    price: {input_per_mtok: 1.25, output_per_mtok: 10.0}\n", "", 1)
    return text + (
        "budgets:\n  limits:\n    - {name: gemini-day, measure: usd, amount: 100, window: day,"
        " scope: {by: model, values: [gemini-pro]}, action: deny}\n"
    )


# (mistake, the broken file, the one error it gets)
ERRORS = [
    (
        "indentation",
        Edit(
            "  gpt-4o-mini:\n    provider: openai\n    model: gpt-4o-mini\n",
            "  gpt-4o-mini:\n  provider: openai\n  model: gpt-4o-mini\n",
        ),
        "invalid YAML at line 57, column 19, after models.model: mapping values are not allowed here"
        " (check the indentation of this line and the one above)",
    ),
    (
        "field typo",
        Edit("    deadline_s: 60 ", "    deadline_sec: 60 "),
        "defaults.resilience.deadline_sec: unknown field (did you mean 'deadline_s'?)",
    ),
    (
        "key source typo",
        Edit("api_key: {env: GEMINI_API_KEY}", "api_key: {evn: GEMINI_API_KEY}"),
        "providers.gemini.api_key.evn: unknown field (did you mean 'env'?)",
    ),
    (
        "typo in a target written as a mapping",
        Edit("      select: cheapest ", "      selct: cheapest ", ROUTING),
        "routes[3].target.selct: unknown field (did you mean 'select'?)",
    ),
    (
        "unknown target",
        Edit("target: [claude-sonnet, gpt-4o]\n\ndefault", "target: [claude-sonet, gpt-4o]\n\ndefault"),
        "routes[4].target[0]: unknown model 'claude-sonet' (did you mean 'claude-sonnet'?)",
    ),
    (
        "budgeted model without a price",
        unpriced_budget,
        "budgets.limits[0].measure: usd, but model gemini-pro has no price: set models.gemini-pro.price",
    ),
    (
        "Gemini search fee without what it is billed per",
        Edit(
            "{input_per_mtok: 1.25, output_per_mtok: 10.0}",
            "{input_per_mtok: 1.25, output_per_mtok: 10.0, web_search_per_1k_calls: 35}",
        ),
        "models.gemini-pro.price.web_search_billed_per: required with web_search_per_1k_calls for a Gemini model:"
        " search (Gemini 3: each grounding query) or prompt (Gemini 2.5 and older: each grounded prompt)",
    ),
    (
        "search fee per prompt on a provider that bills each search",
        Edit(
            "{input_per_mtok: 0.15, output_per_mtok: 0.6}",
            "{input_per_mtok: 0.15, output_per_mtok: 0.6, web_search_per_1k_calls: 25, web_search_billed_per: prompt}",
        ),
        "models.gpt-4o-mini.price.web_search_billed_per: prompt is Gemini's grounding only; this provider bills"
        " each search",
    ),
    (
        "search fee per call on a Gemini model",
        Edit(
            "{input_per_mtok: 1.25, output_per_mtok: 10.0}",
            "{input_per_mtok: 1.25, output_per_mtok: 10.0, web_search_per_1k_calls: 35, web_search_billed_per: call}",
        ),
        "models.gemini-pro.price.web_search_billed_per: call is for a model that searches on every call (OpenAI's"
        " search models); Gemini bills its grounding per query (search) or per grounded prompt (prompt)",
    ),
    (
        "search unit without a search fee",
        Edit(
            "{input_per_mtok: 1.25, output_per_mtok: 10.0}",
            "{input_per_mtok: 1.25, output_per_mtok: 10.0, web_search_billed_per: prompt}",
        ),
        "models.gemini-pro.price: web_search_billed_per: names no fee (set web_search_per_1k_calls, or drop it)",
    ),
    (
        "regex that does not compile",
        Edit("regex: '```|def \\w+\\(|", "regex: '```|def \\w+\\(|(", ROUTING),
        "routing.classes[0].rules[0].regex[0]: invalid regular expression: missing ), unterminated subpattern"
        " at position 14",
    ),
    (
        "regex pasted from the web that backtracks exponentially",
        Edit("regex: '```|def \\w+\\(|", "regex: '```|(\\w+\\s?)+$|def \\w+\\(|", ROUTING),
        "routing.classes[0].rules[0].regex[0]: '```|(\\w+\\s?)+$|def \\w+\\(|=>|#include|SELECT .+ FROM' backtracks"
        " exponentially: its repeated part '(\\w+\\s?)+' can match a text in more than one way, and Python's"
        " engine tries every way on a text that almost matches (exponential time, while the event loop of every"
        " pod waits). Write it atomic, '(?>\\w+\\s?)+', or with possessive inner repeats ('a++' for 'a+'), or"
        " so each repetition ends with a separator it cannot match otherwise ('(\\w+\\s)+')",
    ),
    (
        "tab",
        Edit("    window: count\n", "\twindow: count\n"),
        "invalid YAML at line 17, column 1, after defaults.breaker: a tab character: YAML indents with spaces only"
        " (replace the tab with spaces)",
    ),
    (
        "number as text",
        Edit("    deadline_s: 60 ", '    deadline_s: "60s" '),
        "defaults.resilience.deadline_s: Input should be a valid number, unable to parse string as a number"
        " (got '60s')",
    ),
    (
        "environment reference in a value",
        Edit("base_url: https://generativelanguage.googleapis.com", "base_url: ${GEMINI_BASE_URL}"),
        "providers.gemini.base_url: must start with http:// or https:// (the policy does not expand ${...}:"
        " a key comes from api_key: {env: NAME}, other values are written as is)",
    ),
]

# (mistake, the file that loads but cannot be meant, the one warning it gets)
WARNINGS = [
    (
        "route that can never match",
        Edit(
            '  - name: claude-family\n    match: {model: "claude-*"}',
            '  - name: claude-family\n    match: {model: "gpt-3.5-turbo"}',
        ),
        "routes[4].match: never matches: routes[0] (retired) takes every request it would",
    ),
    (
        "duplicate key",
        Edit('    match: {model: "claude-*"}\n', '    match: {model: "claude-*"}\n    match: {app: ops}\n'),
        "line 105: key 'routes[4].match' written twice: only the last one is used",
    ),
    (
        "retry ratio written as a percentage",
        Edit("retry_budget: {ratio: 0.2,", "retry_budget: {ratio: 2,"),
        "defaults.retry_budget.ratio: 2 allows 2 retries per request: in an outage only max_attempts_per_target (2)"
        " holds them back, up to 2x a target's load from every pod (the SRE book keeps retries under 0.1 of"
        " requests, Envoy 0.2)",
    ),
    (
        "timeout written in minutes",
        Edit("timeouts: {connect_s: 3, first_byte_s: 30,", "timeouts: {connect_s: 3, first_byte_s: 0.5,"),
        "providers.openai.timeouts.first_byte_s: 0.5 s is shorter than most models take to start answering (or"
        " pause while thinking): most calls fail and fall back at once, in every pod (the unit is seconds)",
    ),
    (
        "number in quotes",
        Edit("    deadline_s: 60 ", '    deadline_s: "60" '),
        "defaults.resilience.deadline_s: a number written in quotes ('60'): read as 60 (write it without quotes)",
    ),
]


@pytest.mark.parametrize(("mistake", "broken", "error"), ERRORS, ids=[case[0] for case in ERRORS])
def test_validate_names_the_mistake_in_one_line(mistake: str, broken: Callable[[], str], error: str) -> None:
    """A policy with the mistake is refused with exactly one error: its path, what is wrong, and the likely
    fix where there is one."""
    with pytest.raises(PolicyError) as refused:
        load_policy_bytes(broken().encode(), "policy.yaml")
    assert refused.value.errors == [error]


@pytest.mark.parametrize(("mistake", "broken", "warning"), WARNINGS, ids=[case[0] for case in WARNINGS])
def test_validate_warns_of_what_loads_but_cannot_be_meant(
    mistake: str, broken: Callable[[], str], warning: str
) -> None:
    """A policy with the mistake loads (it is valid), with exactly one warning saying what is lost."""
    assert load_policy_bytes(broken().encode(), "policy.yaml").warnings == (warning,)


async def logged(running: RunningSidecar, event: str) -> list[dict[str, object]]:
    """The log lines of ``event``, waited for (at most 3 s)."""
    for _ in range(60):
        lines = [line for line in running.log_lines() if line.get("event") == event]
        if lines:
            return lines
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {event} line in {running.log_lines()}")


@pytest.mark.parametrize(("mistake", "broken", "error"), ERRORS, ids=[case[0] for case in ERRORS])
async def test_a_hot_reload_rejects_the_mistake_and_logs_why(
    mistake: str, broken: Callable[[], str], error: str, sidecar: SidecarFactory
) -> None:
    """Written over the serving policy, the broken file is rejected: the last good policy keeps serving
    and the ``policy_rejected`` line gives the one error ``validate`` gives."""
    running = await sidecar(getattr(broken, "serving", PRODUCTION))
    serving = running.state.holder.policy.version
    running.policy_path.write_text(broken())
    [line] = await logged(running, "policy_rejected")
    assert line["errors"] == [error]
    assert running.state.holder.policy.version == serving


@pytest.mark.parametrize(("mistake", "broken", "warning"), WARNINGS, ids=[case[0] for case in WARNINGS])
async def test_a_hot_reload_loads_what_cannot_be_meant_and_warns(
    mistake: str, broken: Callable[[], str], warning: str, sidecar: SidecarFactory
) -> None:
    """Written over the serving policy, the file is loaded, and a ``policy_warning`` line says what is lost."""
    running = await sidecar(PRODUCTION, env={"GEMINI_API_KEY": "k"})
    await running.reload(broken())
    assert [line["warning"] for line in await logged(running, "policy_warning")] == [warning]


async def test_a_key_variable_unset_in_the_sidecar_is_a_warning_at_reload(sidecar: SidecarFactory) -> None:
    """A provider's ``api_key: {env: NAME}`` naming a variable the sidecar does not have (a typo, a Secret
    not mounted) loads, as ``validate`` in CI must accept it, and the reload's ``policy_warning`` names the
    provider, the variable and what follows: every call to it skipped."""
    running = await sidecar(PRODUCTION, env={"GEMINI_API_KEY": "k"})
    await running.reload(PRODUCTION.replace("{env: GEMINI_API_KEY}", "{env: GEMINI_APIKEY}"))
    assert [line["warning"] for line in await logged(running, "policy_warning")] == [
        "providers.gemini.api_key.env: GEMINI_APIKEY is not set in the sidecar's environment:"
        " gemini's targets are skipped (credentials)"
    ]
