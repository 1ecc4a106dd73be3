"""The router file (``llm-sidecar router train`` writes it, a policy references it) and inference.

File format, version 1 (JSON)::

    {"format": "llm-sidecar-router", "version": 1,
     "scheme": "words+bigrams+edge-chars+facts/1",         grams.SCHEME: the feature recipe
     "window": {"user_head": 384, ...},                    the text windows it was trained on
     "heads": [{"name": "task", "labels": [...]}, {"name": "complexity", "labels": [...]}],
     "bias": [one float per label of every head, heads in order],
     "weights": {"w": {"prove": [...same length...]}, "b": {...}, "p": {...}, "s": {...}, "f": {...}},
     "training": {...}}                                     informational: examples, held-out accuracy

``load_model`` refuses a file over ``MAX_FILE_BYTES`` unread, validates all of it (``RouterFileError``
lists every problem with its path inside the file, ``weights.w['prove']: 5 weights, expected 7``) and
packs the rows (``packed``). ``predict`` is one dictionary lookup per n-gram and one ``sum``: per head,
the label with the highest softmax probability and that probability as the confidence. Scores are
``bias + sum(rows) / sqrt(n)`` with ``n`` the number of n-grams, as in training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ...policy.files import digest_of, read_file
from ..errors import RoutingError
from ..textview import TextView
from . import packed
from .grams import GROUPS, SCHEME, WINDOW, Group, grams

FORMAT = "llm-sidecar-router"
VERSION = 1
MAX_FILE_BYTES = 32 << 20
"""A larger file is refused unread: the trainer keeps at most 50,000 n-grams (the docs' example: 0.25 MB),
and parsing 100 MB of weights takes 7 s and 1 GB, on the event loop when the policy reloads."""
HeadName = Literal["task", "complexity"]


class RouterFileError(RoutingError):
    """A router file that cannot be used."""


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class HeadSpec(_FileModel):
    name: HeadName
    labels: list[str] = Field(min_length=2)

    @model_validator(mode="after")
    def _unique(self) -> HeadSpec:
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be unique")
        return self


class RouterFile(_FileModel):
    format: Literal["llm-sidecar-router"]
    version: Literal[1]
    scheme: str
    window: dict[str, int]
    heads: list[HeadSpec] = Field(min_length=1, max_length=2)
    bias: list[float]
    weights: dict[Group, dict[str, list[float]]]
    training: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> RouterFile:
        if self.scheme != SCHEME:
            raise ValueError(f"scheme {self.scheme!r}: this sidecar reads {SCHEME!r}; retrain with this version")
        if self.window != WINDOW:
            raise ValueError(f"window {self.window}: this sidecar reads {WINDOW}; retrain with this version")
        if any(abs(w) > packed.MAX_WEIGHT for w in self.bias) or any(
            abs(w) > packed.MAX_WEIGHT for rows in self.weights.values() for row in rows.values() for w in row
        ):
            raise ValueError(f"a weight is outside +-{packed.MAX_WEIGHT:g}: not a file the trainer writes")
        names = [h.name for h in self.heads]
        if len(set(names)) != len(names):
            raise ValueError("heads: a head appears twice")
        width = sum(len(h.labels) for h in self.heads)
        if len(self.bias) != width:
            raise ValueError(f"bias: {len(self.bias)} values, expected {width} (one per label)")
        for group, rows in self.weights.items():
            for gram, row in rows.items():
                if len(row) != width:
                    raise ValueError(f"weights.{group}[{gram!r}]: {len(row)} weights, expected {width}")
        return self


@dataclass(frozen=True, slots=True)
class Head:
    name: HeadName
    labels: tuple[str, ...]
    start: int  # first lane of this head


@dataclass(frozen=True, slots=True)
class Prediction:
    head: HeadName
    label: str
    confidence: float  # the label's softmax probability


class LearnedModel:
    """A loaded router file: vocabularies of packed rows, read-only."""

    __slots__ = ("_bias", "_lanes", "_vocabularies", "digest", "heads", "source", "training")

    def __init__(self, spec: RouterFile, source: str, digest: str = "") -> None:
        self.source = source
        self.digest = digest
        """A hash of the file's bytes (``policy.files.digest_of``): part of the policy's version."""
        self.training = spec.training
        heads, start = [], 0
        for head in spec.heads:
            heads.append(Head(head.name, tuple(head.labels), start))
            start += len(head.labels)
        self.heads = tuple(heads)
        self._lanes = start
        self._bias = list(spec.bias)
        self._vocabularies = tuple(
            {gram: packed.pack(row) for gram, row in spec.weights.get(group, {}).items()} for group in GROUPS
        )

    def head(self, name: HeadName) -> Head | None:
        return next((h for h in self.heads if h.name == name), None)

    def scores(self, view: TextView) -> list[float]:
        total, count = 0, 0
        for vocabulary, group in zip(self._vocabularies, grams(view), strict=True):
            count += len(group)
            total += sum(filter(None, map(vocabulary.get, group)))
        norm = 1.0 / math.sqrt(count) if count else 0.0
        return [b + s * norm for b, s in zip(self._bias, packed.unpack(total, self._lanes), strict=True)]

    def probabilities(self, view: TextView) -> dict[HeadName, list[tuple[str, float]]]:
        """Every label of every head with its probability, most likely first (for explain)."""
        scores = self.scores(view)
        out: dict[HeadName, list[tuple[str, float]]] = {}
        for head in self.heads:
            part = scores[head.start : head.start + len(head.labels)]
            top = max(part)
            exps = [math.exp(s - top) for s in part]
            total = sum(exps)
            out[head.name] = sorted(zip(head.labels, (e / total for e in exps), strict=True), key=lambda lp: -lp[1])
        return out

    def predict(self, view: TextView) -> dict[HeadName, Prediction]:
        """Per head, the most probable label and its probability."""
        scores = self.scores(view)
        out: dict[HeadName, Prediction] = {}
        for head in self.heads:
            part = scores[head.start : head.start + len(head.labels)]
            top = max(part)
            best = part.index(top)
            total = sum([math.exp(s - top) for s in part])
            out[head.name] = Prediction(head.name, head.labels[best], 1.0 / total)
        return out


def parse_model(data: bytes, source: str) -> LearnedModel:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RouterFileError([f"invalid JSON: {exc}"]) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise RouterFileError(
            [f"not a router file (format is not {FORMAT!r}); write one with `llm-sidecar router train`"]
        )
    if document.get("version") != VERSION:
        raise RouterFileError([f"version {document.get('version')!r}: this sidecar reads version {VERSION}"])
    try:
        spec = RouterFile.model_validate(document)
    except ValidationError as exc:
        from ...policy.load import format_validation_error  # here: policy.load imports the compiler

        raise RouterFileError(format_validation_error(exc)) from None
    return LearnedModel(spec, source, digest_of(data))


def load_model(path: str | Path) -> LearnedModel:
    try:
        data = read_file(path, MAX_FILE_BYTES)
    except OSError as exc:
        raise RouterFileError([f"cannot read {path}: {exc.strerror or exc}"]) from None
    if len(data) > MAX_FILE_BYTES:
        limit = f"more than {MAX_FILE_BYTES:,} bytes"
        raise RouterFileError([f"{limit}, larger than a router file the trainer writes (at most 50,000 n-grams)"])
    return parse_model(data, str(path))
