"""Routing test policies over fake providers: one fake server per model, so a fault can hit one."""

from __future__ import annotations

from ..conftest import provider_block
from ..server.chain import CONNECT

MODELS = {
    # name: (context window, capabilities, input $/Mtok, output $/Mtok, tier)
    "mini": (4000, "[chat, streaming, json]", 0.15, 0.6, "economy"),
    "seeing": (16000, "[chat, streaming, vision, json]", 1.0, 4.0, "standard"),
    "tooled": (32000, "[chat, streaming, tools, json]", 2.0, 8.0, "standard"),
    "big": (200000, "[chat, streaming, tools, vision, json, thinking]", 2.5, 10.0, "premium"),
}

ROUTING = """routing:
  task_header: trust
  classes:
    - name: extraction
      rules: [{keywords: [extract]}]
    - name: math
      min_tier: standard
      rules: [{keywords: [prove, integral]}]
  complexity:
    default: medium
    levels:
      - name: simple
        tier: economy
        rules: [{features: {last_user_chars: {lt: 200}}}]
      - name: medium
        tier: standard
      - name: complex
        tier: premium
        rules: [{keywords: [prove]}]
"""


def routing_policy(urls: dict[str, str], routes: str, *, routing: str = ROUTING) -> str:
    """``urls``: model name -> its fake server's URL; ``routes``: the routes block's items."""
    text = "version: 1\ndefaults:\n"
    text += "  resilience: {backoff: {base_s: 0.01, cap_s: 0.02}, deadline_s: 10, " + CONNECT + "}\n"
    text += "providers:\n" + "".join(provider_block(f"p-{name}", url, "openai") for name, url in urls.items())
    text += "models:\n"
    for name, (window, caps, price_in, price_out, tier) in MODELS.items():
        text += (
            f"  {name}: {{provider: p-{name}, model: up-{name}, context_window: {window}, capabilities: {caps},"
            f" price: {{input_per_mtok: {price_in}, output_per_mtok: {price_out}}}, quality: {{tier: {tier}}}}}\n"
        )
    return text + routing + "routes:\n" + routes


SELECT_ROUTE = "  - name: auto\n    match: {model: auto}\n    target: {select: cheapest}\n"


TWO_MODELS = """
version: 1
providers:
  openai: {kind: openai, base_url: "https://api.openai.com/v1", api_key: {env: OPENAI_API_KEY}}
models:
  big: {provider: openai, model: gpt-4o, quality: {tier: premium}, price: {input_per_mtok: 2.5, output_per_mtok: 10}}
  mini: {provider: openai, model: gpt-4o-mini, price: {input_per_mtok: 0.15, output_per_mtok: 0.6}}
"""
"""A policy's head with a premium and an economy model and no route (for load-time checks and replay)."""
