"""The router file: validation with paths inside the file, and prediction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.routing.errors import RoutingError
from sidecar.routing.features import extract_features
from sidecar.routing.learned.model import MAX_FILE_BYTES, RouterFileError, load_model, parse_model
from sidecar.routing.matrix import routing_from_document
from sidecar.routing.textview import TextView

from ..requests import features


def document(router_file: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(router_file.read_bytes())
    return loaded


def errors(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(RouterFileError) as caught:
        parse_model(orjson.dumps(doc), "router.json")
    return caught.value.errors


def test_row_of_wrong_width_is_named(router_file: Path) -> None:
    """A weight row whose length is not the number of labels is reported with its group and n-gram."""
    doc = document(router_file)
    doc["weights"]["w"]["prove"] = [0.1, 0.2]
    assert errors(doc) == ["(top level): weights.w['prove']: 2 weights, expected 7"]


def test_other_feature_scheme_is_refused(router_file: Path) -> None:
    """A file trained with another feature recipe must be retrained, and the error says so."""
    doc = document(router_file)
    doc["scheme"] = "words/0"
    assert "retrain with this version" in errors(doc)[0]


def test_duplicate_labels_are_refused(router_file: Path) -> None:
    """Labels of a head are unique, reported at heads[i]."""
    doc = document(router_file)
    doc["heads"][0]["labels"][1] = doc["heads"][0]["labels"][0]
    assert errors(doc) == ["heads[0]: labels must be unique"]


def test_not_a_router_file() -> None:
    """Any other JSON is refused with a pointer to the trainer."""
    assert "llm-sidecar router train" in errors({"hello": 1})[0]


def test_newer_version_is_refused(router_file: Path) -> None:
    """A file of an unknown version is refused by version, not by field."""
    doc = document(router_file)
    doc["version"] = 2
    assert errors(doc) == ["version 2: this sidecar reads version 1"]


def test_unreadable_file() -> None:
    """A missing file is one clear error."""
    with pytest.raises(RouterFileError, match="cannot read"):
        load_model("/nonexistent/router.json")


def test_prediction_confidences_are_probabilities(router_file: Path) -> None:
    """Each head answers its most probable label with its probability; all probabilities sum to 1."""
    model = load_model(router_file)
    view = TextView(features("Write a Rust function that reads a config file."))
    predictions, ranked = model.predict(view), model.probabilities(view)
    assert predictions["task"].label == "code" and predictions["complexity"].label == "medium"
    assert abs(sum(p for _, p in ranked["task"]) - 1.0) < 1e-9
    assert ranked["task"][0] == ("code", pytest.approx(predictions["task"].confidence))


def test_a_router_file_larger_than_any_trained_one_is_refused_unread(router_file: Path, tmp_path: Path) -> None:
    """A router file over MAX_FILE_BYTES (a wrong file named, or a hostile one) is refused at policy
    load by its size, before it is parsed: no seconds of event loop and gigabytes spent on it."""
    doc = document(router_file)
    doc["training"]["padding"] = "x" * MAX_FILE_BYTES
    (tmp_path / "router.json").write_bytes(orjson.dumps(doc))
    classes = [{"name": label} for label in doc["heads"][0]["labels"]]
    with pytest.raises(RoutingError) as caught:
        routing_from_document(
            {"routing": {"classes": classes, "learned": {"file": "router.json", "decides": ["task"]}}},
            base_dir=tmp_path,
        )
    assert caught.value.errors == [
        f"routing.learned.file: router.json: more than {MAX_FILE_BYTES:,} bytes, larger than a router file the "
        "trainer writes (at most 50,000 n-grams)"
    ]


def test_one_conversation_in_every_dialect_gets_the_same_scores(router_file: Path) -> None:
    """A model trained on OpenAI messages reads a conversation the same in Chat Completions, Responses,
    Anthropic and Gemini bodies (system prompt, earlier turns, the last user message, an image): the
    same labels with the same probabilities."""
    system, first, answer = "You tutor mathematics.", "Is 7 prime?", "Yes."
    last = "Prove that there are infinitely many primes."
    image = "data:image/png;base64,AAAA"
    earlier = [{"role": "user", "content": first}, {"role": "assistant", "content": answer}]
    bodies = [
        (
            Dialect.OPENAI,
            Operation.CHAT,
            {
                "messages": [
                    {"role": "system", "content": system},
                    *earlier,
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": last}, {"type": "image_url", "image_url": {"url": image}}],
                    },
                ]
            },
        ),
        (
            Dialect.OPENAI,
            Operation.RESPONSES,
            {
                "instructions": system,
                "input": [
                    *earlier,
                    {
                        "role": "user",
                        "content": [{"type": "input_text", "text": last}, {"type": "input_image", "image_url": image}],
                    },
                ],
            },
        ),
        (
            Dialect.ANTHROPIC,
            Operation.CHAT,
            {
                "system": system,
                "messages": [
                    *earlier,
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": last},
                            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                        ],
                    },
                ],
            },
        ),
        (
            Dialect.GEMINI,
            Operation.GENERATE_CONTENT,
            {
                "systemInstruction": {"parts": [{"text": system}]},
                "contents": [
                    {"role": "user", "parts": [{"text": first}]},
                    {"role": "model", "parts": [{"text": answer}]},
                    {
                        "role": "user",
                        "parts": [{"text": last}, {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}],
                    },
                ],
            },
        ),
    ]
    model = load_model(router_file)
    scores = [model.probabilities(TextView(extract_features(b, d, o))) for d, o, b in bodies]
    assert scores[0]["task"][0][0] == "math"
    assert all(s == scores[0] for s in scores[1:])
