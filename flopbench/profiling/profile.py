"""`profile()`: each layer's measured time joined with its FLOPs and bytes, against this machine's
measured roofline, and reconciled with the end-to-end latency of the same run."""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from ..counting.cost import ModelCost
from ..errors import OptionError, ProfilingError
from ..measure.engines import DEFAULT_ENGINE, EngineConfig, NodeTime, ProfiledRun, engine_errors, get_engine
from ..measure.session import open_session
from ..measure.settings import measurement_settings
from ..model.spec import ModelSpec
from ..measure.policy import SyncBlocks, is_int
from ..measure.stats import BlockDifference, LatencyStats, block_difference, summarize
from ..results.codec import json_field, result_kind
from ..results.documents import data_frame
from ..results.metadata import result_metadata
from .join import Join, LayerTime, join, layer_samples
from .roofline import Roofline, cached_roofline
from .roofline import roofline as machine_roofline  # `roofline` is profile()'s argument
from .placement import place
from .kernel_classes import roof_precision

DEFAULT_ITERATIONS = 100
MAX_ITERATIONS = 1_000_000
ABOVE_ROOF = 1.05  # a layer faster than the measured peak by more than this: the peak or the join is wrong
# A layer this many times faster than the higher of the measured and the theoretical peak is beyond
# any roof: the measured peak is a rate this machine really reached, and the theoretical one is
# taken at the clock the OS reports, which can be the base clock (a boost clock runs up to ~1.5×
# faster). So the time joined to it is too short, whatever a re-measured roofline would say.
JOIN_FACTOR = 1.5
COARSE_FACTOR = 10  # a layer shorter than this many time resolutions has a coarse time
SLOWER_FACTOR = 2.0  # a layer this many times slower than this machine's model predicts is flagged
# the profiled and the unprofiled model run in alternating blocks, about this many of each, so a
# machine whose load changes during the run weighs on both alike
OVERHEAD_BLOCKS = 10
OVERHEAD_FACTOR = 1.5  # profiled inferences this many times slower (medians) than unprofiled ones are flagged


@dataclass(frozen=True)
class Finding:
    """A warning as data: a rule name and the numbers behind it; the renderer puts it in words."""

    rule: str
    data: dict[str, Any] = json_field(flatten=True, default_factory=dict)  # written beside "rule"


@dataclass(frozen=True)
class LayerRow:
    """One layer (or one part of a SeparableConv2D) of `flopbench flops`, timed and placed on the roofline."""

    name: str
    type: str
    role: str  # "depthwise" / "pointwise" for a part
    flops: int  # conv / matmul FLOPs plus the other FLOPs: all the arithmetic the roofline counts
    bytes: int  # read and written as counted, unfused (an upper bound)
    intensity: float | None  # FLOPs per byte moved as executed (as counted when the engine does not say)
    time_us: float  # mean per inference
    percent: float  # of the profiled run's end-to-end latency
    gflops_per_s: float | None  # None when the time is under the engine's resolution
    attainable_gflops_per_s: float
    percent_of_attainable: float | None
    bound: str  # compute | L1 | L2 | L3 | DRAM | overhead ("memory" in files of one DRAM slope)
    kernel: str
    precision: str
    untimed_ops: tuple[str, ...] = ()
    parts: tuple["LayerRow", ...] = ()
    executed_bytes: int | None = None  # read and written by its engine nodes as executed (its share); None: not reported
    working_set_bytes: int | None = None  # what its largest node touches: decides the level
    level: str = ""  # the memory level that holds the working set
    fused_into: str = ""  # the layer its engine node is named after, when that is another one
    fused: tuple[str, ...] = ()  # the layers its engine node ran with it
    predicted_time_us: float | None = None  # what this machine's calibrated model predicts (flopbench predict); None: not calibrated
    kernel_class: str = ""  # the family of kernel the prediction calibrated it as
    # it ran SLOWER_FACTOR× or more slower than predicted, beyond what profiling added to every inference
    slower_than_predicted: bool = False
    merged_into: str = ""  # the layer the engine ran in its place (it computes the same: run once for both)
    # over the profiled inferences one by one, where the engine times each (None: it reports a mean only)
    median_us: float | None = None
    std_us: float | None = None  # the sample standard deviation, as bench's
    noise: tuple[str, ...] = ()  # bench's verdicts on its times: "noisy", "outliers", "bimodal"


@dataclass(frozen=True)
class EngineRow:
    """A node the engine inserted (a reorder, a layout or precision conversion): no counted op."""

    name: str
    type: str
    kernel: str
    precision: str
    time_us: float
    percent: float


@result_kind("profile", version=1, derived=("profiling_overhead_us",))
@dataclass(frozen=True)
class ProfileResult:
    """Layer times, the engine's own nodes and the time outside any node: they add up to the
    profiled run's mean end-to-end latency. The unprofiled latency beside it shows what profiling cost."""

    model: str
    engine: dict[str, Any]  # the settings the engine used
    iterations: int
    warmup: int
    latency_kind: str  # "engine" (measured by the runtime) or "call" (timed around the call)
    time_resolution_us: float
    end_to_end_us: float
    layers_us: float
    engine_nodes_us: float
    outside_layers_us: float
    unprofiled_end_to_end_us: float | None
    unprofiled_iterations: int
    layers: tuple[LayerRow, ...]
    engine_nodes: tuple[EngineRow, ...]
    roofline: Roofline
    nodes: tuple[NodeTime, ...]  # the engine's own per-node rows, as joined
    warnings: tuple[Finding, ...]
    complete: bool
    metadata: Mapping[str, Any] = json_field(default_factory=dict, compare=False)
    # the end-to-end latencies of the profiled and of the unprofiled inferences, with bench's verdicts;
    # None in files written before they were kept
    profiled_latency: LatencyStats | None = None
    unprofiled_latency: LatencyStats | None = None
    # what profiling costs, from the two runs' alternating blocks: a cost, or within noise
    overhead: BlockDifference | None = None

    @property
    def profiling_overhead_us(self) -> float | None:
        return None if self.unprofiled_end_to_end_us is None else self.end_to_end_us - self.unprofiled_end_to_end_us

    def rows(self) -> list[dict[str, Any]]:
        """Plain rows for a DataFrame: one per layer and per part of a SeparableConv2D (`parent`
        names the layer a part belongs to), with the layer's time, roofline place and kernel."""
        records = []
        for layer in self.layers:
            for row, parent in ((layer, ""), *((part, layer.name) for part in layer.parts)):
                record = {"layer": row.name, "parent": parent}
                record.update({f.name: getattr(row, f.name) for f in fields(LayerRow) if f.name not in ("name", "parts")})
                record["untimed_ops"] = ", ".join(row.untimed_ops)
                record["fused"] = ", ".join(row.fused)
                record["noise"] = ", ".join(row.noise)
                records.append(record)
        return records

    def to_pandas(self):
        """`rows()` as a pandas DataFrame (needs pandas)."""
        return data_frame(self.rows())


# ---- rows ----------------------------------------------------------------------------------------

# bench's verdicts that say a layer's time varies; too few samples is the run's, one under the
# clock's resolution is `coarse_times`
LAYER_NOISE = ("noisy", "outliers", "bimodal")


def layer_statistics(samples_ns: np.ndarray | None, resolution_us: float) -> tuple[float | None, float | None, tuple[str, ...]]:
    """(median µs, standard deviation µs, bench's noise verdicts) of a layer's per-inference times;
    the verdicts only for a layer well above the engine's resolution (below it, timer steps alone
    look bimodal)."""
    if samples_ns is None or not len(samples_ns) or not samples_ns.any():
        return None, None, ()
    stats = summarize(samples_ns, percentiles=())
    median_us = stats.median_ns / 1e3
    noise = tuple(w.rule for w in stats.warnings if w.rule in LAYER_NOISE) if median_us >= COARSE_FACTOR * resolution_us else ()
    return median_us, stats.std_ns / 1e3, noise


def layer_row(timed: LayerTime, roof: Roofline, end_to_end_us: float, default_precision: str,
              resolution_us: float = 0.0, samples: Mapping[str, np.ndarray] | None = None) -> LayerRow:
    """A layer on the roofline: its intensity from the bytes its nodes really moved (after fusion),
    held to the slope of the memory level its working set fits in; its median and spread over the
    inferences where the engine timed them one by one (`samples`: node → ns per inference)."""
    median_us, std_us, noise = layer_statistics(layer_samples(timed, samples or {}), resolution_us)
    layer = timed.layer
    flops = layer.flops + layer.other_flops
    counted = layer.bytes_read + layer.bytes_written
    executed = int(round(timed.executed_bytes)) if timed.executed_bytes else None
    moved = executed or counted
    intensity = flops / moved if moved else None
    time_us = timed.time_ns / 1e3
    precision = roof_precision(timed.precisions, default_precision)
    working_set = timed.working_set_bytes or moved
    where = place(flops, moved, working_set, precision, roof, nodes=0 if timed.fused_into else max(1, len(timed.nodes)))
    # a time under the engine's resolution is too coarse to divide by
    achieved = flops / (time_us * 1e3) if time_us > 0 and time_us >= resolution_us else None
    attainable = where.attainable_gflops_per_s
    return LayerRow(
        name=layer.name, type=layer.type, role=layer.role, flops=flops, bytes=counted, intensity=intensity,
        time_us=time_us, percent=100 * time_us / end_to_end_us if end_to_end_us > 0 else 0.0,
        gflops_per_s=achieved, attainable_gflops_per_s=attainable,
        percent_of_attainable=100 * achieved / attainable if attainable > 0 and achieved is not None else None,
        bound="merged" if timed.merged_into else where.bound, kernel=", ".join(timed.kernels), precision=", ".join(timed.precisions) or "",
        untimed_ops=timed.untimed_ops,
        parts=tuple(layer_row(part, roof, end_to_end_us, default_precision, resolution_us, samples) for part in timed.parts),
        executed_bytes=executed, working_set_bytes=working_set if moved else None, level=where.level,
        fused_into=timed.fused_into, fused=timed.fused, merged_into=timed.merged_into,
        median_us=median_us, std_us=std_us, noise=noise)


def above_roof_cause(rate: float, measured: float, theoretical: float | None) -> str:
    """Why a layer ran faster than the measured peak: "roofline" when the machine can do it on
    paper (the peak was measured while the machine was busier), "join" when it is beyond JOIN_FACTOR×
    the higher of the two peaks (its time is too short: the join gave it to another layer), else
    "either" (above both, by less than a boost clock could explain; a re-measure tells which)."""
    if theoretical and rate <= ABOVE_ROOF * theoretical:
        return "roofline"
    if rate > JOIN_FACTOR * max(measured, theoretical or 0.0):
        return "join"
    return "either"


def findings(rows: tuple[LayerRow, ...], joined: Join, roof: Roofline, resolution_us: float, outside_us: float,
             asked_precision: str | None, used_precision: str) -> list[Finding]:
    found: list[Finding] = []
    for row in rows:
        for each in (row, *row.parts):
            precision = roof_precision(tuple(p.strip() for p in each.precision.split(",")), used_precision)
            peak = roof.peak(precision)
            if each.gflops_per_s is not None and each.gflops_per_s > ABOVE_ROOF * peak.gflops_per_s:
                found.append(Finding("above_roof", {"layer": each.name, "gflops_per_s": each.gflops_per_s,
                                                    "peak_gflops_per_s": peak.gflops_per_s,
                                                    "theoretical_gflops_per_s": peak.theoretical_gflops_per_s,
                                                    "precision": precision,
                                                    "cause": above_roof_cause(each.gflops_per_s, peak.gflops_per_s,
                                                                              peak.theoretical_gflops_per_s)}))
    if joined.joined_by_layer:
        found.append(Finding("joined_by_layer", {"count": len(joined.joined_by_layer), "ops": list(joined.joined_by_layer[:20])}))
    if joined.untimed_ops:
        found.append(Finding("untimed_ops", {"count": len(joined.untimed_ops), "ops": list(joined.untimed_ops[:20])}))
    if joined.merged:
        found.append(Finding("merged_ops", {"count": len(joined.merged),
                                            "ops": [{"op": op, "into": into} for op, into in joined.merged[:20]]}))
    coarse = [row.name for row in rows if 0 < row.time_us < COARSE_FACTOR * resolution_us]
    if coarse:
        found.append(Finding("coarse_times", {"count": len(coarse), "resolution_us": resolution_us,
                                              "below_us": COARSE_FACTOR * resolution_us}))
    above_slope = [each for row in rows for each in (row, *row.parts)
                   if each.percent_of_attainable is not None and each.percent_of_attainable > 100 * ABOVE_ROOF
                   and each.attainable_gflops_per_s < roof.peak(roof_precision(tuple(each.precision.split(", ")), used_precision)).gflops_per_s]
    if above_slope:
        found.append(Finding("above_bandwidth", {"count": len(above_slope), "layers": [each.name for each in above_slope[:20]],
                                                 "levels": {each.name: each.level for each in above_slope[:20]},
                                                 "bandwidth_gb_per_s": roof.bandwidth_gb_per_s}))
    noisy = sorted((each for row in rows for each in (row, *row.parts) if each.noise), key=lambda each: -each.time_us)
    if noisy:
        found.append(Finding("noisy_layers", {"count": len(noisy), "layers": [
            {"layer": each.name, "noise": list(each.noise), "median_us": each.median_us, "std_us": each.std_us} for each in noisy[:20]]}))
    if outside_us < 0:
        found.append(Finding("negative_outside", {"outside_layers_us": outside_us}))
    if roof.quick:
        found.append(Finding("quick_roofline", {"measured_at": roof.measured_at}))
    if asked_precision and asked_precision != used_precision:
        found.append(Finding("precision_differs", {"asked": asked_precision, "used": used_precision}))
    return found


# ---- measuring -------------------------------------------------------------------------------------

def _check_iterations(iterations, flag: str = "-niter") -> None:
    if not is_int(iterations):
        raise OptionError(f"{flag} {iterations!r} is not a whole number", f"give {flag} 1 or more")
    if iterations < 1:
        raise OptionError(f"{flag} {iterations} is not allowed", f"give {flag} 1 or more")
    if iterations > MAX_ITERATIONS:
        raise OptionError(f"{flag} {iterations} is too large", f"give {flag} at most {MAX_ITERATIONS:,}")


def _counted(cost: ModelCost | None, unavailable: str | None, model) -> None:
    if cost is None:
        raise ProfilingError(f"{os.path.basename(str(model))} cannot be counted, so its layers cannot be joined: {unavailable}",
                            "profile a model OpenVINO can read")
    if not any(op.counted for op in cost.ops):
        raise ProfilingError(f"{os.path.basename(cost.model)} has no counted ops: there is no layer to time",
                            "give a model with convolutions, matmuls or other ops flopbench counts (see flopbench flops)")


def check_settings(engine: str, config: EngineConfig, iterations: int, warmup: int) -> EngineConfig:
    """The profiling engine's settings (one request at a time, per-node timing on), or the error a
    bad count or an unprofilable device gets (before any model is read)."""
    _check_iterations(iterations)
    if not is_int(warmup) or warmup < 0:
        raise OptionError(f"--warmup {warmup!r} is not allowed", "give --warmup 0 or more")
    get_engine(engine).check_profilable(config.device)
    # the profiled and the unprofiled model take turns: both are compiled as alternating
    return replace(config, hint="latency", nireq=None, profile=True, alternating=True)


def profile(model: ModelSpec | str | os.PathLike, engine: str = DEFAULT_ENGINE, config: EngineConfig | None = None,
            iterations: int = DEFAULT_ITERATIONS, warmup: int = 10, *, roofline: Roofline | None = None,
            progress: Callable[[str], None] | None = None, calibration=None, **keywords: Any) -> ProfileResult:
    """Profile a model layer by layer on `engine`: every layer of `flopbench flops` with its mean
    time over `iterations` profiled inferences (after `warmup`), its achieved and attainable
    GFLOP/s on this machine's measured roofline (`roofline`, else the cached or a new
    measurement), the time this machine's calibrated model predicts for it (`calibration`, else the
    cached one of `flopbench predict --calibrate`, if any), and the unprofiled latency of the same
    model. Ctrl-C keeps what was measured (`complete` False).

    `model` is a `ModelSpec` or the model itself with its settings as keywords (`shape`, `batch`,
    `inputs`, `seed`); the engine's settings are `config` (as bench takes it) or keywords
    (`device`, `precision` ...). Profiling runs one request at a time, whatever the hint."""
    spec, asked, _ = measurement_settings("profile()", model, config, keywords, timed=False)
    config = check_settings(engine, asked, iterations, warmup)
    device, precision = config.device, config.precision
    with open_session(spec, engine, config) as session:
        _counted(session.cost, session.count_unavailable, spec.model)
        name = session.engine.name
        roof = roofline or cached_roofline(name, device) or machine_roofline(name, device, progress=progress)
        block = max(1, math.ceil(iterations / OVERHEAD_BLOCKS))
        if progress:
            progress(f"profiling {session.loaded.path.name} on {name}: {iterations} inferences, in blocks of {block} "
                     "alternating with the same model unprofiled (for what profiling costs)")
        with engine_errors(name):
            runner = session.engine.compile(str(session.loaded.path), session.loaded.input_shapes(), replace(config, profile=False))
        try:
            with engine_errors(name):
                # the same model compiled without profiling, timed as bench times it (the engine's
                # own latency where it has one, else the call), a block between each profiled block
                step, engine_latencies = runner.sync_step(session.inputs.arrays)
                plain = SyncBlocks(step, block, warmup, engine_latencies, total=iterations)
                run: ProfiledRun = session.runner.profiled_run(session.inputs.arrays, iterations, warmup=warmup, model=session.loaded,
                                                               counted={op.name for op in session.cost.ops},
                                                               between=plain.run, block=block)
            unprofiled = plain.latencies(run.latency_kind)
        finally:
            runner.close()
        nodes = run.nodes
        if run.iterations and not any(node.time_ns > 0 for node in nodes):
            raise ProfilingError(f"{name} on {device} reported no per-node times",
                                "profile on -d CPU, or use the other engine")
        settings = session.runner.settings
    if calibration is None:
        calibration = _cached_calibration(session.engine.name, device, precision)
    return _result(session, settings, run, nodes, roof, unprofiled, precision, calibration, block)


def _cached_calibration(engine: str, device: str, precision: str | None):
    """This machine's calibration for the settings, or None: a profile without one simply has no
    predicted times."""
    from ..errors import CalibrationError
    from .calibration import cached_calibration

    try:
        return cached_calibration(engine, device, precision)
    except CalibrationError:
        return None


def with_predictions(rows: tuple[LayerRow, ...], joined: Join, calibration, default_precision: str,
                     cost: ModelCost) -> tuple[LayerRow, ...]:
    """Each row with the time the calibrated model predicts for it (its parts too), as predict computes it."""
    from .kernel_classes import touched_per_inference
    from .predict import predicted_layer

    executed_known = any(t.executed_bytes for t in joined.layers)
    reuse = touched_per_inference(cost, default_precision)
    predicted = [predicted_layer(t, calibration.roofline, calibration.fits, default_precision, executed_known, reuse)
                 for t in joined.layers]

    def attach(row: LayerRow, guess) -> LayerRow:
        parts = tuple(attach(part, each) for part, each in zip(row.parts, guess.parts))
        return replace(row, predicted_time_us=guess.predicted_time_us, kernel_class=guess.kernel_class, parts=parts)

    return tuple(attach(row, guess) for row, guess in zip(rows, predicted))


def runs_slower_than_predicted(row: LayerRow, profiler_factor: float = 1.0) -> bool:
    """A prediction is of the layer as it runs unprofiled: where profiling made every inference
    `profiler_factor`× slower (ONNX Runtime's profiler, a small model's most), a layer is held to
    SLOWER_FACTOR× its prediction times that much."""
    return bool(row.predicted_time_us) and row.time_us >= SLOWER_FACTOR * max(1.0, profiler_factor) * row.predicted_time_us


def marked_slower_than_predicted(rows: tuple[LayerRow, ...], profiler_factor: float = 1.0) -> tuple[LayerRow, ...]:
    """The rows (and their parts) with `slower_than_predicted` set where it holds."""
    def mark(row: LayerRow) -> LayerRow:
        parts = tuple(mark(part) for part in row.parts)
        return replace(row, parts=parts, slower_than_predicted=runs_slower_than_predicted(row, profiler_factor))
    return tuple(mark(row) for row in rows)


def slower_than_predicted(rows: tuple[LayerRow, ...]) -> list[dict[str, Any]]:
    """The layers (and parts) marked as running SLOWER_FACTOR× or more slower than predicted."""
    found = []
    for row in rows:
        for each in (row, *row.parts):
            if each.slower_than_predicted:
                found.append({"layer": each.name, "type": each.type, "kernel_class": each.kernel_class, "bound": each.bound,
                              "level": each.level, "measured_us": each.time_us, "predicted_us": each.predicted_time_us,
                              "ratio": each.time_us / each.predicted_time_us})
    return found


def profiling_slowdown(profiled: LatencyStats | None, unprofiled: LatencyStats | None, overhead: BlockDifference | None) -> float:
    """How many times slower profiling made an inference (medians), where a sign test tells it from
    noise; else 1."""
    if overhead is None or overhead.verdict != "higher" or profiled is None or unprofiled is None or unprofiled.median_ns <= 0:
        return 1.0
    return max(1.0, profiled.median_ns / unprofiled.median_ns)


def overhead_findings(profiled: LatencyStats | None, unprofiled: LatencyStats | None,
                      overhead: BlockDifference | None) -> list[Finding]:
    """Bench's verdicts on each run's end-to-end latencies, and a profiler that slows every
    inference down by OVERHEAD_FACTOR× or more (its own cost is then in every layer's time)."""
    found = [Finding("latency_noise", {"run": run, "verdict": w.rule, "values": dict(w.values)})
             for run, stats in (("profiled", profiled), ("unprofiled", unprofiled)) if stats is not None for w in stats.warnings]
    slowdown = profiling_slowdown(profiled, unprofiled, overhead)
    if slowdown >= OVERHEAD_FACTOR:
        found.append(Finding("profiling_overhead", {"profiled_median_us": profiled.median_ns / 1e3,
                                                    "unprofiled_median_us": unprofiled.median_ns / 1e3, "factor": slowdown}))
    return found


def _result(session, settings, run: ProfiledRun, nodes, roof: Roofline, unprofiled: np.ndarray,
            asked_precision: str | None, calibration=None, block: int = 1) -> ProfileResult:
    joined = join(session.cost, nodes, run.merged_ops)
    end_to_end_us = float(run.latencies_ns.mean()) / 1e3 if len(run.latencies_ns) else 0.0
    resolution_us = run.time_resolution_ns / 1e3
    rows = tuple(layer_row(t, roof, end_to_end_us, settings.precision, resolution_us, run.node_samples_ns) for t in joined.layers)
    if calibration is not None:
        rows = with_predictions(rows, joined, calibration, settings.precision, session.cost)
    engine_rows = tuple(EngineRow(name=n.name, type=n.type, kernel=n.exec_type, precision=n.precision,
                                  time_us=n.time_ns / 1e3,
                                  percent=100 * n.time_ns / 1e3 / end_to_end_us if end_to_end_us > 0 else 0.0)
                        for n in joined.inserted)
    layers_us = sum(row.time_us for row in rows)
    engine_us = sum(row.time_us for row in engine_rows)
    outside_us = end_to_end_us - layers_us - engine_us
    warnings = [Finding("input", {"text": text}) for text in session.inputs.warnings]
    warnings += findings(rows, joined, roof, resolution_us, outside_us, asked_precision, settings.precision)
    profiled_stats = summarize(run.latencies_ns, percentiles=()) if len(run.latencies_ns) else None
    unprofiled_stats = summarize(unprofiled, percentiles=()) if len(unprofiled) else None
    overhead = block_difference(run.latencies_ns, unprofiled, block) if len(run.latencies_ns) and len(unprofiled) else None
    warnings += overhead_findings(profiled_stats, unprofiled_stats, overhead)
    slowed = profiling_slowdown(profiled_stats, unprofiled_stats, overhead)
    rows = marked_slower_than_predicted(rows, slowed)
    slow = slower_than_predicted(rows)
    if slow:
        warnings.append(Finding("slower_than_predicted", {"count": len(slow), "factor": SLOWER_FACTOR, "profiler_factor": slowed,
                                                          "layers": slow[:20]}))
    interrupted = not run.complete or (len(unprofiled) < run.iterations and run.iterations > 0)
    return ProfileResult(
        model=str(session.loaded.path), engine=settings.to_dict(), iterations=run.iterations, warmup=run.warmup,
        latency_kind=run.latency_kind, time_resolution_us=resolution_us, end_to_end_us=end_to_end_us,
        layers_us=layers_us, engine_nodes_us=engine_us, outside_layers_us=outside_us,
        unprofiled_end_to_end_us=float(unprofiled.mean()) / 1e3 if len(unprofiled) else None,
        unprofiled_iterations=int(len(unprofiled)), layers=rows, engine_nodes=engine_rows, roofline=roof, nodes=tuple(nodes),
        warnings=tuple(warnings), complete=not interrupted,
        profiled_latency=profiled_stats, unprofiled_latency=unprofiled_stats, overhead=overhead,
        metadata={**result_metadata(), "inputs": [i.to_dict() for i in session.loaded.inputs],
                  "input_data": session.inputs.source})
