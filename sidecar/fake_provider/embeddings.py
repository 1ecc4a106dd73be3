"""Deterministic embeddings for OpenAI (``/v1/embeddings``) and Gemini (``:embedContent``,
``:batchEmbedContents``).

``vector(text, dims)`` is a unit vector seeded by the SHA-256 of the text: the same text always gets the
same vector, on every server and run. Values are rounded to float32 so that OpenAI's ``float`` and
``base64`` (little-endian float32) encodings decode to the same numbers.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import struct
from collections.abc import Mapping
from typing import Any

from sidecar.fake_provider import conversation as conv
from sidecar.fake_provider.replies import Call, JsonReply, Reply, RequestError, optional_int, require


def vector(text: str, dims: int) -> list[float]:
    """The text's unit vector of ``dims`` float32 values."""
    digest = hashlib.sha256(text.encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    raw = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(value * value for value in raw)) or 1.0
    packed = struct.pack(f"<{dims}f", *(value / norm for value in raw))
    return list(struct.unpack(f"<{dims}f", packed))


def openai_default_dims(model: str) -> int:
    return 3072 if "large" in model else 1536


def gemini_default_dims(model: str) -> int:
    return 3072 if "gemini-embedding" in model else 768


def openai_embeddings(call: Call) -> Reply:
    """``POST /v1/embeddings`` (and the Azure deployment form)."""
    body = call.body
    model = str(body.get("model") or call.path_params.get("deployment", ""))
    if not model:
        raise RequestError("model: Field required", param="model")
    texts = _openai_inputs(body.get("input"))
    dims = optional_int(body, "dimensions") or openai_default_dims(model)
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise RequestError("encoding_format: must be 'float' or 'base64'", param="encoding_format")
    data = []
    for index, text in enumerate(texts):
        values = vector(text, dims)
        embedding: Any = values
        if encoding == "base64":
            embedding = base64.b64encode(struct.pack(f"<{dims}f", *values)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(conv.estimate_tokens(text) for text in texts)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return JsonReply({"object": "list", "data": data, "model": model, "usage": usage})


def _openai_inputs(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(item, str) for item in value):
            return list(value)
        if all(isinstance(item, int) for item in value):  # one tokenised input
            return [" ".join(str(item) for item in value)]
        if all(isinstance(item, list) for item in value):  # several tokenised inputs
            return [" ".join(str(token) for token in item) for item in value]
    raise RequestError("input: must be a non-empty string, list of strings or token arrays", param="input")


def gemini_embed(call: Call) -> Reply:
    """``POST /v1beta/models/{model}:embedContent``."""
    model = call.path_params["model"]
    return JsonReply({"embedding": _gemini_one(call.body, model)})


GEMINI_MAX_BATCH = 100
"""Gemini's batchEmbedContents takes at most this many requests (more: its 400)."""


def gemini_batch_embed(call: Call) -> Reply:
    """``POST /v1beta/models/{model}:batchEmbedContents`` (at most ``GEMINI_MAX_BATCH`` requests)."""
    requests = require(call.body, "requests", list)
    if len(requests) > GEMINI_MAX_BATCH:
        raise RequestError(
            f"* BatchEmbedContentsRequest.requests: at most {GEMINI_MAX_BATCH} requests can be in one batch"
        )
    model = call.path_params["model"]
    return JsonReply({"embeddings": [_gemini_one(request, model) for request in requests]})


def _gemini_one(request: Any, model: str) -> dict[str, Any]:
    if not isinstance(request, Mapping):
        raise RequestError("requests: each request must be an object")
    content = require(request, "content", Mapping)
    text = conv.last_text(content.get("parts") or [])
    dims = optional_int(request, "outputDimensionality") or gemini_default_dims(model)
    return {"values": vector(text, dims)}
