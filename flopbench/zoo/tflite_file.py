"""The zoo's models as TFLite flatbuffers, written directly against TFLite's public schema (the
`tflite` package gives its enums; `flatbuffers` builds the bytes): no TensorFlow, and the same
bytes from build to build.

The file computes what the IR and the ONNX file compute, from the same lowered layers:
- its input is the same NCHW tensor (so the same `image.npy` feeds every format); a TRANSPOSE
  makes it NHWC, the layout every TFLite kernel takes, and another one goes back before a Flatten,
  so the Dense weights see the NCHW order they were drawn for;
- BatchNorm is folded into the convolution before it (scale into the weights, shift into a bias),
  as TFLite's converter does: the file has no BatchNorm op, and one bias per channel instead of
  four statistics;
- a convolution without bias (sep_cnn's depthwise ones) gets a zero bias: LiteRT's depthwise kernel
  requires the input, so the parameter count is higher by those zeros;
- a global average pool is a MEAN over height and width (keep_dims), as the converter writes it;
- ReLU and ReLU6 are fused into the op before them (`fused_activation_function`), as the converter
  writes them;
- padding: none is VALID; a stride-1 convolution padded by (k-1)/2 is SAME (the same numbers); any
  other padding (MobileNets' stride-2 layers, padded symmetrically, where SAME pads only the far
  side) is an explicit PAD before a VALID convolution.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .spec import (ActLayer, AddLayer, ConvLayer, DenseLayer, FlattenLayer, GlobalPoolLayer, Layer, NormLayer, PoolLayer,
                   SoftmaxLayer)

SCHEMA_VERSION = 3
BUFFER_ALIGNMENT = 16  # tensor data aligned for SIMD loads


@dataclass
class TFLiteTensor:
    name: str
    shape: tuple[int, ...]
    dtype: str  # a TensorType name in lower case: "float32", "int32", "int8", "float16" ...
    buffer: int  # 0: no data (an activation)
    signature: tuple[int, ...] | None = None  # shape_signature: -1 for a dynamic dimension
    scale: tuple[float, ...] = ()  # quantization: one scale (per tensor) or one per output channel
    zero_point: tuple[int, ...] = ()


@dataclass
class TFLiteOperator:
    code: int | str  # BuiltinOperator, or a custom op's name
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options_type: int = 0  # BuiltinOptions; 0 for none
    options: dict[int, tuple[str, object]] = field(default_factory=dict)  # slot → (kind, value)
    custom_options: bytes = b""  # a custom op's own settings, as its kernel reads them


class TFLiteGraph:
    """Tensors, constant buffers and operators of one subgraph, in the order they are added."""

    def __init__(self):
        self.tensors: list[TFLiteTensor] = []
        self.buffers: list[bytes] = [b""]  # buffer 0 is the empty one, by convention
        self.operators: list[TFLiteOperator] = []
        self.inputs: tuple[int, ...] = ()
        self.outputs: tuple[int, ...] = ()

    def tensor(self, name: str, shape, dtype: str = "float32", data: np.ndarray | None = None, signature=None,
               scale=(), zero_point=()) -> int:
        """A tensor (a constant when `data` is given: stored little-endian as `dtype`); its index."""
        buffer = 0
        if data is not None:
            self.buffers.append(np.ascontiguousarray(data, dtype=np.dtype(dtype).newbyteorder("<")).tobytes())
            buffer = len(self.buffers) - 1
        self.tensors.append(TFLiteTensor(name, tuple(int(d) for d in shape), dtype, buffer,
                                         tuple(signature) if signature is not None else None, tuple(scale), tuple(zero_point)))
        return len(self.tensors) - 1

    def constant(self, name: str, array: np.ndarray, scale=(), zero_point=()) -> int:
        dtype = "float32" if array.dtype == np.float64 else array.dtype.name
        return self.tensor(name, array.shape, dtype, array, scale=scale, zero_point=zero_point)

    def op(self, code: int | str, inputs, outputs, options_type: int = 0, options: dict | None = None,
           custom_options: bytes = b"") -> None:
        self.operators.append(TFLiteOperator(code, tuple(inputs), tuple(outputs), options_type, options or {}, custom_options))


def _fold(conv: ConvLayer, norm: NormLayer | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The convolution's weights ([Cout, Cin/g, kh, kw]) and bias with a following BatchNorm folded in."""
    if norm is None:
        return conv.weight, conv.bias
    factor = (norm.scale / np.sqrt(norm.variance + np.float32(norm.epsilon))).astype(np.float32)
    weight = (conv.weight * factor.reshape(-1, 1, 1, 1)).astype(np.float32)
    bias = conv.bias if conv.bias is not None else np.zeros(conv.weight.shape[0], np.float32)
    return weight, ((bias - norm.mean) * factor + norm.shift).astype(np.float32)


def _activation(layers: list[Layer], index: int) -> tuple[int, int]:
    """The ActivationFunctionType to fuse from layers[index] (if it is a ReLU or ReLU6), and how many layers that took."""
    import tflite

    if index < len(layers) and isinstance(layers[index], ActLayer):
        kind = tflite.ActivationFunctionType.RELU if layers[index].kind == "relu" else tflite.ActivationFunctionType.RELU6
        return kind, 1
    return tflite.ActivationFunctionType.NONE, 0


def build_graph(layers: list[Layer], input_name: str, input_shape: tuple[int, ...], output_name: str) -> TFLiteGraph:
    """The TFLite subgraph of the zoo's lowered layers (see the module for how each maps)."""
    import tflite

    ops, options, padding = tflite.BuiltinOperator, tflite.BuiltinOptions, tflite.Padding
    graph = TFLiteGraph()
    batch, channels, height, width = input_shape
    x = graph.tensor(input_name, input_shape)
    nhwc = (batch, height, width, channels)
    to_nhwc = graph.constant(f"{input_name}/to_nhwc.perm", np.array([0, 2, 3, 1], np.int32))
    current = graph.tensor(f"{input_name}/nhwc", nhwc)
    graph.op(ops.TRANSPOSE, [x, to_nhwc], [current], options.TransposeOptions)
    shape = nhwc
    produced = {input_name: (current, shape)}
    index = 0
    while index < len(layers):
        layer = layers[index]
        first = index
        index += 1
        if isinstance(layer, ConvLayer):
            norm = layers[index] if index < len(layers) and isinstance(layers[index], NormLayer) else None
            index += norm is not None
            fused, used = _activation(layers, index)
            index += used
            weight, bias = _fold(layer, norm)
            cout, _, k, _ = weight.shape
            pad = layer.pad
            if pad and not (layer.stride == 1 and 2 * pad == k - 1):
                pads = graph.constant(f"{layer.name}/pad.paddings", np.array([[0, 0], [pad, pad], [pad, pad], [0, 0]], np.int32))
                shape = (shape[0], shape[1] + 2 * pad, shape[2] + 2 * pad, shape[3])
                padded = graph.tensor(f"{layer.name}/pad", shape)
                graph.op(ops.PAD, [current, pads], [padded], options.PadOptions)
                current, mode = padded, padding.VALID
            else:
                mode = padding.SAME if pad else padding.VALID
            out_h = (shape[1] + (2 * pad if mode == padding.SAME else 0) - k) // layer.stride + 1
            out_w = (shape[2] + (2 * pad if mode == padding.SAME else 0) - k) // layer.stride + 1
            bias_tensor = graph.constant(f"{layer.name}.bias", bias if bias is not None else np.zeros(cout, np.float32))
            name = layer.bias_name if layer.bias_name and norm is None else layer.name
            out = graph.tensor(name, (shape[0], out_h, out_w, cout))
            if layer.depthwise or layer.groups > 1:
                filters = graph.constant(f"{layer.name}.weight", weight.transpose(1, 2, 3, 0))  # [1, kh, kw, C]
                graph.op(ops.DEPTHWISE_CONV_2D, [current, filters, bias_tensor], [out], options.DepthwiseConv2DOptions,
                         {0: ("int8", mode), 1: ("int32", layer.stride), 2: ("int32", layer.stride),
                          3: ("int32", cout // layer.groups), 4: ("int8", fused), 5: ("int32", 1), 6: ("int32", 1)})
            else:
                filters = graph.constant(f"{layer.name}.weight", weight.transpose(0, 2, 3, 1))  # [Cout, kh, kw, Cin]
                graph.op(ops.CONV_2D, [current, filters, bias_tensor], [out], options.Conv2DOptions,
                         {0: ("int8", mode), 1: ("int32", layer.stride), 2: ("int32", layer.stride), 3: ("int8", fused),
                          4: ("int32", 1), 5: ("int32", 1)})
            current, shape = out, (shape[0], out_h, out_w, cout)
        elif isinstance(layer, AddLayer):
            fused, used = _activation(layers, index)
            index += used
            other, _ = produced[layer.other]
            out = graph.tensor(layer.name, shape)
            graph.op(ops.ADD, [current, other], [out], options.AddOptions, {0: ("int8", fused)})
            current = out
        elif isinstance(layer, PoolLayer):
            out_h = (shape[1] - layer.kernel) // layer.stride + 1
            out_w = (shape[2] - layer.kernel) // layer.stride + 1
            out = graph.tensor(layer.name, (shape[0], out_h, out_w, shape[3]))
            code = ops.MAX_POOL_2D if layer.kind == "max" else ops.AVERAGE_POOL_2D
            graph.op(code, [current], [out], options.Pool2DOptions,
                     {0: ("int8", padding.VALID), 1: ("int32", layer.stride), 2: ("int32", layer.stride),
                      3: ("int32", layer.kernel), 4: ("int32", layer.kernel), 5: ("int8", 0)})
            current, shape = out, (shape[0], out_h, out_w, shape[3])
        elif isinstance(layer, GlobalPoolLayer):
            # MEAN over height and width, kept (ReducerOptions.keep_dims), as TFLite's converter
            # writes Keras' GlobalAveragePooling2D(keepdims=True)
            axes = graph.constant(f"{layer.name}.axes", np.array([1, 2], np.int32))
            shape = (shape[0], 1, 1, shape[3])
            out = graph.tensor(layer.name, shape)
            graph.op(ops.MEAN, [current, axes], [out], options.ReducerOptions, {0: ("uint8", 1)})
            current = out
        elif isinstance(layer, FlattenLayer):
            to_nchw = graph.constant(f"{layer.name}/to_nchw.perm", np.array([0, 3, 1, 2], np.int32))
            nchw = graph.tensor(f"{layer.name}/nchw", (shape[0], shape[3], shape[1], shape[2]))
            graph.op(ops.TRANSPOSE, [current, to_nchw], [nchw], options.TransposeOptions)
            flat = (shape[0], shape[1] * shape[2] * shape[3])
            new_shape = graph.constant(f"{layer.name}.shape", np.array(flat, np.int32))
            out = graph.tensor(layer.name, flat)
            graph.op(ops.RESHAPE, [nchw, new_shape], [out], options.ReshapeOptions, {0: ("int32_vector", flat)})
            current, shape = out, flat
        elif isinstance(layer, DenseLayer):
            fused, used = _activation(layers, index)
            index += used
            weights = graph.constant(f"{layer.name}.weight", layer.weight.T)  # [units, inputs]
            bias = graph.constant(f"{layer.name}.bias", layer.bias)
            shape = (shape[0], layer.weight.shape[1])
            out = graph.tensor(layer.bias_name, shape)
            graph.op(ops.FULLY_CONNECTED, [current, weights, bias], [out], options.FullyConnectedOptions, {0: ("int8", fused)})
            current = out
        elif isinstance(layer, SoftmaxLayer):
            out = graph.tensor(output_name, shape)
            graph.op(ops.SOFTMAX, [current], [out], options.SoftmaxOptions, {0: ("float32", 1.0)})
            current = out
        else:  # pragma: no cover - a new layer type without a TFLite lowering is a programming error
            raise TypeError(f"no TFLite builder for {type(layer).__name__}")
        for taken in layers[first:index]:  # a folded BatchNorm or fused activation ends where its op does
            produced[taken.name] = (current, shape)
    graph.outputs = (current,)
    graph.inputs = (x,)
    return graph


def serialize(graph: TFLiteGraph, description: str) -> bytes:
    """The flatbuffer bytes of a one-subgraph TFLite model (schema version 3)."""
    import flatbuffers
    import tflite

    builder = flatbuffers.Builder(1024 + sum(len(b) for b in graph.buffers) + 64 * len(graph.buffers))

    def int_vector(values) -> int:
        builder.StartVector(4, len(values), 4)
        for value in reversed(values):
            builder.PrependInt32(int(value))
        return builder.EndVector()

    def table_vector(offsets) -> int:
        builder.StartVector(4, len(offsets), 4)
        for offset in reversed(offsets):
            builder.PrependUOffsetTRelative(offset)
        return builder.EndVector()

    def float_vector(values) -> int:
        builder.StartVector(4, len(values), 4)
        for value in reversed(values):
            builder.PrependFloat32(float(value))
        return builder.EndVector()

    def int64_vector(values) -> int:
        builder.StartVector(8, len(values), 8)
        for value in reversed(values):
            builder.PrependInt64(int(value))
        return builder.EndVector()

    def data_vector(data: bytes) -> int:
        builder.StartVector(1, len(data), BUFFER_ALIGNMENT)
        builder.head -= len(data)
        builder.Bytes[builder.head:builder.head + len(data)] = data
        builder.vectorNumElems = len(data)
        return builder.EndVector()

    def table(fields: dict[int, tuple[str, object]]) -> int:
        """A table of scalars, vectors and offsets by slot (the offsets made before it starts)."""
        made = {slot: int_vector(value) for slot, (kind, value) in fields.items() if kind == "int32_vector"}
        builder.StartObject(max(fields) + 1 if fields else 0)
        for slot, (kind, value) in fields.items():
            if kind == "int32_vector":
                builder.PrependUOffsetTRelativeSlot(slot, made[slot], 0)
            elif kind == "offset":
                builder.PrependUOffsetTRelativeSlot(slot, value, 0)
            elif kind == "int8":
                builder.PrependInt8Slot(slot, int(value), -1)  # -1: never the default, so always written
            elif kind == "uint8":
                builder.PrependUint8Slot(slot, int(value), 0)
            elif kind == "int32":
                builder.PrependInt32Slot(slot, int(value), -1)
            elif kind == "uint32":
                builder.PrependUint32Slot(slot, int(value), 0)
            elif kind == "float32":
                builder.PrependFloat32Slot(slot, float(value), 0.0)
        return builder.EndObject()

    buffers = [table({0: ("offset", data_vector(data))}) if data else table({}) for data in graph.buffers]
    tensors = []
    for tensor in graph.tensors:
        name = builder.CreateString(tensor.name)
        fields = {0: ("int32_vector", tensor.shape), 1: ("int8", getattr(tflite.TensorType, tensor.dtype.upper())),
                  2: ("uint32", tensor.buffer), 3: ("offset", name)}
        if tensor.scale:
            fields[4] = ("offset", table({2: ("offset", float_vector(tensor.scale)), 3: ("offset", int64_vector(tensor.zero_point)),
                                          6: ("int32", 0)}))
        if tensor.signature is not None:
            fields[7] = ("int32_vector", tensor.signature)
        tensors.append(table(fields))
    codes = list(dict.fromkeys(op.code for op in graph.operators))
    operators = []
    for op in graph.operators:
        options = table(op.options) if op.options_type else None
        fields = {0: ("uint32", codes.index(op.code)), 1: ("int32_vector", op.inputs), 2: ("int32_vector", op.outputs)}
        if options is not None:
            fields.update({3: ("uint8", op.options_type), 4: ("offset", options)})
        if op.custom_options:  # format 0: FLEXBUFFERS by name, but a kernel may read its own struct
            fields[5] = ("offset", data_vector(op.custom_options))
        operators.append(table(fields))
    subgraph_name = builder.CreateString("main")
    subgraph = table({0: ("offset", table_vector(tensors)), 1: ("int32_vector", graph.inputs),
                      2: ("int32_vector", graph.outputs), 3: ("offset", table_vector(operators)), 4: ("offset", subgraph_name)})
    # builtin codes above 127 live only in builtin_code; every code the zoo uses fits the deprecated field too
    custom = tflite.BuiltinOperator.CUSTOM
    operator_codes = [table({0: ("int8", custom), 1: ("offset", builder.CreateString(code)), 2: ("int32", 1), 3: ("int32", custom)})
                      if isinstance(code, str) else table({0: ("int8", code), 2: ("int32", 1), 3: ("int32", code)})
                      for code in codes]
    text = builder.CreateString(description)
    model = table({0: ("uint32", SCHEMA_VERSION), 1: ("offset", table_vector(operator_codes)),
                   2: ("offset", table_vector([subgraph])), 3: ("offset", text), 4: ("offset", table_vector(buffers))})
    builder.Finish(model, file_identifier=b"TFL3")
    return bytes(builder.Output())
