"""The vocabulary zoo models are written in, and its lowering to the layers both builders read.

A family is written once, as a `Spec` of high-level items: `Conv`, `Separable` (a depthwise k×k
plus a pointwise 1×1), `Residual`, `Pool`, `GlobalPool`, `Flatten`, `Dense`, `Softmax`. `lower(spec, standard)`
turns it into primitive layers with weights; with `standard=True` every `Separable` becomes one
full k×k convolution (the depthwise side's normalization and activation go with it), so a
standard twin is generated from the separable model, never written a second time.

Weights are drawn in layer order from a generator seeded by the model's name, so a model is
byte-identical from build to build.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Union

import numpy as np

# --- high-level items: what a family spec is written in ----------------------------------------


@dataclass(frozen=True)
class Conv:
    """A standard convolution, optionally with bias, BatchNorm and an activation after it."""

    name: str
    cin: int
    cout: int
    kernel: int
    stride: int = 1
    pad: int = 0
    bias: bool = False
    norm: bool = False
    act: str | None = None  # "relu" | "relu6" | None (linear)

    @property
    def params(self) -> int:
        return self.cout * self.cin * self.kernel ** 2 + (self.cout if self.bias else 0) + (4 * self.cout if self.norm else 0)


@dataclass(frozen=True)
class Separable:
    """Depthwise k×k (`<name>/depthwise`) then pointwise 1×1 (`<name>/pointwise`); its standard
    twin is one k×k convolution named `standard_name`. `bias`, `norm` and `act` follow the
    pointwise (or the twin); `dw_norm` and `dw_act` the depthwise only."""

    name: str
    standard_name: str
    cin: int
    cout: int
    kernel: int
    stride: int = 1
    pad: int = 0
    bias: bool = False
    norm: bool = False
    act: str | None = None
    dw_norm: bool = False
    dw_act: str | None = None

    def standard(self) -> Conv:
        return Conv(self.standard_name, self.cin, self.cout, self.kernel, self.stride, self.pad, self.bias, self.norm, self.act)

    @property
    def params(self) -> int:
        depthwise = self.cin * self.kernel ** 2 + (4 * self.cin if self.dw_norm else 0)
        return depthwise + Conv(self.name, self.cin, self.cout, 1, bias=self.bias, norm=self.norm).params


@dataclass(frozen=True)
class Residual:
    """`items`, then an Add (`name`) of their output and their input."""

    name: str
    items: tuple["Item", ...]

    @property
    def params(self) -> int:
        return sum(item.params for item in self.items)


@dataclass(frozen=True)
class Pool:
    name: str
    kind: str  # "max" | "avg"
    kernel: int
    stride: int
    params = 0


@dataclass(frozen=True)
class GlobalPool:
    """The mean over every spatial position (Keras' GlobalAveragePooling2D, kept 4-D): the
    classifier then sees one vector per image at any input resolution, where a fixed k×k pool
    fits one resolution only."""

    name: str
    params = 0


@dataclass(frozen=True)
class Flatten:
    name: str
    params = 0


@dataclass(frozen=True)
class Dense:
    name: str
    inputs: int
    units: int
    gain: float = 2.0
    act: str | None = None

    @property
    def params(self) -> int:
        return self.inputs * self.units + self.units


@dataclass(frozen=True)
class Softmax:
    name: str
    params = 0


Item = Union[Conv, Separable, Residual, Pool, GlobalPool, Flatten, Dense, Softmax]


@dataclass(frozen=True)
class Spec:
    name: str  # also seeds the weights
    input_shape: tuple[int, ...]
    items: tuple[Item, ...]
    # vgg16's 138M weights are tiled from a block of normals: plausible values, 2-3x faster
    weight_pool: int | None = None

    @property
    def params(self) -> int:
        """Weights and biases (BatchNorm counted 4 per channel), without building anything."""
        return sum(item.params for item in self.items)


# --- primitive layers: what the OpenVINO and ONNX builders read ----------------------------------


@dataclass(frozen=True)
class ConvLayer:
    name: str
    weight: np.ndarray  # [Cout, Cin/groups, kh, kw], the ONNX layout
    bias: np.ndarray | None  # [Cout]
    bias_name: str | None  # name of the IR's separate bias Add
    stride: int = 1
    pad: int = 0
    groups: int = 1
    # Depthwise layers are GroupConvolution in the IR even with one channel (groups=1), as the
    # exercise's IR has them; ONNX has no such distinction (Conv with group=1).
    depthwise: bool = False


@dataclass(frozen=True)
class NormLayer:
    name: str
    scale: np.ndarray
    shift: np.ndarray
    mean: np.ndarray
    variance: np.ndarray
    epsilon: float = 1e-3


@dataclass(frozen=True)
class ActLayer:
    name: str
    kind: str  # "relu" | "relu6"


@dataclass(frozen=True)
class AddLayer:
    name: str
    other: str  # the layer whose output is added (the block's input)


@dataclass(frozen=True)
class PoolLayer:
    name: str
    kind: str
    kernel: int
    stride: int


@dataclass(frozen=True)
class GlobalPoolLayer:
    name: str  # the mean over the spatial axes, keeping them (N, C, 1, 1)


@dataclass(frozen=True)
class FlattenLayer:
    name: str


@dataclass(frozen=True)
class DenseLayer:
    name: str
    weight: np.ndarray  # [K, N], MatMul without transpose
    bias: np.ndarray  # [N]
    bias_name: str


@dataclass(frozen=True)
class SoftmaxLayer:
    name: str


Layer = Union[ConvLayer, NormLayer, ActLayer, AddLayer, PoolLayer, GlobalPoolLayer, FlattenLayer, DenseLayer, SoftmaxLayer]


class Weights:
    """Draws He-scaled weights in call order, so the layer order fixes every value."""

    def __init__(self, model: str, bias_scale: float = 0.05, pool_size: int | None = None):
        # crc32, not hash(): hash() of a str changes between interpreter runs.
        self._rng = np.random.default_rng(zlib.crc32(model.encode("utf-8")))
        self._bias_scale = bias_scale
        self._pool = None if pool_size is None else self._rng.standard_normal(pool_size, dtype=np.float32)

    def normal(self, shape: tuple[int, ...], fan_in: int, gain: float = 2.0) -> np.ndarray:
        scale = np.float32(np.sqrt(gain / fan_in))
        count = math.prod(shape)
        if self._pool is None or count <= self._pool.size:
            w = self._rng.standard_normal(shape, dtype=np.float32)
            w *= scale
            return w
        out = np.empty(count, dtype=np.float32)
        start, done = int(self._rng.integers(self._pool.size)), 0
        while done < count:
            chunk = self._pool[start:start + count - done]
            np.multiply(chunk, scale, out=out[done:done + chunk.size])
            done += chunk.size
            start = 0
        return out.reshape(shape)

    def bias(self, n: int) -> np.ndarray:
        b = self._rng.standard_normal(n, dtype=np.float32)
        b *= np.float32(self._bias_scale)
        return b

    def norm(self, name: str, n: int) -> NormLayer:
        # a trained network's statistics, roughly: scale near 1, small shift and mean, variance near 1
        scale = 1.0 + 0.1 * self._rng.standard_normal(n, dtype=np.float32)
        shift = self.bias(n)
        mean = self.bias(n)
        variance = 1.0 + 0.1 * np.abs(self._rng.standard_normal(n, dtype=np.float32))
        return NormLayer(name, scale.astype(np.float32), shift, mean, variance.astype(np.float32))


def _conv_layers(w: Weights, name: str, cin: int, cout: int, k: int, *, stride: int, pad: int, bias: bool,
                 bias_name: str, norm: bool, act: str | None, depthwise: bool = False, tail: str | None = None) -> list[Layer]:
    groups = cin if depthwise else 1
    per_group = cin // groups
    weight = w.normal((cout, per_group, k, k), fan_in=per_group * k * k)
    layers: list[Layer] = [ConvLayer(name, weight, w.bias(cout) if bias else None, bias_name if bias else None,
                                     stride, pad, groups, depthwise)]
    tail = tail or name
    if norm:
        layers.append(w.norm(f"{tail}/bn", cout))
    if act:
        layers.append(ActLayer(f"{tail}/{act}", act))
    return layers


def _lower_item(item: Item, w: Weights, standard: bool, previous: str) -> list[Layer]:
    if isinstance(item, Separable) and standard:
        item = item.standard()
    if isinstance(item, Conv):
        return _conv_layers(w, item.name, item.cin, item.cout, item.kernel, stride=item.stride, pad=item.pad,
                            bias=item.bias, bias_name=f"{item.name}/bias", norm=item.norm, act=item.act)
    if isinstance(item, Separable):
        depthwise = f"{item.name}/depthwise"
        return (_conv_layers(w, depthwise, item.cin, item.cin, item.kernel, stride=item.stride, pad=item.pad, bias=False,
                             bias_name="", norm=item.dw_norm, act=item.dw_act, depthwise=True)
                + _conv_layers(w, f"{item.name}/pointwise", item.cin, item.cout, 1, stride=1, pad=0, bias=item.bias,
                               bias_name=f"{item.name}/bias", norm=item.norm, act=item.act, tail=item.name))
    if isinstance(item, Residual):
        layers: list[Layer] = []
        last = previous
        for inner in item.items:
            layers += _lower_item(inner, w, standard, last)
            last = layers[-1].name
        return layers + [AddLayer(item.name, previous)]
    if isinstance(item, Pool):
        return [PoolLayer(item.name, item.kind, item.kernel, item.stride)]
    if isinstance(item, GlobalPool):
        return [GlobalPoolLayer(item.name)]
    if isinstance(item, Flatten):
        return [FlattenLayer(item.name)]
    if isinstance(item, Dense):
        dense: list[Layer] = [DenseLayer(item.name, w.normal((item.inputs, item.units), fan_in=item.inputs, gain=item.gain),
                                         w.bias(item.units), f"{item.name}/bias")]
        return dense + ([ActLayer(f"{item.name}/{item.act}", item.act)] if item.act else [])
    if isinstance(item, Softmax):
        return [SoftmaxLayer(item.name)]
    raise TypeError(f"no lowering for {type(item).__name__}")  # pragma: no cover - a programming error


def lower(spec: Spec, input_name: str, standard: bool = False) -> list[Layer]:
    """The primitive layers of `spec`, weights drawn in order; `standard=True` lowers every
    `Separable` to its standard twin."""
    w = Weights(spec.name, pool_size=spec.weight_pool)
    layers: list[Layer] = []
    for item in spec.items:
        layers += _lower_item(item, w, standard, layers[-1].name if layers else input_name)
    return layers


def twin_params(spec: Spec) -> int:
    """Parameters of the standard twin of `spec`."""
    def one(item: Item) -> int:
        if isinstance(item, Separable):
            return item.standard().params
        if isinstance(item, Residual):
            return sum(one(i) for i in item.items)
        return item.params
    return sum(one(item) for item in spec.items)
