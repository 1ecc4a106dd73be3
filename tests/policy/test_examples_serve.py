"""Every example policy serves as its comments say: each of ``policies/*.yaml``, the demo policy and the
deploy kit's ConfigMap policies, served by a real sidecar with a fake provider (docs/fake-provider.md)
standing in for each provider it names (its keys given as the file says: environment variables, key
files, or the app's own key passed through) and a real redis-server for its budget store and its cache;
one request per route (more where a comment promises more) through the official SDK of a caller of
that route, and the route, the model and the provider that answer are the ones the file's comments give
(and, where its ``access_log`` block samples the access log, whether the request's line is written).

A route added to an example needs a case here: ``test_every_route_of_every_example_has_a_case``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import anthropic
import openai
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import FakeFactory, RunningSidecar, SidecarFactory
from tests.redis_server import RedisServer
from tests.sdk_clients import gemini_http_options, sdk_client, suite_tls
from tests.server.cache_helpers import written
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(
    str(path.relative_to(ROOT))
    for path in [
        *ROOT.glob("policies/*.yaml"),
        ROOT / "sidecar/demo/policy.yaml",
        *ROOT.glob("deploy/k8s/**/policy.yaml"),
    ]
)
PASSWORD = "redis-pw"  # the redis-server's, for the default user (the cache) and the user `sidecar` (budgets)
APP_KEY = "the-apps-own-key"  # what an app's SDK sends as its key (passed through by `passthrough: true`)


@dataclass(frozen=True)
class Case:
    """One request to an example policy, through one SDK, and what the policy's comments say of it:
    the response headers expected (``x-sidecar-route``, ``-model``, ``-provider``...; ``...`` in a value
    stands for any text, ``absent`` for no such header) and the status (a denial's)."""

    route: str
    sdk: str  # openai, anthropic, gemini, or openai-embeddings
    model: str
    expect: dict[str, str]
    prompt: str = "hello"
    headers: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    repeat: int = 1  # send it this many times; the last answer is checked
    fakes: dict[str, dict[str, Any]] = field(default_factory=dict)  # a provider's fake's FakeConfig fields
    upstream: dict[str, Any] = field(default_factory=dict)  # fields of the body the provider got
    policy: str = ""  # set from CASES_BY_POLICY
    # A policy whose access_log samples the access lines: "whole" (the line is written, without
    # sample_rate: an always kind, or a route at sample 1) or "drawn" (written with this sample_rate, or
    # left out and counted in llm_sidecar_access_lines_sampled_out_total); "" not checked.
    access_line: str = ""
    sample_rate: float = 0.0

    @property
    def id(self) -> str:
        return f"{Path(self.policy).stem if self.policy.startswith('policies') else self.policy}:{self.route}"


def served_by(model: str, provider: str, route: str | None = None, **more: str) -> dict[str, str]:
    expect = {"x-sidecar-model": model, "x-sidecar-provider": provider, **more}
    return expect if route is None else {"x-sidecar-route": route, **expect}


SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "invoice",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"total": {"type": "number"}, "currency": {"type": "string"}},
            "required": ["total", "currency"],
            "additionalProperties": False,
        },
    },
}
ANSWER = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "schema": {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]},
    },
}
LONG = "Please read this. " * 24_000  # ~108,000 estimated tokens: routing.yaml's big documents

# A deterministic classification twice: the second answer is the cached one (caching.yaml and the
# deploy kit's redis-cache overlay).
CACHED_CLASSIFY = Case(
    "classify",
    "openai",
    "classifier",
    served_by("gpt-4o-mini", "openai", "classify", **{"x-sidecar-cache": "hit"}),
    options={"temperature": 0},
    repeat=2,
)
# deploy/k8s/base/policy.yaml's routes, each by its first target and by its fallback.
BASE_POLICY_CASES = [
    Case("claude", "anthropic", "claude-haiku-4-5", served_by("claude-haiku", "anthropic", "claude")),
    Case(
        "claude",
        "anthropic",
        "claude-haiku-4-5",
        served_by("gpt-4o-mini", "openai", "claude"),
        headers={"x-fake-fault": "anthropic:overloaded"},
    ),
    Case("default", "openai", "gpt-4o", served_by("gpt-4o-mini", "openai", "default")),
    Case(
        "default",
        "gemini",
        "gemini-2.0-flash",
        served_by("gemini-flash", "gemini", "default"),
        headers={"x-fake-fault": "openai:status=500"},
    ),
]

CASES_BY_POLICY: dict[str, list[Case]] = {
    "policies/minimal.yaml": [
        Case("default", "openai", "gpt-4o", served_by("gpt-4o-mini", "openai", "default")),
    ],
    "policies/production.yaml": [
        Case(
            "retired",
            "openai",
            "gpt-3.5-turbo",
            {"x-sidecar-route": "retired", "message": "retired model; use gpt-4o-mini"},
            status=403,
            access_line="whole",  # an error: always written
        ),
        Case(
            "embeddings",
            "openai-embeddings",
            "text-embedding-3-small",
            served_by("text-embedding", "openai", "embeddings"),
        ),
        Case(
            "premium",
            "openai",
            "gpt-4o",
            served_by("claude-sonnet", "anthropic", "premium"),
            headers={"x-sidecar-app": "checkout"},
            access_line="whole",  # the route's own sample: 1
        ),
        Case(
            "long-documents",
            "gemini",
            "gemini-2.5-pro",
            served_by("gemini-pro", "gemini", "long-documents"),
            headers={"x-task": "summarize-long"},
        ),
        Case("claude-family", "anthropic", "claude-3-opus", served_by("claude-sonnet", "anthropic", "claude-family")),
        Case(  # a plain success: drawn at the policy's sample, 0.1
            "default",
            "openai",
            "mistral",
            served_by("gpt-4o-mini", "openai", "default"),
            access_line="drawn",
            sample_rate=0.1,
        ),
        Case(  # the default route's last resort: every target failed, the canned answer
            "default",
            "openai",
            "mistral",
            {
                "x-sidecar-route": "default",
                "x-sidecar-degraded": "static",
                "text": "The assistant is unavailable right now. Please try again in a minute.",
            },
            headers={"x-fake-fault": "status=503"},
            access_line="whole",  # degraded: always written
        ),
    ],
    "policies/budgets.yaml": [
        Case(
            "chat",
            "openai",
            "gpt-4o",
            served_by(
                "gpt-4o", "openai", "chat", **{"x-sidecar-budget-limit": "...", "x-sidecar-budget-remaining": "..."}
            ),
            headers={"x-team": "search"},
        ),
        Case(  # OpenAI failing, the chain falls back to Anthropic
            "chat",
            "anthropic",
            "gpt-4o",
            served_by("claude-sonnet", "anthropic", "chat"),
            headers={"x-fake-fault": "openai:status=503"},
        ),
    ],
    "policies/caching.yaml": [
        CACHED_CLASSIFY,
        Case(
            "evals",
            "openai",
            "gpt-4o",
            served_by("gpt-4o-mini", "openai", "evals", **{"x-sidecar-cache": "hit"}),
            headers={"x-sidecar-app": "eval-runner"},
            options={"temperature": 1},
            repeat=2,
        ),
        Case(
            "default",
            "openai",
            "gpt-4o",
            served_by("gpt-4o-mini", "openai", "default", **{"x-sidecar-cache": "absent"}),
            options={"temperature": 0},
            repeat=2,
        ),
    ],
    "policies/compatible-servers.yaml": [
        Case(
            "local-first",
            "openai",
            "llama3",
            served_by(
                "llama-local", "vllm", "local-first", **{"x-sidecar-upstream-model": "meta-llama/Llama-3.1-8B-Instruct"}
            ),
        ),
        Case(  # the local servers down: Groq, with the app's own key
            "local-first",
            "openai",
            "llama3",
            served_by("llama-groq", "groq", "local-first"),
            headers={"x-fake-fault": "vllm:status=503, ollama:status=503"},
        ),
        Case(
            "default",
            "openai",
            "gpt-4o",
            served_by("gpt-4o-azure", "azure", "default", **{"x-sidecar-upstream-model": "gpt-4o-prod"}),
        ),
    ],
    "policies/ensemble.yaml": [
        Case(
            "refund-decision",
            "openai",
            "gpt-4o-mini",
            {"x-sidecar-route": "refund-decision", "x-sidecar-ensemble": "strategy=majority; ...", "text": "approve"},
            prompt="approve",
            headers={"x-sidecar-app": "refunds"},
        ),
        Case(  # two of the three members failing: one answer is an error, not a decision
            "refund-decision",
            "openai",
            "gpt-4o-mini",
            {
                "x-sidecar-route": "refund-decision",
                "message": "ensemble: 1 usable answer(s) from 3 members, min_members is 2 ...",
            },
            prompt="approve",
            headers={"x-sidecar-app": "refunds", "x-fake-fault": "anthropic:status=500, gemini:status=500"},
            status=502,
        ),
        Case(
            "summary",
            "openai",
            "summarizer",
            {"x-sidecar-route": "summary", "x-sidecar-ensemble": "strategy=judge; ..."},
        ),
        Case(
            "extract",
            "openai",
            "extractor",
            served_by("gpt-4o-mini", "openai", "extract", **{"x-sidecar-gates": "passed"}),
            options={"response_format": SCHEMA},
        ),
        Case(  # the cheap model's JSON never fits: asked once more, then the premium model
            "extract",
            "openai",
            "extractor",
            served_by(
                "gpt-4o",
                "openai",
                "extract",
                **{"x-sidecar-gates": "passed; rejected=gpt-4o-mini:json_schema,gpt-4o-mini:json_schema"},
            ),
            headers={"x-fake-truth": "answer=42"},
            options={"response_format": ANSWER},
            fakes={"openai": {"quality": {"gpt-4o-mini": {"invalid_json": 1}}}},
        ),
        Case("trusted", "anthropic", "claude-sonnet-4-6", served_by("claude-sonnet", "anthropic", "trusted")),
    ],
    "policies/routing.yaml": [
        Case(
            "embeddings",
            "openai-embeddings",
            "text-embedding-3-small",
            served_by("text-embedding-3-small", "openai", "embeddings"),
        ),
        Case(
            "canary",
            "openai",
            "auto",
            {"x-sidecar-route": "canary", "x-sidecar-complexity": "complex", "x-sidecar-split-arm": "..."},
            prompt="Prove that the square root of 2 is irrational, step by step.",
            headers={"x-sidecar-app": "checkout", "x-user-id": "u-17"},
        ),
        Case(
            "big-documents",
            "gemini",
            "gemini-2.0-flash",
            served_by("gpt-4.1-mini", "openai", "big-documents", **{"x-sidecar-tier": "standard"}),
            prompt=LONG,
        ),
        Case(  # caps: a larger estimated prompt is refused, in the caller's dialect
            "big-documents",
            "openai",
            "auto",
            {
                "x-sidecar-route": "big-documents",
                "message": "the prompt is about ... tokens (estimated); this route accepts at most 900,000: ...",
            },
            prompt=LONG * 9,
            status=413,
        ),
        Case(  # a hard question on it: premium, the one with the window for it
            "big-documents",
            "gemini",
            "gemini-2.0-flash",
            served_by("gemini-pro", "gemini", "big-documents", **{"x-sidecar-tier": "premium"}),
            prompt=LONG + "Explain its argument step by step.",
        ),
        Case(
            "by-task",
            "openai",
            "auto",
            served_by(
                "gemini-flash", "gemini", "by-task", **{"x-sidecar-task": "classification", "x-sidecar-tier": "economy"}
            ),
            prompt="Classify the sentiment: I loved it",
            upstream={"generationConfig": {"maxOutputTokens": 4096}},  # caps: set when the request has none
        ),
        Case(  # an app may say its task
            "by-task",
            "openai",
            "auto",
            served_by(
                "gpt-4o-mini", "openai", "by-task", **{"x-sidecar-task": "extraction", "x-sidecar-tier": "standard"}
            ),
            prompt="Here is the ticket the customer wrote to us this morning, with their order number, address and "
            "the items that arrived broken.",
            headers={"x-sidecar-task": "extraction"},
        ),
    ],
    "sidecar/demo/policy.yaml": [
        Case("smart", "openai", "smart", served_by("claude-haiku", "fake-anthropic", "smart")),
        Case(
            "smart",
            "openai",
            "smart",
            served_by("gpt-4o-mini", "fake-openai", "smart", **{"x-sidecar-fallback-reason": "overloaded"}),
            headers={"x-fake-fault": "fake-anthropic:status=529"},
        ),
        Case(
            "block-legacy",
            "openai",
            "gpt-3.5-turbo",
            {"x-sidecar-route": "block-legacy", "message": "gpt-3.5 models are retired here; ask for gpt-4o-mini"},
            status=403,
        ),
        Case("default", "gemini", "gemini-2.0-flash", served_by("gpt-4o-mini", "fake-openai", "default")),
    ],
    "deploy/k8s/base/policy.yaml": BASE_POLICY_CASES,
    # the base policy's routes, and a classification route cached in Redis
    "deploy/k8s/overlays/redis-cache/policy.yaml": [CACHED_CLASSIFY, *BASE_POLICY_CASES],
}
CASES = [replace(case, policy=policy) for policy, cases in CASES_BY_POLICY.items() for case in cases]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the module: the default user (the caches) and the user ``sidecar`` (the
    budget stores) both with the password the policies' secrets give."""
    acl = ("--requirepass", PASSWORD, "--user", "sidecar", "on", f">{PASSWORD}", "~*", "&*", "+@all")
    server = RedisServer(tmp_path_factory.mktemp("redis"), acl).launch()
    yield server
    server.kill()


def stand_in(
    text: str, fakes: dict[str, str], tmp_path: Path, redis_url: str
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The policy with each provider's base URL on its fake (an OpenAI one's ending in /v1), its key files
    and its Redis URLs here: (policy, the sidecar's environment, the key each provider should send)."""
    policy = yaml.safe_load(text)
    env = {"REDIS_PASSWORD": PASSWORD}
    keys = {}
    for name, provider in policy["providers"].items():
        path = urlsplit(provider["base_url"]).path.rstrip("/")  # Groq's /openai/v1: the fake's /v1
        provider["base_url"] = fakes[name] + ("/v1" if path.endswith("/v1") else path)
        source = provider.get("api_key") or {}
        if source:
            keys[name] = APP_KEY if source.get("passthrough") else f"key-of-{name}"
        if "env" in source:
            env[source["env"]] = keys[name]
        if "file" in source:
            source["file"] = str(tmp_path / f"{name}-api-key")
            Path(source["file"]).write_text(keys[name])
    (tmp_path / "redis-password").write_text(PASSWORD)
    for store in ((policy.get("budgets") or {}).get("store"), (policy.get("cache") or {}).get("redis")):
        if store:
            store["url"] = redis_url
            if "file" in store["password"]:
                store["password"]["file"] = str(tmp_path / "redis-password")
    return policy, env, keys


@pytest.fixture
async def genai_at() -> AsyncIterator[Any]:
    """google-genai clients at a URL with default headers, over httpx (closed after the test)."""
    import httpx2
    from google import genai

    transports: list[Any] = []

    def make(url: str, headers: dict[str, str]) -> Any:
        transport = httpx2.AsyncClient(verify=suite_tls())
        transports.append(transport)
        options = gemini_http_options(base_url=url, headers=headers, httpx_async_client=transport)
        return genai.Client(api_key=APP_KEY, http_options=options)

    yield make
    for transport in transports:
        await transport.aclose()


async def send(case: Case, running: RunningSidecar, genai_at: Any) -> tuple[int, dict[str, str], str]:
    """The case's request through its SDK: (status, response headers, the answer's text or the error's)."""
    hello = [{"role": "user", "content": case.prompt}]
    if case.sdk.startswith("openai"):
        async with sdk_client(
            openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key=APP_KEY, default_headers=case.headers
        ) as client:
            try:
                if case.sdk == "openai-embeddings":
                    raw: Any = await client.embeddings.with_raw_response.create(model=case.model, input="hello")
                    return raw.status_code, dict(raw.headers), ""
                raw = await client.chat.completions.with_raw_response.create(
                    model=case.model, messages=hello, **case.options
                )
                return raw.status_code, dict(raw.headers), raw.parse().choices[0].message.content or ""
            except openai.APIStatusError as error:
                return error.status_code, dict(error.response.headers), error.body["message"]  # type: ignore[index]
    if case.sdk == "anthropic":
        async with sdk_client(
            anthropic.AsyncAnthropic, base_url=running.url, api_key=APP_KEY, default_headers=case.headers
        ) as client:
            answer = await client.messages.with_raw_response.create(model=case.model, max_tokens=64, messages=hello)  # type: ignore[arg-type]
            return answer.status_code, dict(answer.headers), (await answer.parse()).content[0].text  # type: ignore[union-attr]
    reply = await genai_at(running.url, case.headers).aio.models.generate_content(
        model=case.model, contents=case.prompt
    )
    return 200, dict(reply.sdk_http_response.headers), reply.text or ""


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_each_route_of_an_example_policy_serves_as_its_comments_say(
    case: Case,
    fake: FakeFactory,
    sidecar: SidecarFactory,
    redis_server: RedisServer,
    genai_at: Any,
    tmp_path: Path,
) -> None:
    """A request for the route, through the SDK of its caller, is answered by the route, model and
    provider the policy's comments give (a denial with its status and message), and the provider that
    answered got the key the policy names for it (the file's, the variable's or the app's own)."""
    text = (ROOT / case.policy).read_text()
    names = yaml.safe_load(text)["providers"]
    fakes = {name: await fake(name, **case.fakes.get(name, {})) for name in names}
    with redis_server.client(password=PASSWORD) as client:
        client.flushall()
    policy, env, keys = stand_in(text, fakes, tmp_path, redis_server.url)
    running = await sidecar(yaml.safe_dump(policy, sort_keys=False), env=env)
    misses = 0
    for sent in range(1, case.repeat + 1):
        status, headers, said = await send(case, running, genai_at)
        misses += headers.get("x-sidecar-cache") == "miss"
        if sent < case.repeat and misses:
            await written(running, misses)  # a miss's write follows its answer: the next could miss too
    assert status == case.status, said
    for name, value in case.expect.items():
        seen = said if name in ("text", "message") else headers.get(name, "absent")
        shown = re.compile(".*?".join(re.escape(part) for part in value.split("...")), re.S)
        assert shown.fullmatch(seen) and (seen == "absent") == (value == "absent"), (name, seen, headers)
    provider = headers.get("x-sidecar-provider")
    if provider in keys and "x-sidecar-degraded" not in headers:
        upstream = (await running.fake_requests(fakes[provider]))[-1]
        assert any(keys[provider] in value for value in upstream["headers"].values()), upstream["headers"]
        assert {name: upstream["json"].get(name) for name in case.upstream} == case.upstream
    if case.access_line:
        await check_access_line(case, running)


async def written_and_sampled_out(running: RunningSidecar, requests: int) -> tuple[list[dict[str, Any]], float]:
    """The access lines written and the count of lines sampled out (``/metrics``), once the two account for
    ``requests`` requests (a line is decided after its answer is written)."""

    async def seen() -> tuple[list[dict[str, Any]], float]:
        async with aiohttp.ClientSession() as session, session.get(f"{running.url}/metrics") as response:
            text = await response.text()
        families = text_string_to_metric_families(text)
        counted = [
            s.value for f in families for s in f.samples if s.name == "llm_sidecar_access_lines_sampled_out_total"
        ]
        return running.access_lines(), sum(counted)

    return await until(seen, lambda found: len(found[0]) + found[1] >= requests)


async def check_access_line(case: Case, running: RunningSidecar) -> None:
    """The case's request's access line is as the policy's access_log block says (``Case.access_line``)."""
    lines, sampled_out = await written_and_sampled_out(running, case.repeat)
    if case.access_line == "whole":
        assert sampled_out == 0 and "sample_rate" not in lines[-1], (lines, sampled_out)
    else:
        assert sampled_out == 1 or lines[-1]["sample_rate"] == case.sample_rate, (lines, sampled_out)


def test_every_route_of_every_example_has_a_case() -> None:
    """Each route of each example policy (its default route included) is served by a case above, so a
    route added to an example is tested here too."""
    routes = set()
    for name in EXAMPLES:
        policy = yaml.safe_load((ROOT / name).read_text())
        named = [route["name"] for route in policy.get("routes") or []]
        if "default" in policy:
            named.append(policy["default"].get("name", "default"))
        routes |= {(name, route) for route in named}
    assert routes == {(case.policy, case.route) for case in CASES}
