"""The policy's ``access_log`` block: each mistake is one error with its path; what it compiles to."""

from __future__ import annotations

import pytest

from sidecar.policy import PolicyError, load_policy_bytes

BASE = (
    "version: 1\nproviders:\n  p: {dialect: fake, base_url: 'http://127.0.0.1:9'}\n"
    "models:\n  m: {provider: p, model: up}\nroutes:\n  - {name: r, target: m}\n"
)


def loaded(block: str, route: str = ""):  # type: ignore[no-untyped-def]
    text = BASE.replace("target: m}", f"target: m{route}}}") + block
    return load_policy_bytes(text.encode(), "policy.yaml")


@pytest.mark.parametrize(
    ("block", "route", "error"),
    [
        ("access_log: {sample: -0.1}\n", "", "access_log.sample: Input should be greater than or equal to 0"),
        ("access_log: {sample: 1.5}\n", "", "access_log.sample: Input should be less than or equal to 1"),
        (
            "access_log: {always: [error, slow]}\n",
            "",
            "access_log.always[1]: Input should be 'error', 'client_closed', 'stream_error', 'drain_cut', "
            "'degraded', 'fallback', 'retry', 'budget', 'cache_stale' or 'app_sampled'",
        ),
        ("access_log: {sampel: 0.1}\n", "", "access_log.sampel: unknown field (did you mean 'sample'?)"),
        ("access_log: {by: hash}\n", "", "access_log.by: Input should be 'random' or 'trace_id'"),
        ("access_log: {slower_than_s: 0}\n", "", "access_log.slower_than_s: Input should be greater than 0"),
        ("", ", access_log: {sample: 2}", "routes[0].access_log.sample: Input should be less than or equal to 1"),
    ],
)
def test_a_bad_value_is_one_error_with_its_path(block: str, route: str, error: str) -> None:
    """A negative or too large rate, an unknown kind or field, a zero latency: one error naming its path."""
    with pytest.raises(PolicyError) as raised:
        loaded(block, route)
    assert raised.value.errors == [error]


def test_rates_of_1_compile_to_no_sampling() -> None:
    """No block, ``sample: 1``, or a route's ``sample: 1``: nothing to decide per request."""
    assert loaded("").access_sampling is None
    assert loaded("access_log: {sample: 1, slower_than_s: 2}\n", ", access_log: {sample: 1}").access_sampling is None


def test_the_block_compiles_to_its_rates_and_kinds() -> None:
    """The top-level rate, each route's own, the kinds kept (the default: every kind but ``app_sampled``)
    and the latency in milliseconds."""
    sampling = loaded("access_log: {sample: 0.1, slower_than_s: 2.5}\n", ", access_log: {sample: 0.5}").access_sampling
    assert sampling is not None
    assert (sampling.rate, dict(sampling.route_rates), sampling.slower_than_ms) == (0.1, {"r": 0.5}, 2500.0)
    assert "app_sampled" not in sampling.always and {"error", "fallback", "client_closed"} <= sampling.always
    assert not sampling.by_trace_id
    no_routes = loaded("access_log: {sample: 0.1}\n").access_sampling
    assert no_routes is not None and no_routes.route_rates is None


def test_a_route_below_1_samples_under_a_top_level_of_1() -> None:
    """``sample: 1`` at the top and a route's ``0.2``: that route is sampled."""
    sampling = loaded("", ", access_log: {sample: 0.2}").access_sampling
    assert sampling is not None and (sampling.rate, dict(sampling.route_rates)) == (1.0, {"r": 0.2})


def access_log_warnings(block: str, route: str = "") -> list[str]:
    """The warnings of the policy with ``block`` that are about its access log (BASE's provider uses a
    deprecated name, warned of too)."""
    return [warning for warning in loaded(block, route).warnings if "access_log" in warning]


UNLOGGED = (
    "access_log.always without error: no access line is written for a request answered with an error status "
    "(4xx, 5xx){where}, only the metrics count it (llm_sidecar_requests_total by status_class); add error to "
    "access_log.always to keep those lines"
)


def test_a_sample_of_0_without_error_kept_loads_with_a_warning() -> None:
    """``always: []`` with ``sample: 0``: no failed request would write its access line; the policy loads
    (no access log may be meant) with one warning naming the rate."""
    assert access_log_warnings("access_log: {sample: 0, always: []}\n") == [
        f"access_log.sample: 0 and {UNLOGGED.format(where='')}"
    ]


def test_a_routes_own_sample_of_0_without_error_kept_is_warned_by_its_path() -> None:
    """A route's own ``sample: 0`` under an ``always`` without ``error``: the warning names the route's rate
    (and not the top-level one, which writes lines)."""
    warnings = access_log_warnings("access_log: {sample: 0.5, always: [fallback]}\n", ", access_log: {sample: 0}")
    assert warnings == [f"routes[0].access_log.sample: 0 and {UNLOGGED.format(where=' on this route')}"]


@pytest.mark.parametrize(
    "block",
    [
        "access_log: {sample: 0}\n",  # the default always: errors are kept
        "access_log: {sample: 0, always: [error]}\n",  # only the errors' lines: a choice
        "access_log: {sample: 0.01, always: []}\n",  # errors drawn like the rest, and their lines weighted
    ],
)
def test_no_warning_where_errors_still_write_lines(block: str) -> None:
    """Errors kept by ``always``, or drawn at a rate above 0: no warning."""
    assert access_log_warnings(block) == []
