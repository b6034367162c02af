"""What a `.tflite` file says of itself, read from its flatbuffer by the format's own rules (no
schema package needed), for the two things OpenVINO's TFLite reader does not keep:

- **names**: the reader names ops by their index in the file ("7") and its layout passes (NHWC ↔
  NCHW transposes sunk through the graph) leave most ops with made-up names ("Transpose_213").
  `name_ops` gives each op the name of the file's op it came from: the name of that op's output
  tensor, the name every TFLite tool (Netron, `benchmark_model --enable_op_profiling`) shows.
- **custom ops**: the reader refuses a custom op it has no converter for. `custom_op_extensions`
  gives it one per custom op of the file: MediaPipe's `Convolution2DTransposeBias` becomes what it
  computes (a transpose convolution plus a bias, from the shapes of its tensors and the stride and
  padding in its options); any other custom op becomes a stand-in with the file's output shapes and
  no formula, so the count goes on around it and names it among the ops it could not count.

A file that does not parse is left to OpenVINO's reader, which says what is wrong with it.
"""
from __future__ import annotations

import re
import struct
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Flatbuffer", "read_flatbuffer", "read_tflite", "stand_ins", "custom_op_extensions", "name_ops", "KNOWN_CUSTOM_OPS"]

# op code -> the input that holds its weights, for the ops whose work is multiply-accumulates
WEIGHTED_OPS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1, "TRANSPOSE_CONV": 1, "CONV_3D": 1,
                "Convolution2DTransposeBias": 1}
KNOWN_CUSTOM_OPS = ("Convolution2DTransposeBias",)
# TensorType -> numpy dtype (the types a weight or an op's output can have)
_DTYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16", 9: "int8", 10: "float64"}


@dataclass(frozen=True)
class FlatTensor:
    name: str
    shape: tuple[int, ...]  # -1 where the signature says the dimension is dynamic
    dtype: str
    data: np.ndarray | None  # a constant's stored values


@dataclass(frozen=True)
class FlatOp:
    index: int
    code: str  # BuiltinOperator's name, or the custom op's own name
    custom: bool
    inputs: tuple[int, ...]  # tensor indices, -1 for an optional input left out
    outputs: tuple[int, ...]
    custom_options: bytes


@dataclass(frozen=True)
class Flatbuffer:
    tensors: tuple[FlatTensor, ...]
    ops: tuple[FlatOp, ...]

    def output_name(self, op: FlatOp) -> str:
        return self.tensors[op.outputs[0]].name if op.outputs and op.outputs[0] >= 0 else ""

    def producers(self) -> dict[int, FlatOp]:
        return {t: op for op in self.ops for t in op.outputs}

    def custom_ops(self) -> dict[str, list[FlatOp]]:
        found: dict[str, list[FlatOp]] = defaultdict(list)
        for op in self.ops:
            if op.custom:
                found[op.code].append(op)
        return dict(found)


# the builtin op codes this module names (TFLite's schema, BuiltinOperator); any other is BUILTIN_<n>
BUILTIN_CODES = {0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 6: "DEQUANTIZE",
                 9: "FULLY_CONNECTED", 14: "LOGISTIC", 17: "MAX_POOL_2D", 18: "MUL", 19: "RELU", 20: "RELU_N1_TO_1", 21: "RELU6",
                 22: "RESHAPE", 23: "RESIZE_BILINEAR", 25: "SOFTMAX", 28: "TANH", 32: "CUSTOM", 34: "PAD", 36: "GATHER",
                 39: "TRANSPOSE", 40: "MEAN", 41: "SUB", 42: "DIV", 43: "SQUEEZE", 45: "STRIDED_SLICE", 54: "PRELU",
                 55: "MAXIMUM", 57: "MINIMUM", 60: "PADV2", 65: "SLICE", 67: "TRANSPOSE_CONV", 70: "EXPAND_DIMS",
                 82: "REDUCE_MAX", 97: "RESIZE_NEAREST_NEIGHBOR", 100: "MIRROR_PAD", 114: "QUANTIZE", 117: "HARD_SWISH",
                 126: "BATCH_MATMUL", 132: "CONV_3D"}
CUSTOM = 32


class _Table:
    """One table of a flatbuffer (the format's own rules: a table points back to its vtable, whose
    entries are the fields' offsets, 0 for a field left at its default), read with `struct`: no
    schema package is needed for the few fields read here, and every read is bounds-checked."""

    def __init__(self, data: bytes, position: int):
        self.data, self.position = data, position
        if not 0 <= position <= len(data) - 4:
            raise ValueError("a table lies outside the file")
        vtable = position - struct.unpack_from("<i", data, position)[0]
        if not 0 <= vtable <= len(data) - 4:  # struct would read a negative offset from the end
            raise ValueError("a vtable lies outside the file")
        self.vtable_size = struct.unpack_from("<H", data, vtable)[0]
        self.vtable = vtable

    def _offset(self, field: int) -> int:
        entry = 4 + 2 * field
        return struct.unpack_from("<H", self.data, self.vtable + entry)[0] if entry < self.vtable_size else 0

    def scalar(self, field: int, fmt: str, default=0):
        offset = self._offset(field)
        return struct.unpack_from("<" + fmt, self.data, self.position + offset)[0] if offset else default

    def _target(self, field: int) -> int | None:
        offset = self._offset(field)
        if not offset:
            return None
        at = self.position + offset
        target = at + struct.unpack_from("<I", self.data, at)[0]
        if target > len(self.data) - 4:
            raise ValueError("a field points past the end of the file")
        return target

    def vector(self, field: int) -> tuple[int, int]:
        """(start, length) of a vector field; (0, 0) when absent."""
        at = self._target(field)
        if at is None:
            return 0, 0
        length = struct.unpack_from("<I", self.data, at)[0]
        return at + 4, length

    def tables(self, field: int) -> list["_Table"]:
        start, length = self.vector(field)
        return [_Table(self.data, start + 4 * i + struct.unpack_from("<I", self.data, start + 4 * i)[0]) for i in range(length)]

    def ints(self, field: int, fmt: str = "i") -> tuple[int, ...]:
        start, length = self.vector(field)
        size = struct.calcsize(fmt)
        if start + size * length > len(self.data):
            raise ValueError("a vector runs past the end of the file")
        return struct.unpack_from(f"<{length}{fmt}", self.data, start) if length else ()

    def raw(self, field: int) -> bytes:
        start, length = self.vector(field)
        if start + length > len(self.data):
            raise ValueError("a vector runs past the end of the file")
        return self.data[start:start + length]

    def string(self, field: int) -> str:
        return self.raw(field).decode("utf-8", "replace")


def read_flatbuffer(path: str | Path) -> Flatbuffer | None:
    """The first subgraph of a .tflite file (tensors, their constant data, ops), or None when it
    does not parse (OpenVINO's reader then says what is wrong with the file). Fields by their slots
    in TFLite's schema: Model {operator_codes 1, subgraphs 2, buffers 4}; OperatorCode
    {deprecated_builtin_code 0, custom_code 1, builtin_code 3}; SubGraph {tensors 0, operators 3};
    Tensor {shape 0, type 1, buffer 2, name 3, shape_signature 7}; Operator {opcode_index 0, inputs 1,
    outputs 2, custom_options 5}; Buffer {data 0}."""
    try:
        data = Path(path).read_bytes()
        if len(data) < 8 or data[4:8] != b"TFL3":
            return None
        model = _Table(data, struct.unpack_from("<I", data, 0)[0])
        codes = []
        for code in model.tables(1):
            builtin = max(code.scalar(0, "b"), code.scalar(3, "i"))
            codes.append((code.string(1), True) if builtin == CUSTOM else (BUILTIN_CODES.get(builtin, f"BUILTIN_{builtin}"), False))
        subgraphs = model.tables(2)
        if not subgraphs:
            return None
        buffers = model.tables(4)
        tensors = []
        for tensor in subgraphs[0].tables(0):
            shape = list(tensor.ints(0))
            signature = tensor.ints(7)
            if len(signature) == len(shape):
                shape = [-1 if s < 0 else d for d, s in zip(shape, signature)]
            dtype = _DTYPES.get(tensor.scalar(1, "b"), "float32")
            values = None
            buffer = tensor.scalar(2, "I")
            if 0 < buffer < len(buffers):
                raw = buffers[buffer].raw(0)
                itemsize = np.dtype(dtype).itemsize
                if raw and len(raw) % itemsize == 0:
                    values = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
            tensors.append(FlatTensor(tensor.string(3), tuple(shape), dtype, values))
        ops = []
        for index, op in enumerate(subgraphs[0].tables(3)):
            code, custom = codes[op.scalar(0, "I")]
            ops.append(FlatOp(index, code, custom, tuple(op.ints(1)), tuple(op.ints(2)), op.raw(5)))
        return Flatbuffer(tuple(tensors), tuple(ops))
    except (struct.error, ValueError, IndexError, OSError, KeyError):  # a damaged file: OpenVINO's reader names the problem
        return None


# ---- custom ops -------------------------------------------------------------------------------

def _transpose_conv_bias(flat: Flatbuffer, op: FlatOp):
    """MediaPipe's Convolution2DTransposeBias (input NHWC, weights [C_out, kh, kw, C_in], bias
    [C_out]; options: padding, stride_w, stride_h as three int32) as OpenVINO ops, or None when the
    op is not of that form."""
    if len(op.inputs) != 3 or len(op.outputs) != 1 or len(op.custom_options) < 12 or min(op.inputs) < 0:
        return None
    x, w, b = (flat.tensors[i] for i in op.inputs)
    y = flat.tensors[op.outputs[0]]
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4 or len(b.shape) != 1 or w.data is None or -1 in x.shape[1:] + y.shape[1:]:
        return None
    _, stride_w, stride_h = struct.unpack_from("<iii", op.custom_options)
    if stride_w < 1 or stride_h < 1:
        return None
    _, kh, kw, _ = w.shape
    # each input element scatters through the kernel; the output crops the excess, the odd one at the end
    pads = [((x.shape[1] - 1) * stride_h + kh - y.shape[1]), ((x.shape[2] - 1) * stride_w + kw - y.shape[2])]
    if min(pads) < 0:
        return None

    def convert(context):
        import openvino.opset13 as ops

        data = ops.transpose(context.get_input(0), ops.constant(np.array([0, 3, 1, 2], np.int64)))
        weights = ops.transpose(context.get_input(1), ops.constant(np.array([3, 0, 1, 2], np.int64)))  # [C_in, C_out, kh, kw]
        deconv = ops.convolution_backprop_data(data, weights, strides=[stride_h, stride_w], pads_begin=[p // 2 for p in pads],
                                               pads_end=[p - p // 2 for p in pads], dilations=[1, 1])
        bias = ops.reshape(context.get_input(2), ops.constant(np.array([1, -1, 1, 1], np.int64)), special_zero=False)
        return [ops.transpose(ops.add(deconv, bias), ops.constant(np.array([0, 2, 3, 1], np.int64))).output(0)]

    return convert


_STAND_INS: dict[str, type] = {}


def _stand_in_class(code: str):
    """An OpenVINO op type named after the custom op: it has the file's output shapes and computes
    nothing (no formula counts it, and no device can run it)."""
    import openvino as ov

    if code not in _STAND_INS:
        def __init__(self, inputs=None, outputs=()):
            self._outputs = outputs  # set before the base class asks for the output types
            ov.Op.__init__(self, self, inputs or [])

        def validate_and_infer_types(self):
            for index, (dtype, shape) in enumerate(self._outputs):
                self.set_output_type(index, ov.Type(np.dtype(dtype)), ov.PartialShape([d if d >= 0 else -1 for d in shape]))

        def clone_with_new_inputs(self, new_inputs):
            return type(self)(new_inputs, self._outputs)

        def visit_attributes(self, visitor):
            return True

        name = re.sub(r"\W", "_", code) or "Custom"
        _STAND_INS[code] = type(name, (ov.Op,), {"__init__": __init__, "validate_and_infer_types": validate_and_infer_types,
                                                  "clone_with_new_inputs": clone_with_new_inputs, "visit_attributes": visit_attributes})
    return _STAND_INS[code]


def stand_ins(model) -> dict[str, int]:
    """The custom ops of `model` that are stand-ins (no device can run them), and how many of each."""
    found: dict[str, int] = {}
    names = {cls.__name__ for cls in _STAND_INS.values()}
    for node in model.get_ordered_ops():
        info = node.get_type_info()
        if info.version_id == "extension" and info.name in names:
            found[info.name] = found.get(info.name, 0) + 1
    return found


def custom_op_extensions(flat: Flatbuffer) -> list:
    """One OpenVINO conversion extension per custom op code of the file. OpenVINO converts the
    ops in the file's order, so each call takes the next op of its code."""
    from openvino.frontend import ConversionExtension

    extensions = []
    for code, found in flat.custom_ops().items():
        converters = deque()
        for op in found:
            known = _transpose_conv_bias(flat, op) if code == "Convolution2DTransposeBias" else None
            converters.append((op, known))

        def convert(context, converters=converters, code=code):
            op, known = converters.popleft() if converters else (None, None)
            if known is not None:
                return known(context)
            inputs = [context.get_input(i) for i in range(context.get_input_size())]
            outputs = [(flat.tensors[t].dtype, flat.tensors[t].shape) for t in op.outputs] if op else [("float32", ())]
            stand_in = _stand_in_class(code)(inputs, outputs)
            return [stand_in.output(i) for i in range(len(outputs))]

        extensions.append(ConversionExtension(code, convert))
    return extensions


# ---- names ------------------------------------------------------------------------------------

# OpenVINO op types, as the reader makes them: the ones that multiply by weights (all take them as
# input 1) and the elementwise ones it fuses after them (bias, activation, (de)quantization). Named
# here, not taken from counting's registry, because reading comes before counting; only what the
# TFLite reader makes (TFLite has no grouped transpose convolution)
_WEIGHTED_TYPES = frozenset({"Convolution", "GroupConvolution", "ConvolutionBackpropData", "MatMul"})
_FOLLOWERS = frozenset({"Add", "Subtract", "Multiply", "Relu", "Clamp", "Sigmoid", "Tanh", "HSwish", "Swish", "HSigmoid", "PRelu",
                        "Elu", "Gelu", "Mish", "Maximum", "Minimum", "FakeQuantize", "Convert", "SoftPlus"})
_INDEX_NAME = re.compile(r"(\d+)(?:_\d+)?")  # the reader's name for the op at that index, and its helpers
_MADE_UP = re.compile(r"[A-Za-z][A-Za-z0-9]*_\d+")


def _fingerprint(values: np.ndarray) -> tuple[int, float, float]:
    """The same for a weight array whatever its layout (the reader transposes weights to OIHW)."""
    as_float = values.astype(np.float64, copy=False).ravel()
    return as_float.size, round(float(as_float.sum()), 4), round(float(np.square(as_float).sum()), 4)


def _stored_weight(node):
    """The constant behind an op's weight input, walking back through what only re-lays it out
    or dequantizes it (Transpose, Reshape, Convert, scale and zero point)."""
    for _ in range(8):
        kind = node.get_type_name()
        if kind == "Constant":
            return node
        if kind not in ("Transpose", "Reshape", "Convert", "Multiply", "Subtract", "Squeeze", "Unsqueeze") or node.get_input_size() == 0:
            return None
        node = node.input_value(0).get_node()
    return None


def _weight_of(flat: Flatbuffer, op: FlatOp, producers: dict[int, FlatOp]) -> np.ndarray | None:
    index = op.inputs[WEIGHTED_OPS[op.code]] if len(op.inputs) > WEIGHTED_OPS[op.code] else -1
    for _ in range(4):  # a DEQUANTIZE (fp16 weights) stands between the stored weights and the op
        if index < 0:
            return None
        tensor = flat.tensors[index]
        if tensor.data is not None:
            return tensor.data
        source = producers.get(index)
        if source is None or source.code != "DEQUANTIZE" or not source.inputs:
            return None
        index = source.inputs[0]
    return None


# OpenVINO op type -> the file's op codes it comes from, for ops placed by what they read
_CODES = {"Pad": {"PAD", "PADV2", "MIRROR_PAD"}, "Add": {"ADD"}, "Multiply": {"MUL"}, "Subtract": {"SUB"}, "Divide": {"DIV"},
          "MaxPool": {"MAX_POOL_2D"}, "AvgPool": {"AVERAGE_POOL_2D"}, "Concat": {"CONCATENATION"},
          "Reshape": {"RESHAPE", "SQUEEZE", "EXPAND_DIMS"}, "Squeeze": {"SQUEEZE"}, "Unsqueeze": {"EXPAND_DIMS"},
          "ReduceMean": {"MEAN"}, "ReduceMax": {"REDUCE_MAX"}, "Softmax": {"SOFTMAX"}, "Relu": {"RELU"},
          "Clamp": {"RELU6", "RELU_N1_TO_1"}, "Sigmoid": {"LOGISTIC"}, "Tanh": {"TANH"}, "HSwish": {"HARD_SWISH"},
          "Interpolate": {"RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"}, "Transpose": {"TRANSPOSE"}, "Maximum": {"MAXIMUM"},
          "Minimum": {"MINIMUM"}, "PRelu": {"PRELU"}, "Gather": {"GATHER"}, "StridedSlice": {"STRIDED_SLICE", "SLICE"}}
_LAYOUT_CODES = ("TRANSPOSE", "DEQUANTIZE", "QUANTIZE")  # the reader folds or sinks them: seen through


def _by_neighbours(ops: list, flat: Flatbuffer, origin: dict[int, int]) -> None:
    """Place the ops still unplaced whose names are made up (a PAD, a residual ADD after the layout
    passes) by what they read: the file's op of that kind that reads what their inputs hold."""
    consumers: dict[int, list[FlatOp]] = defaultdict(list)
    for op in flat.ops:
        for t in op.inputs:
            consumers[t].append(op)

    def reach(tensors: set[int]) -> set[int]:
        """The tensors themselves and what the file makes of them through layout-only ops."""
        found, todo = set(tensors), list(tensors)
        while todo:
            for op in consumers.get(todo.pop(), ()):
                if op.code in _LAYOUT_CODES:
                    for t in op.outputs:
                        if t not in found:
                            found.add(t)
                            todo.append(t)
        return found

    tensor_of_name = {t.name: i for i, t in enumerate(flat.tensors)}
    holds: dict[object, set[int]] = {}
    used = set(origin.values())
    for position, node in enumerate(ops):
        if position in origin:
            holds[node] = reach(set(flat.ops[origin[position]].outputs))
    for position, node in enumerate(ops):
        if position in origin or not _MADE_UP.fullmatch(node.get_friendly_name()) or node.get_type_name() not in _CODES:
            continue
        read: set[int] = set()
        for value in node.input_values():
            source = value.get_node()
            if source.get_type_name() == "Parameter":
                read |= reach({tensor_of_name[n] for n in source.get_output_tensor(0).get_names() if n in tensor_of_name})
            else:
                read |= holds.get(source, set())
        if not read:
            continue
        codes = _CODES[node.get_type_name()]
        candidates = sorted({op.index for t in read for op in consumers.get(t, ()) if op.code in codes and op.index not in used})
        if candidates:
            origin[position] = candidates[0]
            used.add(candidates[0])
            holds[node] = reach(set(flat.ops[candidates[0]].outputs))


def name_ops(model, flat: Flatbuffer) -> int:
    """Name each op of `model` (read by OpenVINO from the file `flat` was read from) after the
    file's op it came from; returns how many ops were renamed. The op that holds that op's output
    keeps the tensor's name (`conv1/Relu6`); the others it was made into get `<name>/<Type>`
    (`conv1/Relu6/Convolution`), so the layer is named as the file names it."""
    ops = [n for n in model.get_ordered_ops() if n.get_type_name() not in ("Constant", "Parameter", "Result")]
    producers = flat.producers()
    tensor_names = {t.name: i for i, t in enumerate(flat.tensors) if t.name}
    origin: dict[int, int] = {}  # position in `ops` -> index of the file's op

    # 1. multiply-accumulate ops by their weights (the reader's own names for them are made up)
    expected: dict[tuple, deque[int]] = defaultdict(deque)
    for op in flat.ops:
        if op.code in WEIGHTED_OPS:
            weight = _weight_of(flat, op, producers)
            if weight is not None:
                expected[_fingerprint(weight)].append(op.index)
    for position, node in enumerate(ops):
        if node.get_type_name() not in _WEIGHTED_TYPES or node.get_input_size() < 2:
            continue
        stored = _stored_weight(node.input_value(1).get_node())
        if stored is None:
            continue
        key = _fingerprint(stored.get_data())
        if expected.get(key):
            origin[position] = expected[key].popleft()
    # 2. the reader's index names ("7", and "7_1" for a fused activation of op 7)
    for position, node in enumerate(ops):
        match = _INDEX_NAME.fullmatch(node.get_friendly_name())
        if position not in origin and match and int(match.group(1)) < len(flat.ops):
            origin[position] = int(match.group(1))
    # 3. the elementwise ops that follow a weighted op alone (bias, activation), named by the layout passes
    index_of = {node: position for position, node in enumerate(ops)}
    for position in sorted(origin):
        node = ops[position]
        while True:
            consumers = [t.get_node() for output in node.outputs() for t in output.get_target_inputs()]
            if len(consumers) != 1 or consumers[0] not in index_of:
                break
            following = index_of[consumers[0]]
            if following in origin or consumers[0].get_type_name() not in _FOLLOWERS \
                    or not _MADE_UP.fullmatch(consumers[0].get_friendly_name()):
                break
            others = [v.get_node() for v in consumers[0].input_values() if v.get_node() is not node]
            if any(other.get_type_name() != "Constant" for other in others):  # a residual Add joins two branches
                break
            origin[following] = origin[position]
            node, position = consumers[0], following
    # 4. an op with a made-up name, by what it reads
    _by_neighbours(ops, flat, origin)
    # 5. an op still unplaced that holds a tensor the file names
    for position, node in enumerate(ops):
        if position in origin or node.get_output_size() == 0:
            continue
        for name in sorted(node.get_output_tensor(0).get_names()):
            source = producers.get(tensor_names.get(name, -1))
            if source is not None:
                origin[position] = source.index
                break

    members: dict[int, list[int]] = defaultdict(list)
    for position, index in sorted(origin.items()):
        members[index].append(position)
    taken = {n.get_friendly_name() for n in model.get_ordered_ops()}
    renamed = 0
    for index, positions in members.items():
        name = flat.output_name(flat.ops[index])
        if not name:
            continue
        holders = [p for p in positions if ops[p].get_output_size() and name in ops[p].get_output_tensor(0).get_names()]
        holder = holders[-1] if holders else positions[-1]
        for position in positions:
            node = ops[position]
            wanted = name if position == holder else f"{name}/{node.get_type_name()}"
            if node.get_friendly_name() == wanted:
                continue
            taken.discard(node.get_friendly_name())
            unique, number = wanted, 2
            while unique in taken:
                unique = f"{wanted}_{number}"
                number += 1
            node.set_friendly_name(unique)
            taken.add(unique)
            renamed += 1
    return renamed


def read_tflite(path: str | Path, flat: Flatbuffer | None):
    """OpenVINO's reading of a .tflite file, with a converter for each custom op it has, its ops
    named as the file names them."""
    from .core import openvino_core

    if flat is not None and flat.custom_ops():
        from openvino.frontend import FrontEndManager

        frontend = FrontEndManager().load_by_framework("tflite")
        for extension in custom_op_extensions(flat):
            frontend.add_extension(extension)
        model = frontend.convert(frontend.load(str(path)))
    else:
        model = openvino_core().read_model(str(path))
    if flat is not None:
        name_ops(model, flat)
    return model
