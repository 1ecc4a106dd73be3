"""The stack of the SDK tests (tests/server/test_sdk_*.py): a real sidecar in front of one fake provider
per dialect (``start``): models ``from-openai``, ``from-anthropic``, ``from-gemini`` each name one
provider (``idle_s`` 0.3, so that a stream quiet past it ends with the sidecar's error event), and the
route ``static`` whose one target fails under ``x-fake-fault`` and whose last resort is ``STATIC``."""

from __future__ import annotations

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block

STATIC = "please try again later"
DIALECTS = ("openai", "anthropic", "gemini")


async def start(fake: FakeFactory, sidecar: SidecarFactory) -> RunningSidecar:
    """A fake per dialect (``from-<dialect>``, idle_s 0.3) and ``static``: a failing target whose last
    resort is a canned answer."""
    text = "version: 1\nproviders:\n"
    for dialect in DIALECTS:
        text += provider_block(f"p-{dialect}", await fake(f"f-{dialect}"), dialect)
        text += "    timeouts: {idle_s: 0.3}\n"
    text += "models:\n" + "".join(f"  from-{d}: {{provider: p-{d}, model: up-{d}}}\n" for d in DIALECTS)
    text += "routes:\n  - name: static\n    match: {model: static}\n    target: from-openai\n"
    text += f"    resilience: {{last_resort: {{kind: static, static: {{text: '{STATIC}'}}}}}}\n"
    return await sidecar(text)
