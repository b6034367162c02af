"""What predict knows of a layer before it runs, and the time its kernel class takes on this machine.

A layer's kernel class (dense k×k convolution, 1×1, depthwise, matmul, pooling, elementwise, LRN,
other, or a node the engine inserted), its features (FLOPs, bytes as executed, working set, the
engine nodes it runs as, its place on the cache-aware roofline, its weights placed by their reuse
distance), and the class's fit: a fixed cost per node plus a slope on the roof time. Calibration
fits the classes (calibration.py); predict applies them (predict.py)."""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..counting.cost import LayerCost, ModelCost
from .join import LayerTime
from .placement import Placement, place
from .roofline import Roofline

OTHER = "other"
INSERTED = "inserted"  # the nodes an engine adds: reorders, precision conversions
FOLDED = "folded"  # the bound of a layer no compiled node runs (a Flatten, a Reshape the engine removed)
KERNEL_CLASSES = ("conv", "pointwise", "grouped", "depthwise", "matmul", "pool", "elementwise", "lrn", "layout", OTHER, INSERTED)
# ops that move data and compute nothing: a copy when the engine does not fold them away
LAYOUT = {"Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "DepthToSpace", "SpaceToDepth", "ShuffleChannels"}
ELEMENTWISE = {"Add", "Subtract", "Multiply", "Divide", "Relu", "Clamp", "Sigmoid", "Swish", "HSwish", "Maximum", "Minimum",
               "Elu", "Exp", "Tanh", "Gelu", "Mish", "PRelu", "Power", "Sqrt", "Concat", "BatchNorm", "BatchNormalization"}
DRAM_KEY = "/DRAM"  # a class's own fit for layers whose working set lives in DRAM (calibration.fits_of)
PRECISION_ROOFS = {"u8": "i8", "i8": "i8", "bf16": "bf16", "f32": "f32"}


def kernel_class(layer: LayerCost) -> str:
    """The family of kernel a layer runs in: dense k×k convolution, 1×1 (pointwise), grouped,
    depthwise, matmul, pooling, elementwise, local response normalization, a data movement (layout),
    or other."""
    kind = layer.type
    if kind.startswith("DepthwiseConv"):
        # of one channel it is an ordinary convolution, and engines run it so (OpenVINO picks its
        # planar convolution kernel, not its depthwise one: sep_cnn's first layer, 18x slower than
        # a depthwise kernel's fixed cost)
        return "conv" if layer.kernels == 1 else "depthwise"
    if kind.startswith("GroupConv") and channels_per_group(layer) < FEW_CHANNELS_PER_GROUP:
        # a class of its own: a group of fewer channels than a SIMD block leaves lanes idle (ResNeXt's
        # group-32 3×3 of 4 channels a group ran at 5-10x its roof time on OpenVINO, a dense one at 1-1.4x)
        return "grouped"
    if kind.startswith(("Conv", "GroupConv")):  # a group of many channels runs as a dense convolution does
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
    if kind in LAYOUT:
        # a channel shuffle read from a convolution's blocked layout ran at 8-14x its roof time on
        # OpenVINO (ShuffleNet's), a softmax's time is all fixed cost: not one class
        return "layout"
    return OTHER


FEW_CHANNELS_PER_GROUP = 16  # a grouped convolution with fewer input channels a group is the `grouped` class


def channels_per_group(layer: LayerCost) -> int:
    """A grouped convolution's input channels per group, from its weights ([groups, out, in, kh, kw]
    as the counted GroupConvolution holds them); a large number when the count does not say."""
    for op in layer.ops:
        if op.type == "GroupConvolution" and len(op.input_shapes) > 1 and len(op.input_shapes[1] or ()) == 5:
            return int(op.input_shapes[1][2])
    return 1 << 30


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
    inputs = cost.ops[0].bytes_read if cost.ops else 0  # the first op's reads: the model's input
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
