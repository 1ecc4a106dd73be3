"""A route an earlier route always takes first is a load warning; one some request can still reach is not
(the check only flags what it can prove)."""

from __future__ import annotations

import gc
import time

import pytest
import yaml

from sidecar.policy import load_policy_bytes
from sidecar.policy.spec import RouteSpec
from sidecar.policy.unreachable import unreachable_routes

from .policies import BASE


def warnings_of(routes: str, default: str = "") -> tuple[str, ...]:
    text = BASE.replace("dialect:", "kind:") + "routes:\n" + routes + default
    return load_policy_bytes(text.encode(), "test.yaml").warnings


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("{model: 'gpt-4*'}", "{model: gpt-4o}"),
        ("{model: 'gpt-4*'}", "{model: [gpt-4o, gpt-4o-mini], app: checkout}"),
        ("{model: 'gpt-4*'}", "{model: 'gpt-4*', headers: {x-team: a}}"),
        ("{headers: {X-Team: 'a*'}}", "{headers: {x-team: ab}, operation: [chat]}"),
        ("{operation: [chat, embeddings]}", "{operation: [chat], dialect: [openai]}"),
        ("{}", "{model: anything}"),
        ("{model: '*'}", "{model: 'gpt-4o*', app: checkout}"),
        ("{model: [claude, 'gpt-*']}", "{model: [gpt-4o, claude]}"),
    ],
)
def test_a_route_whose_every_request_an_earlier_one_takes_is_named(earlier: str, later: str) -> None:
    """Every condition of the earlier match is one the later has, inside its values: the later route is
    dead, and the warning names it and the route that takes its requests."""
    routes = f"  - {{name: first, match: {earlier}, target: gpt-4o}}\n  - {{match: {later}, target: claude}}\n"
    assert warnings_of(routes) == ("routes[1].match: never matches: routes[0] (first) takes every request it would",)


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("{model: 'gpt-4*', app: checkout}", "{model: gpt-4o}"),
        ("{model: 'gpt-4*'}", "{model: 'gpt-4o*'}"),
        ("{model: [gpt-4o]}", "{model: [gpt-4o, claude]}"),
        ("{headers: {x-team: a}}", "{model: gpt-4o}"),
        ("{operation: [chat]}", "{operation: [chat, embeddings]}"),
        ("{features: {stream: true}}", "{features: {stream: false}}"),
    ],
)
def test_a_route_some_request_can_still_reach_is_not_named(earlier: str, later: str) -> None:
    """An earlier match with a condition the later lacks, or values it does not cover (a glob other than
    the same glob), leaves the later route reachable: no warning."""
    routes = f"  - {{match: {earlier}, target: gpt-4o}}\n  - {{match: {later}, target: claude}}\n"
    assert warnings_of(routes) == ()


def test_a_default_after_a_route_without_match_is_named() -> None:
    """A route with no match takes every request: the default route after it is never used."""
    routes = "  - {match: {model: x}, target: gpt-4o}\n  - {name: all, target: claude}\n"
    assert warnings_of(routes, "default: {target: gpt-4o}\n") == (
        "default: never used: routes[1] (all) has an empty match",
    )


@pytest.mark.parametrize(
    ("filler", "earlier", "later"),
    [
        ("{model: gpt-4o, app: a{i}}", "{model: gpt-4o, app: b}", "{model: gpt-4o, app: b, operation: [chat]}"),
        ("{headers: {x-team: t{i}}}", "{headers: {x-team: 'b*'}}", "{headers: {x-team: [bc, bd]}, app: checkout}"),
        ("{app: a{i}}", "{app: '*', operation: [chat]}", "{app: ['x*', y], operation: [chat], dialect: [openai]}"),
        ("{features: {stream: true}, app: a{i}}", "{features: {stream: true}}", "{features: {stream: true}, app: b}"),
    ],
)
def test_a_covering_route_is_found_whichever_condition_it_is_filed_by(filler: str, earlier: str, later: str) -> None:
    """Behind routes that share its values, the route that takes the later one's requests is still found
    (each route is compared only with earlier ones filed under a value it has)."""
    routes = "".join(f"  - {{match: {filler.replace('{i}', str(i))}, target: gpt-4o}}\n" for i in range(5))
    routes += f"  - {{name: first, match: {earlier}, target: gpt-4o}}\n  - {{match: {later}, target: claude}}\n"
    assert warnings_of(routes) == ("routes[6].match: never matches: routes[5] (first) takes every request it would",)


@pytest.mark.parametrize(
    "route",
    [
        "{match: {headers: {x-tenant: t{i}}}, target: gpt-4o}",
        "{match: {model: gpt-4o, app: a{i}}, target: gpt-4o}",
        "{match: {app: 'team-{i}-*', operation: [chat]}, target: gpt-4o}",
    ],
)
def test_a_policy_of_thousands_of_routes_is_checked_in_linear_time(route: str) -> None:
    """2,000 routes without a model condition (or sharing one) are checked in well under a second of CPU:
    each is compared with the few earlier routes filed under its values, not every earlier one (which
    took over 4 s)."""
    routes = [RouteSpec.model_validate(yaml.safe_load(route.replace("{i}", str(i)))) for i in range(2000)]
    gc.disable()  # a full collection walks the whole test session's heap: not the check's time
    try:
        started = time.thread_time()  # this thread's CPU: not the session's other threads'
        assert unreachable_routes(routes, None) == []
        spent = time.thread_time() - started
    finally:
        gc.enable()
    assert spent < 0.5, f"{spent:.3f} s of CPU"
