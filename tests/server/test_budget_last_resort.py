"""A route's last resort answers with no model (its static text, a stale entry): the budgets charge only
what the failed calls billed, as for an error, never the reservation's estimate."""

from __future__ import annotations

from ..conftest import FakeFactory, SidecarFactory
from .budget_policies import LIMITS, access_line, budget_rows, chat, openai_sdk, policy, two_fakes

STATIC = "[big, alt], resilience: {max_attempts_per_target: 1, last_resort: {kind: static, static: {text: later}}}"


async def test_a_static_last_resort_after_refusals_charges_nothing(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Both targets answer 503 (refused: not billed) and the static text answers 200: every budget row
    stays at 0, as the access line's missing cost says (before 2026-12-05 the rows held the last
    target's estimate, its output maximum included, for good)."""
    running = await sidecar(policy(*await two_fakes(fake), LIMITS, route=STATIC))
    client = await openai_sdk(running)
    answer = await client.chat.completions.create(**chat(max_tokens=50), extra_headers={"x-fake-fault": "status=503"})
    await client.close()
    assert answer.choices[0].message.content == "later"
    line = access_line(running)
    assert (line["outcome"], line["attempts"], "cost_usd" in line) == ("degraded", 2, False)
    rows = await budget_rows(running)
    assert {name: row["used"] for name, row in rows.items()} == {"tokens-month/*": 0, "usd-month/*": 0}
