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

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..counting.cost import ModelCost
from ..errors import OptionError
from ..measure.engines import DEFAULT_ENGINE, EngineConfig, NodeTime, get_engine
from ..measure.settings import measurement_settings
from ..model.spec import ModelSpec
from ..results.codec import json_field, result_kind
from ..results.metadata import result_metadata
from .compiled_graph import compile_nodes, read_and_count
from .join import LayerTime, join
from .kernel_classes import FOLDED, INSERTED, ClassFit, features, fit_of, fitted_time_us, touched_per_inference
from .placement import place
from .roofline import Roofline


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
