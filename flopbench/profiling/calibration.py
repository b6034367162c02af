"""Calibrating `predict` on this machine: per kernel class, a fixed cost per engine node and a slope
on the roof time, and the cost of one inference beyond its nodes.

A sweep of one-layer models (convolutions of every kernel size and stride real networks use, 1×1
and depthwise ones, matmuls, pooling, elementwise ops, Concat, Softmax, LRN, a channel shuffle) at
the sizes real networks have, and short chains of layers, is compiled and profiled layer by layer,
and each model's unprofiled latency is timed as bench times it; the whole sweep is measured PASSES
times over (a machine whose speed drifts runs one model's blocks in one phase). Each layer's roof
time (placement.py, from the compiled graph, as `predict` computes it) is set beside its measured
time (the median of its passes' median blocks, as bench reports a median). Where the engine's
profiler slows the nodes it times (`profiler_slows_nodes`: ONNX Runtime's), each model's layer
times are first scaled to add up to its unprofiled latency less the per-inference cost, so the fits
foretell what bench measures (as_unprofiled). Per class, time = fixed_us × nodes + slope × roof
time is fitted on relative error with Huber weights (fit_class); the per-inference cost is the one
that makes the fitted sweep models' latencies closest to their measured ones (fitted). The fits,
every measured point and the roofline they go with are cached per machine, engine version,
device, precision and threads. Each measured model is written to the cache at once: Ctrl-C keeps
them, and the next run measures only the rest."""
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
from ..measure.policy import SyncBlocks
from ..measure.session import open_session
from ..model.spec import ModelSpec
from ..results import schema
from ..results.codec import decode, encode
from ..results.documents import read_json
from ..results.metadata import cpu_flags, cpu_model
from ..results.writing import write_text_atomic
from .join import join, layer_samples
from .roofline import MEASURED_AS, Roofline, cache_dir, roofline, usable_cores
from .placement import place
from .compiled_graph import compiled
from .kernel_classes import DRAM_KEY, INSERTED, ClassFit, features, fit_key, fit_of, fitted_time_us, touched_per_inference

SCHEMA = "flopbench/calibration/3"  # 1: a factor per class; 2: a fixed cost and a slope, a per-call and a per-node cost; 3: fitted to unprofiled time


@dataclass(frozen=True)
class CalibrationPoint:
    """One layer (or inserted node) of a sweep model: what predict knows of it before running, and its measured time."""

    model: str  # the sweep's model: "3×3 depthwise 64 at 56×56"
    layer: str  # a layer (or an inserted node) of it
    kernel_class: str
    nodes: int  # engine nodes it ran as (0: fused into another layer's node)
    flops: int
    executed_bytes: int
    working_set_bytes: int
    level: str
    roof_time_us: float  # max(FLOPs / peak, executed bytes / its level's bandwidth), no fixed cost
    measured_us: float  # the fastest profiled block's time
    median_us: float  # the median block's: what the fit is made to (bench's figure is a median too)


@dataclass(frozen=True)
class ModelPoint:
    """One sweep model whole: its latency as `bench` measures it (no profiling), beside its layers'."""

    model: str
    layers: int
    nodes: int  # engine nodes executed, inserted ones included
    latency_us: float  # unprofiled, as bench times it: the median inference
    profiled_us: float  # the sum of its nodes' profiled times (the median block's)


@dataclass(frozen=True)
class Calibration:
    engine: str
    engine_version: str
    device: str
    precision: str | None  # as asked (None: the engine's default)
    nthreads: int | None
    executed_precision: str  # what the engine ran
    roofline: Roofline
    fits: dict[str, ClassFit]  # kernel class -> fixed µs per node + slope × roof time (empty until complete)
    call_us: float  # per inference, beyond the layers and inserted nodes
    # the layer times were scaled to each sweep model's unprofiled latency (the engine's profiler slows its nodes)
    scaled_to_unprofiled: bool
    points: tuple[CalibrationPoint, ...]
    models: tuple[ModelPoint, ...]
    done: tuple[str, ...]  # the sweep's models measured so far
    complete: bool
    quick: bool
    measured_at: str
    seconds: float
    # how far this machine moved while it was measured: the median over the sweep's models of their
    # slowest pass's latency over their fastest's, less 1 (0: one pass, a quick calibration)
    pass_spread: float = 0.0
    path: str = field(default="", compare=False)

    @property
    def factors(self) -> dict[str, float]:
        """Each class's slope: measured time per µs of roof time beyond the fixed cost."""
        return {kind: fit.slope for kind, fit in self.fits.items()}

    def summary(self) -> dict[str, Any]:
        return {"file": self.path, "measured_at": self.measured_at, "quick": self.quick,
                "points": sum(fit.points for fit in self.fits.values()),  # the layers fitted (all passes of one as one)
                "factors": self.factors, "fixed_us": {kind: fit.fixed_us for kind, fit in self.fits.items()},
                "call_us": self.call_us, "scaled_to_unprofiled": self.scaled_to_unprofiled, "pass_spread": self.pass_spread,
                "roofline_measured_at": self.roofline.measured_at}

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
    layers: int = 1  # a chain of several layers: its end-to-end latency teaches the per-inference cost


def _net(name: str, channels: int, side: int, layers: tuple[tuple, ...]) -> Callable[[Path], Path]:
    """A sequential ONNX model of `layers` on a 1×channels×side×side input, each layer one of
    ("conv", out, kernel, stride, groups) (+ bias + ReLU, as networks have them), ("dw", kernel, stride),
    ("mark",) then ("add",) or ("concat",) (a residual or a concatenation with the marked tensor),
    ("maxpool"|"avgpool", kernel, stride), ("gap",), ("fc", out), ("softmax",), ("bn",), ("relu",),
    ("lrn",), ("shuffle", groups), ("sigmoid_mul",)."""
    def build(folder: Path) -> Path:
        import onnx
        from onnx import helper, numpy_helper

        rng = np.random.default_rng(0)
        nodes, initializers = [], []
        shape = [channels, side, side] if side else [channels]  # side 0: a flat input, as a classifier's
        current, marked, count = "x", None, 0

        def fresh(stem: str) -> str:
            nonlocal count
            count += 1
            return f"{stem}{count}"

        def constant(stem: str, values: np.ndarray) -> str:
            name = fresh(stem)
            initializers.append(numpy_helper.from_array(values.astype(np.float32), name))
            return name

        def node(op: str, inputs: list[str], **attributes) -> str:
            nonlocal current
            out = fresh(op.lower())
            nodes.append(helper.make_node(op, inputs, [out], name=out, **attributes))
            current = out
            return out

        for spec in layers:
            kind = spec[0]
            if kind in ("conv", "dw"):
                if kind == "conv":
                    _, out, kernel, stride, groups = spec
                else:
                    (_, kernel, stride), out, groups = spec, shape[0], shape[0]
                weights = constant("w", rng.standard_normal((out, shape[0] // groups, kernel, kernel)) * 0.1)
                node("Conv", [current, weights, constant("b", np.zeros(out))], pads=[kernel // 2] * 4, strides=[stride, stride],
                     group=groups)
                node("Relu", [current])
                shape = [out, (shape[1] - 1) // stride + 1, (shape[2] - 1) // stride + 1]
            elif kind == "mark":
                marked = (current, list(shape))
            elif kind == "add":
                node("Add", [current, marked[0]])
                node("Relu", [current])
            elif kind == "concat":
                node("Concat", [current, marked[0]], axis=1)
                shape = [shape[0] + marked[1][0], *shape[1:]]
            elif kind in ("maxpool", "avgpool"):
                _, kernel, stride = spec
                pad = (kernel - 1) // 2
                node("MaxPool" if kind == "maxpool" else "AveragePool", [current], kernel_shape=[kernel, kernel],
                     strides=[stride, stride], pads=[pad] * 4)
                shape = [shape[0], *((size + 2 * pad - kernel) // stride + 1 for size in shape[1:])]
            elif kind == "gap":
                node("GlobalAveragePool", [current])
                node("Flatten", [current], axis=1)
                shape = [shape[0]]
            elif kind == "fc":
                weights = constant("w", rng.standard_normal((shape[0], spec[1])) * 0.05)
                node("MatMul", [current, weights])
                node("Add", [current, constant("b", np.zeros(spec[1]))])
                shape = [spec[1]]
            elif kind == "softmax":
                node("Softmax", [current], axis=1)
            elif kind == "bn":
                c = shape[0]
                node("BatchNormalization", [current, constant("g", rng.uniform(0.5, 1.5, c)), constant("beta", np.zeros(c)),
                                            constant("m", np.zeros(c)), constant("v", np.ones(c))])
            elif kind == "relu":
                node("Relu", [current])
            elif kind == "lrn":
                node("LRN", [current], size=5, alpha=1e-4, beta=0.75, bias=1.0)
            elif kind == "sigmoid_mul":
                gate = node("Sigmoid", [current])
                node("Mul", [marked[0], gate])
            elif kind == "shuffle":
                groups = spec[1]
                c, h, w = shape
                reshaped = numpy_helper.from_array(np.array([1, groups, c // groups, h, w], np.int64), fresh("s"))
                back = numpy_helper.from_array(np.array([1, c, h, w], np.int64), fresh("s"))
                initializers.extend([reshaped, back])
                node("Reshape", [current, reshaped.name])
                node("Transpose", [current], perm=[0, 2, 1, 3, 4])
                node("Reshape", [current, back.name])
            else:
                raise ValueError(f"unknown layer {kind}")
        graph = helper.make_graph(nodes, "calibration",
                                  [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, channels, side, side] if side else [1, channels])],
                                  [helper.make_tensor_value_info(current, onnx.TensorProto.FLOAT, [1, *shape])], initializers)
        path = folder / f"{name}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
        return path
    return build


def _points(chain: bool, entries) -> list[Point]:
    return [Point(label, _net(f"{'chain' if chain else 'one'}{index}", channels, side, layers),
                  layers=sum(1 for spec in layers if spec[0] != "mark"))
            for index, (label, channels, side, layers) in enumerate(entries)]


def sweep(quick: bool) -> list[Point]:
    """The models calibration measures: one-layer models of the sizes MobileNets, ResNets, VGG and
    Inception have (so each class's fixed cost and slope are fitted over the range real layers span),
    and short chains of layers (their end-to-end latency beside their layers' predictions teaches
    the per-inference cost). Quick: a few of each."""
    singles = [(f"3×3 conv {c}→{c} at {s}×{s}", c, s, (("conv", c, 3, 1, 1),))
               for c, s in ((16, 112), (32, 56), (64, 56), (64, 28), (128, 28), (128, 14), (256, 14), (256, 7), (512, 7))]
    # small ones too, whose time is mostly the kernel's start-up: without them the fixed cost is a guess
    singles += [(f"3×3 conv {c}→{o} at {s}×{s}", c, s, (("conv", o, 3, 1, 1),))
                for c, o, s in ((8, 8, 28), (16, 16, 14), (16, 32, 28), (32, 32, 14), (64, 64, 7))]
    singles += [("3×3/2 conv 3→32 at 224×224", 3, 224, (("conv", 32, 3, 2, 1),)),
                ("7×7/2 conv 3→64 at 224×224", 3, 224, (("conv", 64, 7, 2, 1),)),
                ("5×5 conv 32→64 at 28×28", 32, 28, (("conv", 64, 5, 1, 1),))]
    singles += [(f"1×1 conv {c}→{o} at {s}×{s}", c, s, (("conv", o, 1, 1, 1),))
                for c, o, s in ((16, 16, 14), (32, 64, 14), (32, 64, 112), (16, 96, 112), (64, 128, 56), (96, 24, 56), (256, 64, 56), (128, 256, 28),
                                (256, 512, 14), (512, 512, 14), (512, 1024, 7), (1024, 1024, 7), (320, 1280, 7), (160, 960, 7))]
    singles += [(f"3×3{'/2' if t == 2 else ''} depthwise {c} at {s}×{s}", c, s, (("dw", 3, t),))
                for c, s, t in ((16, 14, 1), (32, 28, 2), (32, 112, 1), (96, 112, 2), (64, 56, 1), (144, 56, 1), (128, 28, 1), (192, 28, 2), (256, 14, 1),
                                (512, 14, 1), (576, 14, 2), (1024, 7, 1), (960, 7, 1))]
    # and weights larger than the last-level cache, streamed from DRAM (VGG's and AlexNet's classifiers)
    singles += [(f"matmul {i}→{o}", i, 0, (("fc", o),)) for i, o in ((256, 128), (1024, 1000), (1280, 1000), (2048, 1000),
                                                                        (4096, 1000), (4096, 4096), (9216, 4096), (12544, 2048))]
    # a pooling layer reads what a convolution wrote, in the layout the convolution's kernel left it
    # (a pool on the model's input alone runs another kernel): each after a 1×1 convolution
    singles += [(f"max pool 3×3/2 {c} at {s}×{s}", c, s, (("conv", c, 1, 1, 1), ("maxpool", 3, 2)))
                for c, s in ((64, 112), (96, 56), (256, 28))]
    singles += [("max pool 2×2/2 64 at 224×224", 64, 224, (("conv", 64, 1, 1, 1), ("maxpool", 2, 2))),
                ("max pool 2×2/2 256 at 56×56", 256, 56, (("conv", 256, 1, 1, 1), ("maxpool", 2, 2))),
                ("average pool 3×3 192 at 28×28", 192, 28, (("conv", 192, 1, 1, 1), ("avgpool", 3, 1)))]
    singles += [(f"global average pool {c} at {s}×{s}", c, s, (("conv", c, 1, 1, 1), ("gap",)))
                for c, s in ((1024, 7), (2048, 7), (1280, 7), (512, 14))]
    singles += [(f"add + relu {c} at {s}×{s}", c, s, (("mark",), ("add",))) for c, s in ((24, 56), (64, 56), (256, 14), (512, 28), (1024, 14))]
    singles += [(f"batch norm + relu {c} at {s}×{s}", c, s, (("bn",), ("relu",))) for c, s in ((128, 28), (256, 14), (64, 112))]
    singles += [(f"concat {c}+{c} at {s}×{s}", c, s, (("mark",), ("concat",))) for c, s in ((64, 56), (256, 14))]
    singles += [(f"softmax {n} after a matmul", 256, 0, (("fc", n), ("softmax",))) for n in (1000, 10)]
    singles += [(f"LRN {c} at {s}×{s}", c, s, (("lrn",),)) for c, s in ((64, 56), (96, 27), (192, 28))]
    # a shuffle reads what a convolution wrote, in its kernel's layout (ShuffleNet's: 8-14x its roof
    # time on OpenVINO, against 2.8x for the same shuffle of the model's input), at sizes whose roof
    # times span 2-40 µs: three of 4-10 µs fitted OpenVINO's layout class as a 52 µs fixed cost
    singles += [(f"channel shuffle {c} ({g} groups) at {s}×{s}", c, s, (("conv", c, 1, 1, 1), ("shuffle", g)))
                for c, s, g in ((112, 56, 4), (240, 56, 3), (136, 28, 4), (272, 14, 4), (544, 7, 4), (232, 14, 2))]
    # grouped convolutions: ShuffleNet's group-4 and group-3 1×1, AlexNet's group-2 5×5 and 3×3 (many
    # channels a group: the dense classes), ShuffleNet's first (6 a group) and ResNeXt's group-32 3×3
    # (4 and 8 a group: the grouped class)
    singles += [(f"{k}×{k} group-{g} conv {c}→{o} at {s}×{s}", c, s, (("conv", o, k, 1, g),))
                for k, g, c, o, s in ((1, 4, 112, 112, 28), (1, 4, 272, 272, 14), (1, 3, 240, 240, 28), (1, 4, 24, 112, 56),
                                      (5, 2, 96, 256, 27), (3, 2, 384, 384, 13), (3, 32, 128, 128, 56), (3, 32, 256, 256, 28))]
    chains = [("3 × 3×3 conv 32 at 56×56", 32, 56, (("conv", 32, 3, 1, 1),) * 3),
              ("6 × 3×3 conv 64 at 28×28", 64, 28, (("conv", 64, 3, 1, 1),) * 6),
              ("4 separable blocks 128 at 14×14", 128, 14, (("dw", 3, 1), ("conv", 128, 1, 1, 1)) * 4),
              ("inverted residual 24 at 56×56", 24, 56, (("mark",), ("conv", 144, 1, 1, 1), ("dw", 3, 1), ("conv", 24, 1, 1, 1), ("add",))),
              ("basic residual block 128 at 28×28", 128, 28, (("mark",), ("conv", 128, 3, 1, 1), ("conv", 128, 3, 1, 1), ("add",))),
              ("bottleneck 256 at 14×14", 256, 14, (("mark",), ("conv", 64, 1, 1, 1), ("conv", 64, 3, 1, 1), ("conv", 256, 1, 1, 1), ("add",))),
              ("head 512 at 7×7", 512, 7, (("gap",), ("fc", 1000), ("softmax",))),
              ("small net 3 at 112×112", 3, 112, (("conv", 32, 3, 2, 1), ("maxpool", 3, 2), ("conv", 64, 3, 1, 1), ("gap",), ("fc", 10),
                                                   ("softmax",))),
              ("12 × 1×1 conv 64 at 7×7", 64, 7, (("conv", 64, 1, 1, 1),) * 12),
              ("dense block 64 at 28×28", 64, 28, (("mark",), ("bn",), ("relu",), ("conv", 32, 3, 1, 1), ("concat",)) * 1),
              ("classifier 6400→4096→4096→1000", 6400, 0, (("fc", 4096), ("relu",), ("fc", 4096), ("relu",), ("fc", 1000), ("softmax",))),
              ("stem 3 at 224×224", 3, 224, (("conv", 48, 7, 2, 1), ("maxpool", 3, 2), ("conv", 48, 1, 1, 1), ("conv", 128, 3, 1, 1),
                                             ("maxpool", 3, 2)))]
    points = _points(False, singles) + _points(True, chains)
    if quick:
        keep = ("3×3 conv 64→64 at 28", "1×1 conv 64→128", "3×3 depthwise 64 at 56", "3×3 depthwise 256", "matmul 1024→1000",
                "max pool 3×3/2 64", "global average pool 1024", "add + relu 64", "softmax 1000 after", "4 separable blocks",
                "1×1 group-4 conv 24→112", "channel shuffle 136",
                "inverted residual", "12 × 1×1")
        points = [p for p in points if p.label.startswith(keep)]
    return points


# ---- measuring -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measured:
    layers: dict[str, list[float]]  # layer -> its time in each profiled block, µs
    inserted: dict[str, list[float]]  # inserted node -> its time in each block, µs
    profiled_us: float  # all nodes' time, the median block's
    latency_us: float  # unprofiled: the median inference


def measured_times(model: Path, engine: str, device: str, precision: str | None, nthreads: int | None, blocks: int,
                   iterations: int) -> Measured | None:
    """Each layer's and inserted node's time in each of `blocks` profiled blocks (a fresh compile
    each), then the latency of unprofiled inferences as bench measures it; None when interrupted."""
    config = EngineConfig(device=device, hint="latency", precision=precision, nthreads=nthreads, profile=True)
    layers: dict[str, list[float]] = {}
    inserted: dict[str, list[float]] = {}
    totals = []
    for block in range(blocks):
        with open_session(ModelSpec(model, seed=block), engine, config) as session:
            with engine_errors(session.engine.name):
                run = session.runner.profiled_run(session.inputs.arrays, iterations, warmup=2, model=session.loaded,
                                                  counted={op.name for op in session.cost.ops})
            if not run.complete:
                return None
            joined = join(session.cost, run.nodes)
        samples = run.node_samples_ns
        block_total = 0.0
        for timed in joined.layers:
            spent = block_time_us(layer_samples(timed, samples), timed.time_ns)
            if spent > 0:
                layers.setdefault(timed.layer.name, []).append(spent)
                block_total += spent
            for part in timed.parts:
                spent = block_time_us(layer_samples(part, samples), part.time_ns)
                if spent > 0:
                    layers.setdefault(part.layer.name, []).append(spent)
        for node in joined.inserted:
            spent = block_time_us(samples.get(node.name), node.time_ns)
            if spent > 0:
                inserted.setdefault(node.name, []).append(spent)
                block_total += spent
        totals.append(block_total)
    latency = unprofiled_latency_us(model, engine, replace(config, profile=False), blocks, 2 * iterations)
    if latency is None:
        return None
    return Measured(layers, inserted, statistics.median(totals), latency)


def block_time_us(per_inference_ns, mean_ns: float) -> float:
    """A layer's (or an inserted node's) time in a profiled block: the median of its per-inference
    times where the engine times each inference apart (ONNX Runtime), else its mean over the block
    (OpenVINO's counters). On a machine whose other work takes a core for a scheduler tick, one
    inference of ten stalls for milliseconds: a mean carries it into every layer of that block (a
    300 µs convolution measured at 1,000 µs), a median does not, and bench's latency is a median too."""
    if per_inference_ns is not None and len(per_inference_ns):
        return float(np.median(per_inference_ns)) / 1e3
    return mean_ns / 1e3


def unprofiled_latency_us(model: Path, engine: str, config: EngineConfig, blocks: int, iterations: int) -> float | None:
    """The latency of unprofiled inferences timed as bench times them (the engine's own latency
    where it reports one, else the call's): their median, as bench reports it. Not the fastest
    block's: on a machine whose speed drifts (a virtual machine's neighbours) the fastest block picks
    its fast phases, and a model fitted to them predicts below bench's median."""
    with open_session(ModelSpec(model), engine, config) as session:
        with engine_errors(session.engine.name):
            step, engine_latencies = session.runner.sync_step(session.inputs.arrays)
            timed = SyncBlocks(step, iterations, warmup=3, engine_latencies=engine_latencies)
            try:
                for _ in range(blocks):
                    timed.run()
            except KeyboardInterrupt:
                return None
            latencies = timed.latencies("engine")
    return float(np.median(latencies)) / 1e3


# ---- fitting -------------------------------------------------------------------------------------

def nonnegative_fit(columns: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least squares with every coefficient ≥ 0, for the two columns here: the unconstrained
    solution when it is non-negative, else the better of the one-column fits."""
    solution, *_ = np.linalg.lstsq(columns, target, rcond=None)
    if (solution >= 0).all():
        return solution
    best, best_error = np.zeros(columns.shape[1]), float(np.sum(target ** 2))
    for keep in range(columns.shape[1]):
        column = columns[:, keep]
        norm = float(column @ column)
        if norm <= 0:
            continue
        candidate = np.zeros(columns.shape[1])
        candidate[keep] = max(0.0, float(column @ target) / norm)
        error = float(np.sum((columns @ candidate - target) ** 2))
        if error < best_error:
            best, best_error = candidate, error
    return best


def fit_class(points: list[CalibrationPoint]) -> ClassFit:
    """time = fixed_us × nodes + slope × roof time, fitted on relative error (a 5 µs layer weighs as
    much as a 5 ms one: real networks are mostly small layers), robustly: Huber weights, so a block
    a neighbour's load slowed does not pull the fit."""
    nodes = np.array([p.nodes for p in points], dtype=float)
    roof = np.array([p.roof_time_us for p in points], dtype=float)
    measured = np.array([p.median_us for p in points], dtype=float)
    columns = np.stack([nodes / measured, roof / measured], axis=1)
    target = np.ones(len(points))
    weights = np.ones(len(points))
    for _ in range(10):
        root = np.sqrt(weights)
        solution = nonnegative_fit(columns * root[:, None], target * root)
        residual = np.abs(columns @ solution - target)
        scale = max(1.4826 * float(np.median(residual)), 0.02)
        weights = np.minimum(1.0, 1.345 * scale / np.maximum(residual, 1e-12))
    return ClassFit(fixed_us=float(solution[0]), slope=float(solution[1]), points=len(points))


PASSES = 3  # the sweep is measured this many times over, each model's passes about a minute apart

FEWEST_TO_FIT = 3  # a class met fewer times takes the others' median fixed cost and fits only its slope


def pass_label(label: str, round_: int) -> str:
    """How a sweep model's pass is named among the measured ones (the first pass by its label alone)."""
    return label if round_ == 0 else f"{label} (pass {round_ + 1})"


def merged_passes(points: tuple[CalibrationPoint, ...]) -> list[CalibrationPoint]:
    """One point per layer of a sweep model: the median of its passes' medians (and the fastest of
    their fastest). A machine whose speed drifts in phases of a fraction of a second (a virtual
    machine's neighbours) runs one model's blocks in one phase: passes a minute apart see others."""
    by_layer: dict[tuple[str, str], list[CalibrationPoint]] = {}
    for point in points:
        by_layer.setdefault((point.model, point.layer), []).append(point)
    return [replace(found[0], median_us=statistics.median(p.median_us for p in found),
                    measured_us=min(p.measured_us for p in found)) for found in by_layer.values()]


def pass_spread(models: tuple[ModelPoint, ...]) -> float:
    """The median over the sweep's models measured more than once of their slowest pass's latency over
    their fastest's, less 1: how far one `bench` of a model can land from another on this machine."""
    by_model: dict[str, list[float]] = {}
    for model in models:
        if model.latency_us > 0:
            by_model.setdefault(model.model, []).append(model.latency_us)
    spreads = [max(found) / min(found) - 1 for found in by_model.values() if len(found) > 1]
    return float(statistics.median(spreads)) if spreads else 0.0


def merged_models(models: tuple[ModelPoint, ...]) -> tuple[ModelPoint, ...]:
    """One entry per sweep model: the median latency and profiled time of its passes."""
    by_model: dict[str, list[ModelPoint]] = {}
    for model in models:
        by_model.setdefault(model.model, []).append(model)
    return tuple(replace(found[0], latency_us=statistics.median(m.latency_us for m in found),
                         profiled_us=statistics.median(m.profiled_us for m in found)) for found in by_model.values())


def fits_of(points: tuple[CalibrationPoint, ...]) -> dict[str, ClassFit]:
    """Per kernel class, its fit; a class met often enough with its working set in DRAM gets a slope
    of its own there (`matmul/DRAM`): a layer streaming its weights from DRAM reads them once, in
    order, and runs at a share of the roof its cached sizes never see. Its fixed cost stays the
    class's: a kernel's start-up does not depend on where its data lives."""
    by_class: dict[str, list[CalibrationPoint]] = {}
    for point in merged_passes(points):
        if point.median_us > 0 and (point.roof_time_us > 0 or point.nodes > 0):
            by_class.setdefault(fit_key(point.kernel_class, point.level), []).append(point)
    for key in [key for key in by_class if key.endswith(DRAM_KEY) and len(by_class[key]) < FEWEST_TO_FIT]:
        by_class.setdefault(key[:-len(DRAM_KEY)], []).extend(by_class.pop(key))
    fits = {kind: fit_class(found) for kind, found in by_class.items()
            if len(found) >= FEWEST_TO_FIT and not kind.endswith(DRAM_KEY)}
    fixed = statistics.median(fit.fixed_us for kind, fit in fits.items() if kind != INSERTED) if len(fits) > 1 else 0.0
    for kind, found in by_class.items():
        if kind not in fits:
            base = fits.get(kind[:-len(DRAM_KEY)]) if kind.endswith(DRAM_KEY) else None
            start_up = base.fixed_us if base else fixed
            slopes = [max(0.0, p.median_us - start_up * p.nodes) / p.roof_time_us for p in found if p.roof_time_us > 0]
            fits[kind] = ClassFit(fixed_us=start_up, slope=statistics.median(slopes) if slopes else 1.0, points=len(found))
    return dict(sorted(fits.items()))


def as_unprofiled(points: list[CalibrationPoint], models: tuple[ModelPoint, ...], call_us: float) -> list[CalibrationPoint]:
    """Each (merged) point's time scaled so that its sweep model's layers and inserted nodes add up to
    the model's unprofiled latency less `call_us`. ONNX Runtime's profiler slows the nodes it times,
    and a one-layer model's most: in this machine's calibration the models under 1 ms ran
    unprofiled in 0.63-0.74× their profiled nodes' sum (medians), OpenVINO's in 0.91-1.07×."""
    by_model = {model.model: model for model in models}
    scaled = []
    for point in points:
        model = by_model.get(point.model)
        if model is None or model.profiled_us <= 0:
            scaled.append(point)
            continue
        # never below a share of the latency: a per-call cost near a tiny model's whole time would zero its layers
        scale = max(model.latency_us - call_us, UNPROFILED_FLOOR * model.latency_us) / model.profiled_us
        scaled.append(replace(point, median_us=point.median_us * scale, measured_us=point.measured_us * scale))
    return scaled


UNPROFILED_FLOOR = 0.1  # the least share of a sweep model's latency its layers keep when scaled
CALL_STEP_US = 0.5  # the per-inference cost is searched on this grid, from 0 to the quickest sweep model's latency


def sweep_error(fits: dict[str, ClassFit], call_us: float, points: list[CalibrationPoint], models: tuple[ModelPoint, ...]) -> float:
    """How far the fits and a per-inference cost put the sweep models' latencies from their measured
    ones: the mean |log(predicted / measured)|, so a model 2× slow and one 2× fast weigh alike."""
    predicted = dict.fromkeys((model.model for model in models), call_us)
    for point in points:
        if point.model in predicted:
            predicted[point.model] += fitted_time_us(fit_of(fits, point.kernel_class, point.level), point.nodes, point.roof_time_us)
    errors = [abs(np.log(max(predicted[model.model], 1e-3) / model.latency_us)) for model in models if model.latency_us > 0]
    return float(np.mean(errors)) if errors else 0.0


def fitted(points: tuple[CalibrationPoint, ...], models: tuple[ModelPoint, ...],
           scale_to_unprofiled: bool) -> tuple[dict[str, ClassFit], float]:
    """The class fits and the per-inference cost: of the costs from 0 to the quickest sweep model's
    latency, the one whose fits (refitted to the layers scaled to it, when `scale_to_unprofiled`)
    put the sweep models' end-to-end latencies closest to their measured ones. The chains of the
    sweep tell a cost per inference from one per node."""
    merged, whole = merged_passes(points), merged_models(models)
    quickest = min((model.latency_us for model in whole if model.latency_us > 0), default=0.0)
    profiled_fits = None if scale_to_unprofiled else fits_of(tuple(merged))  # the same for every cost
    tried = []
    for call_us in np.arange(0.0, quickest + CALL_STEP_US / 2, CALL_STEP_US):  # 0 µs at least
        call_us = float(call_us)
        timed = as_unprofiled(merged, whole, call_us) if scale_to_unprofiled else merged
        fits = profiled_fits or fits_of(tuple(timed))
        tried.append((sweep_error(fits, call_us, timed, whole), call_us, fits))
    _, call_us, fits = min(tried, key=lambda found: found[:2])
    return fits, call_us


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
    # the roofline it carries is measured as roofline.MEASURED_AS says: one measured another way is not reused
    key = json.dumps([cpu_model(), sorted(cpu_flags()), usable_cores(), device, runtime.name, runtime.version(), precision, nthreads, MEASURED_AS])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / f"calibration-{runtime.name}-{digest}{'-quick' if quick else ''}.json"


def command_for(engine: str, device: str, precision: str | None, nthreads: int | None) -> str:
    flags = [f"--engine {engine}"] + ([f"-d {device}"] if device != "CPU" else []) + \
            ([f"--precision {precision}"] if precision else []) + ([f"-nthreads {nthreads}"] if nthreads else [])
    return f"flopbench predict --calibrate {' '.join(flags)}"


class OldCalibration(CalibrationError):
    """A calibration file an earlier flopbench wrote, in a format this one no longer reads."""


def read_calibration(path: Path, command: str = "flopbench predict --calibrate ...", measurements: bool = True) -> Calibration:
    """The calibration in `path`, checked against its schema and its roofline against the
    roofline's (a bandwidth of 0 would divide by zero after a model was counted); a damaged file is
    a CalibrationError naming it and the field, one an older flopbench wrote an OldCalibration
    saying to recalibrate. Without `measurements`, its measured points are left unread (empty):
    predicting needs only the fits, and reading a full calibration's points costs more than
    counting a small model."""
    fix = f"delete it and calibrate again ({command})"
    try:
        data = read_json(path, "calibration file", CalibrationError, fix=fix)
    except CalibrationError as exc:
        raise CalibrationError(f"the calibration file {path} is damaged ({exc.problem})", fix) from None
    found_schema = data.get("schema") if isinstance(data, dict) else None
    if isinstance(found_schema, str) and found_schema.startswith("flopbench/calibration/") and found_schema != SCHEMA:
        raise OldCalibration(f"the calibration file {path} is in an older format ({found_schema}; this flopbench reads {SCHEMA})",
                             f"recalibrate: {command}")
    if not measurements and isinstance(data, dict):
        data = {**data, "points": [], "models": []}
    for part, kind in (("", "calibration"), ("roofline", "machine")):
        try:
            schema.check(data[part] if part else data, kind)
        except schema.Mismatch as exc:
            field = ".".join(p for p in (part, exc.path) if p) or "the document"
            raise CalibrationError(f"the calibration file {path} is damaged: {field} {exc.problem}", fix) from None
    try:
        found = Calibration.from_dict(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CalibrationError(f"the calibration file {path} is damaged ({str(exc)[:120]})", fix) from None
    return replace(found, path=str(path))


def cached_calibration(engine: str, device: str = "CPU", precision: str | None = None, nthreads: int | None = None,
                       measurements: bool = False) -> Calibration:
    """This machine's calibration for these settings (the full one, else the quick one), or a
    CalibrationError that says how to make it; its measured points only with `measurements`."""
    precision = settings_key(engine, device, precision)
    command = command_for(engine, device, precision, nthreads)
    for quick in (False, True):
        path = calibration_path(engine, device, precision, nthreads, quick)
        if not path.exists():
            continue
        found = read_calibration(path, command + (" --quick" if quick else ""), measurements=measurements)
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
    try:
        previous = read_calibration(path) if path.exists() else None
    except OldCalibration:  # an older flopbench's: measured afresh, in this format
        previous = None
    if previous is not None and previous.complete:
        previous = None  # asked to calibrate: measured afresh
    roof = previous.roofline if previous else roofline(runtime.name, device, quick=quick, progress=progress)
    points = list(previous.points) if previous else []
    models = list(previous.models) if previous else []
    done = list(previous.done) if previous else []
    executed = previous.executed_precision if previous else ""
    # many short blocks, the fastest counts: on a shared machine some block runs between neighbours' bursts
    blocks, iterations = (3, 5) if quick else (5, 10)
    passes = 1 if quick else PASSES

    def write(complete: bool) -> Calibration:
        # fitted once the sweep is measured whole: an interrupted calibration predicts nothing
        fits, call_us = fitted(tuple(points), tuple(models), runtime.profiler_slows_nodes) if complete else ({}, 0.0)
        found = Calibration(engine=runtime.name, engine_version=runtime.version(), device=device, precision=precision,
                            nthreads=nthreads, executed_precision=executed, roofline=roof, fits=fits, call_us=call_us,
                            scaled_to_unprofiled=runtime.profiler_slows_nodes, points=tuple(points), models=tuple(models),
                            done=tuple(done), complete=complete, quick=quick, pass_spread=pass_spread(tuple(models)),
                            measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                            seconds=(previous.seconds if previous else 0.0) + time.perf_counter() - started, path=str(path))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps(found.to_dict(), indent=1) + "\n")
        except (OSError, OutputError) as exc:
            raise CalibrationError(f"cannot write the calibration to {path}: {exc}", "set FLOPBENCH_CACHE_DIR to a writable folder") from None
        return found

    planned = [(round_, point) for round_ in range(passes) for point in sweep(quick)]
    with tempfile.TemporaryDirectory(prefix="flopbench-calibration-") as temp:
        for round_, point in planned:
            entry = pass_label(point.label, round_)
            if entry in done:
                continue
            if progress:
                progress(f"calibrating {runtime.name}: {point.label} ({len(done) + 1} of {len(planned)}"
                         f"{f', pass {round_ + 1} of {passes}' if passes > 1 else ''})")
            model = point.build(Path(temp))
            _, cost, settings, nodes = compiled(model, runtime.name, device, precision, nthreads, None, None)
            executed = settings.precision
            try:
                measured = measured_times(model, runtime.name, device, precision, nthreads, blocks, iterations)
            except KeyboardInterrupt:
                measured = None
            if measured is None:
                write(False)
                raise KeyboardInterrupt
            points.extend(points_of(point.label, cost, nodes, roof, settings.precision, measured))
            models.append(ModelPoint(point.label, point.layers, len(nodes), measured.latency_us, measured.profiled_us))
            done.append(entry)
            write(False)
    return write(True)


def points_of(label: str, cost, nodes, roof: Roofline, default_precision: str, measured: Measured) -> list[CalibrationPoint]:
    """The sweep model's layers (a separable layer's parts) and inserted nodes, each with what
    predict knows of it and its measured time."""
    joined = join(cost, nodes)
    executed_known = any(node.bytes_read or node.bytes_written for node in nodes)
    reuse = touched_per_inference(cost, default_precision)
    found = []
    for timed in joined.layers:
        for each in (timed.parts or (timed,)):
            times = measured.layers.get(each.layer.name)
            if not times:
                continue
            known = features(each, roof, default_precision, executed_known, reuse)
            found.append(CalibrationPoint(label, each.layer.name, known.kind, known.nodes, known.flops, known.executed_bytes,
                                          known.working_set_bytes, known.placement.level, known.roof_us,
                                          min(times), statistics.median(times)))
    for node in joined.inserted:
        times = measured.inserted.get(node.name)
        if not times:
            continue
        moved = node.bytes_read + node.bytes_written
        where = place(0, moved, moved, "f32", roof, nodes=0)
        found.append(CalibrationPoint(label, node.name, INSERTED, 1, 0, moved, moved, where.level, where.time_us,
                                      min(times), statistics.median(times)))
    return found
