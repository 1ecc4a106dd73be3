"""The ``fake`` provider kind: the sidecar's own fake provider (``llm-sidecar fake-provider``), which
serves every dialect's paths from its root. It is spoken to in the caller's dialect, or in the one the
policy names (``speaks``), so one fake serves tests of every translation.
"""

from __future__ import annotations

from . import Dialect, ProviderKind
from .base import ProviderAPI, WireDialect


class FakeAPI(ProviderAPI):
    kind = ProviderKind.FAKE

    def wire(self, caller: Dialect, speaks: Dialect | None) -> Dialect:
        return speaks or caller

    def url(self, base_url: str, api_version: str | None, wire: WireDialect, path: str, model: str) -> str:
        return base_url + wire.api_root + path


API = FakeAPI()
