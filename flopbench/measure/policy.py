"""When a benchmark loop stops, what it records, and nothing about any engine.

Two drivers share one :class:`RunPolicy`:

* :func:`run_sync` calls ``step()`` back to back (latency mode, one request in flight).
* :class:`SyncBlocks` runs :func:`run_sync` a block of a fixed count at a time, for a caller that
  alternates the blocks with other work or takes a statistic per block (profile, calibration).
* :func:`run_async` keeps a pool of requests busy through ``start()`` / ``wait_all()`` /
  ``drain_latencies()`` (throughput mode). An OpenVINO ``AsyncInferQueue`` plugs in as
  ``start=lambda: queue.start_async(inputs)``, ``wait_all=queue.wait_all`` and a completion callback
  that feeds a :class:`LatencyCollector`; anything that runs a callable on threads (ONNX Runtime
  sessions on a thread pool) plugs in through :class:`ExecutorRequests`.

The measured phase stops when **both** ``min_duration_s`` and ``min_iterations`` are met (like MLPerf
LoadGen's min_duration and min_query_count), or when ``max_duration_s`` runs out, or on Ctrl-C.
:meth:`RunPolicy.from_flags` gives benchmark_app's flags their meaning: ``-t`` alone stops at about
that time, ``-niter`` alone after that many runs, both given when both are met. Whatever was measured is returned in every
case: a :class:`RunRecord` says whether the policy was met (``complete``) and why it stopped.

Clocks are injectable (``clock_ns``, integer nanoseconds, monotonic) so tests can drive the loops with
fake time.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

import numpy as np

from ..errors import OptionError

__all__ = [
    "RunPolicy",
    "RunRecord",
    "run_sync",
    "run_async",
    "SyncBlocks",
    "throughput_fps",
    "STOP_POLICY_MET",
    "STOP_INTERRUPTED",
    "STOP_MAX_DURATION",
    "MAX_ITERATIONS",
]

STOP_POLICY_MET = "policy met"
STOP_INTERRUPTED = "interrupted"
STOP_MAX_DURATION = "max duration"

#: Largest -niter (and warm-up count) accepted.
MAX_ITERATIONS = 10**9
#: Largest duration accepted, in seconds (a week); beyond that it is a typo.
MAX_DURATION_S = 7 * 24 * 3600.0
#: progress() is called at most once per this many nanoseconds (plus once at the end).
PROGRESS_PERIOD_NS = 100_000_000
#: Initial size of the latency buffer when -niter is small; it doubles when full.
_MIN_BUFFER = 1024
#: Largest initial buffer (so -niter 1e9 does not allocate 8 GB up front).
_MAX_INITIAL_BUFFER = 1 << 22

_NEVER = 1 << 62  # a clock value no run reaches


def is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


@dataclass(frozen=True)
class RunPolicy:
    """How long a benchmark runs.

    * ``warmup_iterations`` -- run before measuring; their latencies are reported separately
      (the first one is the first-inference time) and never enter the statistics or the wall time.
    * ``min_duration_s`` and ``min_iterations`` -- the measured phase goes on until both are met;
      ``min_duration_s=None``: no time minimum (``-niter`` alone).
    * ``max_duration_s`` -- optional hard cap on the measured phase; a run stopped by it is
      incomplete.

    A policy checks itself when made: an invalid one cannot exist.
    """

    warmup_iterations: int = 5
    min_duration_s: float | None = 10.0
    min_iterations: int = 100
    max_duration_s: float | None = None

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def from_flags(cls, seconds: float | None = None, niter: int | None = None, min_iterations: int | None = None,
                   warmup: int = 5, max_duration: float | None = None, default_seconds: float = 10.0,
                   default_niter: int = 100) -> "RunPolicy":
        """benchmark_app's meaning of its flags: ``-t`` alone stops at about that time, ``-niter``
        alone after that many runs, both given when both are met; neither: the command's default
        (10 s and 100 runs for bench). ``min_iterations`` (``--min-iterations``) is MLPerf's
        minimum count, met together with ``-t``."""
        if seconds is None and niter is None:
            return cls(warmup, default_seconds, default_niter if min_iterations is None else min_iterations, max_duration)
        counts = [n for n in (niter, min_iterations) if n is not None]
        least = max(counts, key=lambda n: n if is_int(n) else 0) if counts else 1
        return cls(warmup, seconds, least, max_duration)

    def validate(self) -> None:
        """Raise :class:`~flopbench.errors.OptionError` (problem, fix) for a value that cannot work."""
        w = self.warmup_iterations
        if not is_int(w):
            raise OptionError(f"--warmup {w!r} is not a whole number", "give a count such as --warmup 5")
        if w < 0:
            raise OptionError(f"--warmup {w} is negative", "give 0 to skip warm-up, or a positive count such as 5")
        if w > MAX_ITERATIONS:
            raise OptionError(f"--warmup {w} is too large", "warm-up needs a few iterations; at most 1e9")

        n = self.min_iterations
        if not is_int(n):
            raise OptionError(f"-niter {n!r} is not a whole number", "give a count such as -niter 100")
        if n < 1:
            raise OptionError(f"-niter {n} must be at least 1", "give a positive count such as -niter 100")
        if n > MAX_ITERATIONS:
            raise OptionError(f"-niter {n} is too large",
                              "no run can finish that many iterations; give at most 1e9")

        t = self.min_duration_s
        if t is not None:
            if not _is_number(t) or math.isnan(t):
                raise OptionError(f"-t {t!r} is not a number of seconds", "give a duration such as -t 10")
            if t <= 0:
                raise OptionError(f"-t {t:g} must be more than 0 seconds", "give a duration such as -t 10")
            if math.isinf(t) or t > MAX_DURATION_S:
                raise OptionError(f"-t {t:g} is too long", f"give at most {MAX_DURATION_S:g} seconds (a week)")

        m = self.max_duration_s
        if m is not None:
            if not _is_number(m) or math.isnan(m):
                raise OptionError(f"--max-duration {m!r} is not a number of seconds",
                                  "give a duration such as --max-duration 60, or leave it out")
            if m <= 0:
                raise OptionError(f"--max-duration {m:g} must be more than 0 seconds",
                                  "give a duration such as --max-duration 60, or leave it out")
            if t is not None and m < t:
                raise OptionError(f"--max-duration {m:g} s is shorter than -t {t:g} s, so the run could never finish",
                                  f"raise --max-duration to at least {t:g} or lower -t")

    # -- helpers for the drivers ------------------------------------------------------------------
    @property
    def min_duration_ns(self) -> int:
        return 0 if self.min_duration_s is None else _seconds_to_ns(self.min_duration_s)

    @property
    def max_duration_ns(self) -> int | None:
        return None if self.max_duration_s is None else _seconds_to_ns(self.max_duration_s)


def _seconds_to_ns(seconds: float) -> int:
    """Exact conversion of the decimal the user wrote (0.067 s is 67_000_000 ns, not 67_000_001),
    rounded up to a whole nanosecond."""
    return max(1, math.ceil(Fraction(str(float(seconds))) * 1_000_000_000))


@dataclass(frozen=True)
class RunRecord:
    """What one run measured.

    * ``warmup_ns`` -- each warm-up latency in order (sync) or in completion order (async).
    * ``latencies_ns`` -- the measured latencies, int64, one per completed request.
    * ``wall_ns`` -- wall time of the measured phase: from its start to the end of the last completed
      iteration (sync) or to the end of ``wait_all()`` (async).
    * ``iterations`` -- completed ``step()`` calls (sync) or submitted requests (async).
    * ``complete`` -- True iff the policy was met; ``stop_reason`` is one of ``"policy met"``,
      ``"interrupted"`` (Ctrl-C), ``"max duration"``.
    """

    warmup_ns: tuple[int, ...]
    latencies_ns: np.ndarray = field(compare=False)
    wall_ns: int
    iterations: int
    complete: bool
    stop_reason: str

    @property
    def first_inference_ns(self) -> int | None:
        """The first warm-up latency (what a cold start costs), or None without warm-up."""
        return self.warmup_ns[0] if self.warmup_ns else None

    @property
    def wall_s(self) -> float:
        return self.wall_ns / 1e9


def throughput_fps(record: RunRecord, batch: int = 1) -> float:
    """Frames (samples) per second: ``iterations * batch / wall``. 0.0 for a run that measured nothing."""
    if not is_int(batch) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    if record.iterations <= 0:
        return 0.0
    if record.wall_ns <= 0:
        raise ValueError(f"{record.iterations} iterations took no measurable wall time; cannot compute throughput")
    return record.iterations * batch * 1e9 / record.wall_ns


def _trim(buf: np.ndarray, n: int) -> np.ndarray:
    """The first n entries of a private buffer, without keeping the unused tail alive."""
    if n == buf.shape[0]:
        return buf
    try:
        buf.resize((n,), refcheck=False)      # in place: nobody else holds this buffer
        return buf
    except ValueError:
        return buf[:n].copy()


def _progress_fraction(elapsed_ns: int, done: int, min_ns: int, min_iter: int) -> float:
    return min(1.0, elapsed_ns / min_ns if min_ns > 0 else 1.0, done / min_iter)


def run_sync(step: Callable[[], int | None],
             policy: RunPolicy,
             clock_ns: Callable[[], int] = time.perf_counter_ns,
             progress: Callable[[float], None] | None = None) -> RunRecord:
    """Call `step()` until the policy is met; return every latency measured.

    `step()` runs one inference. If it returns an int, that is the engine's own latency in ns and is
    recorded; otherwise the latency is the clock delta around the call. The clock is read exactly
    once before the measured phase and twice per iteration (around `step`), nowhere else, so a fake
    clock sees a predictable sequence of calls. ``progress(fraction)`` (fraction of the policy met,
    0..1) is called at most once per 100 ms of clock time, and once with 1.0 at the end of a run that
    was not interrupted.

    Ctrl-C (KeyboardInterrupt) during warm-up or measurement ends the run: the record keeps every
    completed iteration (an interrupted ``step()`` is not one), with ``complete=False`` and
    ``stop_reason="interrupted"``. Other exceptions from `step` propagate.
    """
    warm: list[int] = []
    try:
        for _ in range(policy.warmup_iterations):
            t0 = clock_ns()
            r = step()
            t1 = clock_ns()
            warm.append(int(r) if r is not None else t1 - t0)
    except KeyboardInterrupt:
        return RunRecord(tuple(warm), np.empty(0, dtype=np.int64), 0, 0, False, STOP_INTERRUPTED)

    min_iter = policy.min_iterations
    cap = max(_MIN_BUFFER, min(min_iter, _MAX_INITIAL_BUFFER))
    buf = np.empty(cap, dtype=np.int64)
    i = 0
    reason = STOP_INTERRUPTED
    start = clock_ns()
    t1 = start
    min_deadline = start + policy.min_duration_ns
    max_ns = policy.max_duration_ns
    max_deadline = _NEVER if max_ns is None else start + max_ns
    next_progress = start + PROGRESS_PERIOD_NS if progress is not None else _NEVER
    # The hot loop does one "or" of two comparisons per iteration; everything else happens in the
    # slow path when the iteration count reaches check_i or the clock reaches check_t.
    time_met = False
    check_i = min(cap, min_iter)
    check_t = min(min_deadline, max_deadline, next_progress)
    try:
        while True:
            t0 = clock_ns()
            r = step()
            t1 = clock_ns()
            buf[i] = t1 - t0 if r is None else r
            i += 1
            if i >= check_i or t1 >= check_t:
                if t1 >= min_deadline:
                    time_met = True
                if time_met and i >= min_iter:
                    reason = STOP_POLICY_MET
                    break
                if t1 >= max_deadline:
                    reason = STOP_MAX_DURATION
                    break
                if i == cap:
                    grown = np.empty(cap * 2, dtype=np.int64)
                    grown[:cap] = buf
                    buf = grown
                    cap *= 2
                if t1 >= next_progress:
                    progress(_progress_fraction(t1 - start, i, policy.min_duration_ns, min_iter))
                    next_progress = t1 + PROGRESS_PERIOD_NS
                check_i = cap if i >= min_iter else min(cap, min_iter)
                check_t = min(_NEVER if time_met else min_deadline, max_deadline, next_progress)
        if progress is not None:
            progress(1.0)
    except KeyboardInterrupt:
        pass  # reason stays "interrupted" unless the loop had already finished
    return RunRecord(
        warmup_ns=tuple(warm),
        latencies_ns=_trim(buf, i),
        wall_ns=int(t1 - start),
        iterations=i,
        complete=reason == STOP_POLICY_MET,
        stop_reason=reason,
    )


class SyncBlocks:
    """`step` run in blocks of exactly `size` inferences, each block one :func:`run_sync` with no
    time minimum (so the same timed loop as bench, nothing added per inference), the first block
    after `warmup` runs; given `total`, the inferences stop there and the last block is what
    remains. For a caller that alternates blocks with other work (profile runs the unprofiled
    model between its profiled blocks) or takes a statistic per block (calibration's fastest block).

    `engine_latencies` is the second value of a runner's ``sync_step``: the runtime's own latency
    of every step run so far, warm-up first; None when the engine reports none."""

    def __init__(self, step: Callable[[], int | None], size: int, warmup: int = 0,
                 engine_latencies: Callable[[], np.ndarray] | None = None, total: int | None = None,
                 clock_ns: Callable[[], int] = time.perf_counter_ns) -> None:
        self._step, self._engine, self._clock = step, engine_latencies, clock_ns
        self._size, self._warmup, self._total = size, warmup, total
        RunPolicy(warmup_iterations=warmup, min_duration_s=None, min_iterations=size)  # checks the counts
        self.records: list[RunRecord] = []

    @property
    def iterations(self) -> int:
        """The inferences measured so far (warm-up not counted)."""
        return sum(r.iterations for r in self.records)

    def run(self) -> RunRecord:
        """One block. Ctrl-C keeps the inferences the block completed and is raised again, so the
        caller's own loop over the blocks stops there too."""
        size = self._size
        if self._total is not None:
            size = min(size, self._total - self.iterations)
            if size < 1:
                raise ValueError(f"all {self._total} inferences have run")
        policy = RunPolicy(warmup_iterations=0 if self.records else self._warmup, min_duration_s=None, min_iterations=size)
        record = run_sync(self._step, policy, self._clock)
        self.records.append(record)
        if record.stop_reason == STOP_INTERRUPTED:
            raise KeyboardInterrupt
        return record

    def run_all(self, between: Callable[[], None] | None = None) -> bool:
        """Blocks until `total`, `between()` after each (the last, shorter one too); False when
        Ctrl-C stopped them, with what ran kept."""
        if self._total is None:
            raise ValueError("run_all needs the total number of inferences")
        try:
            while self.iterations < self._total:
                self.run()
                if between is not None:
                    between()
        except KeyboardInterrupt:
            return False
        return True

    def latencies(self, kind: str) -> np.ndarray:
        """Every measured latency so far in order (ns): the runtime's own for ``"engine"`` where it
        reports them, else the clock's around each call (``"call"``)."""
        calls = np.concatenate([r.latencies_ns for r in self.records]) if self.records else np.empty(0, dtype=np.int64)
        if kind != "engine" or self._engine is None:
            return calls
        # the runtime's list also holds the warm-up runs, which come first
        warm = len(self.records[0].warmup_ns) if self.records else 0
        return _as_latencies(self._engine())[warm:][: len(calls)]


def _as_latencies(values) -> np.ndarray:
    arr = np.asarray(values, dtype=np.int64)
    return arr.reshape(-1)


def run_async(start: Callable[[], None],
              wait_all: Callable[[], None],
              drain_latencies: Callable[[], np.ndarray],
              policy: RunPolicy,
              clock_ns: Callable[[], int] = time.perf_counter_ns,
              progress: Callable[[float], None] | None = None) -> RunRecord:
    """Keep requests in flight until the policy is met; return every latency the requests reported.

    * ``start()`` submits one request and blocks while all requests are busy
      (``AsyncInferQueue.start_async`` semantics).
    * ``wait_all()`` waits until no request is in flight.
    * ``drain_latencies()`` returns (and forgets) the per-request latencies, in ns, that completion
      callbacks have collected since the previous drain.

    Warm-up submits ``warmup_iterations`` requests, waits for them and drains their latencies into
    ``warmup_ns``. The measured phase counts submitted requests and reads the clock once after each
    ``start()``; once both minimums are met (or ``max_duration_s`` runs out) it stops submitting,
    waits for the requests in flight, and the wall time ends there. Throughput is
    ``iterations / wall``.

    On Ctrl-C it waits for the requests already in flight (a second Ctrl-C abandons them) and keeps
    everything drained, with ``complete=False``; ``iterations`` counts the ``start()`` calls that
    returned, so a request submitted by an interrupted ``start()`` may add one latency more.
    Other exceptions propagate.
    """
    warm: tuple[int, ...] = ()
    try:
        for _ in range(policy.warmup_iterations):
            start()
        wait_all()
        warm = tuple(int(v) for v in _as_latencies(drain_latencies()))
    except KeyboardInterrupt:
        _settle(wait_all)
        warm = tuple(int(v) for v in _as_latencies(drain_latencies()))
        return RunRecord(warm, np.empty(0, dtype=np.int64), 0, 0, False, STOP_INTERRUPTED)

    min_iter = policy.min_iterations
    reason = STOP_INTERRUPTED
    i = 0
    t_start = clock_ns()
    min_deadline = t_start + policy.min_duration_ns
    max_ns = policy.max_duration_ns
    max_deadline = _NEVER if max_ns is None else t_start + max_ns
    next_progress = t_start + PROGRESS_PERIOD_NS if progress is not None else _NEVER
    time_met = False
    finished = False
    t_end = t_start
    check_i = min_iter
    check_t = min(min_deadline, max_deadline, next_progress)
    try:
        while True:
            start()
            i += 1
            t = clock_ns()
            if i >= check_i or t >= check_t:
                check_i = _NEVER if i >= min_iter else min_iter
                if t >= min_deadline:
                    time_met = True
                if time_met and i >= min_iter:
                    reason = STOP_POLICY_MET
                    break
                if t >= max_deadline:
                    reason = STOP_MAX_DURATION
                    break
                if t >= next_progress:
                    progress(_progress_fraction(t - t_start, i, policy.min_duration_ns, min_iter))
                    next_progress = t + PROGRESS_PERIOD_NS
                check_t = min(_NEVER if time_met else min_deadline, max_deadline, next_progress)
        wait_all()
        t_end = clock_ns()
        finished = True
        if progress is not None:
            progress(1.0)
    except KeyboardInterrupt:
        if not finished:
            reason = STOP_INTERRUPTED
            _settle(wait_all)
            t_end = clock_ns()
    latencies = _as_latencies(drain_latencies())
    return RunRecord(
        warmup_ns=warm,
        latencies_ns=latencies,
        wall_ns=int(t_end - t_start),
        iterations=i,
        complete=reason == STOP_POLICY_MET,
        stop_reason=reason,
    )


def _settle(wait_all: Callable[[], None]) -> None:
    """Wait for in-flight requests after Ctrl-C; a second Ctrl-C gives up waiting."""
    try:
        wait_all()
    except KeyboardInterrupt:
        pass
