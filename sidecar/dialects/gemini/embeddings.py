"""Embeddings: OpenAI ``/v1/embeddings`` <-> Gemini ``embedContent`` / ``batchEmbedContents``.

Requests: a string ``input`` becomes an ``embedContent`` body, a list of strings a
``batchEmbedContents`` body whose every request names ``models/{model}`` (``gemini_method`` tells the
proxy which path to call; more than ``GEMINI_MAX_BATCH`` texts cannot be translated); ``dimensions`` <->
``outputDimensionality``. Token-id inputs have no Gemini form. Reading Gemini, a body with ``requests``
is a batch; each content is one text, its text parts joined with a line break (Gemini embeds a content's
parts as one input, one vector: google-genai sends ``contents=["a", "b"]`` to a multimodal embedding model
as one content of two parts; joined bare, "hello" and "world" would be the one word "helloworld"); a part
that is not text (an image, a file) has no OpenAI form and is refused by name.

Responses: Gemini's ``embedding`` / ``embeddings[]`` become OpenAI ``data[]`` (usage from
``usageMetadata`` when present, else zeros), written as the caller's ``encoding_format`` asks: floats,
or for ``base64`` the little-endian float32 bytes in base64, as OpenAI sends them (openai-python asks
base64 by default and decodes; an app or SDK that asked it decodes it itself). The other way, both
``embeddings`` and, for a single vector, ``embedding`` are set, since a response alone does not say
which Gemini method was called. An answer whose vectors are not lists of numbers, or that holds
another number of vectors than the request's texts, is a malformed answer (``TranslationError``), never
an empty or missing vector the app would store against the wrong text.
"""

from __future__ import annotations

import array
import base64
import sys
from typing import Any

from ...translate.common import Usage, as_count
from ...translate.options import Drops, TranslationError
from .keys import camel

GEMINI_MAX_BATCH = 100
"""Gemini's batchEmbedContents takes at most this many requests. More texts cannot be translated (in
either ``unsupported`` mode: a limit, not a missing parameter), so a route's next target serves them;
Gemini's own 400 would have ended the route."""


def gemini_method(body: dict[str, Any]) -> str:
    """The Gemini method a translated embeddings body is for: ``batchEmbedContents`` or ``embedContent``."""
    return "batchEmbedContents" if "requests" in body else "embedContent"


def openai_to_gemini(body: dict[str, Any], model: str, drops: Drops) -> dict[str, Any]:
    text = body.get("input")
    config: dict[str, Any] = {}
    for key, value in body.items():
        if key in ("input", "model") or value is None:
            continue
        if key == "dimensions":
            config["outputDimensionality"] = value
        elif key == "encoding_format":
            if value not in ("float", "base64"):
                drops.unsupported(key, "only float and base64 vectors")
        elif key == "user":
            drops.ignored("user")
        else:
            drops.unsupported(key)
    if isinstance(text, str):
        return {"content": {"parts": [{"text": text}]}, **config}
    if isinstance(text, list) and all(isinstance(t, str) for t in text):
        if len(text) > GEMINI_MAX_BATCH:
            raise TranslationError(
                f"'input': Gemini embeds at most {GEMINI_MAX_BATCH} texts in one call, {len(text)} given "
                f"(send them in batches of {GEMINI_MAX_BATCH})"
            )
        name = model if model.startswith("models/") else f"models/{model}"
        return {"requests": [{"model": name, "content": {"parts": [{"text": t}]}, **config} for t in text]}
    raise TranslationError("only text 'input' (a string or a list of strings) translates to Gemini embeddings")


def gemini_to_openai(body: dict[str, Any], model: str, drops: Drops) -> dict[str, Any]:
    requests = body.get("requests")
    single = not isinstance(requests, list)
    items: list[dict[str, Any]] = [body] if single else requests  # type: ignore[assignment]
    texts: list[str] = []
    dims: Any = None
    for index, item in enumerate(items):
        for raw_key, value in item.items():
            key = camel(raw_key)
            if key == "content":
                texts.append(_content_text(value, "content" if single else f"requests[{index}].content"))
            elif key == "outputDimensionality":
                dims = value
            elif key in ("taskType", "title", "autoTruncate"):
                if value is not None:
                    drops.unsupported(key)
            elif key != "model":
                drops.unsupported(key)
    out: dict[str, Any] = {
        "model": model,
        "input": texts[0] if single and texts else texts,
        "encoding_format": "float",
    }
    if dims is not None:
        out["dimensions"] = dims
    return out


PART_SEPARATOR = "\n"
"""What joins a Gemini content's text parts into the one OpenAI input text they are embedded as."""


def _content_text(content: dict[str, Any], where: str) -> str:
    """The one text a Gemini content to embed stands for: its text parts joined by ``PART_SEPARATOR``;
    ``where`` names the content in the caller's body for the refusal of a part that is not text."""
    texts = []
    for number, part in enumerate(content.get("parts", ())):
        text = part.get("text")
        if not isinstance(text, str):
            raise TranslationError(
                f"{where}.parts[{number}]: only text parts translate to OpenAI embeddings (this part has no text)"
            )
        texts.append(text)
    return PART_SEPARATOR.join(texts)


def openai_response_to_gemini(body: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI embeddings answer for a Gemini caller whose ``request`` asked one vector, or one per
    item of its ``requests``."""
    data = sorted(body["data"], key=lambda d: as_count(d.get("index")))
    vectors = [{"values": _vector(d["embedding"])} for d in data]
    requests = request.get("requests")
    _same_count(len(vectors), len(requests) if isinstance(requests, list) else 1)
    out: dict[str, Any] = {"embeddings": vectors}
    if len(vectors) == 1:
        out["embedding"] = vectors[0]
    return out


def gemini_response_to_openai(body: dict[str, Any], model: str, request: dict[str, Any]) -> dict[str, Any]:
    vectors = body.get("embeddings")
    if not isinstance(vectors, list):
        vectors = [body["embedding"]]
    texts = request.get("input")
    _same_count(len(vectors), len(texts) if isinstance(texts, list) else 1)
    usage = usage_from_gemini(body) or Usage()
    encode = _base64 if request.get("encoding_format") == "base64" else list
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": encode(_vector(v["values"]))}
            for i, v in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": usage.input_tokens, "total_tokens": usage.input_tokens},
    }


def _vector(values: Any) -> list[float]:
    """An answer's vector: a non-empty list of numbers, else a ``TranslationError``."""
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    ):
        raise TranslationError("an embedding is not a list of numbers")
    return values


def _same_count(vectors: int, texts: int) -> None:
    if vectors != texts:
        raise TranslationError(f"the answer holds {vectors} vectors for {texts} texts")


def _base64(values: list[float]) -> str:
    """A vector as OpenAI's ``encoding_format: base64`` writes it: little-endian float32 bytes, base64
    (a value that is not a number raises ``TypeError``: the facade's malformed answer)."""
    floats = array.array("f", values)
    if sys.byteorder == "big":
        floats.byteswap()
    return base64.b64encode(floats.tobytes()).decode()


def usage_from_gemini(body: dict[str, Any]) -> Usage | None:
    meta = body.get("usageMetadata")
    if not isinstance(meta, dict):
        return None
    return Usage(input_tokens=as_count(meta.get("promptTokenCount")))
