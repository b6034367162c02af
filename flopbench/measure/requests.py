"""Request pools for run_async: a thread-safe latency sink and a bounded pool of concurrent jobs
(ONNX Runtime's session.run on threads)."""
from __future__ import annotations

import threading
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Callable

import numpy as np

from .policy import is_int

# --------------------------------------------------------------------------------------------------
# Adapters for run_async
# --------------------------------------------------------------------------------------------------

class LatencyCollector:
    """Thread-safe sink for latencies reported by completion callbacks.

    For OpenVINO: ``queue.set_callback(lambda req, _: sink.add(int(req.latency * 1e6)))`` and pass
    ``sink.drain`` as ``drain_latencies``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: list[int] = []

    def add(self, latency_ns: int) -> None:
        with self._lock:
            self._values.append(latency_ns)

    def drain(self) -> np.ndarray:
        with self._lock:
            values, self._values = self._values, []
        return np.array(values, dtype=np.int64)

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)


class ExecutorRequests:
    """Run ``job()`` on threads with at most `nreq` in flight, exposing ``start`` / ``wait_all`` /
    ``drain_latencies`` for :func:`run_async` (e.g. ONNX Runtime ``session.run`` on a thread pool).

    ``job()`` may return the engine's latency in ns; otherwise the clock delta around it (measured on
    the worker thread) is recorded. The first exception a job raises is re-raised by the next
    ``start()`` or ``wait_all()``. Without an `executor` a ThreadPoolExecutor of `nreq` threads is
    created and shut down by :meth:`close` (or the ``with`` statement).
    """

    def __init__(self, job: Callable[[], int | None], nreq: int, executor: Executor | None = None,
                 clock_ns: Callable[[], int] = time.perf_counter_ns) -> None:
        if not is_int(nreq) or nreq < 1:
            raise ValueError(f"nreq must be a positive integer, got {nreq!r}")
        self._job = job
        self._nreq = int(nreq)
        self._own = executor is None
        self._executor = executor if executor is not None else ThreadPoolExecutor(max_workers=self._nreq)
        self._clock = clock_ns
        self._cond = threading.Condition()
        self._in_flight = 0
        self._error: BaseException | None = None
        self._sink = LatencyCollector()

    def _run(self) -> None:
        try:
            t0 = self._clock()
            r = self._job()
            t1 = self._clock()
            self._sink.add(int(r) if r is not None else t1 - t0)
        except BaseException as exc:  # noqa: BLE001 - handed to the submitting thread
            with self._cond:
                if self._error is None:
                    self._error = exc
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def _raise_pending(self) -> None:
        if self._error is not None:
            exc, self._error = self._error, None
            raise exc

    def start(self) -> None:
        with self._cond:
            while self._in_flight >= self._nreq:
                self._cond.wait()
            self._raise_pending()
            self._in_flight += 1
        try:
            self._executor.submit(self._run)
        except BaseException:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()
            raise

    def wait_all(self) -> None:
        with self._cond:
            while self._in_flight:
                self._cond.wait()
            self._raise_pending()

    def drain_latencies(self) -> np.ndarray:
        return self._sink.drain()

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    def close(self) -> None:
        if self._own:
            self._executor.shutdown(wait=True)

    def __enter__(self) -> "ExecutorRequests":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
