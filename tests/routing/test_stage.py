"""Routing on the request path, end to end: official SDKs -> the sidecar -> fake providers."""

from __future__ import annotations

import base64
from typing import Any

import anthropic
import openai
import pytest

from sidecar.routing.documents import PAGE_TOKENS

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import sdk_client
from .pdfs import pdf
from .policies import MODELS, SELECT_ROUTE, routing_policy

IMAGE = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
TOOL = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
}


async def start(fake: FakeFactory, sidecar: SidecarFactory, routes: str = SELECT_ROUTE) -> RunningSidecar:
    urls = {name: await fake(name) for name in MODELS}
    return await sidecar(routing_policy(urls, routes))


def client(running: RunningSidecar) -> openai.AsyncOpenAI:
    return sdk_client(openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key="app-key")


async def ask(running: RunningSidecar, text: str | list[Any], **extra: Any) -> Any:
    """One chat completion through the OpenAI SDK: a user's text, or the messages; the raw response."""
    messages = [{"role": "user", "content": text}] if isinstance(text, str) else text
    async with client(running) as sdk:
        return await sdk.chat.completions.with_raw_response.create(
            model=extra.pop("model", "auto"), messages=messages, **extra
        )


async def test_simple_prompt_goes_to_the_cheapest_model(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A short prompt needing nothing special is served by the cheapest model, with the decision in headers."""
    running = await start(fake, sidecar)
    raw = await ask(running, "Extract the city: I live in Paris.")
    assert raw.headers["x-sidecar-model"] == "mini"
    assert (raw.headers["x-sidecar-task"], raw.headers["x-sidecar-complexity"]) == ("extraction", "simple")
    assert raw.headers["x-sidecar-tier"] == "economy"
    assert float(raw.headers["x-sidecar-estimated-cost"]) > 0


async def test_tool_request_never_goes_to_a_model_without_tools(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A request declaring tools is served by the cheapest model with the tools capability."""
    running = await start(fake, sidecar)
    raw = await ask(running, "Look up the weather.", tools=[TOOL])
    assert raw.headers["x-sidecar-model"] == "tooled"


async def test_image_never_goes_to_a_model_without_vision(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A request with an image is served by the cheapest model with the vision capability."""
    running = await start(fake, sidecar)
    content = [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": IMAGE}}]
    raw = await ask(running, [{"role": "user", "content": content}])
    assert raw.headers["x-sidecar-model"] == "seeing"


async def test_a_thinking_request_never_goes_to_a_model_that_cannot_think(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """``reasoning_effort`` asks the model to think: the cheapest model with the thinking capability
    serves it (it went to the cheapest model, which cannot think); ``none`` asks for nothing."""
    running = await start(fake, sidecar)
    raw = await ask(running, "Extract the city: I live in Paris.", reasoning_effort="low")
    assert raw.headers["x-sidecar-model"] == "big"
    raw = await ask(running, "Extract the city: I live in Paris.", reasoning_effort="none")
    assert raw.headers["x-sidecar-model"] == "mini"


async def test_no_model_that_can_think_is_a_400_naming_each_candidate(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """With no candidate able to think, the SDK's 400 says so for each (``explain``'s reasons)."""
    running = await start(
        fake,
        sidecar,
        "  - name: auto\n    match: {model: auto}\n    target: {select: cheapest, from: [mini, tooled]}\n",
    )
    with pytest.raises(openai.BadRequestError) as caught:
        await ask(running, "Extract the city: Paris.", reasoning_effort="high")
    assert "mini: no thinking capability (the request asks the model to think)" in str(caught.value)
    assert "tooled: no thinking capability" in str(caught.value)


async def test_long_prompt_never_goes_to_a_too_small_window(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A simple question over a document larger than the cheap model's window skips that model."""
    running = await start(fake, sidecar)
    document = "The report follows. " + "The quarterly numbers rose. " * 1200
    raw = await ask(
        running, [{"role": "system", "content": document}, {"role": "user", "content": "Extract the year."}]
    )
    assert raw.headers["x-sidecar-complexity"] == "simple"
    assert raw.headers["x-sidecar-model"] == "seeing"


async def test_cheapest_chain_falls_back_in_cost_order(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """With the two cheapest models failing, the third cheapest serves, after tries in cost order."""
    running = await start(fake, sidecar)
    raw = await ask(
        running, "Extract the city: Paris.", extra_headers={"x-fake-fault": "mini:status=503,seeing:status=503"}
    )
    assert raw.headers["x-sidecar-model"] == "tooled"
    line = running.log_lines()[-1]
    assert [a.split(":")[0] for a in line["attempt_log"]] == ["mini", "seeing", "tooled"]


async def test_no_capable_model_is_a_400_naming_each_candidate(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """When no candidate has what the request needs, the SDK gets a 400 saying why each one was excluded."""
    running = await start(
        fake,
        sidecar,
        "  - name: auto\n    match: {model: auto}\n    target: {select: cheapest, from: [mini, seeing]}\n",
    )
    with pytest.raises(openai.BadRequestError) as caught:
        await ask(running, "Look up the weather.", tools=[TOOL])
    message = str(caught.value)
    assert "mini: no tools capability" in message and "seeing: no tools capability" in message


async def test_hard_class_raises_the_tier(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A complex prompt ("prove") is served by a premium model, not the cheapest."""
    running = await start(fake, sidecar)
    raw = await ask(running, "Prove that there are infinitely many primes.")
    assert (raw.headers["x-sidecar-task"], raw.headers["x-sidecar-complexity"]) == ("math", "complex")
    assert raw.headers["x-sidecar-model"] == "big"


async def test_trusted_task_header_sets_the_class(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """With task_header: trust, x-sidecar-task names the class (source header in the access line)."""
    running = await start(fake, sidecar)
    raw = await ask(running, "Hello there.", extra_headers={"x-sidecar-task": "math"})
    assert raw.headers["x-sidecar-task"] == "math"
    assert raw.headers["x-sidecar-model"] == "seeing"  # math needs at least standard
    assert running.log_lines()[-1]["task_source"] == "header"


async def test_route_matches_on_task_and_features(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Routes match on task and on features; the first matching one serves."""
    routes = (
        "  - name: tools-to-big\n    match: {features: {tools: true}}\n    target: big\n"
        "  - name: extraction\n    match: {task: extraction}\n    target: seeing\n"
        "  - name: rest\n    target: mini\n"
    )
    running = await start(fake, sidecar, routes)
    assert (await ask(running, "Extract it.", tools=[TOOL])).headers["x-sidecar-route"] == "tools-to-big"
    assert (await ask(running, "Extract the date.")).headers["x-sidecar-route"] == "extraction"
    assert (await ask(running, "Hi.")).headers["x-sidecar-route"] == "rest"


async def test_access_line_carries_the_decision_and_savings(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The access line has task, complexity, tier, features, the estimate and the requested model's cost."""
    routes = "  - name: auto\n    match: {model: big}\n    target: {select: cheapest}\n"
    running = await start(fake, sidecar, routes)
    await ask(running, "Extract the city: Paris.", model="big")
    line = running.log_lines()[-1]
    assert (line["task"], line["complexity"], line["tier"], line["served_model"]) == (
        "extraction",
        "simple",
        "economy",
        "mini",
    )
    assert line["features"]["last_user_chars"] == len("Extract the city: Paris.")
    assert line["requested_model_cost_usd"] > line["cost_usd"] > 0
    assert line["estimated_cost_usd"] > 0


async def test_header_and_access_line_give_the_same_estimate(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """x-sidecar-estimated-cost and the access line's estimated_cost_usd are one figure (computed once)."""
    running = await start(fake, sidecar)
    raw = await ask(running, "Extract the city: I live in Paris.")
    line = running.log_lines()[-1]
    assert float(raw.headers["x-sidecar-estimated-cost"]) == pytest.approx(line["estimated_cost_usd"], abs=1e-6)


async def test_served_as_asked_costs_what_was_requested(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A request the cheapest selection serves with the model it asked for saves nothing: the requested
    model's cost on the access line is the served cost."""
    routes = "  - name: auto\n    match: {model: mini}\n    target: {select: cheapest}\n"
    running = await start(fake, sidecar, routes)
    await ask(running, "Extract the city: Paris.", model="mini")
    line = running.log_lines()[-1]
    assert line["served_model"] == "mini"
    assert line["requested_model_cost_usd"] == line["cost_usd"] > 0


async def test_savings_metric_counts_served_and_requested_cost(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """/metrics has the served and the requested model's cost per route and task."""
    routes = "  - name: auto\n    match: {model: big}\n    target: {select: cheapest}\n"
    running = await start(fake, sidecar, routes)
    await ask(running, "Extract the city: Paris.", model="big")
    async with client(running) as sdk:
        text = (await sdk._client.get(f"{running.url}/metrics")).text
    line = running.log_lines()[-1]
    served = f'llm_sidecar_routing_served_cost_usd_total{{route="auto",task="extraction"}} {line["cost_usd"]}'
    assert any(row.startswith(served[:-4]) for row in text.splitlines())
    assert 'llm_sidecar_routing_requested_cost_usd_total{route="auto",task="extraction"}' in text
    labels = 'arm="",complexity="simple",route="auto",task="extraction",tier="economy"'
    assert f"llm_sidecar_routing_decisions_total{{{labels}}} 1.0" in text


async def test_decision_and_savings_series_count_every_request_in_a_scrape(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A Prometheus scrape of /metrics after several SDK requests shows each decision's series with its
    count (two decisions on the select route, the split route's arm as a label) and the savings counters'
    sums of the access lines' costs: every request of a series adds to the same one."""
    running = await start(fake, sidecar, SELECT_ROUTE.replace("{model: auto}", "{model: big}") + SPLIT)
    for text in ("Extract the city: Paris.", "Extract the city: Oslo.", "Extract the date: May 3.", "Prove 2 > 1."):
        await ask(running, text, model="big")
    await ask(running, "Extract the city: Rome.", model="other", extra_headers={"x-user": "u1"})
    async with client(running) as sdk:
        text = (await sdk._client.get(f"{running.url}/metrics")).text
    arm = running.log_lines()[-1]["split_arm"]
    series = {
        'arm="",complexity="simple",route="auto",task="extraction",tier="economy"': 3.0,
        'arm="",complexity="complex",route="auto",task="math",tier="premium"': 1.0,
        f'arm="{arm}",complexity="simple",route="canary",task="extraction",tier="economy"': 1.0,
    }
    counted = {
        row.split("{", 1)[1].split("}", 1)[0]: float(row.rsplit(" ", 1)[1])
        for row in text.splitlines()
        if row.startswith("llm_sidecar_routing_decisions_total{")
    }
    assert counted == series
    auto = [line for line in running.access_lines() if line.get("route") == "auto"]
    served = next(
        float(row.rsplit(" ", 1)[1])
        for row in text.splitlines()
        if row.startswith('llm_sidecar_routing_served_cost_usd_total{route="auto",task="extraction"}')
    )
    assert served == pytest.approx(sum(line["cost_usd"] for line in auto if line["task"] == "extraction"))


SPLIT = (
    "  - name: canary\n    split:\n      sticky_by: header:x-user\n      arms:\n"
    "        - {target: mini, weight: 50}\n        - {target: [seeing, big], weight: 50, name: candidate}\n"
)


async def test_split_is_sticky_per_key_and_shows_the_arm(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """One user gets one arm every time; the arm is in the header and the access line; both arms serve."""
    running = await start(fake, sidecar, SPLIT)
    arms: dict[str, set[str]] = {}
    for user in ("u1", "u2", "u3", "u4", "u5", "u6"):
        for _ in range(3):
            raw = await ask(running, "Hi.", extra_headers={"x-user": user})
            arms.setdefault(user, set()).add(raw.headers["x-sidecar-split-arm"])
            expected = "mini" if raw.headers["x-sidecar-split-arm"] == "mini" else "seeing"
            assert raw.headers["x-sidecar-model"] == expected
    assert all(len(seen) == 1 for seen in arms.values())
    assert {arm for seen in arms.values() for arm in seen} == {"mini", "candidate"}
    assert running.log_lines()[-1]["split_arm"] in ("mini", "candidate")


CAPS = "  - name: capped\n    target: mini\n    caps: {max_output_tokens: 100, max_input_tokens: 500}\n"


async def test_caps_clamp_max_output_tokens(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A larger max_tokens is clamped to the cap in the body sent upstream, in the field the app used."""
    urls = {name: await fake(name) for name in MODELS}
    running = await sidecar(routing_policy(urls, CAPS))
    await ask(running, "Hi.", model="x", max_tokens=4000)
    sent = (await running.fake_requests(urls["mini"]))[-1]["json"]
    assert sent["max_tokens"] == 100
    assert running.log_lines()[-1]["capped_max_output_tokens"] == 100


async def test_caps_set_max_output_tokens_when_absent(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A request without max tokens gets the cap (max_completion_tokens for OpenAI chat)."""
    urls = {name: await fake(name) for name in MODELS}
    running = await sidecar(routing_policy(urls, CAPS))
    await ask(running, "Hi.", model="x")
    assert (await running.fake_requests(urls["mini"]))[-1]["json"]["max_completion_tokens"] == 100


async def test_caps_refuse_an_oversized_prompt_in_the_callers_dialect(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An estimated prompt over max_input_tokens is a 413 in Anthropic's error shape, with no upstream call."""
    urls = {name: await fake(name) for name in MODELS}
    running = await sidecar(routing_policy(urls, CAPS))
    sdk = sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="app-key")
    with pytest.raises(anthropic.APIStatusError) as caught:
        await sdk.messages.create(model="x", max_tokens=10, messages=[{"role": "user", "content": "word " * 2000}])
    await sdk.close()
    assert caught.value.status_code == 413
    assert caught.value.body["error"]["type"] and "this route accepts at most 500" in caught.value.message
    assert await running.fake_requests(urls["mini"]) == []


async def test_gemini_image_goes_to_a_vision_model(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A Gemini SDK request with an inline image is served by the cheapest model with vision."""
    import base64

    from google.genai import types

    running = await start(fake, sidecar, "  - name: auto\n    target: {select: cheapest}\n")
    image = types.Part.from_bytes(data=base64.b64decode(IMAGE.split(",", 1)[1]), mime_type="image/png")
    response = await gemini_client(running.url).aio.models.generate_content(
        model="auto", contents=[image, "What is in this picture?"]
    )
    assert response.text
    assert running.log_lines()[-1]["served_model"] == "seeing"


async def test_streamed_answer_carries_the_decision(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A streamed answer gets the task headers with its head and is served by the cheapest model."""
    running = await start(fake, sidecar)
    async with client(running) as sdk:
        raw = await sdk.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "Extract the city: Oslo."}], stream=True
        )
        text = "".join([chunk.choices[0].delta.content or "" async for chunk in raw.parse() if chunk.choices])
    assert text
    assert (raw.headers["x-sidecar-model"], raw.headers["x-sidecar-task"]) == ("mini", "extraction")


DENY_ROUTE = '  - name: closed\n    match: {model: closed}\n    deny: {message: "ask for auto", status: 403}\n'


async def test_a_routing_policy_answers_404_for_a_model_no_route_serves(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The routing stage picks the route itself (it takes route_request's place): a model no route serves is a
    404 model_not_found in the caller's dialect, with no routing decision on the answer."""
    running = await start(fake, sidecar)
    async with client(running) as sdk:
        with pytest.raises(openai.NotFoundError) as caught:
            await sdk.chat.completions.create(model="nobody", messages=[{"role": "user", "content": "Hi."}])
    assert caught.value.code == "model_not_found"
    assert "x-sidecar-task" not in caught.value.response.headers


async def test_a_routing_policy_answers_a_deny_route_with_its_status(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A deny route on a routing policy answers its status and message, decided before any routing step."""
    running = await start(fake, sidecar, SELECT_ROUTE + DENY_ROUTE)
    async with client(running) as sdk:
        with pytest.raises(openai.PermissionDeniedError) as caught:
            await sdk.chat.completions.create(model="closed", messages=[{"role": "user", "content": "Hi."}])
    assert "ask for auto" in caught.value.message
    assert "x-sidecar-task" not in caught.value.response.headers


async def _image_and_tool_by_openai_chat(running: RunningSidecar, gemini_client: Any) -> None:
    content = [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": IMAGE}}]
    await ask(running, [{"role": "user", "content": content}], tools=[TOOL])


async def _image_and_tool_by_openai_responses(running: RunningSidecar, gemini_client: Any) -> None:
    content = [{"type": "input_text", "text": "What is this?"}, {"type": "input_image", "image_url": IMAGE}]
    tool = {"type": "function", "name": "lookup", "parameters": TOOL["function"]["parameters"]}
    async with client(running) as sdk:
        await sdk.responses.create(model="auto", input=[{"role": "user", "content": content}], tools=[tool])


async def _image_and_tool_by_anthropic(running: RunningSidecar, gemini_client: Any) -> None:
    image = {"type": "base64", "media_type": "image/png", "data": IMAGE.split(",", 1)[1]}
    content = [{"type": "text", "text": "What is this?"}, {"type": "image", "source": image}]
    tool = {"name": "lookup", "input_schema": TOOL["function"]["parameters"]}
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="app-key") as sdk:
        await sdk.messages.create(
            model="auto", max_tokens=50, messages=[{"role": "user", "content": content}], tools=[tool]
        )


async def _image_and_tool_by_gemini(running: RunningSidecar, gemini_client: Any) -> None:
    import base64

    from google.genai import types

    image = types.Part.from_bytes(data=base64.b64decode(IMAGE.split(",", 1)[1]), mime_type="image/png")
    tool = types.Tool(
        function_declarations=[
            types.FunctionDeclaration(name="lookup", parameters_json_schema=TOOL["function"]["parameters"])
        ]
    )
    await gemini_client(running.url).aio.models.generate_content(
        model="auto", contents=[image, "What is this?"], config=types.GenerateContentConfig(tools=[tool])
    )


@pytest.mark.parametrize(
    "send",
    [
        _image_and_tool_by_openai_chat,
        _image_and_tool_by_openai_responses,
        _image_and_tool_by_anthropic,
        _image_and_tool_by_gemini,
    ],
)
async def test_an_image_and_a_tool_go_to_a_model_with_both_in_every_dialect(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, send: Any
) -> None:
    """Through each official SDK, an image with a tool goes to the one model with vision and tools (big,
    not the cheaper seeing or tooled), and the access line's features count the image and the tool."""
    running = await start(fake, sidecar)
    await send(running, gemini_client)
    line = running.log_lines()[-1]
    assert line["served_model"] == "big"
    assert (line["features"]["images"], line["features"]["tools"]) == (1, 1)


async def _pdf_by_openai_chat(running: RunningSidecar, gemini_client: Any, pdf: bytes) -> None:
    data = f"data:application/pdf;base64,{base64.b64encode(pdf).decode()}"
    content: Any = [{"type": "file", "file": {"filename": "report.pdf", "file_data": data}}, _QUESTION]
    await ask(running, [{"role": "user", "content": content}])


async def _pdf_by_anthropic(running: RunningSidecar, gemini_client: Any, pdf: bytes) -> None:
    source = {"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(pdf).decode()}
    content = [{"type": "document", "source": source}, _QUESTION]
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="app-key") as sdk:
        await sdk.messages.create(model="auto", max_tokens=50, messages=[{"role": "user", "content": content}])


async def _pdf_by_gemini(running: RunningSidecar, gemini_client: Any, pdf: bytes) -> None:
    from google.genai import types

    document = types.Part.from_bytes(data=pdf, mime_type="application/pdf")
    await gemini_client(running.url).aio.models.generate_content(model="auto", contents=[document, "Summarise it."])


_QUESTION = {"type": "text", "text": "Summarise it."}


@pytest.mark.parametrize("send", [_pdf_by_openai_chat, _pdf_by_anthropic, _pdf_by_gemini])
async def test_a_long_pdf_is_not_routed_as_a_short_prompt_in_every_dialect(
    fake: FakeFactory, sidecar: SidecarFactory, gemini_client: Any, send: Any
) -> None:
    """Through each official SDK, a 20-page PDF (its pages packed in a compressed object stream) with a
    short question is estimated at its pages' tokens, so it skips every model whose window it does not
    fit (mini's 4,000 to tooled's 32,000) for big's; counted as one file of 1,500 tokens it went to mini."""
    running = await start(fake, sidecar)
    await send(running, gemini_client, pdf(20, object_stream=True))
    line = running.log_lines()[-1]
    assert (line["features"]["files"], line["features"]["prompt_tokens"] >= 20 * PAGE_TOKENS) == (1, True)
    assert (line["complexity"], line["served_model"]) == ("simple", "big")


async def test_a_routed_line_writes_routings_fields_in_the_documented_order(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """openai-python, a capped split route of a priced requested model: after the tokens and the cost, the
    line's routing fields in docs/logs.md's order (the decision's, the arm, the cap, the features, the
    estimate, the requested model's cost), with their values (the features' output maximum the cap), and nothing
    after them but the trace's ids."""
    routes = (
        "  - name: canary\n    match: {model: big}\n    caps: {max_output_tokens: 100}\n    split:\n"
        "      sticky_by: header:x-user\n      arms:\n        - {target: mini, weight: 100}\n"
    )
    running = await start(fake, sidecar, routes)
    await ask(running, "Extract the city: Paris.", model="big", max_tokens=4000, extra_headers={"x-user": "u1"})
    line = running.log_lines()[-1]
    after = list(line)[list(line).index("cost_usd") + 1 :]
    routing = ["task", "task_source", "complexity", "complexity_source", "tier", "split_arm"]
    routing += ["capped_max_output_tokens", "features", "estimated_cost_usd", "requested_model_cost_usd"]
    assert after in (routing, [*routing, "trace_id", "span_id"])
    assert [line[name] for name in routing[:8]] == [
        *("extraction", "rule", "simple", "rule", "economy", "mini", 100),
        {
            "prompt_tokens": line["features"]["prompt_tokens"],
            "max_output_tokens": 100,
            "turns": 1,
            "last_user_chars": 24,
        },
    ]
    assert line["features"]["prompt_tokens"] > 0
    assert line["requested_model_cost_usd"] > line["cost_usd"] > 0 < line["estimated_cost_usd"]
