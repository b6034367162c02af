"""`compare()`: several models side by side, counted and measured the same way, each as a ratio to the first.

Every model is measured through `measure.bench` (one session setup for every measurement), on each
engine asked for, with one run policy; the models take turns engine by engine, so a slow drift of
the machine (another program starting) spreads over all of them rather than landing on the last.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..counting import ModelCost, count
from ..errors import EngineError, ModelFileError, OptionError
from ..measure.bench import BenchResult, bench
from ..profiling.profile import ProfileResult
from ..measure.engines import DEFAULT_ENGINE, EngineConfig, get_engine
from ..measure.session import COMMON_PRECISION
from ..measure.policy import RunPolicy
from ..results.codec import encoded, result_kind
from ..measure.settings import measurement_settings
from ..model.spec import ModelSpec
from ..results.metadata import result_metadata

# (key, label, unit); counts first, then what each engine measured
COUNT_METRICS = (("macs", "MACs", ""), ("flops", "FLOPs", ""), ("params", "Parameters", ""),
                 ("weight_bytes", "Weight bytes", "B"))
MEASURED_METRICS = (("latency_median_ns", "Latency median", "ns"), ("latency_p99_ns", "Latency p99", "ns"),
                    ("throughput_fps", "Throughput", "FPS"), ("gflops_per_s", "Achieved", "GFLOP/s"))


@encoded(derived=("ratios",))
@dataclass(frozen=True)
class Row:
    """One metric across the models (or machines); `engine` is None for counts. A value is a
    number, or a word for a setting (a precision), which has no ratio. A value is None when it does
    not exist (p99 of too few runs, FLOPs of a model OpenVINO cannot read)."""

    metric: str
    label: str
    unit: str
    engine: str | None
    values: tuple[float | int | str | None, ...]

    @property
    def ratios(self) -> tuple[float | None, ...]:
        """Each value over the first model's."""
        first = self.values[0]
        if not _number(first) or not first:
            return tuple(None for _ in self.values)
        return tuple(v / first if _number(v) else None for v in self.values)


@encoded(derived=("ratios",))
@dataclass(frozen=True)
class LayerMatch:
    """One layer name across the models on one engine, from the profiler: its type, FLOPs and
    mean time in each model (None where the model has no layer of that name)."""

    name: str
    engine: str
    types: tuple[str | None, ...]
    flops: tuple[int | None, ...]
    time_us: tuple[float | None, ...]

    @property
    def ratios(self) -> tuple[float | None, ...]:
        first = self.time_us[0]
        return tuple(None if t is None or not first else t / first for t in self.time_us)


@result_kind("compare", version=1, derived=("complete",))
@dataclass(frozen=True)
class Comparison:
    models: tuple[str, ...]
    engines: tuple[str, ...]
    rows: tuple[Row, ...]
    results: tuple[BenchResult, ...]  # model by model, engine by engine, as measured
    metadata: Mapping[str, Any]
    interrupted: bool = False
    layers: tuple[LayerMatch, ...] = ()  # with by="layer": matching layers side by side, per engine
    # a fleet profile's columns: each node's profile (its model named after the column), warnings and all
    profiles: tuple[ProfileResult, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.interrupted and all(r.complete for r in self.results)

    def row(self, metric: str, engine: str | None = None) -> Row:
        for row in self.rows:
            if row.metric == metric and row.engine == engine:
                return row
        raise KeyError((metric, engine))


def _p99(result: BenchResult) -> int | None:
    stats = result.latency
    if stats is None:
        return None
    estimate = stats.percentile(99.0)
    return int(estimate.value_ns) if estimate.valid else None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def measured_value(result: BenchResult | None, metric: str) -> float | int | None:
    """One of `MEASURED_METRICS` of a bench result; None when it was not measured."""
    if result is None or result.iterations == 0:
        return None
    if metric == "latency_median_ns":
        return result.latency.median_ns if result.latency else None
    if metric == "latency_p99_ns":
        return _p99(result)
    if metric == "throughput_fps":
        return result.throughput_fps
    return result.gflops_per_s


def compare(models: Sequence[ModelSpec | str | os.PathLike], engines: Sequence[str] = (DEFAULT_ENGINE,), config: EngineConfig | None = None,
            policy: RunPolicy | None = None, *, progress: Callable[[str, str, float], None] | None = None, by: str = "model",
            profile_iterations: int = 50, **settings: Any) -> Comparison:
    """Count and measure each model on each engine; ratios are to the first model. With
    `by="layer"` each model is also profiled on each engine and layers of the same name are put
    side by side. Ctrl-C stops the measurement in progress and returns what was measured, marked
    incomplete.

    Each model is a `ModelSpec`, or a model whose settings (`shape`, `batch`, `inputs`, `seed`)
    are given once as keywords for all; `config` and `policy` (or their keywords) are bench's."""
    if by not in ("model", "layer"):
        raise OptionError(f"unknown --by {by!r}", "choose model or layer")
    if len(models) < 2:
        raise OptionError(f"compare needs at least two models, got {len(models)}", "give two or more: flopbench compare A.xml B.xml")
    made = [measurement_settings("compare()", model, config, settings, policy) for model in models]
    specs = [spec for spec, _, _ in made]
    _, config, policy = made[0]
    engines = tuple(dict.fromkeys(engines))
    runnable = _runnable([spec.model for spec in specs], engines)
    if len(engines) > 1 and (config is None or config.precision is None):
        # engines side by side run like with like, as bench's do
        config = replace(config or EngineConfig(), precision=COMMON_PRECISION)
    measured: dict[tuple[int, str], BenchResult] = {}
    costs = [_cost(spec) for spec in specs]
    interrupted = False
    for engine in engines:
        for index, spec in enumerate(specs):
            if (index, engine) not in runnable:
                continue
            report = (lambda name, fraction, m=_name(spec): progress(m, name, fraction)) if progress else None
            result = bench(spec, engines=(engine,), config=config, policy=policy, progress=report)
            if result.results:
                measured[(index, engine)] = result.results[0]
            if result.interrupted:
                interrupted = True
                break
        if interrupted:
            break
    rows = [Row(key, label, unit, None, tuple(_count(cost, key) for cost in costs))
            for key, label, unit in COUNT_METRICS]
    for engine in engines:
        for key, label, unit in MEASURED_METRICS:
            rows.append(Row(key, label, unit, engine, tuple(measured_value(measured.get((i, engine)), key) for i in range(len(models)))))
    layers: tuple[LayerMatch, ...] = ()
    if by == "layer" and not interrupted:
        layers = tuple(match for engine in engines for match in match_layers(specs, engine, config, profile_iterations))
    names = [_name(spec) for spec in specs]
    metadata = result_metadata(models=names)
    return Comparison(models=tuple(names), engines=engines, rows=tuple(rows),
                      results=tuple(measured[k] for k in sorted(measured, key=lambda k: (engines.index(k[1]), k[0]))),
                      metadata=metadata, interrupted=interrupted, layers=layers)


def match_layers(models: Sequence[ModelSpec | str | os.PathLike], engine: str, config: EngineConfig | None,
                 iterations: int) -> list[LayerMatch]:
    """Profile each model on `engine` and line up its layers by name, in the first model's order
    (then the names only later models have)."""
    from ..profiling.profile import profile

    config = config or EngineConfig()
    rows = []
    for model in models:
        result = profile(model, engine, config, iterations=iterations)
        rows.append({row.name: row for row in result.layers})
    names = list(dict.fromkeys(name for by_name in rows for name in by_name))
    return [LayerMatch(name, engine, tuple(r[name].type if name in r else None for r in rows),
                       tuple(r[name].flops if name in r else None for r in rows),
                       tuple(r[name].time_us if name in r else None for r in rows)) for name in names]


def _runnable(models: Sequence[str | os.PathLike], engines: Sequence[str]) -> set[tuple[int, str]]:
    """(model index, engine) of each file an engine runs: a .tflite is measured on the engines that
    read it and left blank on the others. A file no engine runs is refused with the first one's reason."""
    runnable = set()
    for index, model in enumerate(models):
        reasons = []
        for engine in engines:
            try:
                get_engine(engine).check_model(str(model))
                runnable.add((index, engine))
            except EngineError as exc:
                reasons.append(exc)
        if len(reasons) == len(engines):
            raise reasons[0]
    return runnable


def _name(spec: ModelSpec) -> str:
    return str(spec.model)


def _cost(spec: ModelSpec) -> ModelCost | None:
    """The model's count; None when OpenVINO cannot read it (ONNX Runtime may still run it)."""
    try:
        return count(spec.model, shape=spec.shape, batch=spec.batch)
    except ModelFileError as exc:
        if getattr(exc, "openvino_refused", False):
            return None
        raise


def _count(cost: ModelCost | None, key: str) -> int | None:
    if cost is None:
        return None
    return {"macs": cost.macs, "flops": cost.total_flops, "params": cost.params, "weight_bytes": cost.weight_bytes}[key]
