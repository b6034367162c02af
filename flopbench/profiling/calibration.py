"""Calibrating `predict` on this machine: per kernel class, how far real layers sit from the roof.

A sweep of one-layer models (3×3 and 1×1 convolutions, depthwise convolutions, matmuls, pooling,
elementwise ops, softmax) of the sizes real networks have is compiled and profiled layer by layer.
Each layer's roof time (placement.py, from the compiled graph, as `predict` computes it) is set
beside its measured time (the fastest of a few profiled blocks: a loaded machine only ever makes a
block slower); a class's factor is the median of measured / roof time over its layers, and the nodes
the engine inserted get one too. The factors and the roofline they go with are cached per machine,
engine version, device, precision and threads. Each measured model is written to the cache at once:
Ctrl-C keeps them, and the next run measures only the rest."""
from __future__ import annotations

import hashlib
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CalibrationError, OutputError
from ..measure.engines import EngineConfig, engine_errors, get_engine
from ..measure.session import open_session
from ..model.spec import ModelSpec
from ..results.codec import decode, encode
from ..results.metadata import cpu_flags, cpu_model
from ..results.writing import write_text_atomic
from .join import join
from .roofline import Roofline, cache_dir, roofline, usable_cores
from .predict import INSERTED, compiled, estimate, inserted_time_us

SCHEMA = "flopbench/calibration/1"


@dataclass(frozen=True)
class CalibrationPoint:
    model: str  # the sweep's model: "depthwise 3×3 64 at 56×56"
    layer: str  # a layer (or an inserted node) of it
    kernel_class: str
    roof_time_us: float
    measured_us: float


@dataclass(frozen=True)
class Calibration:
    engine: str
    engine_version: str
    device: str
    precision: str | None  # as asked (None: the engine's default)
    nthreads: int | None
    executed_precision: str  # what the engine ran
    roofline: Roofline
    factors: dict[str, float]  # kernel class -> median measured / roof time
    points: tuple[CalibrationPoint, ...]
    done: tuple[str, ...]  # the sweep's models measured so far
    complete: bool
    quick: bool
    measured_at: str
    seconds: float
    path: str = field(default="", compare=False)

    def summary(self) -> dict[str, Any]:
        return {"file": self.path, "measured_at": self.measured_at, "quick": self.quick, "points": len(self.points),
                "factors": dict(self.factors), "roofline_measured_at": self.roofline.measured_at}

    def to_dict(self) -> dict[str, Any]:
        document = {"schema": SCHEMA, **encode(self)}
        document.pop("path", None)
        return document

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Calibration":
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} document")
        return decode(cls, {k: v for k, v in data.items() if k != "schema"})


# ---- the sweep -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    label: str
    build: Callable[[Path], Path]


def _save(graph, folder: Path, name: str) -> Path:
    import onnx
    from onnx import helper

    path = folder / f"{name}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def _conv(channels_in: int, channels_out: int, side: int, kernel: int, groups: int = 1) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        import onnx
        from onnx import helper, numpy_helper

        rng = np.random.default_rng(0)
        weights = rng.standard_normal((channels_out, channels_in // groups, kernel, kernel)).astype(np.float32) * 0.1
        initializers = [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(np.zeros(channels_out, np.float32), "b")]
        nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[kernel // 2] * 4, group=groups),
                 helper.make_node("Relu", ["c"], ["y"], name="relu")]
        graph = helper.make_graph(nodes, "calibration",
                                  [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, channels_in, side, side])],
                                  [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, channels_out, side, side])],
                                  initializers)
        return _save(graph, folder, f"conv_{channels_in}_{channels_out}_{side}_{kernel}_{groups}")
    return build


def _matmul(inputs: int, outputs: int) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        import onnx
        from onnx import helper, numpy_helper

        rng = np.random.default_rng(0)
        initializers = [numpy_helper.from_array(rng.standard_normal((inputs, outputs)).astype(np.float32) * 0.05, "w"),
                        numpy_helper.from_array(np.zeros(outputs, np.float32), "b")]
        nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="fc"), helper.make_node("Add", ["m", "b"], ["y"], name="fc_bias")]
        graph = helper.make_graph(nodes, "calibration", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, inputs])],
                                  [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, outputs])], initializers)
        return _save(graph, folder, f"fc_{inputs}_{outputs}")
    return build


def _unary(op: str, shape: list[int], out_shape: list[int] | None = None, **attributes) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        import onnx
        from onnx import helper

        nodes = [helper.make_node(op, ["x"], ["y"], name=op.lower(), **attributes)]
        graph = helper.make_graph(nodes, "calibration", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, shape)],
                                  [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, out_shape or shape)])
        return _save(graph, folder, f"{op}_{'x'.join(map(str, shape))}")
    return build


def _add_relu(channels: int, side: int) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        import onnx
        from onnx import helper

        shape = [1, channels, side, side]
        nodes = [helper.make_node("Add", ["x", "z"], ["s"], name="add"), helper.make_node("Relu", ["s"], ["y"], name="relu")]
        graph = helper.make_graph(nodes, "calibration", [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, shape) for n in ("x", "z")],
                                  [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, shape)])
        return _save(graph, folder, f"add_{channels}_{side}")
    return build


def sweep(quick: bool) -> list[Point]:
    """The models calibration measures: the sizes of MobileNet's and ResNet's layers (quick: a few)."""
    points = [Point(f"3×3 conv {c}→{c} at {s}×{s}", _conv(c, c, s, 3)) for c, s in ((32, 56), (64, 28), (128, 14), (256, 7))]
    points += [Point(f"1×1 conv {c}→{2 * c} at {s}×{s}", _conv(c, 2 * c, s, 1)) for c, s in ((32, 112), (64, 56), (128, 28), (256, 14), (512, 7))]
    points += [Point(f"3×3 depthwise {c} at {s}×{s}", _conv(c, c, s, 3, groups=c)) for c, s in ((32, 112), (64, 56), (128, 28), (256, 14), (512, 7))]
    points += [Point(f"matmul {i}→{o}", _matmul(i, o)) for i, o in ((256, 128), (1024, 1000), (2048, 1000))]
    points += [Point(f"max pool 3×3/2 {c} at {s}×{s}", _unary("MaxPool", [1, c, s, s], [1, c, s // 2, s // 2], kernel_shape=[3, 3],
                                                           strides=[2, 2], pads=[1, 1, 1, 1])) for c, s in ((64, 112), (256, 28))]
    points += [Point(f"global average pool {c} at {s}×{s}", _unary("GlobalAveragePool", [1, c, s, s], [1, c, 1, 1]))
               for c, s in ((1024, 7), (2048, 7))]
    points += [Point(f"add + relu {c} at {s}×{s}", _add_relu(c, s)) for c, s in ((64, 56), (256, 14), (512, 28))]
    points += [Point(f"softmax {n}", _unary("Softmax", [1, n], axis=1)) for n in (1000, 10)]
    if quick:
        keep = ("3×3 conv 64→64", "1×1 conv 64→128", "3×3 depthwise 64", "3×3 depthwise 256", "matmul 1024→1000",
                "max pool 3×3/2 64", "global average pool 1024", "add + relu 64", "softmax 1000")
        points = [p for p in points if p.label.startswith(keep)]
    return points


# ---- measuring -----------------------------------------------------------------------------------

def measured_times(model: Path, engine: str, device: str, precision: str | None, nthreads: int | None, blocks: int,
                   iterations: int) -> tuple[dict[str, float], dict[str, float]] | None:
    """(layer -> µs, inserted node -> µs): the fastest block's time of each; None when interrupted."""
    config = EngineConfig(device=device, hint="latency", precision=precision, nthreads=nthreads, profile=True)
    layers: dict[str, float] = {}
    inserted: dict[str, float] = {}
    for block in range(blocks):
        with open_session(ModelSpec(model, seed=block), engine, config) as session:
            with engine_errors(session.engine.name):
                run = session.runner.profiled_run(session.inputs.arrays, iterations, warmup=2, model=session.loaded,
                                                  counted={op.name for op in session.cost.ops})
            if not run.complete:
                return None
            joined = join(session.cost, run.nodes)
        for timed in joined.layers:
            if timed.time_ns > 0:
                layers[timed.layer.name] = min(layers.get(timed.layer.name, float("inf")), timed.time_ns / 1e3)
        for node in joined.inserted:
            if node.time_ns > 0:
                inserted[node.name] = min(inserted.get(node.name, float("inf")), node.time_ns / 1e3)
    return layers, inserted


def factors_of(points: tuple[CalibrationPoint, ...]) -> dict[str, float]:
    by_class: dict[str, list[float]] = {}
    for point in points:
        if point.roof_time_us > 0 and point.measured_us > 0:
            by_class.setdefault(point.kernel_class, []).append(point.measured_us / point.roof_time_us)
    return {kind: statistics.median(ratios) for kind, ratios in sorted(by_class.items())}


# ---- the cache -------------------------------------------------------------------------------------

def settings_key(engine: str, device: str, precision: str | None) -> str | None:
    """The precision as a calibration is keyed: an engine that runs one precision only has no setting."""
    runtime = get_engine(engine)
    try:
        offered = runtime.precisions(device)
    except Exception:  # noqa: BLE001 - a device the engine cannot name: keep what was asked
        return precision
    return None if len(offered) <= 1 and precision in (None, *offered) else precision


def calibration_path(engine: str, device: str = "CPU", precision: str | None = None, nthreads: int | None = None,
                     quick: bool = False) -> Path:
    runtime = get_engine(engine)
    precision = settings_key(engine, device, precision)
    key = json.dumps([cpu_model(), sorted(cpu_flags()), usable_cores(), device, runtime.name, runtime.version(), precision, nthreads])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / f"calibration-{runtime.name}-{digest}{'-quick' if quick else ''}.json"


def command_for(engine: str, device: str, precision: str | None, nthreads: int | None) -> str:
    flags = [f"--engine {engine}"] + ([f"-d {device}"] if device != "CPU" else []) + \
            ([f"--precision {precision}"] if precision else []) + ([f"-nthreads {nthreads}"] if nthreads else [])
    return f"flopbench predict --calibrate {' '.join(flags)}"


def read_calibration(path: Path) -> Calibration:
    """The calibration in `path`; a damaged file is a CalibrationError naming it."""
    try:
        found = Calibration.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CalibrationError(f"the calibration file {path} is damaged ({str(exc)[:120]})",
                               "delete it and calibrate again (flopbench predict --calibrate ...)") from None
    return replace(found, path=str(path))


def cached_calibration(engine: str, device: str = "CPU", precision: str | None = None, nthreads: int | None = None) -> Calibration:
    """This machine's calibration for these settings (the full one, else the quick one), or a
    CalibrationError that says how to make it."""
    precision = settings_key(engine, device, precision)
    command = command_for(engine, device, precision, nthreads)
    for quick in (False, True):
        path = calibration_path(engine, device, precision, nthreads, quick)
        if not path.exists():
            continue
        found = read_calibration(path)
        if not found.complete:
            raise CalibrationError(f"the calibration of {engine} on {device} (precision {precision or 'default'}) was interrupted",
                                   f"finish it with: {command}{' --quick' if quick else ''} (it resumes)")
        return found
    raise CalibrationError(f"{engine} on {device} with precision {precision or 'default'}"
                           f"{f' and {nthreads} threads' if nthreads else ''} has not been calibrated on this machine",
                           f"calibrate once (a few minutes, cached): {command}")


def calibrate(engine: str, device: str = "CPU", precision: str | None = None, nthreads: int | None = None,
              quick: bool = False, progress: Callable[[str], None] | None = None) -> Calibration:
    """Measure the calibration sweep, or the rest of an interrupted one, and cache it. Ctrl-C keeps
    every model measured so far (written at once) and raises KeyboardInterrupt."""
    runtime = get_engine(engine)
    runtime.check_device(device)
    runtime.check_profilable(device)
    path = calibration_path(runtime.name, device, precision, nthreads, quick)
    started = time.perf_counter()
    previous = read_calibration(path) if path.exists() else None
    if previous is not None and previous.complete:
        previous = None  # asked to calibrate: measured afresh
    roof = previous.roofline if previous else roofline(runtime.name, device, quick=quick, progress=progress)
    points = list(previous.points) if previous else []
    done = list(previous.done) if previous else []
    executed = previous.executed_precision if previous else ""
    blocks, iterations = (2, 10) if quick else (4, 25)

    def write(complete: bool) -> Calibration:
        found = Calibration(engine=runtime.name, engine_version=runtime.version(), device=device, precision=precision,
                            nthreads=nthreads, executed_precision=executed, roofline=roof, factors=factors_of(tuple(points)),
                            points=tuple(points), done=tuple(done), complete=complete, quick=quick,
                            measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                            seconds=(previous.seconds if previous else 0.0) + time.perf_counter() - started, path=str(path))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps(found.to_dict(), indent=1) + "\n")
        except (OSError, OutputError) as exc:
            raise CalibrationError(f"cannot write the calibration to {path}: {exc}", "set FLOPBENCH_CACHE_DIR to a writable folder") from None
        return found

    with tempfile.TemporaryDirectory(prefix="flopbench-calibration-") as temp:
        for point in sweep(quick):
            if point.label in done:
                continue
            if progress:
                progress(f"calibrating {runtime.name}: {point.label} ({len(done) + 1} of {len(sweep(quick))})")
            model = point.build(Path(temp))
            _, cost, settings, nodes = compiled(model, runtime.name, device, precision, nthreads, None, None)
            executed = settings.precision
            layers, _ = estimate(cost, nodes, roof, {}, settings.precision)
            try:
                measured = measured_times(model, runtime.name, device, precision, nthreads, blocks, iterations)
            except KeyboardInterrupt:
                measured = None
            if measured is None:
                write(False)
                raise KeyboardInterrupt
            layer_us, inserted_us = measured
            for layer in layers:
                for each in (layer.parts or (layer,)):
                    if each.name in layer_us and each.roof_time_us > 0:
                        points.append(CalibrationPoint(point.label, each.name, each.kernel_class, each.roof_time_us, layer_us[each.name]))
            by_name = {node.name: node for node in nodes}
            for name, spent in inserted_us.items():
                if name in by_name:
                    points.append(CalibrationPoint(point.label, name, INSERTED, inserted_time_us(by_name[name], roof, {}), spent))
            done.append(point.label)
            write(False)
    return write(True)
