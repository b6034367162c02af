"""Reference models flopbench ships, built in code so no download is ever needed.

Each model exists twice, from one layer list: an OpenVINO `ov.Model` (opset API) and an ONNX
`ModelProto` (opset 17). Weights are random but deterministic (fixed seed per model), so two
builds are byte-identical and FLOP/parameter counts can be checked against known numbers.

Node names agree between the forms as far as OpenVINO's ONNX frontend allows. It names a node
after the ONNX node's `name` (the output tensor's name if that is empty), except that:
- a Conv *with* bias input B becomes a Convolution `<name>/WithoutBiases` plus an Add `<name>`,
  the bias reshaped by a ShapeOf/Broadcast/Concat/Reshape subgraph that `read_model` leaves
  unfolded. So the IR's `sepconv1/pointwise` (Convolution) + `sepconv1/bias` (Add) read from
  the ONNX file as `sepconv1/pointwise/WithoutBiases` + `sepconv1/pointwise`;
- a grouped Conv becomes a GroupConvolution `<name>` whose weights go through an unfolded
  ShapeOf/VariadicSplit/Divide/Reshape subgraph; with group=1 (sep_cnn's one-channel
  `sepconv1/depthwise`) it is a plain Convolution, where the IR has a GroupConvolution;
- the node producing a graph output is named after that output: the ONNX Softmax reads back as
  `probabilities`, the IR's as `softmax`;
- Clip (ReLU6) becomes Maximum (auto-named) + Minimum `<name>`; the IR has one Clamp `<name>`.
MatMul, its bias Add, Relu, Flatten (Reshape) and pooling keep identical names and types.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Union

import numpy as np

from ..errors import OptionError
from ..results.writing import staged_files

if TYPE_CHECKING:  # heavy imports stay lazy so `import flopbench.zoo` is cheap
    import onnx
    import openvino as ov

ZOO_NAMES: tuple[str, ...] = ("sep_cnn", "std_cnn", "mobilenet_v1", "vgg16")

ONNX_OPSET = 17
# IR 8 is the lowest that allows opset 17; keeps the files loadable by older onnxruntime releases.
ONNX_IR_VERSION = 8

INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"

_DESCRIPTIONS = {
    "sep_cnn": "course exercise CNN: 2 separable 3x3 convs (10, 5 kernels) + FC 128 + FC 10, input 1x1x28x28",
    "std_cnn": "sep_cnn with standard 3x3 convs (10, 5 kernels) + FC 128 + FC 10, input 1x1x28x28",
    "mobilenet_v1": "MobileNetV1 1.0 (Howard et al. 2017), ~569M MACs, ~4.2M params, input 1x3x224x224",
    "vgg16": "VGG16 configuration D, ~15.5G MACs, ~138M params (~553 MB FP32), input 1x3x224x224",
}


@dataclass(frozen=True)
class ZooFiles:
    """Paths `write_zoo_model` wrote."""

    name: str
    xml: Path
    bin: Path
    onnx: Path
    image: Path | None

    def to_dict(self) -> dict:
        """JSON-ready form, paths as strings."""
        return {
            "name": self.name,
            "xml": str(self.xml),
            "bin": str(self.bin),
            "onnx": str(self.onnx),
            "image": None if self.image is None else str(self.image),
        }


# ---------------------------------------------------------------------------------------------
# Layer list: the one description both builders read, so the two forms cannot drift apart.


@dataclass(frozen=True)
class _Conv:
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
class _Act:
    name: str
    kind: str  # "relu" | "relu6"


@dataclass(frozen=True)
class _Pool:
    name: str
    kind: str  # "max" | "avg"
    kernel: int
    stride: int


@dataclass(frozen=True)
class _Flatten:
    name: str


@dataclass(frozen=True)
class _Dense:
    name: str
    weight: np.ndarray  # [K, N], MatMul without transpose
    bias: np.ndarray  # [N]
    bias_name: str


@dataclass(frozen=True)
class _Softmax:
    name: str


_Layer = Union[_Conv, _Act, _Pool, _Flatten, _Dense, _Softmax]


@dataclass(frozen=True)
class _Spec:
    name: str
    input_shape: tuple[int, ...]
    layers: tuple[_Layer, ...]


class _Weights:
    """Draws He-scaled weights in call order, so the layer order fixes every value."""

    def __init__(self, model: str, bias_scale: float = 0.05, pool_size: int | None = None):
        # crc32, not hash(): hash() of a str changes between interpreter runs.
        self._rng = np.random.default_rng(zlib.crc32(model.encode("utf-8")))
        self._bias_scale = bias_scale
        # With a pool, big tensors are tiled from one block of normals at a random offset rather
        # than drawn value by value: 2-3x faster, which matters for vgg16's 138M weights, whose
        # values only need to be plausible, not independent.
        self._pool = None if pool_size is None else self._rng.standard_normal(pool_size, dtype=np.float32)

    def normal(self, shape: tuple[int, ...], fan_in: int, gain: float = 2.0) -> np.ndarray:
        scale = np.float32(np.sqrt(gain / fan_in))
        count = int(np.prod(shape))
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


def _conv(w: _Weights, name: str, cin: int, cout: int, k: int, *, bias_name: str | None,
          stride: int = 1, pad: int = 0, depthwise: bool = False) -> _Conv:
    groups = cin if depthwise else 1
    per_group = cin // groups
    weight = w.normal((cout, per_group, k, k), fan_in=per_group * k * k)
    bias = w.bias(cout) if bias_name else None
    return _Conv(name, weight, bias, bias_name, stride, pad, groups, depthwise)


def _dense(w: _Weights, name: str, k: int, n: int, gain: float = 2.0) -> _Dense:
    return _Dense(name, w.normal((k, n), fan_in=k, gain=gain), w.bias(n), f"{name}/bias")


def _head(w: _Weights, flat: int, hidden: int = 128, classes: int = 10) -> list[_Layer]:
    # gain 8 on the last layer: untrained He-scaled logits are too close together to give a
    # softmax that visibly prefers a class, and a flat output would hide wiring mistakes.
    return [
        _Flatten("flatten"),
        _dense(w, "fc1", flat, hidden),
        _Act("fc1/relu", "relu"),
        _dense(w, "fc2", hidden, classes, gain=8.0),
        _Softmax("softmax"),
    ]


def _spec_sep_cnn() -> _Spec:
    w = _Weights("sep_cnn")
    layers: list[_Layer] = []
    cin, size = 1, 28
    for i, cout in ((1, 10), (2, 5)):
        layers += [
            _conv(w, f"sepconv{i}/depthwise", cin, cin, 3, bias_name=None, depthwise=True),
            _conv(w, f"sepconv{i}/pointwise", cin, cout, 1, bias_name=f"sepconv{i}/bias"),
            _Act(f"sepconv{i}/relu", "relu"),
        ]
        cin, size = cout, size - 2
    return _Spec("sep_cnn", (1, 1, 28, 28), tuple(layers + _head(w, cin * size * size)))


def _spec_std_cnn() -> _Spec:
    w = _Weights("std_cnn")
    layers: list[_Layer] = []
    cin, size = 1, 28
    for i, cout in ((1, 10), (2, 5)):
        layers += [
            _conv(w, f"conv{i}", cin, cout, 3, bias_name=f"conv{i}/bias"),
            _Act(f"conv{i}/relu", "relu"),
        ]
        cin, size = cout, size - 2
    return _Spec("std_cnn", (1, 1, 28, 28), tuple(layers + _head(w, cin * size * size)))


# Table 1 of the paper: (pointwise output channels, depthwise stride) of the 13 blocks.
_MOBILENET_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                     (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def _spec_mobilenet_v1() -> _Spec:
    w = _Weights("mobilenet_v1")
    # BatchNorm is folded into the bias, as a deployed MobileNet has it.
    layers: list[_Layer] = [
        _conv(w, "conv1", 3, 32, 3, bias_name="conv1/bias", stride=2, pad=1),
        _Act("conv1/relu", "relu6"),
    ]
    cin = 32
    for i, (cout, stride) in enumerate(_MOBILENET_BLOCKS, start=1):
        dw, pw = f"block{i}/depthwise", f"block{i}/pointwise"
        layers += [
            _conv(w, dw, cin, cin, 3, bias_name=f"{dw}/bias", stride=stride, pad=1, depthwise=True),
            _Act(f"{dw}/relu", "relu6"),
            _conv(w, pw, cin, cout, 1, bias_name=f"{pw}/bias"),
            _Act(f"{pw}/relu", "relu6"),
        ]
        cin = cout
    layers += [
        _Pool("pool", "avg", 7, 1),
        _Flatten("flatten"),
        _dense(w, "fc", cin, 1000, gain=1.0),
        _Softmax("softmax"),
    ]
    return _Spec("mobilenet_v1", (1, 3, 224, 224), tuple(layers))


_VGG16_STAGES = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def _spec_vgg16() -> _Spec:
    w = _Weights("vgg16", pool_size=1 << 20)
    layers: list[_Layer] = []
    cin = 3
    for stage, (cout, repeat) in enumerate(_VGG16_STAGES, start=1):
        for j in range(1, repeat + 1):
            name = f"conv{stage}_{j}"
            layers += [
                _conv(w, name, cin, cout, 3, bias_name=f"{name}/bias", pad=1),
                _Act(f"{name}/relu", "relu"),
            ]
            cin = cout
        layers.append(_Pool(f"pool{stage}", "max", 2, 2))
    layers.append(_Flatten("flatten"))
    for name, k, n in (("fc6", cin * 7 * 7, 4096), ("fc7", 4096, 4096), ("fc8", 4096, 1000)):
        layers.append(_dense(w, name, k, n, gain=1.0 if name == "fc8" else 2.0))
        if name != "fc8":
            layers.append(_Act(f"{name}/relu", "relu"))
    layers.append(_Softmax("softmax"))
    return _Spec("vgg16", (1, 3, 224, 224), tuple(layers))


_SPECS: dict[str, Callable[[], _Spec]] = {
    "sep_cnn": _spec_sep_cnn,
    "std_cnn": _spec_std_cnn,
    "mobilenet_v1": _spec_mobilenet_v1,
    "vgg16": _spec_vgg16,
}


def check_name(name: str) -> None:
    if name not in ZOO_NAMES:
        raise OptionError(f"unknown zoo model {name!r}", f"choose one of: {', '.join(ZOO_NAMES)}")


def _spec(name: str) -> _Spec:
    check_name(name)
    return _SPECS[name]()


# ---------------------------------------------------------------------------------------------
# Public API


def describe(name: str) -> str:
    """One line saying what the zoo model is."""
    check_name(name)
    return f"{name}: {_DESCRIPTIONS[name]}"


def build_openvino(name: str) -> "ov.Model":
    """The zoo model as an OpenVINO model (FP32, static shapes)."""
    import openvino as ov
    import openvino.opset13 as ops

    spec = _spec(name)

    def named(node, node_name: str, tensor_name: str | None = None):
        # Tensor names too, not only friendly names: tools that address outputs by tensor name
        # (and the ONNX form, where tensor names are all there is) then agree.
        node.set_friendly_name(node_name)
        node.output(0).get_tensor().set_names({tensor_name or node_name})
        return node

    def const(array: np.ndarray, const_name: str):
        # Shared, not copied: the Constant keeps a reference to the array, and copying vgg16's
        # 550 MB would double build time and peak memory.
        data = np.ascontiguousarray(array, dtype=np.float32)
        return named(ops.constant(data, shared_memory=True), const_name)

    param = named(ops.parameter(list(spec.input_shape), np.float32), INPUT_NAME)
    # `x` is an Output, not a Node: MaxPool-8 has a second (indices) output that must not be
    # passed on as if it were data.
    x = param.output(0)
    for layer in spec.layers:
        if isinstance(layer, _Conv):
            k = list(layer.weight.shape[2:])
            pads = [layer.pad] * 2
            strides = [layer.stride] * 2
            if not layer.depthwise and layer.groups == 1:
                weights = const(layer.weight, f"{layer.name}.weight")
                conv = ops.convolution(x, weights, strides, pads, pads, [1, 1])
            else:
                cout, per_group = layer.weight.shape[:2]
                grouped = layer.weight.reshape(layer.groups, cout // layer.groups, per_group, *k)
                weights = const(grouped, f"{layer.name}.weight")
                conv = ops.group_convolution(x, weights, strides, pads, pads, [1, 1])
            x = named(conv, layer.name).output(0)
            if layer.bias is not None:
                bias = const(layer.bias.reshape(1, -1, 1, 1), f"{layer.name}.bias")
                x = named(ops.add(x, bias), layer.bias_name).output(0)
        elif isinstance(layer, _Act):
            act = ops.relu(x) if layer.kind == "relu" else ops.clamp(x, 0.0, 6.0)
            x = named(act, layer.name).output(0)
        elif isinstance(layer, _Pool):
            k, s = [layer.kernel] * 2, [layer.stride] * 2
            if layer.kind == "max":
                pool = ops.max_pool(x, s, [1, 1], [0, 0], [0, 0], k)
            else:
                pool = ops.avg_pool(x, s, [0, 0], [0, 0], k, exclude_pad=True)
            x = named(pool, layer.name).output(0)
        elif isinstance(layer, _Flatten):
            target = named(ops.constant(np.array([1, -1], dtype=np.int64)), f"{layer.name}.shape")
            x = named(ops.reshape(x, target, special_zero=False), layer.name).output(0)
        elif isinstance(layer, _Dense):
            mm = ops.matmul(x, const(layer.weight, f"{layer.name}.weight"), False, False)
            x = named(mm, layer.name).output(0)
            bias = const(layer.bias.reshape(1, -1), f"{layer.name}.bias")
            x = named(ops.add(x, bias), layer.bias_name).output(0)
        elif isinstance(layer, _Softmax):
            x = named(ops.softmax(x, 1), layer.name, OUTPUT_NAME).output(0)
        else:  # pragma: no cover - a new layer type without a builder is a programming error
            raise TypeError(f"no OpenVINO builder for {type(layer).__name__}")
    # Named, not auto-numbered: an auto name ("Result_39") depends on how many nodes the process
    # made before, which would make the .xml differ between builds. This is the name OpenVINO
    # gives the ONNX form's Result.
    result = ops.result(x, name=f"{OUTPUT_NAME}/sink_port_0")
    model = ov.Model([result], [param], spec.name)
    return model


def build_onnx(name: str) -> "onnx.ModelProto":
    """The zoo model as an ONNX model (opset 17, weights as initializers)."""
    import onnx
    from onnx import TensorProto, helper

    spec = _spec(name)
    # Filled in place rather than through make_graph/make_model, which copy every initializer
    # (three extra copies of vgg16's 550 MB, several seconds).
    model = onnx.ModelProto(ir_version=ONNX_IR_VERSION, producer_name="flopbench")
    model.opset_import.append(helper.make_opsetid("", ONNX_OPSET))
    graph = model.graph
    graph.name = spec.name
    nodes: list[onnx.NodeProto] = []

    def init(array: np.ndarray, init_name: str) -> str:
        tensor = graph.initializer.add()
        tensor.name = init_name
        tensor.data_type = TensorProto.FLOAT
        tensor.dims.extend(array.shape)
        tensor.raw_data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        return init_name

    def node(op: str, inputs: list[str], out: str, node_name: str, **attrs) -> str:
        # Node name set as well as the output: OpenVINO's frontend prefers the node name, and
        # onnxruntime's profiler reports only node names.
        nodes.append(helper.make_node(op, inputs, [out], name=node_name, **attrs))
        return out

    relu6_bounds: list[str] = []
    x = INPUT_NAME
    for layer in spec.layers:
        if isinstance(layer, _Conv):
            k = list(layer.weight.shape[2:])
            inputs = [x, init(layer.weight, f"{layer.name}.weight")]
            if layer.bias is not None:
                # Conv's own bias input, as exporters write it; see the module docstring for the
                # names OpenVINO then gives the Convolution and the Add.
                inputs.append(init(layer.bias, f"{layer.name}.bias"))
            x = node("Conv", inputs, layer.name, layer.name, kernel_shape=k,
                     strides=[layer.stride] * 2, pads=[layer.pad] * 4, dilations=[1, 1],
                     group=layer.groups)
        elif isinstance(layer, _Act):
            if layer.kind == "relu":
                x = node("Relu", [x], layer.name, layer.name)
            else:
                if not relu6_bounds:
                    relu6_bounds = [init(np.array(0.0, np.float32), "relu6.min"),
                                    init(np.array(6.0, np.float32), "relu6.max")]
                x = node("Clip", [x, *relu6_bounds], layer.name, layer.name)
        elif isinstance(layer, _Pool):
            op = "MaxPool" if layer.kind == "max" else "AveragePool"
            x = node(op, [x], layer.name, layer.name, kernel_shape=[layer.kernel] * 2,
                     strides=[layer.stride] * 2, pads=[0, 0, 0, 0])
        elif isinstance(layer, _Flatten):
            x = node("Flatten", [x], layer.name, layer.name, axis=1)
        elif isinstance(layer, _Dense):
            x = node("MatMul", [x, init(layer.weight, f"{layer.name}.weight")], layer.name, layer.name)
            x = node("Add", [x, init(layer.bias.reshape(1, -1), f"{layer.name}.bias")],
                     layer.bias_name, layer.bias_name)
        elif isinstance(layer, _Softmax):
            x = node("Softmax", [x], OUTPUT_NAME, layer.name, axis=1)
        else:  # pragma: no cover
            raise TypeError(f"no ONNX builder for {type(layer).__name__}")

    classes = next(layer.bias.shape[0] for layer in reversed(spec.layers) if isinstance(layer, _Dense))
    graph.node.extend(nodes)
    graph.input.append(helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, list(spec.input_shape)))
    graph.output.append(helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [spec.input_shape[0], classes]))
    return model


def sample_image() -> np.ndarray:
    """A (28, 28) float32 handwritten-looking "7", values in 0..1, always the same."""
    # Strokes as line segments (x0, y0, x1, y1) in pixel coordinates, drawn anti-aliased so the
    # image looks like an MNIST digit rather than a hard-edged glyph.
    strokes = ((6.5, 7.0, 20.5, 6.0), (20.5, 6.0, 12.0, 23.5), (10.5, 15.0, 18.5, 14.5))
    radius = 1.3
    ys, xs = np.mgrid[0:28, 0:28].astype(np.float64)
    image = np.zeros((28, 28), dtype=np.float64)
    for x0, y0, x1, y1 in strokes:
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
        dist = np.hypot(xs - (x0 + t * dx), ys - (y0 + t * dy))
        image = np.maximum(image, np.clip(radius + 0.5 - dist, 0.0, 1.0))
    return image.astype(np.float32)


def write_zoo_model(name: str, out_dir: str | Path) -> ZooFiles:
    """Write `<name>.xml/.bin/.onnx` (and `image.npy` for the small CNNs) into `out_dir`."""
    check_name(name)
    import onnx
    import openvino as ov

    folder = Path(out_dir)
    final = ZooFiles(
        name=name,
        xml=folder / f"{name}.xml",
        bin=folder / f"{name}.bin",
        onnx=folder / f"{name}.onnx",
        image=folder / "image.npy" if name in ("sep_cnn", "std_cnn") else None,
    )
    names = [final.bin.name, final.xml.name, final.onnx.name] + ([final.image.name] if final.image else [])
    with staged_files(folder, names) as staged:
        model = build_openvino(name)
        ov.save_model(model, str(staged[final.xml.name]), compress_to_fp16=False)
        del model  # vgg16 holds ~550 MB of weights; free them before building the ONNX copy
        proto = build_onnx(name)
        onnx.save(proto, str(staged[final.onnx.name]))
        del proto
        if final.image is not None:
            with open(staged[final.image.name], "wb") as handle:
                np.save(handle, sample_image(), allow_pickle=False)
    return final
