"""CircuitBreaker: the CLOSED -> OPEN -> HALF_OPEN -> CLOSED state machine, on a fake clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.resilience.breaker import BreakerConfig, BreakerState, CircuitBreaker, Permit

from .fakes import FakeClock

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
Transition = tuple[str, BreakerState, BreakerState, str]


def make(clock: FakeClock, **settings_: object) -> tuple[CircuitBreaker, list[Transition]]:
    base: dict[str, object] = {"minimum_calls": 5, "failure_rate_threshold": 0.5, "open_duration_s": 10.0}
    base.update(settings_)
    seen: list[Transition] = []
    breaker = CircuitBreaker(
        "openai/gpt-4o",
        BreakerConfig(**base),  # type: ignore[arg-type]
        clock=clock,
        on_transition=lambda *args: seen.append(args),
    )
    return breaker, seen


def acquire(breaker: CircuitBreaker) -> Permit:
    permit = breaker.try_acquire()
    assert permit is not None
    return permit


def calls(breaker: CircuitBreaker, outcomes: str, duration_s: float = 0.1) -> None:
    """Run calls in order: 'f' failure, 's' success."""
    for outcome in outcomes:
        permit = acquire(breaker)
        if outcome == "f":
            permit.record_failure(duration_s)
        else:
            permit.record_success(duration_s)


def trip(breaker: CircuitBreaker) -> None:
    calls(breaker, "fffff")
    assert breaker.state is OPEN


def test_defaults() -> None:
    """The documented defaults, the same as the policy file's defaults.breaker."""
    cfg = BreakerConfig()
    assert (cfg.window_type, cfg.window_size, cfg.minimum_calls, cfg.failure_rate_threshold) == (
        "count",
        20,
        5,
        0.5,
    )
    assert (cfg.slow_call_duration_s, cfg.slow_call_rate_threshold) == (60.0, 1.0)
    assert (cfg.open_duration_s, cfg.open_duration_max_s, cfg.half_open_probes, cfg.probe_timeout_s) == (
        5.0,
        120.0,
        1,
        30.0,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("window_type", "sliding"),
        ("window_size", 0),
        ("window_size", 2.5),
        ("minimum_calls", 0),
        ("failure_rate_threshold", 0.0),
        ("failure_rate_threshold", 1.5),
        ("slow_call_rate_threshold", 0.0),
        ("open_duration_s", 0.0),
        ("open_duration_max_s", 1.0),
        ("half_open_probes", 0),
        ("probe_timeout_s", -1.0),
    ],
)
def test_invalid_config_is_rejected_with_the_field_name(field: str, value: object) -> None:
    """Each invalid setting raises ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        BreakerConfig(**{field: value})  # type: ignore[arg-type]


def test_open_duration_doubles_up_to_the_cap() -> None:
    """The k-th consecutive opening lasts base * 2^(k-1), capped."""
    cfg = BreakerConfig(open_duration_s=10.0, open_duration_max_s=300.0)  # Envoy's 30 s-300 s shape, scaled
    assert [cfg.open_duration(k) for k in range(1, 8)] == [10, 20, 40, 80, 160, 300, 300]
    assert cfg.open_duration(10_000) == 300.0


def test_stays_closed_below_minimum_calls(clock: FakeClock) -> None:
    """Four failures out of four do not open it while minimum_calls is 5."""
    breaker, seen = make(clock)
    calls(breaker, "ffff")
    assert breaker.state is CLOSED
    assert seen == []


def test_opens_at_threshold_once_minimum_calls_reached(clock: FakeClock) -> None:
    """At the 5th call with 3/5 failures (>= 50%) it opens, and the listener hears why."""
    breaker, seen = make(clock)
    calls(breaker, "sfsf")
    assert breaker.state is CLOSED
    calls(breaker, "f")
    assert breaker.state is OPEN
    assert len(seen) == 1
    target, before, after, reason = seen[0]
    assert (target, before, after) == ("openai/gpt-4o", CLOSED, OPEN)
    assert "3/5" in reason
    assert "10s" in reason


def test_rate_exactly_at_threshold_opens(clock: FakeClock) -> None:
    """failure rate == threshold opens (resilience4j's >=)."""
    breaker, _ = make(clock, failure_rate_threshold=0.4)
    calls(breaker, "ffsss")
    assert breaker.state is OPEN


def test_rate_below_threshold_stays_closed(clock: FakeClock) -> None:
    """2 failures in 5 calls stay below a 50% threshold."""
    breaker, _ = make(clock)
    calls(breaker, "ffsss")
    assert breaker.state is CLOSED


def test_open_rejects_without_a_call(clock: FakeClock) -> None:
    """While open, try_acquire returns None until the open period has passed."""
    breaker, _ = make(clock)
    trip(breaker)
    assert breaker.try_acquire() is None
    clock.advance(9.99)
    assert breaker.try_acquire() is None
    assert breaker.state is OPEN


def test_half_opens_lazily_on_first_acquire_after_the_period(clock: FakeClock) -> None:
    """After the period the state reads OPEN until someone asks; that acquire gets a probe permit."""
    breaker, seen = make(clock)
    trip(breaker)
    clock.advance(10.0)
    assert breaker.state is OPEN
    permit = acquire(breaker)
    assert permit.is_probe
    assert breaker.state is HALF_OPEN
    assert seen[-1][1:3] == (OPEN, HALF_OPEN)


def test_limited_concurrent_probes(clock: FakeClock) -> None:
    """Half-open grants half_open_probes permits; further callers are rejected."""
    breaker, _ = make(clock, half_open_probes=2)
    trip(breaker)
    clock.advance(10.0)
    acquire(breaker)
    acquire(breaker)
    assert breaker.try_acquire() is None
    assert breaker.snapshot()["probes_in_flight"] == 2


def test_closes_when_probes_succeed(clock: FakeClock) -> None:
    """Both probes succeed: CLOSED with a fresh window and the re-open counter reset."""
    breaker, seen = make(clock, half_open_probes=2)
    trip(breaker)
    clock.advance(10.0)
    first, second = acquire(breaker), acquire(breaker)
    first.record_success(0.2)
    assert breaker.state is HALF_OPEN  # one success of two is not yet decisive
    second.record_success(0.2)
    assert breaker.state is CLOSED
    snap = breaker.snapshot()
    assert (snap["calls_in_window"], snap["consecutive_opens"]) == (0, 0)
    assert seen[-1][1:3] == (HALF_OPEN, CLOSED)


def test_probe_failure_reopens_with_a_longer_period(clock: FakeClock) -> None:
    """Each failed probe re-opens it for twice the previous period: 10 s, 20 s, then the 30 s cap."""
    breaker, _ = make(clock, half_open_probes=1, open_duration_max_s=30.0)
    trip(breaker)
    assert breaker.snapshot()["open_remaining_s"] == 10.0
    for expected in (20.0, 30.0, 30.0):
        clock.advance(breaker.snapshot()["open_remaining_s"])
        acquire(breaker).record_failure(0.1)
        assert breaker.state is OPEN
        assert breaker.snapshot()["open_remaining_s"] == expected
    assert breaker.snapshot()["consecutive_opens"] == 4


def test_period_resets_to_base_after_a_successful_close(clock: FakeClock) -> None:
    """After a probe round closes the breaker, the next opening lasts the base period again."""
    breaker, _ = make(clock, half_open_probes=1)
    trip(breaker)
    clock.advance(10.0)
    acquire(breaker).record_failure(0.1)  # re-open: 20 s
    clock.advance(20.0)
    acquire(breaker).record_success(0.1)
    assert breaker.state is CLOSED
    trip(breaker)
    assert breaker.snapshot()["open_remaining_s"] == 10.0


def test_stuck_probe_counts_as_failure_after_probe_timeout(clock: FakeClock) -> None:
    """A probe never reported pins nothing: after probe_timeout_s it fails and re-opens the breaker."""
    breaker, seen = make(clock, half_open_probes=1, probe_timeout_s=30.0)
    trip(breaker)
    clock.advance(10.0)
    acquire(breaker)  # never reported
    clock.advance(29.0)
    assert breaker.try_acquire() is None
    assert breaker.state is HALF_OPEN
    clock.advance(1.0)
    assert breaker.try_acquire() is None  # the expired probe failed: open again, for 20 s
    assert breaker.state is OPEN
    assert "not reported within 30s" in seen[-1][3]
    clock.advance(20.0)
    assert acquire(breaker).is_probe


def test_stuck_probe_frees_its_slot(clock: FakeClock) -> None:
    """With 3 probes and a 50% threshold, one timed-out probe is one failure and its slot is reused."""
    breaker, _ = make(clock, half_open_probes=3, probe_timeout_s=30.0)
    trip(breaker)
    clock.advance(10.0)
    acquire(breaker)  # stuck
    clock.advance(30.0)
    second, third = acquire(breaker), acquire(breaker)
    assert breaker.try_acquire() is None  # 1 decided + 2 in flight = 3
    second.record_success(0.1)
    third.record_success(0.1)
    assert breaker.state is CLOSED


def test_late_report_of_a_timed_out_probe_is_ignored(clock: FakeClock) -> None:
    """A probe reported after it was timed out changes nothing."""
    breaker, _ = make(clock, half_open_probes=3, probe_timeout_s=30.0)
    trip(breaker)
    clock.advance(10.0)
    stuck = acquire(breaker)
    clock.advance(31.0)
    acquire(breaker)  # triggers the expiry: 1 failure of 3
    before = breaker.snapshot()
    stuck.record_success(31.0)
    assert breaker.snapshot() == before


def test_released_probe_does_not_count_and_frees_its_slot(clock: FakeClock) -> None:
    """A probe ending in a 4xx (release) decides nothing; its slot goes to the next caller."""
    breaker, _ = make(clock, half_open_probes=1)
    trip(breaker)
    clock.advance(10.0)
    acquire(breaker).release()
    assert breaker.state is HALF_OPEN
    assert breaker.snapshot()["probe_calls"] == 0
    acquire(breaker).record_success(0.1)
    assert breaker.state is CLOSED


def test_released_calls_do_not_enter_the_window(clock: FakeClock) -> None:
    """4xx and 429 outcomes (release) never count: twenty of them leave the window empty."""
    breaker, _ = make(clock)
    for _ in range(20):
        acquire(breaker).release()
    assert breaker.snapshot()["calls_in_window"] == 0
    assert breaker.state is CLOSED


def test_slow_calls_open_it(clock: FakeClock) -> None:
    """Successful but slow calls open it when the slow-call rate reaches its threshold."""
    breaker, seen = make(clock, slow_call_duration_s=5.0, slow_call_rate_threshold=0.6)
    calls(breaker, "sssss", duration_s=6.0)
    assert breaker.state is OPEN
    assert "slow-call rate 5/5" in seen[-1][3]


def test_duration_defaults_to_time_since_the_permit(clock: FakeClock) -> None:
    """record_success() without a duration measures it on the breaker's clock."""
    breaker, _ = make(clock, minimum_calls=1, slow_call_duration_s=5.0, slow_call_rate_threshold=1.0)
    permit = acquire(breaker)
    clock.advance(5.0)
    permit.record_success()
    assert breaker.state is OPEN


def test_count_window_keeps_only_the_last_n_calls(clock: FakeClock) -> None:
    """The count window forgets the oldest call as each new one arrives."""
    breaker, _ = make(clock, window_size=4, minimum_calls=4, failure_rate_threshold=0.75)
    calls(breaker, "ffss")  # 2/4
    calls(breaker, "s")  # window f s s s: 1/4
    calls(breaker, "ff")  # window s s f f: 2/4
    assert breaker.state is CLOSED
    assert breaker.snapshot()["calls_in_window"] == 4
    calls(breaker, "f")  # window s f f f: 3/4
    assert breaker.state is OPEN


def test_minimum_calls_above_count_window_size_is_capped(clock: FakeClock) -> None:
    """With a count window of 3, minimum_calls 10 behaves as 3 (the window can never hold 10)."""
    breaker, _ = make(clock, window_size=3, minimum_calls=10)
    calls(breaker, "fff")
    assert breaker.state is OPEN


def test_time_window_forgets_old_calls(clock: FakeClock) -> None:
    """In a 10 s time window, failures older than the window no longer count."""
    breaker, _ = make(clock, window_type="time", window_size=10, minimum_calls=3)
    calls(breaker, "ff")
    clock.advance(11.0)
    calls(breaker, "f")
    assert breaker.state is CLOSED
    assert breaker.snapshot()["calls_in_window"] == 1
    calls(breaker, "ff")
    assert breaker.state is OPEN


def test_time_window_counts_calls_within_the_window(clock: FakeClock) -> None:
    """Failures spread over less than the window add up."""
    breaker, _ = make(clock, window_type="time", window_size=10, minimum_calls=3)
    for _ in range(3):
        calls(breaker, "f")
        clock.advance(3.0)
    assert breaker.state is OPEN


def test_reports_from_before_a_transition_are_ignored(clock: FakeClock) -> None:
    """A call granted while closed and finished after the breaker opened changes nothing."""
    breaker, _ = make(clock)
    slow_call = acquire(breaker)
    trip(breaker)
    before = breaker.snapshot()
    slow_call.record_failure(0.1)
    assert breaker.snapshot() == before


def test_a_permit_reports_once(clock: FakeClock) -> None:
    """The first report counts; later record_* or release calls are no-ops (finally: release is safe)."""
    breaker, _ = make(clock)
    permit = acquire(breaker)
    permit.record_failure(0.1)
    permit.record_failure(0.1)
    permit.release()
    permit.record_success(0.1)
    assert breaker.snapshot()["failures_in_window"] == 1
    assert breaker.snapshot()["calls_in_window"] == 1


def test_rate_limit_marks_without_opening(clock: FakeClock) -> None:
    """mark_rate_limited flags the target until T; permits are still granted and the state stays closed."""
    breaker, seen = make(clock)
    assert breaker.rate_limited_until == float("-inf")
    breaker.mark_rate_limited(clock.now + 30.0)
    assert breaker.is_rate_limited()
    assert breaker.rate_limited_until == clock.now + 30.0
    assert breaker.try_acquire() is not None
    assert breaker.state is CLOSED
    assert seen == []
    clock.advance(30.0)
    assert not breaker.is_rate_limited()
    assert breaker.rate_limited_until <= clock.now
    assert breaker.snapshot()["rate_limited_until"] is None


def test_rate_limit_mark_is_never_shortened(clock: FakeClock) -> None:
    """A shorter later mark does not cut an existing longer one."""
    breaker, _ = make(clock)
    breaker.mark_rate_limited(clock.now + 60.0)
    breaker.mark_rate_limited(clock.now + 5.0)
    assert breaker.rate_limited_until == clock.now + 60.0


def test_snapshot_for_status(clock: FakeClock) -> None:
    """snapshot() reports state, rates, window counts, open deadline and rate limit for /status."""
    breaker, _ = make(clock)
    calls(breaker, "sfff")
    breaker.mark_rate_limited(clock.now + 12.5)
    snap = breaker.snapshot()
    assert snap["state"] == "closed"
    assert (snap["calls_in_window"], snap["failures_in_window"], snap["failure_rate"]) == (4, 3, 0.75)
    assert (snap["open_until"], snap["open_remaining_s"]) == (None, None)
    assert snap["rate_limited_remaining_s"] == 12.5
    calls(breaker, "f")
    snap = breaker.snapshot()
    assert (snap["state"], snap["open_until"], snap["open_remaining_s"]) == ("open", clock.now + 10.0, 10.0)
    assert snap["consecutive_opens"] == 1


_ALLOWED = {(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, OPEN), (HALF_OPEN, CLOSED)}

_ops = st.lists(
    st.one_of(
        st.just(("acquire", 0.0)),
        st.tuples(st.sampled_from(["success", "failure", "release"]), st.floats(0.0, 120.0)),
        st.tuples(st.just("advance"), st.floats(0.0, 100.0)),
    ),
    max_size=120,
)


@settings(max_examples=200, deadline=None)
@given(
    ops=_ops,
    window_type=st.sampled_from(["count", "time"]),
    probes=st.integers(1, 4),
    threshold=st.sampled_from([0.25, 0.5, 1.0]),
)
def test_invariants_under_random_call_sequences(
    ops: list[tuple[str, float]], window_type: str, probes: int, threshold: float
) -> None:
    """For any sequence of calls, outcomes and time: legal transitions only, probes within the limit,
    closed never rejects, open never admits before its deadline, open periods within [base, max], and
    the breaker always lets a call through again once enough time passes (no stuck probe pins it)."""
    clock = FakeClock()
    cfg = BreakerConfig(
        window_type=window_type,  # type: ignore[arg-type]
        window_size=10,
        minimum_calls=3,
        failure_rate_threshold=threshold,
        slow_call_duration_s=30.0,
        slow_call_rate_threshold=threshold,
        open_duration_s=5.0,
        open_duration_max_s=40.0,
        half_open_probes=probes,
        probe_timeout_s=50.0,
    )
    seen: list[Transition] = []
    periods: list[float] = []

    def listener(target: str, before: BreakerState, after: BreakerState, reason: str) -> None:
        seen.append((target, before, after, reason))
        if after is OPEN:
            periods.append(breaker.snapshot()["open_remaining_s"])

    breaker = CircuitBreaker("t", cfg, clock=clock, on_transition=listener)
    outstanding: list[Permit] = []
    for op, value in ops:
        if op == "advance":
            clock.advance(value)
        elif op == "acquire":
            state_before = breaker.state
            open_until = breaker.snapshot()["open_until"]
            permit = breaker.try_acquire()
            if state_before is CLOSED:
                assert permit is not None
            if state_before is OPEN and open_until is not None and clock.now < open_until:
                assert permit is None
            if permit is not None:
                outstanding.append(permit)
        elif outstanding:
            permit = outstanding.pop(int(value) % len(outstanding))
            if op == "success":
                permit.record_success(value)
            elif op == "failure":
                permit.record_failure(value)
            else:
                permit.release()
        snap = breaker.snapshot()
        assert snap["probes_in_flight"] + snap["probe_calls"] <= probes
        assert snap["calls_in_window"] <= 10 or window_type == "time"
    assert all(cfg.open_duration_s <= p <= cfg.open_duration_max_s for p in periods)
    previous = CLOSED
    for _, before, after, _ in seen:
        assert before is previous
        assert (before, after) in _ALLOWED
        previous = after
    assert previous is breaker.state
    for _ in range(3):
        clock.advance(cfg.open_duration_max_s + cfg.probe_timeout_s)
        if breaker.try_acquire() is not None:
            break
    else:
        pytest.fail("breaker never admitted a call again")
