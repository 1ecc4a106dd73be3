"""``x-sidecar-cost`` (server/bill.py): the bill on a whole answer's head, the access line's ``cost_usd``
to the digit, read by the official SDKs (``with_raw_response``), on an ensemble, a gated re-ask, a
fallback after a billed failure and an error after one; 0 on a cache hit; none on a stream or an
unpriced model. Real fake providers on loopback, a real sidecar."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from .budget_policies import LIMITS, policy
from .cache_helpers import ask, cache_policy
from .ensemble_policies import ensemble_route, models_policy

PLAIN = "  - {name: plain, match: {model: plain}, target: [m0]}\n"
MESSAGES: Any = [{"role": "user", "content": "what does it cost"}]
SCHEMA: Any = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}
FORMAT: Any = {"type": "json_schema", "json_schema": {"name": "ticket", "schema": SCHEMA}}


def access_line(running: RunningSidecar) -> dict[str, Any]:
    return [line for line in running.log_lines() if line.get("event") == "access"][-1]


def same_bill(header: str, line: dict[str, Any]) -> bool:
    """The header is the line's ``cost_usd``, 8 decimals, to the digit, and the request cost something."""
    return float(header) == line["cost_usd"] > 0 and len(header.split(".")[1]) == 8


async def openai_raw(running: RunningSidecar, model: str, **body: Any) -> Any:
    async with openai_client(running) as client:
        return await client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES, **body)


async def test_the_openai_sdk_reads_the_bill_of_a_whole_answer_as_the_access_line_says_it(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A plain route's answer (the usage read just before its head): ``x-sidecar-cost`` is ``cost_usd``."""
    running = await sidecar(models_policy([await fake("f0")], PLAIN))
    raw = await openai_raw(running, "plain")
    assert same_bill(raw.headers["x-sidecar-cost"], access_line(running))


async def test_the_anthropic_sdk_reads_the_bill_of_a_translated_answer(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An Anthropic app served by an OpenAI-dialect model reads the same figure with ``with_raw_response``."""
    running = await sidecar(
        models_policy(
            [await fake("f0")], "  - {name: plain, match: {model: plain}, target: [m0]}\n", speaks=("openai",)
        )
    )
    async with anthropic_client(running) as client:
        raw = await client.messages.with_raw_response.create(model="plain", max_tokens=64, messages=MESSAGES)
    assert same_bill(raw.headers["x-sidecar-cost"], access_line(running))


async def test_an_ensembles_bill_counts_every_member_and_the_judge(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Two members and a judge: the header counts the three calls, as ``cost_usd`` does (more than the winner's)."""
    urls = [await fake("f0", reply="blue"), await fake("f1", reply="red"), await fake("f2", reply='{"best": 1}')]
    route = ensemble_route("m0, m1", "strategy: judge\njudge: {target: m2}")
    running = await sidecar(models_policy(urls, route, speaks=("openai",)))
    raw = await openai_raw(running, "vote")
    line = access_line(running)
    assert "decided=judge" in raw.headers["x-sidecar-ensemble"]
    assert same_bill(raw.headers["x-sidecar-cost"], line)
    assert sorted(line["attempt_log"]) == ["m0:ok", "m1:ok", "m2:ok"]


async def test_a_gated_reask_bills_the_rejected_answers_too(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A gate rejects m0's answer and its re-ask, m1's passes: the header counts the three calls."""
    urls = [await fake("f0", reply="not json"), await fake("f1", reply='{"label": "bug"}')]
    route = (
        "  - name: gated\n    match: {model: gated}\n    target: [m0, m1]\n    gates: {on_fail: reask, max_reasks: 1}\n"
    )
    running = await sidecar(models_policy(urls, route, speaks=("openai",)))
    raw = await openai_raw(running, "gated", response_format=FORMAT)
    assert raw.headers["x-sidecar-gates"] == "passed; rejected=m0:json_schema,m0:json_schema"
    line = access_line(running)
    assert same_bill(raw.headers["x-sidecar-cost"], line)
    assert line["input_tokens"] > 3 * 4  # the three calls' prompts


async def test_a_fallback_after_a_billed_failure_bills_both_calls(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The first call answers 200 and breaks off (billed), the second answers: the header counts both."""
    running = await sidecar(policy(await fake("one", fault="reset-body", fault_rate=1), await fake("two"), LIMITS))
    raw = await openai_raw(running, "chat", max_tokens=20)
    line = access_line(running)
    assert line["billed_failures"] == [line["attempt_log"][0]]
    assert same_bill(raw.headers["x-sidecar-cost"], line)


async def test_an_error_after_a_billed_failure_carries_its_cost(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Every target failed, the first after its 200 (billed): the error's head says what that call cost."""
    failing = await fake("one", fault="reset-body", fault_rate=1)
    refusing = await fake("two", fault="status=503", fault_rate=1)
    running = await sidecar(policy(failing, refusing, LIMITS))
    async with openai_client(running) as client:
        with pytest.raises(openai.APIStatusError) as raised:
            await client.with_options(max_retries=0).chat.completions.create(
                model="chat", messages=MESSAGES, max_tokens=20
            )
    assert raised.value.status_code >= 500
    assert same_bill(raised.value.response.headers["x-sidecar-cost"], access_line(running))


async def test_a_cache_hit_says_it_cost_nothing(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The miss's head says what its call cost; the hit's says 0 (its access line has no ``cost_usd``)."""
    running = await sidecar(cache_policy([await fake("f0")]))
    _, miss = await ask(running)
    assert same_bill(miss.headers["x-sidecar-cost"], access_line(running))
    _, hit = await ask(running)
    assert hit.headers["x-sidecar-cache"] == "hit"
    assert hit.headers["x-sidecar-cost"] == "0.00000000" and "cost_usd" not in access_line(running)


async def test_a_stream_has_no_cost_header_and_its_line_has_the_cost(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A stream's head goes out before its usage: no header; its access line still has ``cost_usd``."""
    running = await sidecar(models_policy([await fake("f0")], PLAIN))
    async with (
        openai_client(running) as client,
        client.chat.completions.with_streaming_response.create(
            model="plain", messages=MESSAGES, stream=True
        ) as streamed,
    ):
        assert "x-sidecar-cost" not in streamed.headers
        assert "x-sidecar-model" in streamed.headers
        [_ async for _ in streamed.iter_lines()]
    assert access_line(running)["cost_usd"] > 0


async def test_an_unpriced_models_answer_has_no_cost_header(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A model without a price: its bill is not known, so the head says none (not 0)."""
    text = models_policy([await fake("f0")], PLAIN)
    running = await sidecar(text.replace(", price: {input_per_mtok: 1, output_per_mtok: 10}", ""))
    raw = await openai_raw(running, "plain")
    assert "x-sidecar-cost" not in raw.headers and raw.headers["x-sidecar-model"] == "m0"


async def test_a_request_refused_before_any_call_says_it_cost_nothing(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A body that is not JSON is refused before a call: 400, and a bill of 0."""
    running = await sidecar(models_policy([await fake("f0")], PLAIN))
    async with openai_client(running) as client:
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(model="plain", messages="not a list")  # type: ignore[arg-type]
    assert raised.value.response.headers["x-sidecar-cost"] == "0.00000000"
