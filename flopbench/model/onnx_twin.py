"""A weight-free twin of an ONNX file, read straight from the protobuf wire format.

Counting FLOPs needs shapes, not weight values, yet `openvino.Core().read_model("x.onnx")` and
`onnx.load` both parse and copy every weight: a VGG16 (553 MB) costs one to three seconds and over
1.1 GB of memory. Here the file is memory-mapped and walked at the wire level: each large initializer's
header (name, data type, dims) is read and its data is skipped by its length, never touched. The
twin is the same ModelProto with every large initializer turned into a graph input of the same
type and shape, so OpenVINO reads it in milliseconds and every Convolution / MatMul keeps its shapes.

What stays a constant, and why (see `_keep_as_constant`): a tensor's *values* matter for shapes
only when it feeds a shape-like input: Reshape/Expand/Tile/ConstantOfShape shapes, Slice starts/
ends/axes/steps, Pad pads, Squeeze/Unsqueeze/Reduce* axes, Split sizes, TopK k, Range start/limit/
delta, Resize/Upsample scales (float!) and sizes. Such tensors have at most a few elements per
dimension of the data (rank <= 8 in practice), so

* any tensor with at most 1,024 elements stays a constant, whatever its type (at most 8 KB each:
  biases, BatchNorm statistics and per-channel quantization scales stay too, which costs nothing);
* an integer index tensor (int16/32/64, uint16/32/64, bool) stays up to 65,536 elements (512 KB):
  index and mask tables (position ids, causal masks, gather indices) can feed value-dependent
  shapes (NonZero, Gather on a shape) and are never the bulk of a model's weights;
* everything else (float, float16, bfloat16, float8, and int8/uint8/int4 quantized weights) with more
  elements becomes an input. String tensors and tensors of a data type this module does not know
  always stay as they are.

Tensors stored in external data files: large ones become inputs like any other (their data is never
read); small ones are read from their file (512 KB at most) and inlined as raw_data, because the
twin is handed to OpenVINO as bytes, with no folder to resolve file names against. Every referenced
file name is listed in `WeightlessTwin.external_files`.

Besides initializers, a top-level `Constant` node whose `value` tensor is large is dropped and its
output becomes an input too (some exporters store all weights that way). Nested subgraphs (If /
Loop / Scan bodies), functions and training_info are copied untouched.

Anything that is not a parsable ONNX file raises `ModelFileError`; the reader is bounded by the file
size (every length is checked against its enclosing message before use) and never recurses.
"""
from __future__ import annotations

import mmap
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelFileError

__all__ = ["WeightlessTwin", "weightless_twin", "KEEP_MAX_ELEMENTS", "KEEP_MAX_INDEX_ELEMENTS"]

KEEP_MAX_ELEMENTS = 1024
KEEP_MAX_INDEX_ELEMENTS = 65536

_FIX = "re-export or re-download the model"

# ONNX field numbers, from onnx/onnx.proto (onnx 1.23).
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_INPUT = 1, 5, 11
_NODE_INPUT, _NODE_OUTPUT, _NODE_NAME, _NODE_OP_TYPE, _NODE_ATTRIBUTE, _NODE_DOMAIN = 1, 2, 3, 4, 5, 7
_ATTR_NAME, _ATTR_T = 1, 5
_VALUE_INFO_NAME = 1
_TENSOR_DIMS, _TENSOR_DATA_TYPE, _TENSOR_NAME, _TENSOR_RAW_DATA = 1, 2, 8, 9
_TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION = 13, 14
_LOCATION_EXTERNAL = 1
_ENTRY_KEY, _ENTRY_VALUE = 1, 2

# TensorProto.DataType -> (numpy / ml_dtypes name, bits per element)
_DTYPES: dict[int, tuple[str, int]] = {
    1: ("float32", 32), 2: ("uint8", 8), 3: ("int8", 8), 4: ("uint16", 16), 5: ("int16", 16),
    6: ("int32", 32), 7: ("int64", 64), 9: ("bool", 8), 10: ("float16", 16), 11: ("float64", 64),
    12: ("uint32", 32), 13: ("uint64", 64), 14: ("complex64", 64), 15: ("complex128", 128),
    16: ("bfloat16", 16), 17: ("float8_e4m3fn", 8), 18: ("float8_e4m3fnuz", 8), 19: ("float8_e5m2", 8),
    20: ("float8_e5m2fnuz", 8), 21: ("uint4", 4), 22: ("int4", 4), 23: ("float4_e2m1fn", 4),
    24: ("float8_e8m0fnu", 8), 25: ("uint2", 2), 26: ("int2", 2), 27: ("float6_e2m3fn", 6), 28: ("float6_e3m2fn", 6),
}
_INDEX_TYPES = frozenset({4, 5, 6, 7, 9, 12, 13})  # uint16 int16 int32 int64 bool uint32 uint64
_MASK64 = (1 << 64) - 1
_UNCHANGED = object()
_INPUT_KEY, _OUTPUT_KEY, _NAME_KEY = _NODE_INPUT << 3 | 2, _NODE_OUTPUT << 3 | 2, _NODE_NAME << 3 | 2
# op_type "Constant" as a NodeProto field (field 4, length-delimited, 8 bytes): not ConstantOfShape
_CONSTANT_OP_TYPE = bytes([_NODE_OP_TYPE << 3 | 2, 8]) + b"Constant"
_ELEMENT_CAP = 1 << 62  # element counts are only compared with small limits; cap the product


@dataclass(frozen=True)
class WeightlessTwin:
    model_bytes: bytes  # a valid ONNX ModelProto without the large weights
    weight_inputs: dict[str, tuple[int, ...]]  # graph inputs that stand in for removed initializers: name -> dims
    weight_dtypes: dict[str, str]  # name -> numpy dtype name ("float32", "float16", ...)
    external_files: tuple[str, ...]  # external-data file names referenced (relative to the model's folder)


class _Bad(Exception):
    """The bytes are not a well-formed ONNX protobuf; `offset` is where that was found."""

    def __init__(self, reason: str, offset: int):
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


# ---------------------------------------------------------------------------------------------
# wire format


def _varint(buf, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise _Bad("truncated", pos)
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 70:
            raise _Bad("varint longer than 10 bytes", pos)


def _fields(buf, start: int, end: int):
    """Yield (field number, wire type, field start, value start, value end, varint value) of each
    field of the message in buf[start:end]. Lengths are checked against `end` before use."""
    pos = start
    while pos < end:
        field_start = pos
        key = buf[pos]
        if key < 0x80:  # one-byte key: fields 1..15, the usual case
            pos += 1
        else:
            key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0 or number >= 1 << 29:
            raise _Bad(f"invalid field number {number}", field_start)
        if wire == 0:
            value, pos = _varint(buf, pos, end)
            yield number, wire, field_start, field_start, pos, value
        elif wire == 2:
            if pos < end and buf[pos] < 0x80:
                length, vstart = buf[pos], pos + 1
            else:
                length, vstart = _varint(buf, pos, end)
            if length > end - vstart:
                raise _Bad(f"field length {length} runs past the end of its message" if end < len(buf) else "truncated", vstart)
            pos = vstart + length
            yield number, wire, field_start, vstart, pos, length
        elif wire == 1 or wire == 5:
            size = 8 if wire == 1 else 4
            if size > end - pos:
                raise _Bad("truncated", pos)
            vstart = pos
            pos += size
            yield number, wire, field_start, vstart, pos, 0
        else:
            raise _Bad(f"unsupported wire type {wire}", field_start)


_ONE_BYTE = [bytes([v]) for v in range(0x80)]


def _enc_varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return _ONE_BYTE[value]
    value &= _MASK64
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _enc_varint(number << 3 | wire)


def _len_field(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _enc_varint(len(payload)) + payload


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _value_info(name: bytes, elem_type: int, dims: tuple[int, ...]) -> bytes:
    """ValueInfoProto{name, type: TypeProto{tensor_type: {elem_type, shape: {dim: [{dim_value}]}}}}.
    The shape is always written, so a scalar gets rank 0 rather than an unknown rank."""
    shape = b"".join(_len_field(1, _key(1, 0) + _enc_varint(d)) for d in dims)
    tensor_type = _key(1, 0) + _enc_varint(elem_type) + _len_field(2, shape)
    return _len_field(1, name) + _len_field(2, _len_field(1, tensor_type))


# ---------------------------------------------------------------------------------------------
# TensorProto headers


class _Tensor:
    __slots__ = ("start", "end", "name", "dims", "data_type", "external", "entries", "offset")

    def __init__(self, start: int, end: int):
        self.start, self.end = start, end
        self.name = b""
        self.dims: list[int] = []
        self.data_type = 0
        self.external = False
        self.entries: dict[bytes, bytes] = {}  # external_data key -> value

    @property
    def elements(self) -> int:
        count = 1
        for d in self.dims:
            if d == 0:
                return 0
            count = min(count * d, _ELEMENT_CAP)
        return count


def _tensor(buf, start: int, end: int) -> _Tensor:
    tensor = _Tensor(start, end)
    dims = tensor.dims
    # the usual fields (one-byte keys, one-byte varints and lengths) are read in place; the first
    # field that is anything else, well-formed or not, and all after it go through `_fields`
    pos = start
    while pos + 1 < end:
        key, second = buf[pos], buf[pos + 1]
        if key >= 0x80 or second >= 0x80 or key < 8:
            break
        number, wire = key >> 3, key & 7
        if wire == 0:
            pos += 2
            if number == _TENSOR_DIMS:
                dims.append(second)
            elif number == _TENSOR_DATA_TYPE:
                tensor.data_type = second
            elif number == _TENSOR_DATA_LOCATION:
                tensor.external = second == _LOCATION_EXTERNAL
        elif wire == 2 and number != _TENSOR_DIMS and number != _TENSOR_EXTERNAL_DATA:  # name, or data skipped
            vstart = pos + 2
            if second > end - vstart:
                break
            pos = vstart + second
            if number == _TENSOR_NAME:
                tensor.name = buf[vstart:pos]
        else:
            break
    for number, wire, _, vstart, vend, value in _fields(buf, pos, end) if pos < end else ():
        if number == _TENSOR_DIMS:
            if wire == 0:
                dims.append(_signed64(value))
            elif wire == 2:  # packed
                pos = vstart
                while pos < vend:
                    dim, pos = _varint(buf, pos, vend)
                    dims.append(_signed64(dim))
        elif number == _TENSOR_DATA_TYPE and wire == 0:
            tensor.data_type = _signed64(value)
        elif number == _TENSOR_NAME and wire == 2:
            tensor.name = buf[vstart:vend]
        elif number == _TENSOR_DATA_LOCATION and wire == 0:
            tensor.external = value == _LOCATION_EXTERNAL
        elif number == _TENSOR_EXTERNAL_DATA and wire == 2:
            key = val = b""
            for n2, w2, _, s2, e2, _ in _fields(buf, vstart, vend):
                if n2 == _ENTRY_KEY and w2 == 2:
                    key = buf[s2:e2]
                elif n2 == _ENTRY_VALUE and w2 == 2:
                    val = buf[s2:e2]
            tensor.entries[key] = val
        # raw_data and the typed data fields are skipped by their length, never read
    if any(d < 0 for d in dims):
        raise _Bad(f"tensor {_text(tensor.name)!r} has a negative dimension {dims}", start)
    return tensor


def _value_info_name(buf, start: int, end: int) -> bytes:
    """A ValueInfoProto's name (the last one given, as protobuf reads it; b"" when none). Its
    length-delimited fields with a one-byte key and length (all of them, in files exporters write)
    are stepped over in place, lengths checked; anything else goes through `_fields`, which checks it."""
    name = b""
    pos = start
    while pos < end:
        key = buf[pos]
        if key & 7 == 2 and 8 <= key < 0x80 and pos + 1 < end and buf[pos + 1] < 0x80:
            vstart = pos + 2
            length = buf[pos + 1]
            if length > end - vstart:
                break  # `_fields` names the problem
            pos = vstart + length
            if key >> 3 == _VALUE_INFO_NAME:
                name = buf[vstart:pos]
            continue
        break
    for number, wire, _, vstart, vend, _ in _fields(buf, pos, end) if pos < end else ():
        if number == _VALUE_INFO_NAME and wire == 2:
            name = buf[vstart:vend]
    return name


def _keep_as_constant(tensor: _Tensor) -> bool:
    if tensor.data_type not in _DTYPES:
        return True  # strings, UNDEFINED, types newer than this table: leave them to OpenVINO
    elements = tensor.elements
    if elements <= KEEP_MAX_ELEMENTS:
        return True
    return tensor.data_type in _INDEX_TYPES and elements <= KEEP_MAX_INDEX_ELEMENTS


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _one_line(text: str) -> str:
    """For error messages, which are one line: control characters become '?'."""
    return "".join(c if c.isprintable() else "?" for c in text)


# ---------------------------------------------------------------------------------------------
# the twin


class _Builder:
    def __init__(self, buf: mmap.mmap, path: Path):
        self.buf = buf  # a slice of a memory map is bytes: no copy of it is needed to keep or hash it
        self.path = path
        self.removed: dict[bytes, tuple[int, tuple[int, ...]]] = {}  # name -> (data type, dims)
        self.external_files: dict[str, None] = {}

    def _note_external(self, tensor: _Tensor) -> None:
        location = tensor.entries.get(b"location")
        if location:
            self.external_files.setdefault(self._relative_location(tensor, location), None)

    def _relative_location(self, tensor: _Tensor, location: bytes) -> str:
        """An external data file name, which must stay inside the model's folder."""
        try:
            relative = location.decode("utf-8")
        except UnicodeDecodeError:
            relative = ""
        if not relative or "\0" in relative or os.path.isabs(relative) or os.path.normpath(relative).split(os.sep)[0] == os.pardir:
            raise ModelFileError(f"{self.path.name}: tensor {_text(tensor.name)!r} has an invalid external data location {_text(location)!r}",
                                 "external data must be a file name relative to the model's folder; " + _FIX)
        if relative not in self.external_files:
            check_inside_folder(self.path, relative)
        return relative

    def tensor_bytes(self, tensor: _Tensor, name: bytes) -> bytes | None:
        """The tensor's serialized bytes to keep in the twin, or None when it becomes the input `name`
        (a tensor without a name cannot become an input and is kept)."""
        if tensor.external:
            self._note_external(tensor)
        if name and not _keep_as_constant(tensor):
            return None
        if not tensor.external:
            return self.buf[tensor.start:tensor.end]
        if tensor.data_type not in _DTYPES:
            return self.buf[tensor.start:tensor.end]
        return self._inline_external(tensor)

    def _inline_external(self, tensor: _Tensor) -> bytes:
        """A small tensor whose data is in an external file: the same tensor with the data inlined."""
        name = _text(tensor.name)
        location = tensor.entries.get(b"location", b"")
        bits = _DTYPES[tensor.data_type][1]
        nbytes = (tensor.elements * bits + 7) // 8
        relative = self._relative_location(tensor, location)
        try:
            offset = int(tensor.entries.get(b"offset", b"0") or b"0")
            length = int(tensor.entries[b"length"]) if tensor.entries.get(b"length") else nbytes
        except ValueError:
            raise ModelFileError(f"{self.path.name}: tensor {name!r} has malformed external data fields {self._entries_text(tensor)}", _FIX) from None
        if offset < 0 or offset > _ELEMENT_CAP or length != nbytes:
            raise ModelFileError(f"{self.path.name}: tensor {name!r} has external data of {length} bytes at offset {offset}, "
                                 f"but its shape {tensor.dims} needs {nbytes}", _FIX)
        data_path = self.path.parent / relative
        relative = _one_line(relative)
        try:
            with open(data_path, "rb") as handle:
                handle.seek(offset)
                data = handle.read(nbytes)
        except FileNotFoundError:
            raise ModelFileError(f"ONNX external data file {relative} is missing beside {self.path.name}",
                                 f"copy {relative} into {self.path.parent}") from None
        except OSError as exc:
            raise ModelFileError(f"cannot read ONNX external data file {relative} of {self.path.name} ({exc.strerror or exc})",
                                 "check the file and its permissions") from None
        if len(data) != nbytes:
            raise ModelFileError(f"ONNX external data file {relative} is truncated: tensor {name!r} needs bytes "
                                 f"{offset}..{offset + nbytes}, the file has {offset + len(data)}", "copy or re-download it again")
        kept = [self.buf[fs:fe] for number, _, fs, _, fe, _ in _fields(self.buf, tensor.start, tensor.end)
                if number not in (_TENSOR_RAW_DATA, _TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION)]
        return b"".join(kept) + _len_field(_TENSOR_RAW_DATA, data)

    @staticmethod
    def _entries_text(tensor: _Tensor) -> str:
        return str({_text(k): _text(v) for k, v in tensor.entries.items()})

    def check_name(self, name: bytes) -> None:
        """Every op and tensor name OpenVINO will hand to Python must be UTF-8: checked here, where
        the names are read anyway, instead of asking OpenVINO for each name of each op."""
        try:
            name.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelFileError(f"{self.path.name} has an op or tensor name that is not valid UTF-8 (byte {exc.object[exc.start:exc.start + 1]!r})",
                                 "the file is damaged; re-export or re-download the model") from None

    def check_names(self, names) -> None:
        """`check_name` of each of `names`, in one decode: a NUL between them (never part of a
        multi-byte character) keeps a broken character from being completed by its neighbour; only
        when that fails is each name checked, in order, to name the first bad one."""
        try:
            b"\0".join(names).decode("utf-8")
        except UnicodeDecodeError:
            for name in names:
                self.check_name(name)

    def remove(self, name: bytes, tensor: _Tensor) -> None:
        try:
            name.decode("utf-8")  # it names a Parameter the caller must find by name
        except UnicodeDecodeError:
            raise _Bad(f"tensor name {_text(name)!r} is not UTF-8", tensor.start) from None
        self.removed.setdefault(name, (tensor.data_type, tuple(tensor.dims)))

    def node_bytes(self, start: int, end: int) -> bytes | object | None:
        """A top-level node's new bytes, `_UNCHANGED` to copy it as it is, or None to drop it (a
        large Constant, now an input)."""
        buf = self.buf
        if buf.find(_CONSTANT_OP_TYPE, start, end) < 0:  # no op_type "Constant": copy without parsing
            return _UNCHANGED
        op_type = domain = b""
        outputs: list[bytes] = []
        attributes: list[tuple[int, int, int, int]] = []  # (field start, field end, value start, value end)
        for number, wire, fs, vs, ve, _ in _fields(buf, start, end):
            if wire != 2:
                continue
            if number == _NODE_OP_TYPE:
                op_type = buf[vs:ve]
            elif number == _NODE_DOMAIN:
                domain = buf[vs:ve]
            elif number == _NODE_OUTPUT:
                outputs.append(buf[vs:ve])
            elif number == _NODE_ATTRIBUTE:
                attributes.append((fs, ve, vs, ve))
        if op_type != b"Constant" or domain not in (b"", b"ai.onnx") or len(outputs) != 1:
            return _UNCHANGED
        for afs, afe, avs, ave in attributes:
            attr_name = b""
            tensor_range = None
            for number, wire, _, vs, ve, _ in _fields(buf, avs, ave):
                if number == _ATTR_NAME and wire == 2:
                    attr_name = buf[vs:ve]
                elif number == _ATTR_T and wire == 2:
                    tensor_range = (vs, ve)
            if attr_name != b"value" or tensor_range is None:
                continue
            tensor = _tensor(buf, *tensor_range)
            kept = self.tensor_bytes(tensor, outputs[0])
            if kept is None:
                self.remove(outputs[0], tensor)
                return None
            if tensor.external:  # inlined: rebuild attribute and node around the new tensor
                attr = b"".join(buf[fs:fe] for number, _, fs, _, fe, _ in _fields(buf, avs, ave) if number != _ATTR_T)
                attr += _len_field(_ATTR_T, kept)
                return buf[start:afs] + _len_field(_NODE_ATTRIBUTE, attr) + buf[afe:end]
        return _UNCHANGED

    def graph(self, ranges: list[tuple[int, int]]) -> bytes:
        """The graph (all occurrences merged, as protobuf does) without its large tensors."""
        buf = self.buf
        chunks: list[bytes] = []
        inputs: list[tuple[int, bytes]] = []  # (index in chunks, input name)
        nodes: list[tuple[int, int]] = []
        # fields copied as they are are copied as runs: one slice of the memory map per run
        run_start = run_end = -1

        def flush() -> None:
            nonlocal run_start
            if run_start >= 0:
                chunks.append(buf[run_start:run_end])
                run_start = -1

        for start, end in ranges:
            flush()  # a second occurrence of the graph field: not contiguous with the first
            for number, wire, fs, vs, ve, _ in _fields(buf, start, end):
                kept: bytes | None = None
                if wire == 2 and number == _GRAPH_INITIALIZER:
                    tensor = _tensor(buf, vs, ve)
                    self.check_name(tensor.name)
                    new = self.tensor_bytes(tensor, tensor.name)
                    if new is None:
                        self.remove(tensor.name, tensor)
                        flush()
                        continue
                    if tensor.external:
                        kept = _len_field(_GRAPH_INITIALIZER, new)
                elif wire == 2 and number == _GRAPH_NODE:
                    nodes.append((vs, ve))
                    node = self.node_bytes(vs, ve)
                    if node is None:
                        flush()
                        continue
                    if node is not _UNCHANGED:
                        kept = _len_field(_GRAPH_NODE, node)
                elif wire == 2 and number == _GRAPH_INPUT:
                    name = _value_info_name(buf, vs, ve)
                    self.check_name(name)
                    flush()
                    inputs.append((len(chunks), name))
                    chunks.append(buf[fs:ve])
                    continue
                if kept is not None:
                    flush()
                    chunks.append(kept)
                elif run_start >= 0 and run_end == fs:
                    run_end = ve
                else:
                    flush()
                    run_start, run_end = fs, ve
        flush()
        listed: set[bytes] = set()
        for index, name in inputs:  # old-style models list initializers as inputs too: retype those in place
            if name in self.removed:
                if name in listed:
                    chunks[index] = b""
                else:
                    data_type, dims = self.removed[name]
                    chunks[index] = _len_field(_GRAPH_INPUT, _value_info(name, data_type, dims))
            listed.add(name)
        for name, (data_type, dims) in self.removed.items():
            if name not in listed:
                chunks.append(_len_field(_GRAPH_INPUT, _value_info(name, data_type, dims)))
        self.check_acyclic(nodes)
        return b"".join(chunks)

    def _edges(self, start: int, end: int, names: list[bytes]) -> tuple[list[bytes], list[bytes]]:
        """A node's input and output names ("" is an omitted optional input, left out); its name
        is added to `names`, to be checked to be UTF-8. Length-delimited fields with a one-byte key
        (every field of a NodeProto) are read in place, lengths checked; anything else goes through
        `_fields`, which checks it. This runs once per node."""
        buf = self.buf
        ins: list[bytes] = []
        outs: list[bytes] = []
        pos = start
        while pos < end:
            key = buf[pos]
            if key & 7 == 2 and 8 <= key < 0x80 and pos + 1 < end:
                length = buf[pos + 1]
                if length < 0x80:
                    vstart = pos + 2
                else:
                    length, vstart = _varint(buf, pos + 1, end)
                if length > end - vstart:
                    raise _Bad(f"field length {length} runs past the end of its message", vstart)
                pos = vstart + length
                if length:
                    if key == _INPUT_KEY:
                        ins.append(buf[vstart:pos])
                    elif key == _OUTPUT_KEY:
                        outs.append(buf[vstart:pos])
                    elif key == _NAME_KEY:
                        names.append(buf[vstart:pos])
                continue
            for _, _, _, _, ve, _ in _fields(buf, pos, end):  # one field of another kind, checked
                pos = ve
                break
        return ins, outs

    def check_acyclic(self, nodes: list[tuple[int, int]]) -> None:
        """Refuse a top-level graph with a cycle (a node that needs its own output, directly or
        through others): OpenVINO's ONNX reader walks such a graph for minutes and gigabytes
        before it fails with bad_alloc."""
        # ONNX asks for nodes in topological order, and exporters write them so: when no node reads
        # a value that only a later node produces, there is no cycle and nothing more to do
        node_names: list[bytes] = []
        edges = [self._edges(start, end, node_names) for start, end in nodes]
        self.check_names(node_names)
        produced: set[bytes] = set()
        later: list[bytes] = []
        for ins, outs in edges:
            for name in ins:
                if name not in produced:
                    later.append(name)
            produced.update(outs)
        self.check_names(list(produced.union(later)))
        if not any(name in produced for name in later):
            return
        self._find_cycle(nodes, edges)

    def _find_cycle(self, nodes: list[tuple[int, int]], edges: list[tuple[list[bytes], list[bytes]]]) -> None:
        """Kahn's algorithm over a graph whose nodes are out of order: raise if a cycle is left."""
        buf = self.buf
        producer: dict[bytes, int] = {}
        for index, (_, outs) in enumerate(edges):
            for name in outs:
                producer.setdefault(name, index)
        predecessors = [{producer[n] for n in ins if n in producer} for ins, _ in edges]
        consumers: list[list[int]] = [[] for _ in nodes]
        pending = [len(p) for p in predecessors]
        for index, preds in enumerate(predecessors):
            for pred in preds:
                consumers[pred].append(index)
        ready = [i for i, n in enumerate(pending) if n == 0]
        while ready:
            for consumer in consumers[ready.pop()]:
                pending[consumer] -= 1
                if pending[consumer] == 0:
                    ready.append(consumer)
        stuck = next((i for i, n in enumerate(pending) if n > 0), None)
        if stuck is None:
            return
        seen: set[int] = set()
        while stuck not in seen:  # walk back through unfinished predecessors until one repeats
            seen.add(stuck)
            stuck = next(p for p in predecessors[stuck] if pending[p] > 0)
        name = op_type = b""
        outputs: list[bytes] = []
        for number, wire, _, vs, ve, _ in _fields(buf, *nodes[stuck]):
            if wire == 2 and number == _NODE_NAME:
                name = buf[vs:ve]
            elif wire == 2 and number == _NODE_OP_TYPE:
                op_type = buf[vs:ve]
            elif wire == 2 and number == _NODE_OUTPUT:
                outputs.append(buf[vs:ve])
        label = _one_line(_text(name or (outputs[0] if outputs else b"")))[:80]
        raise ModelFileError(f"{self.path.name} is not a valid ONNX graph: it has a cycle through {_one_line(_text(op_type))[:40]} node {label!r}, "
                             "whose input depends on its own output", _FIX)

    def model(self) -> bytes:
        buf = self.buf
        graphs = [(vs, ve) for number, wire, _, vs, ve, _ in _fields(buf, 0, len(buf)) if number == _MODEL_GRAPH and wire == 2]
        if not graphs:
            raise _Bad("no graph", len(buf))
        graph = _len_field(_MODEL_GRAPH, self.graph(graphs))
        out: list[bytes] = []
        for number, wire, fs, _, fe, _ in _fields(buf, 0, len(buf)):
            if number == _MODEL_GRAPH and wire == 2:
                if graph:
                    out.append(graph)
                    graph = b""
            else:
                out.append(buf[fs:fe])
        return b"".join(out)


def check_inside_folder(model: Path, relative: str) -> Path:
    """The external data file `relative` of `model`, resolved (symlinks included); refused when it
    lies outside the model's folder, so that no command reads, ships or copies a file from
    elsewhere (a symlink to a private file, say) on a model's behalf."""
    folder = model.parent
    try:
        home = folder.resolve()
        target = (folder / relative).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (before Python 3.13)
        raise ModelFileError(f"cannot resolve ONNX external data file {_one_line(relative)} of {model.name} ({exc})",
                             "check the file and its symlinks") from None
    if home not in target.parents:
        raise ModelFileError(f"ONNX external data file {_one_line(relative)} resolves outside the model's folder {_one_line(str(folder))}",
                             "copy the file into the model's folder: flopbench reads no file outside it, symlinks included")
    return target


def _open(path: Path):
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} does not exist", "check the path") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise ModelFileError(f"cannot read model file {_one_line(str(path))} ({getattr(exc, 'strerror', None) or exc})",
                             "check the path and its permissions") from None
    if stat.S_ISDIR(info.st_mode):
        raise ModelFileError(f"{path} is a folder, not an ONNX file", "give the .onnx file itself")
    if not stat.S_ISREG(info.st_mode):
        raise ModelFileError(f"{path} is not a regular file", "give the .onnx file itself")
    if info.st_size == 0:
        raise ModelFileError(f"{path.name} is not a valid ONNX file (it is empty)", _FIX)
    try:
        with open(path, "rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise ModelFileError(f"cannot read model file {path} ({exc.strerror or exc})", "check the path and its permissions") from None
    except ValueError:  # the file shrank to nothing between stat and mmap
        raise ModelFileError(f"{path.name} is not a valid ONNX file (it is empty)", _FIX) from None
    if hasattr(mapped, "madvise") and hasattr(mmap, "MADV_RANDOM"):
        try:
            mapped.madvise(mmap.MADV_RANDOM)  # no read-ahead into the weights we skip
        except OSError:
            pass
    return mapped


def weightless_twin(path: str | Path) -> WeightlessTwin:
    """Read the ONNX file at `path` without its large weights; see the module docstring."""
    path = Path(path)
    mapped = _open(path)
    try:
        builder = _Builder(mapped, path)
        try:
            model_bytes = builder.model()
        except _Bad as bad:
            where = "" if bad.reason == "no graph" else f" at byte {bad.offset}"
            reason = "it has no graph" if bad.reason == "no graph" else bad.reason
            raise ModelFileError(f"{path.name} is not a valid ONNX file ({reason}{where})", _FIX) from None
        except (IndexError, ValueError, OverflowError, MemoryError) as exc:  # safety net; the reader checks its bounds itself
            raise ModelFileError(f"{path.name} is not a valid ONNX file ({type(exc).__name__}: {exc})", _FIX) from None
    finally:
        try:
            mapped.close()
        except BufferError:  # a view still alive in a traceback; garbage collection closes it
            pass
    weight_inputs = {_text(name): dims for name, (_, dims) in builder.removed.items()}
    weight_dtypes = {_text(name): _DTYPES[data_type][0] for name, (data_type, _) in builder.removed.items()}
    return WeightlessTwin(model_bytes=model_bytes, weight_inputs=weight_inputs, weight_dtypes=weight_dtypes,
                          external_files=tuple(builder.external_files))
