"""A fake LLM API server speaking the OpenAI, Anthropic and Gemini wire formats, with fault injection.

The project's tests run it as the upstream behind the sidecar; users run it (``llm-sidecar
fake-provider``) to test how their apps handle slow, failing and broken providers. User documentation:
``docs/fake-provider.md``.

Map (request flow top to bottom; each module holds one concept):

- ``cli``              flags -> ``FakeConfig``; serve until SIGINT/SIGTERM
- ``config``           ``FakeConfig`` (immutable) and runtime updates with validation
- ``app``              ``build_app``: route table, recording middleware, the one provider handler
- ``control``          ``/_fake/requests``, ``/_fake/stats``, ``/_fake/reset``, ``/_fake/config``
- ``state``            ``FakeState`` on the app (``STATE`` key): config, request log, ``times`` counters,
                       seeded RNGs; chooses each request's faults
- ``faults``           the fault grammar (``[server:]kind[=value][;option=value]...``), parser, plan
- ``wire``             I/O: timing, streaming with real flushes, connection drops, fault outcomes
- ``errors``           error answers per dialect: messages, 429 retry hints, quota, context overflow
- ``replies``          the contract between builders and ``wire``: ``Call`` -> ``JsonReply``/``StreamReply``
- ``conversation``     the dialect-neutral fake model: echo or fixed reply, tool calls, token estimates
- ``examples``         values that satisfy a JSON Schema (the fake model's tool arguments and JSON)
- ``truth``            the right answer carried in the request (``x-fake-truth``, ``[truth:SPEC]``)
- ``profiles``         quality profiles: how often each fake model is right per task class, how it errs
- ``quality``          the graded fake model: right, wrong or refusing as its profile says
- ``signatures``       signed reasoning (Anthropic, Gemini 3): signatures it can verify, a history without one refused
- ``openai_chat``      /v1/chat/completions, /v1/completions (and the Azure deployment forms)
- ``openai_responses`` /v1/responses
- ``embeddings``       deterministic vectors: /v1/embeddings, Gemini :embedContent / :batchEmbedContents
- ``anthropic``        /v1/messages, /v1/messages/count_tokens
- ``gemini``           :generateContent, :streamGenerateContent, :countTokens
- ``catalog``          model listings

Dialect builders are pure functions (``Call`` -> ``Reply``), testable without a server.
"""

from typing import TYPE_CHECKING, Any

from sidecar.fake_provider.cli import add_arguments, run_from_args
from sidecar.fake_provider.config import FakeConfig

if TYPE_CHECKING:
    from sidecar.fake_provider.app import build_app

__all__ = ["FakeConfig", "add_arguments", "build_app", "run_from_args"]


def __getattr__(name: str) -> Any:
    # ``build_app`` (and aiohttp with it) loads on first use: the sidecar's own ``run`` imports this
    # package for the ``fake-provider`` command's flags only.
    if name == "build_app":
        from sidecar.fake_provider.app import build_app

        return build_app
    raise AttributeError(name)
