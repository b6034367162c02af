"""Tests for flopbench.measure.policy: stopping rules with fake clocks, interruption, async drivers."""
from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from flopbench.errors import FlopbenchError, OptionError
from flopbench.measure.requests import ExecutorRequests, LatencyCollector
from flopbench.measure.policy import (
    RunPolicy,
    RunRecord,
    SyncBlocks,
    run_async,
    run_sync,
    throughput_fps,
)

MS = 1_000_000


class FakeClock:
    """Returns start, start + tick, start + 2*tick, ... one value per call."""

    def __init__(self, tick_ns: int = MS, start: int = 0):
        self.t = start
        self.tick = tick_ns
        self.calls = 0

    def __call__(self) -> int:
        now = self.t
        self.t += self.tick
        self.calls += 1
        return now


class Counter:
    """A step() that counts its calls and optionally raises on one of them or returns a value."""

    def __init__(self, raise_on: int | None = None, returns=None):
        self.n = 0
        self.raise_on = raise_on
        self.returns = returns

    def __call__(self):
        self.n += 1
        if self.raise_on is not None and self.n == self.raise_on:
            raise KeyboardInterrupt
        return None if self.returns is None else self.returns(self.n)


def policy(warmup=0, t=1.0, niter=1, max_t=None) -> RunPolicy:
    return RunPolicy(warmup_iterations=warmup, min_duration_s=t, min_iterations=niter, max_duration_s=max_t)


# ---------------------------------------------------------------------------------------------------
# RunPolicy.validate
# ---------------------------------------------------------------------------------------------------

def test_defaults_are_valid():
    p = RunPolicy()
    p.validate()
    assert (p.warmup_iterations, p.min_duration_s, p.min_iterations, p.max_duration_s) == (5, 10.0, 100, None)


@pytest.mark.parametrize("kwargs, problem, fix", [
    (dict(min_duration_s=0), "-t 0 must be more than 0 seconds", "-t 10"),
    (dict(min_duration_s=-1.5), "-t -1.5 must be more than 0 seconds", "-t 10"),
    (dict(min_duration_s=float("nan")), "-t nan is not a number of seconds", "-t 10"),
    (dict(min_duration_s=float("inf")), "-t inf is too long", "at most"),
    (dict(min_duration_s=10**7), "-t 1e+07 is too long", "a week"),
    (dict(min_iterations=0), "-niter 0 must be at least 1", "-niter 100"),
    (dict(min_iterations=-5), "-niter -5 must be at least 1", "-niter 100"),
    (dict(min_iterations=10_000_000_000), "-niter 10000000000 is too large", "at most 1e9"),
    (dict(min_iterations=2.5), "-niter 2.5 is not a whole number", "-niter 100"),
    (dict(min_iterations=True), "-niter True is not a whole number", "-niter 100"),
    (dict(warmup_iterations=-1), "--warmup -1 is negative", "give 0 to skip warm-up"),
    (dict(warmup_iterations=10**10), "--warmup 10000000000 is too large", "at most 1e9"),
    (dict(warmup_iterations=1.0), "--warmup 1.0 is not a whole number", "--warmup 5"),
    (dict(max_duration_s=0), "--max-duration 0 must be more than 0 seconds", "leave it out"),
    (dict(max_duration_s=-3), "--max-duration -3 must be more than 0 seconds", "leave it out"),
    (dict(max_duration_s=5.0), "--max-duration 5 s is shorter than -t 10 s, so the run could never finish",
     "raise --max-duration to at least 10 or lower -t"),
    (dict(max_duration_s="60"), "--max-duration '60' is not a number of seconds", "--max-duration 60"),
])
def test_validate_errors(kwargs, problem, fix):
    with pytest.raises(OptionError) as info:
        RunPolicy(**kwargs).validate()
    err = info.value
    assert isinstance(err, FlopbenchError)
    assert err.problem == problem
    assert fix in err.fix
    assert str(err) == f"{problem}; {err.fix}"


def test_validate_accepts_edges():
    RunPolicy(warmup_iterations=0, min_duration_s=1e-9, min_iterations=1).validate()
    RunPolicy(min_iterations=10**9, max_duration_s=10.0).validate()
    RunPolicy(min_iterations=np.int64(7), min_duration_s=np.float64(0.5)).validate()


def test_durations_convert_exactly_to_ns():
    assert RunPolicy(min_duration_s=0.067).min_duration_ns == 67_000_000   # not ceil(67000000.00000001)
    assert RunPolicy(min_duration_s=10.0, max_duration_s=12.5).max_duration_ns == 12_500_000_000
    assert RunPolicy(min_duration_s=1e-12).min_duration_ns == 1
    assert RunPolicy().max_duration_ns is None


def test_run_validates_before_running():
    step = Counter()
    with pytest.raises(OptionError, match="-niter 0"):
        run_sync(step, policy(niter=0), clock_ns=FakeClock())
    assert step.n == 0
    with pytest.raises(OptionError, match="-t 0"):
        run_async(step, lambda: None, lambda: np.empty(0), policy(t=0), clock_ns=FakeClock())
    assert step.n == 0


# ---------------------------------------------------------------------------------------------------
# run_sync with a fake clock. The clock is read twice per warm-up iteration, once at the start of the
# measured phase, then twice per iteration (t0, t1) -- so with a 1 ms tick iteration k ends 2k ms
# after the start and each clock-timed latency is exactly 1 ms.
# ---------------------------------------------------------------------------------------------------

def test_duration_met_first_continues_to_niter():
    clock = FakeClock()
    rec = run_sync(Counter(), policy(t=0.010, niter=100), clock_ns=clock)
    assert rec.iterations == 100 and len(rec.latencies_ns) == 100
    assert rec.wall_ns == 200 * MS
    assert rec.complete and rec.stop_reason == "policy met"
    assert rec.latencies_ns.dtype == np.int64 and set(rec.latencies_ns.tolist()) == {MS}
    assert clock.calls == 1 + 2 * 100


def test_niter_met_first_continues_to_duration():
    clock = FakeClock()
    step = Counter()
    rec = run_sync(step, policy(t=1.0, niter=10), clock_ns=clock)
    assert rec.iterations == step.n == 500          # 2 * 500 ms == 1 s exactly, not one more
    assert rec.wall_ns == 1000 * MS
    assert rec.complete and rec.stop_reason == "policy met"


@given(tick=st.integers(MS // 10, 5 * MS), t_ms=st.integers(1, 400), niter=st.integers(1, 600),
       warmup=st.integers(0, 4))
@settings(max_examples=60, deadline=None)
def test_sync_stops_exactly_when_both_are_met(tick, t_ms, niter, warmup):
    clock = FakeClock(tick)
    rec = run_sync(Counter(), policy(warmup=warmup, t=t_ms / 1000, niter=niter), clock_ns=clock)
    expected = max(niter, math.ceil(t_ms * MS / (2 * tick)))
    assert rec.iterations == expected == len(rec.latencies_ns)
    assert rec.wall_ns == 2 * tick * expected
    assert len(rec.warmup_ns) == warmup
    assert rec.complete


def test_max_duration_caps_the_run():
    rec = run_sync(Counter(), policy(t=1.0, niter=10**6, max_t=2.0), clock_ns=FakeClock())
    assert rec.iterations == 1000                    # t1 reaches start + 2 s at iteration 1000
    assert rec.wall_ns == 2000 * MS
    assert not rec.complete and rec.stop_reason == "max duration"
    assert len(rec.latencies_ns) == 1000


def test_max_duration_not_reached_when_policy_met():
    rec = run_sync(Counter(), policy(t=0.1, niter=10, max_t=0.1), clock_ns=FakeClock())
    assert rec.complete and rec.stop_reason == "policy met" and rec.iterations == 50


def test_warmup_excluded_and_reported_first():
    step = Counter(returns=lambda n: 1000 * n)       # engine latencies 1000, 2000, ...
    clock = FakeClock()
    rec = run_sync(step, policy(warmup=3, t=0.001, niter=4), clock_ns=clock)
    assert rec.warmup_ns == (1000, 2000, 3000)
    assert rec.first_inference_ns == 1000
    assert rec.latencies_ns.tolist() == [4000, 5000, 6000, 7000]
    assert rec.wall_ns == 8 * MS                     # warm-up time is not in the wall time
    assert clock.calls == 2 * 3 + 1 + 2 * 4


def test_warmup_clock_timed_when_step_returns_none():
    rec = run_sync(Counter(), policy(warmup=2, t=0.001, niter=1), clock_ns=FakeClock(7))
    assert rec.warmup_ns == (7, 7)
    assert rec.first_inference_ns == 7
    assert run_sync(Counter(), policy(warmup=0, niter=1, t=1e-6), clock_ns=FakeClock()).first_inference_ns is None


def test_engine_latencies_are_used_when_step_returns_ints():
    rec = run_sync(lambda: 12345, policy(t=0.02, niter=5), clock_ns=FakeClock())
    assert rec.iterations == 10
    assert set(rec.latencies_ns.tolist()) == {12345}
    assert rec.wall_ns == 20 * MS                     # the wall time still comes from the clock
    rec = run_sync(lambda: np.int64(77), policy(t=0.001, niter=3), clock_ns=FakeClock())
    assert rec.latencies_ns.tolist() == [77, 77, 77]
    rec = run_sync(lambda: 0, policy(t=0.001, niter=3), clock_ns=FakeClock())
    assert rec.latencies_ns.tolist() == [0, 0, 0]     # 0 is an engine latency, not "no value"


def test_keyboard_interrupt_at_iteration_37_keeps_36():
    step = Counter(raise_on=37)
    rec = run_sync(step, policy(t=10.0, niter=1000), clock_ns=FakeClock())
    assert rec.iterations == 36 and len(rec.latencies_ns) == 36
    assert rec.wall_ns == 72 * MS                     # up to the end of the last completed iteration
    assert not rec.complete and rec.stop_reason == "interrupted"
    assert set(rec.latencies_ns.tolist()) == {MS}


def test_keyboard_interrupt_in_warmup_keeps_warmup():
    step = Counter(raise_on=3, returns=lambda n: n)
    rec = run_sync(step, policy(warmup=5, t=1.0, niter=10), clock_ns=FakeClock())
    assert rec.warmup_ns == (1, 2)
    assert rec.iterations == 0 and rec.latencies_ns.shape == (0,) and rec.latencies_ns.dtype == np.int64
    assert rec.wall_ns == 0 and not rec.complete and rec.stop_reason == "interrupted"


def test_keyboard_interrupt_on_first_measured_iteration():
    rec = run_sync(Counter(raise_on=1), policy(t=1.0, niter=10), clock_ns=FakeClock())
    assert rec.iterations == 0 and rec.wall_ns == 0 and rec.stop_reason == "interrupted"


def test_keyboard_interrupt_from_progress_callback():
    def progress(_):
        raise KeyboardInterrupt

    rec = run_sync(Counter(), policy(t=1.0, niter=10), clock_ns=FakeClock(), progress=progress)
    assert rec.stop_reason == "interrupted" and rec.iterations == 50   # first report at 100 ms


def test_other_exceptions_propagate():
    def step():
        raise RuntimeError("engine crashed")

    with pytest.raises(RuntimeError, match="engine crashed"):
        run_sync(step, policy(), clock_ns=FakeClock())


@pytest.mark.parametrize("niter, t, expected", [(10, 6.0, 3000), (5000, 20.0, 10000), (3000, 0.001, 3000)])
def test_buffer_growth_keeps_every_latency_in_order(niter, t, expected):
    rec = run_sync(Counter(returns=lambda n: n), policy(t=t, niter=niter), clock_ns=FakeClock())
    assert rec.iterations == expected
    np.testing.assert_array_equal(rec.latencies_ns, np.arange(1, expected + 1))
    assert rec.latencies_ns.base is None or rec.latencies_ns.base.shape[0] == expected


def test_progress_is_rate_limited_and_monotone():
    calls = []
    rec = run_sync(Counter(), policy(t=1.0, niter=10), clock_ns=FakeClock(), progress=calls.append)
    assert rec.complete
    assert 5 <= len(calls) <= 11                      # every >= 100 ms of a 1 s run, plus the final 1.0
    assert calls[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in calls)
    assert calls == sorted(calls)


def test_progress_tracks_the_slower_requirement():
    calls = []
    run_sync(Counter(), policy(t=0.2, niter=1000), clock_ns=FakeClock(), progress=calls.append)
    # time is met after 100 iterations (0.2 s); progress follows the iterations, so it stays low
    assert calls[0] == pytest.approx(50 / 1000)
    assert calls[-1] == 1.0


def test_progress_not_called_too_often_on_a_fast_real_run():
    calls = []
    t = time.perf_counter()
    rec = run_sync(lambda: None, policy(t=0.3, niter=10), progress=calls.append)
    elapsed = time.perf_counter() - t
    assert rec.complete
    assert len(calls) <= elapsed / 0.1 + 2


def test_real_short_run_shape():
    p = RunPolicy(min_duration_s=0.05, min_iterations=10)
    t = time.perf_counter_ns()
    rec = run_sync(lambda: None, p)
    elapsed = time.perf_counter_ns() - t
    assert isinstance(rec, RunRecord)
    assert rec.complete and rec.stop_reason == "policy met"
    assert len(rec.warmup_ns) == 5 and all(isinstance(v, int) and v >= 0 for v in rec.warmup_ns)
    assert rec.iterations >= 10 and rec.iterations == len(rec.latencies_ns)
    assert rec.latencies_ns.dtype == np.int64 and rec.latencies_ns.ndim == 1
    assert (rec.latencies_ns >= 0).all()
    assert 50_000_000 <= rec.wall_ns <= elapsed
    assert int(rec.latencies_ns.sum()) <= rec.wall_ns
    assert throughput_fps(rec) == pytest.approx(rec.iterations / rec.wall_s)


# ---------------------------------------------------------------------------------------------------
# SyncBlocks: run_sync a block at a time (profile's unprofiled model between its profiled blocks,
# calibration's fastest block). Each block is exactly its size, whatever the clock says, and costs
# the clock what run_sync costs: nothing added per inference.
# ---------------------------------------------------------------------------------------------------

def test_blocks_are_their_size_and_warm_up_only_before_the_first():
    step, clock = Counter(), FakeClock(tick_ns=10**10)  # 10 s a tick: no time minimum holds a block
    blocks = SyncBlocks(step, 3, warmup=2, clock_ns=clock)
    first = blocks.run()
    assert (step.n, len(first.warmup_ns), first.iterations, first.complete) == (5, 2, 3, True)
    assert clock.calls == 2 * 2 + 1 + 2 * 3                # run_sync's reads, nothing more
    second = blocks.run()
    assert (step.n, second.warmup_ns, second.iterations) == (8, (), 3)
    assert clock.calls == 2 * 2 + 1 + 2 * 3 + 1 + 2 * 3
    assert blocks.latencies("call").tolist() == [10**10] * 6


def test_blocks_take_the_engine_s_latencies_where_it_reports_them():
    reported = []
    step = Counter(returns=lambda n: reported.append(1000 * n))  # the runtime notes each run's latency, warm-up first
    blocks = SyncBlocks(step, 2, warmup=1, engine_latencies=lambda: np.asarray(reported, dtype=np.int64), clock_ns=FakeClock())
    blocks.run()
    blocks.run()
    assert blocks.latencies("engine").tolist() == [2000, 3000, 4000, 5000]
    assert blocks.latencies("call").tolist() == [MS] * 4
    assert SyncBlocks(Counter(), 2, clock_ns=FakeClock()).latencies("engine").shape == (0,)
    plain = SyncBlocks(Counter(), 2, clock_ns=FakeClock())  # an engine that reports none: the call's
    plain.run()
    assert plain.latencies("engine").tolist() == [MS, MS]


def test_blocks_of_a_total_end_with_what_remains_and_alternate_with_other_work():
    step, between = Counter(), []
    blocks = SyncBlocks(step, 3, warmup=1, total=7, clock_ns=FakeClock())
    assert blocks.run_all(between=lambda: between.append(step.n)) is True
    assert [r.iterations for r in blocks.records] == [3, 3, 1] and blocks.iterations == 7
    assert between == [4, 7, 8]                            # after each block, the last shorter one too
    with pytest.raises(ValueError, match="all 7"):
        blocks.run()
    one = SyncBlocks(Counter(), 5, total=2, clock_ns=FakeClock())
    assert one.run().iterations == 2 and one.latencies("call").tolist() == [MS, MS]


def test_ctrl_c_in_run_all_keeps_what_ran_and_says_so():
    step = Counter(raise_on=5)
    blocks = SyncBlocks(step, 2, total=10, clock_ns=FakeClock())
    assert blocks.run_all(between=lambda: None) is False
    assert blocks.iterations == 4 and blocks.latencies("call").tolist() == [MS] * 4


def test_ctrl_c_in_a_block_keeps_what_it_ran_and_stops_the_caller_s_loop():
    reported = []
    step = Counter(raise_on=6, returns=lambda n: reported.append(n))
    blocks = SyncBlocks(step, 3, warmup=1, engine_latencies=lambda: np.asarray(reported, dtype=np.int64), clock_ns=FakeClock())
    ran = 0
    with pytest.raises(KeyboardInterrupt):
        for _ in range(10):
            blocks.run()
            ran += 1
    assert ran == 1                                        # the second block was the interrupted one
    assert blocks.latencies("call").tolist() == [MS] * 4   # 3 + the one completed before Ctrl-C
    assert blocks.latencies("engine").tolist() == [2, 3, 4, 5]
    assert not blocks.records[-1].complete


# ---------------------------------------------------------------------------------------------------
# throughput
# ---------------------------------------------------------------------------------------------------

def test_throughput_fps():
    rec = RunRecord((), np.zeros(500, dtype=np.int64), 10**9, 500, True, "policy met")
    assert throughput_fps(rec) == 500.0
    assert throughput_fps(rec, batch=4) == 2000.0
    empty = RunRecord((), np.zeros(0, dtype=np.int64), 0, 0, False, "interrupted")
    assert throughput_fps(empty) == 0.0
    with pytest.raises(ValueError, match="batch"):
        throughput_fps(rec, batch=0)
    with pytest.raises(ValueError, match="wall time"):
        throughput_fps(RunRecord((), np.zeros(3, dtype=np.int64), 0, 3, True, "policy met"))


def test_record_equality_ignores_latency_array():
    a = RunRecord((1,), np.array([1, 2]), 5, 2, True, "policy met")
    b = RunRecord((1,), np.array([1, 2]), 5, 2, True, "policy met")
    assert a == b


# ---------------------------------------------------------------------------------------------------
# run_async with a fake queue. The clock is read once at the start, once after each start(), and once
# after the final wait_all(); so with a 1 ms tick submission k happens k ms after the start.
# ---------------------------------------------------------------------------------------------------

class FakeQueue:
    """A test double for an async request pool: start() 'completes' a request with a fake latency."""

    def __init__(self, raise_on: int | None = None, latency=lambda n: 1000 + n):
        self.started = 0
        self.waits = 0
        self.raise_on = raise_on
        self.latency = latency
        self.collected: list[int] = []
        self.events: list[str] = []

    def start(self):
        if self.raise_on is not None and self.started + 1 == self.raise_on:
            self.raise_on = None
            raise KeyboardInterrupt
        self.started += 1
        self.collected.append(self.latency(self.started))
        self.events.append("start")

    def wait_all(self):
        self.waits += 1
        self.events.append("wait")

    def drain(self):
        out, self.collected = self.collected, []
        self.events.append("drain")
        return np.array(out, dtype=np.int64)


def run_fake(q: FakeQueue, p: RunPolicy, clock=None, progress=None) -> RunRecord:
    return run_async(q.start, q.wait_all, q.drain, p, clock_ns=clock or FakeClock(), progress=progress)


def test_async_duration_met_first_continues_to_niter():
    q = FakeQueue()
    rec = run_fake(q, policy(t=0.010, niter=100))
    assert rec.iterations == 100 == len(rec.latencies_ns)
    assert rec.wall_ns == 101 * MS                    # 100 submissions + the final wait_all
    assert rec.complete and rec.stop_reason == "policy met"
    assert throughput_fps(rec) == pytest.approx(100 / 0.101)


def test_async_niter_met_first_continues_to_duration():
    q = FakeQueue()
    rec = run_fake(q, policy(t=1.0, niter=10))
    assert rec.iterations == q.started == 1000
    assert rec.complete


@given(tick=st.integers(MS // 10, 5 * MS), t_ms=st.integers(1, 300), niter=st.integers(1, 500))
@settings(max_examples=50, deadline=None)
def test_async_stops_exactly_when_both_are_met(tick, t_ms, niter):
    q = FakeQueue()
    rec = run_fake(q, policy(t=t_ms / 1000, niter=niter), clock=FakeClock(tick))
    expected = max(niter, math.ceil(t_ms * MS / tick))
    assert rec.iterations == expected == len(rec.latencies_ns)
    assert rec.wall_ns == tick * (expected + 1)


def test_async_warmup_is_waited_for_and_drained_separately():
    q = FakeQueue()
    rec = run_fake(q, policy(warmup=4, t=0.003, niter=5))
    assert rec.warmup_ns == (1001, 1002, 1003, 1004)
    assert rec.latencies_ns.tolist() == [1005, 1006, 1007, 1008, 1009]
    assert q.events[:6] == ["start"] * 4 + ["wait", "drain"]
    assert q.events[-2:] == ["wait", "drain"]


def test_async_max_duration():
    rec = run_fake(FakeQueue(), policy(t=1.0, niter=10**6, max_t=1.5))
    assert rec.iterations == 1500 and not rec.complete and rec.stop_reason == "max duration"
    assert len(rec.latencies_ns) == 1500


def test_async_keyboard_interrupt_waits_and_keeps_data():
    q = FakeQueue(raise_on=20)
    rec = run_fake(q, policy(t=10.0, niter=1000))
    assert rec.iterations == 19 and len(rec.latencies_ns) == 19
    assert not rec.complete and rec.stop_reason == "interrupted"
    assert q.events[-2:] == ["wait", "drain"]          # in-flight requests were waited for, then drained


def test_async_keyboard_interrupt_in_warmup():
    q = FakeQueue(raise_on=3)
    rec = run_fake(q, policy(warmup=5, t=1.0, niter=10))
    assert rec.warmup_ns == (1001, 1002)
    assert rec.iterations == 0 and rec.latencies_ns.shape == (0,) and rec.stop_reason == "interrupted"


def test_async_second_interrupt_while_waiting_gives_up_waiting():
    q = FakeQueue(raise_on=5)
    waits = []

    def wait_all():
        waits.append(1)
        raise KeyboardInterrupt

    rec = run_async(q.start, wait_all, q.drain, policy(t=1.0, niter=100), clock_ns=FakeClock())
    assert rec.stop_reason == "interrupted" and rec.iterations == 0 and len(waits) == 2


def test_async_progress_bounded():
    calls = []
    rec = run_fake(FakeQueue(), policy(t=1.0, niter=10), progress=calls.append)
    assert rec.complete and 5 <= len(calls) <= 11 and calls[-1] == 1.0 and calls == sorted(calls)


# ---------------------------------------------------------------------------------------------------
# Adapters, with real threads
# ---------------------------------------------------------------------------------------------------

def test_latency_collector_is_thread_safe():
    sink = LatencyCollector()

    def feed(base):
        for i in range(2000):
            sink.add(base + i)

    threads = [threading.Thread(target=feed, args=(k * 10_000,)) for k in range(4)]
    drained = []
    for th in threads:
        th.start()
    while any(th.is_alive() for th in threads):
        drained.append(sink.drain())
    for th in threads:
        th.join()
    drained.append(sink.drain())
    allv = np.concatenate(drained)
    assert allv.dtype == np.int64
    assert sorted(allv.tolist()) == sorted(k * 10_000 + i for k in range(4) for i in range(2000))
    assert len(sink) == 0


def test_run_async_with_a_real_thread_pool():
    nreq = 4
    active = [0]
    peak = [0]
    lock = threading.Lock()

    def job():
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.001)
        with lock:
            active[0] -= 1

    with ThreadPoolExecutor(max_workers=nreq) as pool:
        requests = ExecutorRequests(job, nreq=nreq, executor=pool)
        rec = run_async(requests.start, requests.wait_all, requests.drain_latencies,
                        RunPolicy(warmup_iterations=3, min_duration_s=0.1, min_iterations=40))
        assert requests.in_flight == 0
    assert rec.complete and rec.stop_reason == "policy met"
    assert len(rec.warmup_ns) == 3
    assert rec.iterations >= 40 and len(rec.latencies_ns) == rec.iterations
    assert rec.latencies_ns.min() >= 1_000_000        # each job sleeps 1 ms
    assert rec.wall_ns >= 100_000_000
    assert 1 < peak[0] <= nreq                        # requests overlapped, never more than nreq
    # Little's law: mean requests in flight = throughput x mean latency = sum(latencies) / wall.
    in_flight = int(rec.latencies_ns.sum()) / rec.wall_ns
    assert 1.5 < in_flight <= nreq + 0.01
    assert throughput_fps(rec) == pytest.approx(rec.iterations / rec.wall_s)


def test_executor_requests_owns_its_pool_and_reports_engine_latency():
    with ExecutorRequests(lambda: 4242, nreq=2) as requests:
        rec = run_async(requests.start, requests.wait_all, requests.drain_latencies,
                        RunPolicy(warmup_iterations=1, min_duration_s=0.01, min_iterations=20))
    assert rec.warmup_ns == (4242,)
    assert set(rec.latencies_ns.tolist()) == {4242} and len(rec.latencies_ns) == rec.iterations


def test_executor_requests_propagates_job_errors():
    def job():
        raise RuntimeError("session.run failed")

    with ExecutorRequests(job, nreq=2) as requests:
        with pytest.raises(RuntimeError, match="session.run failed"):
            run_async(requests.start, requests.wait_all, requests.drain_latencies,
                      RunPolicy(warmup_iterations=2, min_duration_s=0.01, min_iterations=5))


def test_executor_requests_rejects_bad_nreq():
    with pytest.raises(ValueError, match="nreq"):
        ExecutorRequests(lambda: None, nreq=0)
