"""Embeddings (OpenAI <-> Gemini embedContent / batchEmbedContents) and token counting
(Anthropic <-> Gemini countTokens)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.translate import (
    TranslateOptions,
    TranslationError,
    UnsupportedParameter,
    gemini_embedding_method,
    translate_request,
    translate_response,
)

from . import sdk

OAI, ANT, GEM = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI
E = Operation.EMBEDDINGS
OPTS = TranslateOptions()


def tr(body: dict[str, Any], source: Dialect, target: Dialect, operation: Operation = E, model: str = "m") -> Any:
    out, dropped, _ = translate_request(
        body, source=source, target=target, operation=operation, target_model=model, options=OPTS
    )
    return out, dropped


def test_single_input_is_embed_content() -> None:
    """A string input becomes an embedContent body; dimensions -> outputDimensionality; float ignored."""
    body = {
        "model": "text-embedding-3-small",
        "input": "The food was delicious",
        "dimensions": 256,
        "encoding_format": "float",
    }
    out, dropped = tr(body, OAI, GEM, model="gemini-embedding-001")
    assert out == {"content": {"parts": [{"text": "The food was delicious"}]}, "outputDimensionality": 256}
    assert dropped == []
    assert gemini_embedding_method(out) == "embedContent"


def test_list_input_is_batch_with_model_per_request() -> None:
    """A list input becomes batchEmbedContents, each request naming models/{model}."""
    body = {"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "base64"}
    out, dropped = tr(body, OAI, GEM, model="gemini-embedding-001")
    assert out == {
        "requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}},
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}},
        ]
    }
    assert dropped == []  # vectors come back base64-encoded, as asked (gemini_response_to_openai)
    assert gemini_embedding_method(out) == "batchEmbedContents"


def test_token_inputs_are_refused() -> None:
    """Token-id inputs have no Gemini form."""
    with pytest.raises(TranslationError):
        tr({"model": "x", "input": [[1, 2, 3]]}, OAI, GEM)


def test_a_gemini_content_s_text_parts_are_one_input_on_their_own_lines() -> None:
    """Several text parts of one content (embedded by Gemini as one input) are one OpenAI input, joined
    with a line break, in ``embedContent`` and in each of a batch's requests."""
    parts = {"parts": [{"text": "hello"}, {"text": "world"}]}
    assert tr({"content": parts}, GEM, OAI)[0]["input"] == "hello\nworld"
    batch = {"requests": [{"content": parts}, {"content": {"parts": [{"text": "one"}]}}]}
    assert tr(batch, GEM, OAI)[0]["input"] == ["hello\nworld", "one"]


def test_a_gemini_part_to_embed_that_is_not_text_is_refused_by_name() -> None:
    """An image part in a content to embed has no OpenAI form: refused naming the part, not dropped."""
    image = {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}
    with pytest.raises(TranslationError, match=r"requests\[0\]\.content\.parts\[1\]: only text parts"):
        tr({"requests": [{"content": {"parts": [{"text": "a"}, image]}}]}, GEM, OAI)


def test_gemini_batch_to_openai() -> None:
    """A google-genai batchEmbedContents body becomes an OpenAI list input; taskType has no equivalent."""
    body = {
        "requests": [
            {
                "content": {"parts": [{"text": "hello"}], "role": "user"},
                "outputDimensionality": 2,
                "model": "models/gemini-embedding-001",
            },
            {
                "content": {"parts": [{"text": "world"}], "role": "user"},
                "model": "models/gemini-embedding-001",
            },
        ]
    }
    out, _ = tr(body, GEM, OAI, model="text-embedding-3-small")
    assert out == {
        "model": "text-embedding-3-small",
        "input": ["hello", "world"],
        "encoding_format": "float",
        "dimensions": 2,
    }
    with pytest.raises(UnsupportedParameter) as info:
        tr({"content": {"parts": [{"text": "q"}]}, "taskType": "RETRIEVAL_QUERY"}, GEM, OAI)
    assert info.value.name == "taskType"
    single, _ = tr({"content": {"parts": [{"text": "q"}]}}, GEM, OAI)
    assert single["input"] == "q"


def test_openai_embedding_response_read_by_google_genai() -> None:
    """An OpenAI embeddings response reaches google-genai as its embeddings, in index order."""
    upstream = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]},
            {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
        ],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 8, "total_tokens": 8},
    }
    asked = {"requests": [{"content": {"parts": [{"text": t}]}} for t in "ab"]}  # the caller's, two texts
    out = translate_response(upstream, source=OAI, target=GEM, operation=E, model="gemini-embedding-001", request=asked)
    client = sdk.gemini_client(json.dumps(out).encode(), sdk.JSON)
    result = client.models.embed_content(model="gemini-embedding-001", contents=["a", "b"])
    assert [e.values for e in result.embeddings or []] == [[0.1, 0.2], [0.3, 0.4]]
    single = translate_response(
        {**upstream, "data": upstream["data"][1:]}, source=OAI, target=GEM, operation=E, model="g"
    )
    assert single["embedding"] == {"values": [0.1, 0.2]}  # embedContent's shape too


def test_gemini_embedding_response_read_by_openai() -> None:
    """Gemini embeddings (batch or single) reach openai-python as float vectors, even when it asked base64."""
    for upstream in ({"embeddings": [{"values": [0.5, 0.25]}]}, {"embedding": {"values": [0.5, 0.25]}}):
        out = translate_response(upstream, source=GEM, target=OAI, operation=E, model="text-embedding-3-small")
        result = sdk.openai_client(json.dumps(out).encode(), sdk.JSON).embeddings.create(model="m", input="x")
        assert result.data[0].embedding == [0.5, 0.25]
        assert result.model == "text-embedding-3-small"


def test_gemini_embedding_response_as_base64_when_asked() -> None:
    """Asked encoding_format base64, the vectors are OpenAI's little-endian float32 bytes in base64, which
    openai-python (asking base64 itself) decodes back to the floats; an unknown encoding is refused."""
    upstream = {"embeddings": [{"values": [0.5, 0.25]}, {"values": [-1.5, 2.0]}]}
    out = translate_response(
        upstream,
        source=GEM,
        target=OAI,
        operation=E,
        model="m",
        request={"input": ["x", "y"], "encoding_format": "base64"},
    )
    assert [d["embedding"] for d in out["data"]] == ["AAAAPwAAgD4=", "AADAvwAAAEA="]
    result = sdk.openai_client(json.dumps(out).encode(), sdk.JSON).embeddings.create(model="m", input=["x", "y"])
    assert [d.embedding for d in result.data] == [[0.5, 0.25], [-1.5, 2.0]]
    with pytest.raises(UnsupportedParameter):
        tr({"model": "m", "input": "x", "encoding_format": "int8"}, OAI, GEM)


def test_count_tokens_anthropic_to_gemini() -> None:
    """Anthropic count_tokens -> Gemini countTokens with a generateContentRequest; the answer comes back."""
    body = {
        "model": "claude-sonnet-4-5",
        "system": "You are a scientist",
        "messages": [{"role": "user", "content": "Hello, Claude"}],
    }
    out, _ = tr(body, ANT, GEM, Operation.COUNT_TOKENS, "gemini-2.5-flash")
    assert out == {
        "generateContentRequest": {
            "model": "models/gemini-2.5-flash",
            "contents": [{"role": "user", "parts": [{"text": "Hello, Claude"}]}],
            "systemInstruction": {"parts": [{"text": "You are a scientist"}]},
        }
    }
    answer = translate_response(
        {"totalTokens": 14, "promptTokensDetails": []},
        source=GEM,
        target=ANT,
        operation=Operation.COUNT_TOKENS,
        model="m",
    )
    result = sdk.anthropic_client(json.dumps(answer).encode(), sdk.JSON).messages.count_tokens(
        model="m", messages=[{"role": "user", "content": "x"}]
    )
    assert result.input_tokens == 14


def test_an_anthropic_count_s_effort_is_listed_not_refused() -> None:
    """anthropic 2.17's ``count_tokens`` takes ``output_config``: its ``effort`` (how hard the model works) counts
    no input token, so towards Gemini it is dropped and listed, not refused as a chat's is (it was a 400)."""
    body = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "output_config": {"effort": "high"}}
    out, dropped = tr(body, ANT, GEM, Operation.COUNT_TOKENS, "gemini-2.5-flash")
    assert out["generateContentRequest"]["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]
    assert dropped == ["output_config.effort"]


def test_count_tokens_gemini_to_anthropic() -> None:
    """Gemini countTokens (contents) -> Anthropic count_tokens body without max_tokens; totalTokens back."""
    out, _ = tr({"contents": [{"parts": [{"text": "Hi"}]}]}, GEM, ANT, Operation.COUNT_TOKENS, "claude-sonnet-4-5")
    assert out == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
    }
    answer = translate_response(
        {"input_tokens": 9}, source=ANT, target=GEM, operation=Operation.COUNT_TOKENS, model="m"
    )
    result = sdk.gemini_client(json.dumps(answer).encode(), sdk.JSON).models.count_tokens(
        model="gemini-2.5-flash", contents="x"
    )
    assert result.total_tokens == 9


def test_openai_has_no_count_tokens() -> None:
    """OpenAI has no token-counting endpoint: that pair is refused."""
    with pytest.raises(TranslationError):
        tr({"messages": []}, ANT, OAI, Operation.COUNT_TOKENS)
