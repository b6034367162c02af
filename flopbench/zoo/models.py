"""The zoo's builders and files: reference models built in code, so no download is ever needed.

Each model exists twice, from one lowered layer list (`spec.lower`): an OpenVINO `ov.Model` (opset API) and an ONNX
`ModelProto` (opset 17). Weights are random but deterministic (fixed seed per model), so two
builds are byte-identical and FLOP/parameter counts can be checked against known numbers.

Node names agree between the forms as far as OpenVINO's ONNX frontend allows. It names a node
after the ONNX node's `name` (the output tensor's name if that is empty), except that:
- a Conv *with* bias input B becomes a Convolution `<name>/WithoutBiases` plus an Add `<name>`,
  the bias reshaped by a ShapeOf/Broadcast/Concat/Reshape subgraph that `read_model` leaves
  unfolded. So the IR's `conv1/pointwise` (Convolution) + `conv1/bias` (Add) read from
  the ONNX file as `conv1/pointwise/WithoutBiases` + `conv1/pointwise`;
- a grouped Conv becomes a GroupConvolution `<name>` whose weights go through an unfolded
  ShapeOf/VariadicSplit/Divide/Reshape subgraph; with group=1 (sep_cnn's one-channel
  `conv1/depthwise`) it is a plain Convolution, where the IR has a GroupConvolution;
- the node producing a graph output is named after that output: the ONNX Softmax reads back as
  `probabilities`, the IR's as `softmax`;
- Clip (ReLU6) becomes Maximum (auto-named) + Minimum `<name>`; the IR has one Clamp `<name>`;
- BatchNormalization becomes BatchNormInference `<name>` in both;
- GlobalAveragePool becomes ReduceMean `<name>` over the spatial axes, which the IR has too.
MatMul, its bias Add, Relu, Flatten (Reshape) and pooling keep identical names and types.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import OptionError
from ..results import writing
from ..results.codec import encoded, json_field
from .families import check_name, check_options, zoo_spec
from .spec import (ActLayer, AddLayer, ConvLayer, DenseLayer, FlattenLayer, GlobalPoolLayer, Layer, NormLayer, PoolLayer,
                   SoftmaxLayer, lower, twin_params)

if TYPE_CHECKING:  # heavy imports stay lazy so `import flopbench.zoo` is cheap
    import onnx
    import openvino as ov

ONNX_OPSET = 17
# IR 8 is the lowest that allows opset 17; keeps the files loadable by older onnxruntime releases.
ONNX_IR_VERSION = 8

INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"
FORMATS = ("ir", "onnx", "both", "tflite")
_IMAGE_MODELS = ("sep_cnn", "std_cnn")


@encoded
@dataclass(frozen=True)
class ZooFiles:
    """Paths `write_zoo_model` wrote (None for a format not asked for)."""

    name: str
    xml: Path | None
    bin: Path | None
    onnx: Path | None
    image: Path | None
    # kept out of the JSON form, whose keys predate the format; `paths` lists it
    tflite: Path | None = json_field(default=None, omit=True)

    @property
    def paths(self) -> list[Path]:
        return [p for p in (self.xml, self.bin, self.onnx, self.tflite, self.image) if p is not None]


def _layers(name: str, alpha: float | None, resolution: int | None) -> tuple[str, tuple[int, ...], list[Layer]]:
    spec, standard, _ = zoo_spec(name, alpha, resolution)
    return spec.name, spec.input_shape, lower(spec, INPUT_NAME, standard=standard)


def parameter_count(name: str, alpha: float | None = None, resolution: int | None = None) -> int:
    """Weights and biases of the zoo model (BatchNorm 4 per channel), without building it."""
    spec, standard, _ = zoo_spec(name, alpha, resolution)
    return twin_params(spec) if standard else spec.params


def file_stem(name: str, alpha: float | None = None, resolution: int | None = None) -> str:
    """`mobilenet_v1`, or `mobilenet_v1_0.5_160` with options other than the defaults."""
    return zoo_spec(name, alpha, resolution)[2]


def build_openvino(name: str, alpha: float | None = None, resolution: int | None = None) -> "ov.Model":
    """The zoo model as an OpenVINO model (FP32, static shapes)."""
    import openvino as ov
    import openvino.opset13 as ops

    model_name, input_shape, layers = _layers(name, alpha, resolution)

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

    param = named(ops.parameter(list(input_shape), np.float32), INPUT_NAME)
    # `x` is an Output, not a Node: MaxPool-8 has a second (indices) output that must not be
    # passed on as if it were data.
    x = param.output(0)
    outputs = {INPUT_NAME: x}
    for layer in layers:
        if isinstance(layer, ConvLayer):
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
        elif isinstance(layer, NormLayer):
            norm = ops.batch_norm_inference(x, const(layer.scale, f"{layer.name}.scale"), const(layer.shift, f"{layer.name}.shift"),
                                            const(layer.mean, f"{layer.name}.mean"), const(layer.variance, f"{layer.name}.variance"),
                                            layer.epsilon)
            x = named(norm, layer.name).output(0)
        elif isinstance(layer, ActLayer):
            act = ops.relu(x) if layer.kind == "relu" else ops.clamp(x, 0.0, 6.0)
            x = named(act, layer.name).output(0)
        elif isinstance(layer, AddLayer):
            x = named(ops.add(x, outputs[layer.other]), layer.name).output(0)
        elif isinstance(layer, PoolLayer):
            k, s = [layer.kernel] * 2, [layer.stride] * 2
            if layer.kind == "max":
                pool = ops.max_pool(x, s, [1, 1], [0, 0], [0, 0], k)
            else:
                pool = ops.avg_pool(x, s, [0, 0], [0, 0], k, exclude_pad=True)
            x = named(pool, layer.name).output(0)
        elif isinstance(layer, GlobalPoolLayer):
            # ReduceMean is what OpenVINO reads ONNX's GlobalAveragePool as: both forms count alike
            axes = named(ops.constant(np.array([2, 3], dtype=np.int64)), f"{layer.name}.axes")
            x = named(ops.reduce_mean(x, axes, keep_dims=True), layer.name).output(0)
        elif isinstance(layer, FlattenLayer):
            target = named(ops.constant(np.array([1, -1], dtype=np.int64)), f"{layer.name}.shape")
            x = named(ops.reshape(x, target, special_zero=False), layer.name).output(0)
        elif isinstance(layer, DenseLayer):
            mm = ops.matmul(x, const(layer.weight, f"{layer.name}.weight"), False, False)
            x = named(mm, layer.name).output(0)
            bias = const(layer.bias.reshape(1, -1), f"{layer.name}.bias")
            x = named(ops.add(x, bias), layer.bias_name).output(0)
        elif isinstance(layer, SoftmaxLayer):
            x = named(ops.softmax(x, 1), layer.name, OUTPUT_NAME).output(0)
        else:  # pragma: no cover - a new layer type without a builder is a programming error
            raise TypeError(f"no OpenVINO builder for {type(layer).__name__}")
        outputs[layer.name] = x
    # Named, not auto-numbered: an auto name ("Result_39") depends on how many nodes the process
    # made before, which would make the .xml differ between builds. This is the name OpenVINO
    # gives the ONNX form's Result.
    result = ops.result(x, name=f"{OUTPUT_NAME}/sink_port_0")
    return ov.Model([result], [param], model_name)


def build_onnx(name: str, alpha: float | None = None, resolution: int | None = None) -> "onnx.ModelProto":
    """The zoo model as an ONNX model (opset 17, weights as initializers)."""
    import onnx
    from onnx import TensorProto, helper

    model_name, input_shape, layers = _layers(name, alpha, resolution)
    # Filled in place rather than through make_graph/make_model, which copy every initializer
    # (three extra copies of vgg16's 550 MB, several seconds).
    model = onnx.ModelProto(ir_version=ONNX_IR_VERSION, producer_name="flopbench")
    model.opset_import.append(helper.make_opsetid("", ONNX_OPSET))
    graph = model.graph
    graph.name = model_name
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
    classes = 0
    for layer in layers:
        if isinstance(layer, ConvLayer):
            k = list(layer.weight.shape[2:])
            inputs = [x, init(layer.weight, f"{layer.name}.weight")]
            if layer.bias is not None:
                # Conv's own bias input, as exporters write it; see the module docstring for the
                # names OpenVINO then gives the Convolution and the Add.
                inputs.append(init(layer.bias, f"{layer.name}.bias"))
            x = node("Conv", inputs, layer.name, layer.name, kernel_shape=k,
                     strides=[layer.stride] * 2, pads=[layer.pad] * 4, dilations=[1, 1],
                     group=layer.groups)
        elif isinstance(layer, NormLayer):
            x = node("BatchNormalization", [x, init(layer.scale, f"{layer.name}.scale"), init(layer.shift, f"{layer.name}.shift"),
                                            init(layer.mean, f"{layer.name}.mean"), init(layer.variance, f"{layer.name}.variance")],
                     layer.name, layer.name, epsilon=layer.epsilon)
        elif isinstance(layer, ActLayer):
            if layer.kind == "relu":
                x = node("Relu", [x], layer.name, layer.name)
            else:
                if not relu6_bounds:
                    relu6_bounds = [init(np.array(0.0, np.float32), "relu6.min"),
                                    init(np.array(6.0, np.float32), "relu6.max")]
                x = node("Clip", [x, *relu6_bounds], layer.name, layer.name)
        elif isinstance(layer, AddLayer):
            x = node("Add", [x, layer.other], layer.name, layer.name)
        elif isinstance(layer, PoolLayer):
            op = "MaxPool" if layer.kind == "max" else "AveragePool"
            x = node(op, [x], layer.name, layer.name, kernel_shape=[layer.kernel] * 2,
                     strides=[layer.stride] * 2, pads=[0, 0, 0, 0])
        elif isinstance(layer, GlobalPoolLayer):
            x = node("GlobalAveragePool", [x], layer.name, layer.name)
        elif isinstance(layer, FlattenLayer):
            x = node("Flatten", [x], layer.name, layer.name, axis=1)
        elif isinstance(layer, DenseLayer):
            x = node("MatMul", [x, init(layer.weight, f"{layer.name}.weight")], layer.name, layer.name)
            x = node("Add", [x, init(layer.bias.reshape(1, -1), f"{layer.name}.bias")],
                     layer.bias_name, layer.bias_name)
            classes = layer.bias.shape[0]
        elif isinstance(layer, SoftmaxLayer):
            x = node("Softmax", [x], OUTPUT_NAME, layer.name, axis=1)
        else:  # pragma: no cover
            raise TypeError(f"no ONNX builder for {type(layer).__name__}")

    graph.node.extend(nodes)
    graph.input.append(helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, list(input_shape)))
    graph.output.append(helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [input_shape[0], classes]))
    return model


def build_tflite(name: str, alpha: float | None = None, resolution: int | None = None) -> bytes:
    """The zoo model as a TFLite flatbuffer (FP32; see zoo/tflite_file.py for how it maps)."""
    from .tflite_file import build_graph, serialize

    model_name, input_shape, layers = _layers(name, alpha, resolution)
    return serialize(build_graph(layers, INPUT_NAME, input_shape, OUTPUT_NAME), f"flopbench zoo {model_name}")


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


def planned_bytes(name: str, fmt: str = "both", alpha: float | None = None, resolution: int | None = None) -> int:
    """About how many bytes `write_zoo_model` will write: 4 per parameter per format."""
    _check_format(fmt)
    formats = 2 if fmt == "both" else 1
    return 4 * parameter_count(name, alpha, resolution) * formats


def _check_tflite_writer() -> None:
    try:
        import flatbuffers  # noqa: F401
        import tflite  # noqa: F401
    except ImportError:
        raise OptionError("writing .tflite needs the flatbuffers and tflite packages",
                          "pip install flatbuffers tflite") from None


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise OptionError(f"unknown --format {fmt!r} for zoo", f"choose one of: {', '.join(FORMATS)}")


def _serializer_error(exc: RuntimeError, folder: Path, name: str) -> Exception:
    """OpenVINO's serializer says only "basic_ios::clear: iostream error" when a write fails: the
    disk is full, or a file size limit (ulimit -f) stopped it. Which one is read off the disk."""
    if "ios" not in str(exc):
        return exc
    import shutil

    from ..errors import OutputError

    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    reason = (f"no space left on the device of {folder}" if free is not None and free < (64 << 20)
              else "a file size limit (ulimit -f) or a full disk stopped the write")
    return OutputError(f"cannot write {name} to {folder}: {reason}", "free some space, or write to another folder with -o")


def write_zoo_model(name: str, out_dir: str | Path, fmt: str = "both", alpha: float | None = None,
                    resolution: int | None = None) -> ZooFiles:
    """Write `<stem>.xml/.bin` (IR) and/or `<stem>.onnx`, or `<stem>.tflite`, into `out_dir`, plus
    `image.npy` for the 28×28 models; every file is staged and renamed into place (`results.writing`)."""
    check_name(name)
    check_options(name, alpha, resolution)
    _check_format(fmt)
    import onnx  # noqa: F401 - fail on a missing dependency before creating anything
    import openvino as ov

    if fmt == "tflite":
        _check_tflite_writer()

    folder = Path(out_dir)
    stem = file_stem(name, alpha, resolution)
    ir = fmt in ("ir", "both")
    onnx_too = fmt in ("onnx", "both")
    files = ZooFiles(name=name, xml=folder / f"{stem}.xml" if ir else None, bin=folder / f"{stem}.bin" if ir else None,
                     onnx=folder / f"{stem}.onnx" if onnx_too else None,
                     image=folder / "image.npy" if name in _IMAGE_MODELS else None,
                     tflite=folder / f"{stem}.tflite" if fmt == "tflite" else None)
    # .bin before .xml: whoever sees the new .xml finds its new weights already in place
    names = [p.name for p in (files.bin, files.xml, files.onnx, files.tflite, files.image) if p is not None]
    with writing.staged_files(folder, names) as staged:
        if files.xml is not None:
            model = build_openvino(name, alpha, resolution)
            try:
                ov.save_model(model, str(staged[files.xml.name]), compress_to_fp16=False)
            except RuntimeError as exc:
                raise _serializer_error(exc, folder, files.xml.name) from None
            del model  # vgg16 holds ~550 MB of weights; free them before building the ONNX copy
        if files.onnx is not None:
            proto = build_onnx(name, alpha, resolution)
            with open(staged[files.onnx.name], "wb") as handle:
                handle.write(proto.SerializeToString())
            del proto
        if files.tflite is not None:
            with open(staged[files.tflite.name], "wb") as handle:
                handle.write(build_tflite(name, alpha, resolution))
        if files.image is not None:
            with open(staged[files.image.name], "wb") as handle:
                np.save(handle, sample_image(), allow_pickle=False)
    return files
