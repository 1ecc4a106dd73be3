"""The ``passthrough`` block at load: what it accepts, the errors it is refused with (with their paths),
and which paths its compiled table forwards where."""

from __future__ import annotations

from sidecar.dialects import Dialect
from sidecar.policy import load_policy_bytes

from ..policy.policies import BASE, errors_of

GEMINI = '  gemini: {kind: gemini, base_url: "https://generativelanguage.googleapis.com", api_key: {env: G}}\n'
AZURE = (
    '  azure: {kind: azure-openai, base_url: "https://r.openai.azure.com", api_version: "2024-10-21",'
    " api_key: {env: A}}\n"
)


def _with(block: str, providers: str = "") -> str:
    text = BASE.replace("models:\n", providers + "models:\n") if providers else BASE
    return text + "passthrough:\n" + block


def test_a_policy_without_the_block_forwards_nothing() -> None:
    """Off by default: a policy without ``passthrough`` compiles to no table."""
    assert load_policy_bytes(BASE.encode(), "test.yaml").passthrough is None


def test_an_unknown_provider_is_refused_at_its_path() -> None:
    """A provider the policy does not define is an error at ``passthrough[i].provider``."""
    errors = errors_of(_with("  - {dialect: openai, provider: opnai, paths: [/v1/files]}\n"))
    assert errors == ["passthrough[0].provider: unknown provider 'opnai' (providers: openai, anthropic)"]


def test_a_provider_of_another_dialect_is_refused() -> None:
    """An Anthropic provider cannot take an OpenAI app's paths: nothing is translated on the way."""
    errors = errors_of(_with("  - {dialect: openai, provider: anthropic, paths: [/v1/files]}\n"))
    assert errors[0].startswith("passthrough[0].provider: provider 'anthropic' speaks anthropic, not openai")


def test_a_prefix_outside_the_dialects_api_roots_is_refused() -> None:
    """A prefix must lie under the dialect's API roots, so none reaches ``/healthz`` or ``/metrics``."""
    errors = errors_of(_with("  - {dialect: openai, provider: openai, paths: [/]}\n"))
    assert any("paths[0]: '/' is not under an API root of openai (/v1/, /openai/)" in error for error in errors)


def test_a_prefix_with_a_dot_segment_is_refused() -> None:
    """A prefix is a plain path: a ``..`` segment (or a query, an escape) is an error."""
    errors = errors_of(_with("  - {dialect: openai, provider: openai, paths: [/v1/../metrics]}\n"))
    assert any("'/v1/../metrics' must be a plain path" in error for error in errors)


def test_a_prefix_listed_twice_for_a_dialect_is_refused() -> None:
    """The same prefix of one dialect in two entries: the second names the first."""
    block = "  - {dialect: openai, provider: openai, paths: [/v1/files]}\n" * 2
    assert errors_of(_with(block)) == [
        "passthrough[1].paths[0]: '/v1/files' is already listed for openai at passthrough[0].paths[0]"
    ]


def test_the_longest_prefix_matches_whole_segments() -> None:
    """``/v1/files`` matches itself and what is under it, not ``/v1/filesystem``; the longest prefix wins."""
    block = "  - {dialect: openai, provider: openai, paths: [/v1/files, /v1/]}\n"
    table = load_policy_bytes(_with(block).encode(), "test.yaml").passthrough
    assert table is not None
    found = [table.find(Dialect.OPENAI, path) for path in ("/v1/files", "/v1/files/f-1/content", "/v1/filesystem")]
    assert [route.prefix if route else None for route in found] == ["/v1/files", "/v1/files", "/v1/"]
    assert table.find(Dialect.ANTHROPIC, "/v1/files") is None


def test_each_provider_kind_gets_the_apps_path_on_its_own_base() -> None:
    """OpenAI's ``/v1`` is not repeated; Azure's paths go under ``/openai``; Gemini's on its host as sent."""
    block = (
        "  - {dialect: openai, provider: openai, paths: [/v1/files]}\n"
        "  - {dialect: gemini, provider: gemini, paths: [/upload/]}\n"
    )
    table = load_policy_bytes(_with(block, GEMINI).encode(), "test.yaml").passthrough
    assert table is not None
    openai = table.find(Dialect.OPENAI, "/v1/files")
    gemini = table.find(Dialect.GEMINI, "/upload/v1beta/files")
    assert openai is not None and gemini is not None
    assert openai.url("/v1/files", "purpose=batch") == "https://api.openai.com/v1/files?purpose=batch"
    assert gemini.url("/upload/v1beta/files", "") == "https://generativelanguage.googleapis.com/upload/v1beta/files"
    azure = load_policy_bytes(
        _with("  - {dialect: openai, provider: azure, paths: [/v1/, /openai/]}\n", AZURE).encode(), "t.yaml"
    )
    assert azure.passthrough is not None
    route = azure.passthrough.find(Dialect.OPENAI, "/v1/files")
    assert route is not None
    assert route.url("/v1/files", "") == "https://r.openai.azure.com/openai/v1/files"
    assert route.url("/openai/files", "api-version=1") == "https://r.openai.azure.com/openai/files?api-version=1"
