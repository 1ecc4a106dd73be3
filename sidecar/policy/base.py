"""The base of every policy-file model: unknown fields are errors, and a validated spec is frozen.

Kept apart from ``spec`` so that the feature packages (routing, cache, budgets, ensembles) can define
the blocks of the policy they own next to the code that reads them, and ``spec`` can import those
blocks without an import cycle. ``url_holds_password`` is the one check the Redis store blocks share;
``HeaderSafe`` the type of names written in headers and URLs; ``CREDENTIAL_HEADERS`` the request headers
whose values the policy never makes visible; ``slotted_copy`` a spec's fields copied into the slotted
record the request path reads instead (``cache.rules``, ``price_plan``, ``resilience_plan``).
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Record = TypeVar("Record", bound="DataclassInstance")


class Spec(BaseModel):
    """A block of the policy file: ``extra="forbid"`` (a typo is an error), ``frozen=True``, and no
    infinite or NaN number (YAML's ``.inf``, ``.nan``: an infinite price made every cost infinite)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie"}
)
"""Request headers that carry a caller's credentials: a route may match on them, nothing shows their
values, and a budget cannot be counted by them (``by: key`` counts by the key's hash)."""


def _no_control(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not hold a control character (a line break, a tab, NUL): headers and URLs carry it")
    return value


HeaderSafe = Annotated[str, AfterValidator(_no_control)]
"""A name the sidecar writes in response headers or upstream URLs (a model's name and upstream id, a
route's name): no control character, which would make every request it serves fail."""


def url_holds_password(url: str) -> bool:
    """True when a ``redis://`` URL carries a password: in its user part (``redis://:pw@host``) or as a
    query parameter (``?password=pw``, any case), which redis-py's ``from_url`` also reads. URLs are
    logged and shown (``diff``, errors), so a policy names its passwords by ``env`` or ``file``."""
    parts = urlsplit(url)
    if parts.password is not None:
        return True
    return any(name.lower() == "password" for name, _ in parse_qsl(parts.query, keep_blank_values=True))


def slotted_copy(record: type[Record], spec: Spec, /, **given: Any) -> Record:
    """A ``record`` (a slotted dataclass) holding, for each of its fields, ``spec``'s field of that name, or the
    value ``given`` for it. Made once per load: a pydantic model's class defines ``__getattr__``, so Python
    3.11 specializes no read of a spec's fields (about 460 instructions a read, against 96 for a slot;
    docs/benchmarks.md, "Wave 47 `plain48`"), and the request path reads the record's slots instead."""
    copied = {f.name: getattr(spec, f.name) for f in fields(record) if f.name not in given}
    return record(**copied, **given)
