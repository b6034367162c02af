"""`bench()`: latency and throughput of a model on one or more engines, with trustworthy statistics."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..model.spec import ModelSpec
from ..results.display import as_html, as_text
from ..results.codec import encoded, json_field, result_kind
from ..results.documents import check_mergeable, data_frame
from ..results.metadata import result_metadata
from .engines import DEFAULT_ENGINE, EngineConfig, EngineSettings, engine_errors
from .policy import RunPolicy, RunRecord, run_async, run_sync, throughput_fps
from .session import open_sessions
from .settings import measurement_settings
from .stats import LatencyStats, summarize


@encoded(derived=("gflops_per_s",))
@dataclass(frozen=True)
class BenchResult:
    """One engine's measurement of one model. Latencies are in nanoseconds.

    `call_latency` is what a Python caller waits for one inference (perf_counter_ns around the call,
    or around each async request); `engine_latency` is what the runtime itself measured
    (OpenVINO's InferRequest.latency, the number benchmark_app reports). ONNX Runtime has only the
    call latency.
    """

    model: str
    mode: str  # "latency" (sync, one request), "throughput" (async, several requests), "none" (sync, no hint)
    settings: EngineSettings = json_field(json="engine")
    config: EngineConfig = json_field(json="asked")
    policy: RunPolicy
    batch: int
    inputs: str
    flops_per_inference: int | None  # counted FLOPs of one inference (the whole batch); None when OpenVINO cannot read the model
    first_inference_ns: int | None
    warmup_ns: tuple[int, ...]
    call_latency: LatencyStats | None
    engine_latency: LatencyStats | None
    iterations: int
    wall_s: float
    throughput_fps: float
    complete: bool
    stop_reason: str
    warnings: tuple[str, ...] = ()
    # every latency by kind ("call", "engine"); written only when asked (`to_dict(save_latencies=True)`)
    latencies: dict[str, NDArray[np.int64]] = json_field(json="latencies_ns", only_if="save_latencies", default_factory=dict,
                                                         repr=False, compare=False)
    precision_matched: bool = False  # flopbench ran every engine of the comparison at one precision

    @property
    def latency(self) -> LatencyStats | None:
        """The latency comparable with benchmark_app: the engine's own when it has one."""
        return self.engine_latency or self.call_latency

    @property
    def gflops_per_s(self) -> float | None:
        """Achieved GFLOP/s: counted FLOPs per inference times inferences per second."""
        if self.flops_per_inference is None:
            return None
        per_second = self.throughput_fps / max(1, self.batch)
        return self.flops_per_inference * per_second / 1e9


@result_kind("bench", version=1, derived=("complete",))
@dataclass(frozen=True, repr=False)
class BenchReport:
    results: tuple[BenchResult, ...]
    metadata: Mapping[str, Any]
    interrupted: bool = False
    not_measured: tuple[str, ...] = ()  # engines the interruption came before

    @property
    def complete(self) -> bool:
        return not self.interrupted and all(r.complete for r in self.results)

    def rows(self) -> list[dict[str, Any]]:
        """One plain record per engine (for CSV, a notebook, `pandas.DataFrame(report.rows())`):
        the latency comparable with benchmark_app, in milliseconds; a percentile too few runs back is None."""
        def ms(ns):
            return None if ns is None else ns / 1e6

        records = []
        for result in self.results:
            stats = result.latency
            percentiles = {}
            for p in (90.0, 99.0, 99.9):
                estimate = stats.percentile(p) if stats is not None else None
                percentiles[f"p{p:g}_ms".replace(".", "_")] = ms(estimate.value_ns) if estimate is not None and estimate.valid else None
            records.append({
                "engine": result.settings.engine, "precision": result.settings.precision, "mode": result.mode,
                "device": result.settings.device, "batch": result.batch,
                "latency": "engine" if result.engine_latency is not None else "call", "runs": stats.count if stats else 0,
                "min_ms": ms(stats.min_ns if stats else None), "median_ms": ms(stats.median_ns if stats else None),
                "mean_ms": ms(stats.mean_ns if stats else None), **percentiles, "max_ms": ms(stats.max_ns if stats else None),
                "std_ms": ms(stats.std_ns if stats else None), "fps": result.throughput_fps, "gflops_per_s": result.gflops_per_s,
                "flops_per_inference": result.flops_per_inference, "complete": result.complete, "stop_reason": result.stop_reason,
            })
        return records

    def to_pandas(self):
        """`rows()` as a pandas DataFrame (needs pandas)."""
        return data_frame(self.rows())

    def __repr__(self) -> str:
        engines = ", ".join(f"{r.settings.engine} {r.latency.median_ns / 1e6:.3g} ms" if r.latency else r.settings.engine for r in self.results)
        return f"BenchReport({self.metadata.get('model', '')!r}: median {engines}{'' if self.complete else ', INCOMPLETE'}; print() it for the table)"

    def __str__(self) -> str:
        return as_text(self)

    def _repr_html_(self) -> str:
        return as_html(self)

    def merge(self, *others: "BenchReport", allow_different_machines: bool = False) -> "BenchReport":
        """One report of this one's results and the others' (runs of one machine, as pyperf merges
        runs); results from different machines or engine versions are refused unless asked."""
        check_mergeable([self.metadata, *(o.metadata for o in others)], allow_different_machines)
        return BenchReport(results=self.results + tuple(r for o in others for r in o.results),
                           metadata={**self.metadata, "merged_from": [o.metadata for o in (self, *others)]},
                           interrupted=self.interrupted or any(o.interrupted for o in others),
                           not_measured=self.not_measured + tuple(n for o in others for n in o.not_measured))




def setting_differences(config: EngineConfig, settings: EngineSettings) -> list[str]:
    """Where the engine quietly used something other than what was asked (it clamps, falls back)."""
    asked_used = (("--precision", config.precision, settings.precision), ("-nstreams", config.nstreams, settings.streams),
                  ("-nthreads", config.nthreads, settings.threads), ("-nireq", config.nireq, settings.requests))
    notes = [f"asked for {flag} {asked}, but {settings.engine} on {settings.device} uses {used}"
             for flag, asked, used in asked_used if asked is not None and used is not None and asked != used]
    if config.nstreams is not None and settings.streams is None:
        notes.append(f"asked for -nstreams {config.nstreams}, but {settings.engine} has no streams")
    return notes


def _mode(config: EngineConfig) -> str:
    """How the harness drives the engine: "throughput" keeps several requests in flight; "latency"
    and "none" (no performance hint: the engine's defaults) run one request at a time."""
    if config.hint == "throughput" or (config.nireq or 1) > 1:
        return "throughput"
    return "none" if config.hint == "none" else "latency"


def _stats(values: np.ndarray | None) -> LatencyStats | None:
    return summarize(values) if values is not None and len(values) else None


def measure(runner, inputs: dict[str, np.ndarray], policy: RunPolicy, mode: str,
            progress: Callable[[float], None] | None = None) -> tuple[RunRecord, dict[str, np.ndarray]]:
    """Run the policy on a compiled runner; return the record and its latencies by kind
    ("call": timed around the call; "engine": measured by the runtime itself)."""
    if mode == "throughput":
        hooks = runner.async_hooks(inputs)
        record = run_async(hooks.start, hooks.wait_all, hooks.drain_latencies, policy, progress=progress)
        return record, {hooks.latency_kind: record.latencies_ns}
    step, engine_latencies = runner.sync_step(inputs)
    record = run_sync(step, policy, progress=progress)
    latencies = {"call": record.latencies_ns}
    if engine_latencies is not None:
        # the engine's list also holds the warm-up runs, which come first
        latencies["engine"] = engine_latencies()[len(record.warmup_ns):][: len(record.latencies_ns)]
    return record, latencies


def _result(sessions, mode: str, settings: EngineSettings, policy: RunPolicy,
            record: RunRecord, latencies: dict[str, np.ndarray]) -> BenchResult:
    shared, config = sessions.model, sessions.asked
    warnings = list(shared.warnings) + setting_differences(config, settings) + list(sessions.warnings)
    if record.iterations == 0:
        warnings.append("nothing was measured before the run stopped")
    batch = shared.batch
    return BenchResult(
        model=shared.name, mode=mode, settings=settings, config=config, policy=policy, batch=batch,
        inputs=shared.inputs.source, flops_per_inference=shared.cost.total_flops if shared.cost else None,
        first_inference_ns=record.first_inference_ns,
        warmup_ns=tuple(record.warmup_ns), call_latency=_stats(latencies.get("call")),
        engine_latency=_stats(latencies.get("engine")), iterations=record.iterations, wall_s=record.wall_s,
        throughput_fps=throughput_fps(record, batch) if record.iterations else 0.0, complete=record.complete,
        stop_reason=record.stop_reason, warnings=tuple(warnings), latencies=latencies,
        precision_matched=sessions.precision_matched,
    )


def bench(model: ModelSpec | str | os.PathLike | Any, engines: Sequence[str] = (DEFAULT_ENGINE,), config: EngineConfig | None = None,
          policy: RunPolicy | None = None, *, progress: Callable[[str, float], None] | None = None, **settings: Any) -> BenchReport:
    """Measure a model on each engine in turn. Ctrl-C stops the run in progress and returns what
    was measured, marked incomplete; the engines after it are not run.

    `model` is a `ModelSpec` (the model, its shapes, batch, input files and seed), or the model
    itself -- a file, an `openvino.Model`, or a `torch.nn.Module` with `example_input` -- with
    those as keywords (`shape`, `batch`, `inputs`, `seed`, `layout`, `example_input`). Engine
    settings (`device`, `hint`, `nstreams`, `nthreads`, `nireq`, `precision`) and the run's length
    (`seconds`, `niter`, `min_iterations`, `warmup`, `max_duration`, meaning what benchmark_app's
    -t and -niter mean) may likewise be given as keywords instead of `config` and `policy`."""
    spec, config, policy = measurement_settings("bench()", model, config, settings, policy)
    if isinstance(engines, str):  # one engine by name ("openvino"), or a CLI-style list ("openvino,onnxruntime"), not its letters
        engines = [name.strip() for name in engines.split(",") if name.strip()]
    mode = _mode(config)
    results: list[BenchResult] = []
    interrupted = False
    not_measured: tuple[str, ...] = ()
    with open_sessions(spec, engines, config) as sessions:
        for index, session in enumerate(sessions):
            name = session.engine.name
            report = (lambda fraction, name=name: progress(name, fraction)) if progress else None
            with engine_errors(name):
                record, latencies = measure(session.runner, session.inputs.arrays, policy, mode, report)
            session.close()
            results.append(_result(sessions, mode, session.runner.settings, policy, record, latencies))
            if record.stop_reason == "interrupted":
                interrupted = True
                not_measured = tuple(s.engine.name for s in sessions.sessions[index + 1:])
                break
    shared = sessions.model
    metadata = {**result_metadata(), "model": shared.name, "inputs": [i.to_dict() for i in shared.input_infos]}
    return BenchReport(results=tuple(results), metadata=metadata, interrupted=interrupted, not_measured=not_measured)
