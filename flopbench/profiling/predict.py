"""`predict()`: each layer's time and the end-to-end latency on this machine, without running the model.

The model is read, counted and compiled (the compiled graph says what the engine fused, which
kernels and precisions it picked and, for OpenVINO, the bytes each node moves); it is never run.
Each layer is placed on the cache-aware roofline (placement.py): its roof time is the slower of its
FLOPs at the precision's peak and its bytes (as executed) at the bandwidth of the level its working
set fits in. Its predicted time is its kernel class's fixed cost per engine node it runs as plus the
class's slope × that roof time, both fitted to this machine's calibration sweep (calibration.py).
The end-to-end latency adds the nodes the engine inserted (reorders, conversions) and the
per-inference cost the calibration measured. A model file's compiled graph is kept in the cache, so
predicting it again does not compile it."""
from __future__ import annotations

import hashlib
import json
import os
import statistics
from pathlib import Path
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..counting.cost import LayerCost, ModelCost
from ..errors import OptionError, ProfilingError
from ..measure.engines import DEFAULT_ENGINE, EngineConfig, NodeTime, engine_errors, get_engine
from ..measure.settings import measurement_settings
from ..model.spec import ModelSpec
from ..results.codec import json_field, result_kind
from ..results.metadata import result_metadata
from .join import LayerTime, join
from .roofline import Roofline
from .placement import Placement, place

OTHER = "other"
INSERTED = "inserted"  # the nodes an engine adds: reorders, precision conversions
FOLDED = "folded"  # the bound of a layer no compiled node runs (a Flatten, a Reshape the engine removed)
KERNEL_CLASSES = ("conv", "pointwise", "depthwise", "matmul", "pool", "elementwise", "lrn", OTHER, INSERTED)
ELEMENTWISE = {"Add", "Subtract", "Multiply", "Divide", "Relu", "Clamp", "Sigmoid", "Swish", "HSwish", "Maximum", "Minimum",
               "Elu", "Exp", "Tanh", "Gelu", "Mish", "PRelu", "Power", "Sqrt", "Concat", "BatchNorm", "BatchNormalization"}
DRAM_KEY = "/DRAM"  # a class's own fit for layers whose working set lives in DRAM (calibration.fits_of)
PRECISION_ROOFS = {"u8": "i8", "i8": "i8", "bf16": "bf16", "f32": "f32"}


def kernel_class(layer: LayerCost) -> str:
    """The family of kernel a layer runs in: dense k×k convolution, 1×1 (pointwise), depthwise,
    matmul, pooling, elementwise, local response normalization, or other."""
    kind = layer.type
    if kind.startswith("DepthwiseConv"):
        # of one channel it is an ordinary convolution, and engines run it so (OpenVINO picks its
        # planar convolution kernel, not its depthwise one: sep_cnn's first layer, 18x slower than
        # a depthwise kernel's fixed cost)
        return "conv" if layer.kernels == 1 else "depthwise"
    if kind.startswith(("Conv", "GroupConv")):
        return "pointwise" if layer.kernel and all(k == 1 for k in layer.kernel) else "conv"
    if kind in ("FullyConnected", "MatMul", "Gemm"):
        return "matmul"
    if "Pool" in kind:
        return "pool"
    if kind == "LRN":
        # a class of its own: ONNX Runtime's LRN runs about 80x its roof time, and in "other" it
        # was predicted at 1% of its measured time (AlexNet's, ZFNet's, GoogLeNet's)
        return "lrn"
    if kind in ELEMENTWISE or kind.rstrip("D0123456789") in ELEMENTWISE:
        return "elementwise"
    return OTHER


def roof_precision(precisions: Sequence[str], fallback: str) -> str:
    for precision in precisions:
        if precision in PRECISION_ROOFS:
            return PRECISION_ROOFS[precision]
    return PRECISION_ROOFS.get(fallback, "f32")


def fused_layer_bytes(layer: LayerCost) -> int:
    """A layer's bytes as one fused node would move them, from the count alone (for an engine whose
    compiled graph does not say): what its first op reads, each later op's other inputs (weights,
    a residual), and what its last op writes — not the tensors between its ops."""
    ops = [op for op in layer.ops if op.bytes_read or op.bytes_written]
    if not ops:
        return 0
    total = ops[0].bytes_read + ops[-1].bytes_written
    for op in ops[1:]:
        sizes = [_elements(shape) for shape in op.input_shapes]
        chained = sizes[0] / sum(sizes) if sizes and sum(sizes) else 0.0
        total += int(round(op.bytes_read * (1 - chained)))
    return total


def _elements(shape) -> int:
    count = 1
    for dim in shape or ():
        count *= max(int(dim), 0)
    return count


@dataclass(frozen=True)
class PredictedLayer:
    name: str
    type: str
    kernel_class: str
    flops: int
    bytes: int  # as counted, unfused
    executed_bytes: int  # as the compiled graph moves them (estimated from the count where it does not say)
    working_set_bytes: int
    level: str
    bound: str
    precision: str
    roof_time_us: float  # the roofline's time: its FLOPs at the peak or its bytes at its level's bandwidth
    factor: float  # its kernel class's slope on this machine: predicted = fixed_us + factor × roof_time_us
    predicted_time_us: float
    fused_into: str = ""
    parts: tuple["PredictedLayer", ...] = ()
    fixed_us: float = 0.0  # its class's fixed cost × the engine nodes it runs as (in predicted_time_us)


@dataclass(frozen=True)
class PredictedNode:
    """A node the engine inserted (a reorder, a precision conversion): its bytes at its level's bandwidth."""

    name: str
    type: str
    bytes: int
    level: str
    predicted_time_us: float


@result_kind("predict", version=1)
@dataclass(frozen=True)
class PredictResult:
    """Per layer the predicted time, and the end-to-end latency: layers + inserted nodes + one call."""

    model: str
    engine: dict[str, Any]  # the settings the compiled model has
    predicted_latency_us: float
    layers_us: float
    inserted_us: float  # the nodes the engine inserted
    call_overhead_us: float
    layers: tuple[PredictedLayer, ...]
    inserted: tuple[PredictedNode, ...]
    calibration: dict[str, Any]  # where the factors came from: file, when measured, the factors
    metadata: Mapping[str, Any] = json_field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ClassFit:
    """A kernel class's time on this machine, fitted to the calibration sweep: `fixed_us` per engine
    node it runs as (a kernel's start-up: its dispatch, its threads woken, its first cache lines)
    plus `slope` × its roof time (its FLOPs at the peak or its bytes at its level's bandwidth)."""

    fixed_us: float
    slope: float
    points: int = 0  # the calibration layers it was fitted to


@dataclass(frozen=True)
class Features:
    """What a layer's prediction is made from, all known before running: its class, work and bytes
    as executed, the engine nodes it runs as, and its place on the roof."""

    kind: str
    flops: int
    counted_bytes: int
    executed_bytes: int
    working_set_bytes: int
    precision: str
    nodes: int  # engine nodes it runs as: 0 when fused into another layer's node
    placement: Placement  # without the nodes' fixed cost: the roof's own time

    @property
    def roof_us(self) -> float:
        return self.placement.time_us


WEIGHT_ELEMENT_BYTES = {"f32": 4, "bf16": 2, "i8": 1}  # a weight as the engine keeps it, by the precision it runs


def weight_bytes(layer: LayerCost, precision: str) -> int:
    """The bytes of a layer's weights as the engine reads them (counted from its parameters: a model
    read without its weights has none stored)."""
    return layer.params * WEIGHT_ELEMENT_BYTES.get(precision, 4)


def touched_per_inference(cost: ModelCost, default_precision: str) -> int:
    """The bytes one inference touches: every layer's weights and output once, and the inputs.
    It is the reuse distance of a layer's weights: what passed through the caches since they were
    last read, one inference ago."""
    precision = roof_precision((default_precision,), default_precision)
    inputs = sum(op.bytes_read for op in cost.ops[:1])
    return inputs + sum(weight_bytes(layer, precision) + layer.activation_bytes for layer in cost.layers)


def features(timed: LayerTime, roof: Roofline, default_precision: str, executed_known: bool,
             reuse_distance_bytes: int = 0) -> Features:
    layer = timed.layer
    flops = layer.flops + layer.other_flops
    counted = layer.bytes_read + layer.bytes_written
    executed = int(round(timed.executed_bytes)) if executed_known and timed.executed_bytes else fused_layer_bytes(layer)
    working_set = (timed.working_set_bytes if executed_known and timed.working_set_bytes else executed) or counted
    precision = roof_precision(timed.precisions, default_precision)
    nodes = 0 if timed.fused_into else max(1, len(timed.nodes))
    weights = min(executed, weight_bytes(layer, precision))
    return Features(kind=kernel_class(layer), flops=flops, counted_bytes=counted, executed_bytes=executed,
                    working_set_bytes=working_set, precision=precision, nodes=nodes,
                    placement=place(flops, executed, working_set, precision, roof, nodes=0, weight_bytes=weights,
                                    reuse_distance_bytes=reuse_distance_bytes))


def fitted_time_us(fit: ClassFit, nodes: float, roof_us: float) -> float:
    """The calibrated model: the class's fixed cost per node plus its slope times the roof time."""
    return fit.fixed_us * nodes + fit.slope * roof_us


def predicted_layer(timed: LayerTime, roof: Roofline, fits: Mapping[str, ClassFit], default_precision: str,
                    executed_known: bool, reuse_distance_bytes: int = 0) -> PredictedLayer:
    layer = timed.layer
    parts = tuple(predicted_layer(part, roof, fits, default_precision, executed_known, reuse_distance_bytes) for part in timed.parts)
    found = features(timed, roof, default_precision, executed_known, reuse_distance_bytes)
    fit = fit_of(fits, found.kind, found.placement.level)
    where = found.placement
    bound = where.bound
    fixed = fit.fixed_us * found.nodes
    if bound != "compute" and fixed > where.time_us * fit.slope:
        bound = "overhead"
    if parts:  # a separable layer is its two parts
        predicted = sum(p.predicted_time_us for p in parts)
        roof_time = sum(p.roof_time_us for p in parts)
        fixed = sum(p.fixed_us for p in parts)
    elif executed_known and not timed.nodes:  # no node of the compiled graph runs it: the engine folded it away
        predicted, roof_time, fixed, bound = 0.0, 0.0, 0.0, FOLDED
    else:
        predicted, roof_time = fitted_time_us(fit, found.nodes, where.time_us), where.time_us
    return PredictedLayer(name=layer.name, type=layer.type, kernel_class=found.kind, flops=found.flops, bytes=found.counted_bytes,
                          executed_bytes=found.executed_bytes, working_set_bytes=found.working_set_bytes, level=where.level, bound=bound,
                          precision=found.precision, roof_time_us=roof_time, factor=fit.slope, predicted_time_us=predicted,
                          fused_into=timed.fused_into, parts=parts, fixed_us=fixed)


def fit_key(kind: str, level: str) -> str:
    return kind + DRAM_KEY if level == "DRAM" else kind


def fit_of(fits: Mapping[str, ClassFit], kind: str, level: str = "") -> ClassFit:
    """A class's fit (its DRAM fit for a working set in DRAM, when the calibration has one); a class
    the calibration never met takes the median fixed cost and slope of the others."""
    if fit_key(kind, level) in fits:
        return fits[fit_key(kind, level)]
    if kind in fits:
        return fits[kind]
    known = [v for k, v in fits.items() if k != INSERTED and not k.endswith(DRAM_KEY)]
    if not known:
        return ClassFit(0.0, 1.0)
    return ClassFit(statistics.median(f.fixed_us for f in known), statistics.median(f.slope for f in known))


def inserted_node(node: NodeTime, roof: Roofline, fits: Mapping[str, ClassFit]) -> PredictedNode:
    moved = node.bytes_read + node.bytes_written
    where = place(0, moved, moved, "f32", roof, nodes=0)
    return PredictedNode(name=node.name, type=node.type, bytes=moved, level=where.level,
                         predicted_time_us=fitted_time_us(fit_of(fits, INSERTED, where.level), 1, where.time_us))


def estimate(cost: ModelCost, nodes: Sequence[NodeTime], roof: Roofline, fits: Mapping[str, ClassFit],
             default_precision: str) -> tuple[tuple[PredictedLayer, ...], tuple[PredictedNode, ...]]:
    """Every layer's prediction, and the inserted nodes'."""
    joined = join(cost, nodes)
    executed_known = any(node.bytes_read or node.bytes_written for node in nodes)
    reuse = touched_per_inference(cost, default_precision)
    layers = tuple(predicted_layer(t, roof, fits, default_precision, executed_known, reuse) for t in joined.layers)
    return layers, tuple(inserted_node(node, roof, fits) for node in joined.inserted)


def compiled(model: str | os.PathLike, engine: str, device: str, precision: str | None, nthreads: int | None,
             shape: Any, batch: int | None):
    """(loaded model, its count, the engine's settings, the compiled graph's nodes): nothing is run.
    A model without FLOPs (a Concat alone) is fine here: calibration measures what it moves."""
    runtime, config, loaded, cost = read_and_count(model, engine, device, precision, nthreads, shape, batch, need_flops=False)
    settings, nodes = compile_nodes(runtime, config, loaded, cost)
    return loaded, cost, settings, nodes


def read_and_count(model: str | os.PathLike, engine: str, device: str, precision: str | None, nthreads: int | None,
                   shape: Any, batch: int | None, need_flops: bool = True):
    """(the engine, its config, the loaded model, its count), every argument checked: what is wrong
    with the request is said before anything is looked up or compiled."""
    from ..counting import count_loaded
    from ..model.reading import load
    from ..model.shapes import check_batch, normalize_shape_spec

    runtime = get_engine(engine)
    runtime.check_device(device)
    runtime.check_model(str(model))
    config = EngineConfig(device=device, hint="latency", precision=precision, nthreads=nthreads, profile=True)
    loaded = load(model, shape=normalize_shape_spec(shape), batch=check_batch(batch))
    cost = count_loaded(loaded)
    if need_flops and not any(op.counted and (op.flops or op.other_flops) for op in cost.ops):
        raise ProfilingError(f"{os.path.basename(str(model))} has no counted ops with FLOPs: there is no layer to predict",
                             "give a model with convolutions, matmuls or other ops flopbench counts (see flopbench flops)")
    return runtime, config, loaded, cost


COMPILED_SCHEMA = "flopbench/compiled-graph/1"


def _compiled_path(runtime, config: EngineConfig, loaded, source: Any) -> Path | None:
    """Where the compiled graph of this model file with these settings is kept: keyed by the file's
    (and its weights file's) path, size and modification time, so an edited file is compiled again.
    None for a model given as an object (its file is a temporary one)."""
    if not isinstance(source, (str, os.PathLike)) or not Path(source).is_file():
        return None
    from ..results.metadata import cpu_flags, cpu_model
    from .roofline import cache_dir

    stats = []
    for path in (Path(source), Path(source).with_suffix(".bin"), Path(source).with_suffix(".onnx_data"), Path(source).with_suffix(".data")):
        if path.is_file():
            found = path.stat()
            stats.append([str(path.resolve()), found.st_size, found.st_mtime_ns])
    key = json.dumps([stats, runtime.name, runtime.version(), config.device, config.precision, config.nthreads, config.hint,
                      {name: list(shape) for name, shape in loaded.input_shapes().items()}, cpu_model(), sorted(cpu_flags())])
    return cache_dir() / "compiled" / f"{runtime.name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.json"


def compile_nodes(runtime, config: EngineConfig, loaded, cost: ModelCost, source: Any = None):
    """(the engine's settings, the compiled graph's nodes named after the model's ops). A model
    file compiled before with the same settings is not compiled again: its graph is kept in the
    cache (compiling is most of predict's time), keyed by the file's path, size and modification time."""
    from ..measure.engines import EngineSettings
    from ..results.codec import decode, encode
    from ..results.writing import write_text_atomic

    kept = _compiled_path(runtime, config, loaded, source)
    if kept is not None and kept.is_file():
        try:
            data = json.loads(kept.read_text(encoding="utf-8"))
            if data.get("schema") == COMPILED_SCHEMA:
                return decode(EngineSettings, data["settings"]), tuple(decode(NodeTime, node) for node in data["nodes"])
        except (ValueError, KeyError, TypeError, AttributeError, OSError):
            pass  # a damaged entry is compiled again and rewritten
    with engine_errors(runtime.name):
        runner = runtime.compile(str(loaded.path), loaded.input_shapes(), config)
        try:
            nodes = runner.compiled_nodes(loaded, {op.name for op in cost.ops})
            settings = runner.settings
        finally:
            runner.close()
    if kept is not None:
        try:
            kept.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(kept, json.dumps({"schema": COMPILED_SCHEMA, "settings": encode(settings),
                                                "nodes": [encode(node) for node in nodes]}) + "\n")
        except Exception:  # noqa: BLE001 - a cache that cannot be written only costs the next compile
            pass
    return settings, nodes


def check_settings(config: EngineConfig) -> None:
    """What predict can model: one inference at a time, on the settings a calibration measures."""
    refused = [(flag, value) for flag, value in (("-hint", config.hint if config.hint != "latency" else None),
                                                 ("-nstreams", config.nstreams), ("-nireq", config.nireq)) if value is not None]
    if refused:
        flag, value = refused[0]
        raise OptionError(f"{flag} {value}: predict foretells one inference at a time (the latency setting calibration measures)",
                          f"leave {flag} out of predict")


def predict(model: ModelSpec | str | os.PathLike, engine: str = DEFAULT_ENGINE, config: EngineConfig | None = None, *,
            calibration=None, **keywords: Any) -> PredictResult:
    """Predict `model`'s per-layer times and end-to-end latency on `engine` without running it,
    from this machine's calibration (`calibration`, else the cached one for these settings; a
    missing one is a CalibrationError that says how to make it).

    `model` is a `ModelSpec` or the model file with its settings as keywords (`shape`, `batch`);
    the engine's settings are `config` (as bench and profile take it) or keywords (`device`,
    `precision`, `nthreads`). Nothing is run, so input data (`inputs`, `seed`) plays no part."""
    from .calibration import cached_calibration

    spec, config, _ = measurement_settings("predict()", model, config, keywords, timed=False)
    check_settings(config)
    device, precision, nthreads = config.device, config.precision, config.nthreads
    if calibration is None:  # a calibration is per-node times: an engine without them is told why, not to calibrate
        get_engine(engine).check_profilable(device)
    runtime, config, loaded, cost = read_and_count(spec.model, engine, device, precision, nthreads, spec.shape, spec.batch)
    calibration = calibration or cached_calibration(engine, device, precision, nthreads)
    settings, nodes = compile_nodes(runtime, config, loaded, cost, source=spec.model)
    roof = calibration.roofline
    layers, inserted = estimate(cost, nodes, roof, calibration.fits, settings.precision)
    layers_us = sum(layer.predicted_time_us for layer in layers)
    inserted_us = sum(node.predicted_time_us for node in inserted)
    call_us = calibration.call_us
    return PredictResult(model=str(loaded.path), engine=settings.to_dict(), predicted_latency_us=layers_us + inserted_us + call_us,
                         layers_us=layers_us, inserted_us=inserted_us, call_overhead_us=call_us, layers=layers, inserted=inserted,
                         calibration=calibration.summary(), metadata=result_metadata())
