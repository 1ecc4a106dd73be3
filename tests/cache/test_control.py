"""The app's cache directives (x-sidecar-cache, Cache-Control) and the headers an answer carries."""

from __future__ import annotations

import pytest

from sidecar.cache import Directive, client_directive


@pytest.mark.parametrize(
    ("headers", "directive"),
    [
        ({}, Directive.USE),
        ({"x-sidecar-cache": "bypass"}, Directive.BYPASS),
        ({"x-sidecar-cache": " Refresh "}, Directive.REFRESH),
        ({"cache-control": "no-store"}, Directive.BYPASS),
        ({"cache-control": "max-age=0"}, Directive.REFRESH),
        ({"cache-control": "private, No-Cache"}, Directive.REFRESH),
        ({"cache-control": "no-cache, no-store"}, Directive.BYPASS),
        ({"x-sidecar-cache": "refresh", "cache-control": "no-store"}, Directive.BYPASS),
        ({"cache-control": "max-age=60"}, Directive.USE),
        ({"x-sidecar-cache": "something-else"}, Directive.USE),
    ],
)
def test_directives(headers: dict[str, str], directive: Directive) -> None:
    """bypass/no-store skip the cache, refresh/no-cache/max-age=0 skip the lookup; bypass wins."""
    assert client_directive(headers, allowed=True) is directive


def test_directives_ignored_when_the_route_forbids_them() -> None:
    """With client_control off the app's headers change nothing."""
    assert client_directive({"x-sidecar-cache": "bypass", "cache-control": "no-store"}, allowed=False) is Directive.USE
