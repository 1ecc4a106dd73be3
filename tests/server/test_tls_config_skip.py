"""A provider whose ``tls`` files cannot be used is skipped, not called (``tls_config``), as one whose key
cannot be read is: with a real sidecar, a fake provider over TLS (a test CA, trustme) and a plain one, it
is counted in ``llm_sidecar_skips_total{reason="tls_config"}``, never as an upstream attempt, error or
call (``x-sidecar-attempts``), nor against its breaker; the file's name stays in the error, the access
line and ``/status``."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiohttp
import orjson
import trustme

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..waiting import until
from .budget_walks import access_line
from .chain import calls, chain_policy, chat, metrics_of
from .skip_counts import BREAKER, metric_lines
from .tls_provider import TLSProvider, tls_provider_block

RELOAD = {"SIDECAR_RELOAD_INTERVAL_S": "0.05"}


def tls_chain(tls_url: str, bundle: Path, plain_url: str | None = None) -> str:
    """Route ``chain``: m0 on the TLS provider p0, checked against ``bundle``; then m1 on ``plain_url``."""
    urls = [tls_url] + ([plain_url] if plain_url else [])
    tls = tls_provider_block("p0", tls_url, f"{{ca_bundle: {bundle}}}")
    return chain_policy(urls, extra_defaults=BREAKER).replace(provider_block("p0", tls_url, "openai"), tls)


async def tls_calls(url: str, ca: trustme.CA) -> int:
    """How many requests the TLS fake at ``url`` has had."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_fake/stats", ssl=context) as response:
        return int((await response.json())["requests"])


async def test_an_unusable_ca_bundle_is_a_skip_not_a_call(
    tls_fake: TLSProvider, fake: FakeFactory, sidecar: SidecarFactory, ca: trustme.CA, tmp_path: Path
) -> None:
    """Route [m0 over TLS, its CA bundle not a PEM file; m1]: m1 answers, x-sidecar-attempts says 1 (it
    said 2: m0 counted as called), the metrics count m0 as a skip `tls_config`, not as an attempt and
    error; the access line names the file; m0's breaker saw no call, its last_failure says why."""
    tls_url, plain_url = await tls_fake(), await fake("plain")
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(b"not a certificate\n")
    running = await sidecar(tls_chain(tls_url, bundle, plain_url))
    status, headers, _ = await chat(running)
    assert status == 200 and headers["x-sidecar-model"] == "m1"
    assert headers["x-sidecar-attempts"] == "1" and headers["x-sidecar-fallback-reason"] == "tls_config"
    assert metric_lines(await metrics_of(running), "p0/up0") == [
        'llm_sidecar_skips_total{reason="tls_config",target="p0/up0"} 1.0'
    ]
    line = access_line(running)
    assert line["attempts"] == 1 and line["attempt_log"] == ["m0:tls_config", "m1:ok"]
    (error,) = [e for e in line["attempt_errors"] if e.startswith("m0:")]
    assert error.startswith(f"m0:tls_config: tls.ca_bundle {bundle}: not a usable PEM file")
    snapshot = running.state.targets.snapshot()["p0/up0"]
    assert snapshot["breaker"]["calls_in_window"] == 0
    assert snapshot["last_failure"]["error_type"] == "tls_config"
    assert await tls_calls(tls_url, ca) == 0 and await calls(plain_url) == 1


async def test_a_lone_target_without_its_ca_bundle_answers_503_naming_the_file(
    tls_fake: TLSProvider, sidecar: SidecarFactory, ca: trustme.CA, tmp_path: Path
) -> None:
    """A one-target route whose CA bundle is missing: nothing is called; 503 `no_target_available` naming
    the file, with x-should-retry false (a later try finds the file missing too), not the 502 of a call
    that failed; the span shows a skip, not a CLIENT span."""
    tls_url = await tls_fake()
    bundle = tmp_path / "missing.pem"
    running = await sidecar(tls_chain(tls_url, bundle))
    status, headers, raw = await chat(running)
    body = orjson.loads(raw)
    assert status == 503 and headers["x-should-retry"] == "false"
    assert body["error"]["code"] == "no_target_available" and str(bundle) in body["error"]["message"]
    assert not [span for span in running.spans.get_finished_spans() if span.kind.name == "CLIENT"]
    assert await tls_calls(tls_url, ca) == 0


def with_key_file(policy: str, key_file: Path) -> str:
    """``policy`` with p0's key read from ``key_file`` (read at p0's first call, then re-read by the reload
    tick when it changes)."""
    return policy.replace("  p0:\n", f"  p0:\n    api_key: {{file: {key_file}}}\n", 1)


async def a_tick_ran(running: RunningSidecar, key_file: Path) -> None:
    """Return once a reload tick has run from now: one that sees ``key_file`` changed logs
    ``key_file_reloaded``, after which the same tick re-checks the TLS files."""

    def reloaded() -> int:
        return sum(1 for line in running.log_lines() if line.get("event") == "key_file_reloaded")

    before = reloaded()
    await asyncio.to_thread(key_file.write_text, f"key-{before + 1}")
    await until(reloaded, lambda count: count > before)


async def test_a_ca_bundle_put_right_is_used_by_the_next_request(
    tls_fake: TLSProvider, fake: FakeFactory, sidecar: SidecarFactory, ca: trustme.CA, tmp_path: Path
) -> None:
    """m0's CA bundle is garbage, then the right PEM is written: the next request is served by m0 (a
    skipped provider is tried again on every request: its context was never built)."""
    tls_url, plain_url = await tls_fake(), await fake("plain")
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(b"-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    running = await sidecar(tls_chain(tls_url, bundle, plain_url), env=RELOAD)
    assert (await chat(running))[1]["x-sidecar-model"] == "m1"
    ca.cert_pem.write_to_path(str(bundle))  # no reload tick needed: a context never built is built per call
    status, headers, _ = await chat(running)
    assert status == 200 and headers["x-sidecar-model"] == "m0" and headers["x-sidecar-attempts"] == "1"


async def test_a_ca_bundle_once_read_stays_in_use_while_its_file_is_gone(
    tls_fake: TLSProvider, fake: FakeFactory, sidecar: SidecarFactory, ca: trustme.CA, tmp_path: Path
) -> None:
    """m0 served once with its CA bundle; the file is then removed (a Secret being rotated) and the reload
    tick runs: m0 still serves, no skip is counted (the context built from the file is kept)."""
    tls_url, plain_url = await tls_fake(), await fake("plain")
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    key_file = tmp_path / "p1-key"
    key_file.write_text("key-0")
    running = await sidecar(with_key_file(tls_chain(tls_url, bundle, plain_url), key_file), env=RELOAD)
    assert (await chat(running))[1]["x-sidecar-model"] == "m0"
    bundle.unlink()
    await a_tick_ran(running, key_file)
    status, headers, _ = await chat(running)
    assert status == 200 and headers["x-sidecar-model"] == "m0"
    assert "llm_sidecar_skips_total{" not in await metrics_of(running)
    assert await tls_calls(tls_url, ca) == 2 and await calls(plain_url) == 0
