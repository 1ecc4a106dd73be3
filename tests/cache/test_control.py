"""The app's cache directives (x-sidecar-cache, Cache-Control) and the headers an answer carries."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

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
        ({"cache-control": 'no-cache="set-cookie"'}, Directive.REFRESH),
        ({"cache-control": 'MAX-AGE = "000"'}, Directive.REFRESH),
        ({"cache-control": "max-age=0060"}, Directive.USE),
        ({"cache-control": "max-age=" + "0" * 5000}, Directive.REFRESH),
        ({"cache-control": "max-age=\u00b2, max-age=\u0660, =, ,,"}, Directive.USE),
        ({"x-sidecar-cache": "Bypass, refresh"}, Directive.BYPASS),
    ],
)
def test_directives(headers: dict[str, str], directive: Directive) -> None:
    """bypass/no-store skip the cache, refresh/no-cache/max-age=0 skip the lookup; bypass wins."""
    assert client_directive(headers, allowed=True) is directive


def test_directives_ignored_when_the_route_forbids_them() -> None:
    """With client_control off the app's headers change nothing."""
    assert client_directive({"x-sidecar-cache": "bypass", "cache-control": "no-store"}, allowed=False) is Directive.USE


def test_every_line_of_a_repeated_header_counts() -> None:
    """From the listener's multidict, a no-store on the second Cache-Control line is honoured."""
    headers = CIMultiDictProxy(CIMultiDict([("cache-control", "max-age=60"), ("cache-control", "no-store")]))
    assert client_directive(headers, allowed=True) is Directive.BYPASS
    refresh = CIMultiDictProxy(CIMultiDict([("x-sidecar-cache", "nothing"), ("x-sidecar-cache", "refresh")]))
    assert client_directive(refresh, allowed=True) is Directive.REFRESH
