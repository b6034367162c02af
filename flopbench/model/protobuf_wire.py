"""The protobuf wire format, read in place from a memory map: varints, the fields of a message,
an ONNX TensorProto's header (name, data type, dims: never its data), a ValueInfoProto's name; and
the few encoders the weightless twin (`onnx_twin.py`) writes with.

Every length is checked against its enclosing message before it is used, and nothing recurses: a
malformed file raises `WireError` with the byte offset where it was found.
"""
from __future__ import annotations

# ONNX field numbers, from onnx/onnx.proto (onnx 1.23).
MODEL_GRAPH = 7
GRAPH_NODE, GRAPH_INITIALIZER, GRAPH_INPUT = 1, 5, 11
NODE_INPUT, NODE_OUTPUT, NODE_NAME, NODE_OP_TYPE, NODE_ATTRIBUTE, NODE_DOMAIN = 1, 2, 3, 4, 5, 7
ATTR_NAME, ATTR_T = 1, 5
VALUE_INFO_NAME = 1
TENSOR_DIMS, TENSOR_DATA_TYPE, TENSOR_NAME, TENSOR_RAW_DATA = 1, 2, 8, 9
TENSOR_EXTERNAL_DATA, TENSOR_DATA_LOCATION = 13, 14
LOCATION_EXTERNAL = 1
ENTRY_KEY, ENTRY_VALUE = 1, 2

# TensorProto.DataType -> (numpy / ml_dtypes name, bits per element)
DTYPES: dict[int, tuple[str, int]] = {
    1: ("float32", 32), 2: ("uint8", 8), 3: ("int8", 8), 4: ("uint16", 16), 5: ("int16", 16),
    6: ("int32", 32), 7: ("int64", 64), 9: ("bool", 8), 10: ("float16", 16), 11: ("float64", 64),
    12: ("uint32", 32), 13: ("uint64", 64), 14: ("complex64", 64), 15: ("complex128", 128),
    16: ("bfloat16", 16), 17: ("float8_e4m3fn", 8), 18: ("float8_e4m3fnuz", 8), 19: ("float8_e5m2", 8),
    20: ("float8_e5m2fnuz", 8), 21: ("uint4", 4), 22: ("int4", 4), 23: ("float4_e2m1fn", 4),
    24: ("float8_e8m0fnu", 8), 25: ("uint2", 2), 26: ("int2", 2), 27: ("float6_e2m3fn", 6), 28: ("float6_e3m2fn", 6),
}
INDEX_TYPES = frozenset({4, 5, 6, 7, 9, 12, 13})  # uint16 int16 int32 int64 bool uint32 uint64
_MASK64 = (1 << 64) - 1
ELEMENT_CAP = 1 << 62  # element counts are only compared with small limits; cap the product


class WireError(Exception):
    """The bytes are not a well-formed ONNX protobuf; `offset` is where that was found."""

    def __init__(self, reason: str, offset: int):
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


# ---------------------------------------------------------------------------------------------
# wire format


def read_varint(buf, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise WireError("truncated", pos)
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than 10 bytes", pos)


def fields(buf, start: int, end: int):
    """Yield (field number, wire type, field start, value start, value end, varint value) of each
    field of the message in buf[start:end]. Lengths are checked against `end` before use."""
    pos = start
    while pos < end:
        field_start = pos
        key = buf[pos]
        if key < 0x80:  # one-byte key: fields 1..15, the usual case
            pos += 1
        else:
            key, pos = read_varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0 or number >= 1 << 29:
            raise WireError(f"invalid field number {number}", field_start)
        if wire == 0:
            value, pos = read_varint(buf, pos, end)
            yield number, wire, field_start, field_start, pos, value
        elif wire == 2:
            if pos < end and buf[pos] < 0x80:
                length, vstart = buf[pos], pos + 1
            else:
                length, vstart = read_varint(buf, pos, end)
            if length > end - vstart:
                raise WireError(f"field length {length} runs past the end of its message" if end < len(buf) else "truncated", vstart)
            pos = vstart + length
            yield number, wire, field_start, vstart, pos, length
        elif wire == 1 or wire == 5:
            size = 8 if wire == 1 else 4
            if size > end - pos:
                raise WireError("truncated", pos)
            vstart = pos
            pos += size
            yield number, wire, field_start, vstart, pos, 0
        else:
            raise WireError(f"unsupported wire type {wire}", field_start)


_ONE_BYTE = [bytes([v]) for v in range(0x80)]


def encode_varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return _ONE_BYTE[value]
    value &= _MASK64
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field_key(number: int, wire: int) -> bytes:
    return encode_varint(number << 3 | wire)


def length_field(number: int, payload: bytes) -> bytes:
    return field_key(number, 2) + encode_varint(len(payload)) + payload


def signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def value_info(name: bytes, elem_type: int, dims: tuple[int, ...]) -> bytes:
    """ValueInfoProto{name, type: TypeProto{tensor_type: {elem_type, shape: {dim: [{dim_value}]}}}}.
    The shape is always written, so a scalar gets rank 0 rather than an unknown rank."""
    shape = b"".join(length_field(1, field_key(1, 0) + encode_varint(d)) for d in dims)
    tensor_type = field_key(1, 0) + encode_varint(elem_type) + length_field(2, shape)
    return length_field(1, name) + length_field(2, length_field(1, tensor_type))


# ---------------------------------------------------------------------------------------------
# TensorProto headers


class TensorHeader:
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
            count = min(count * d, ELEMENT_CAP)
        return count


def tensor_header(buf, start: int, end: int) -> TensorHeader:
    tensor = TensorHeader(start, end)
    dims = tensor.dims
    # the usual fields (one-byte keys, one-byte varints and lengths) are read in place; the first
    # field that is anything else, well-formed or not, and all after it go through `fields`
    pos = start
    while pos + 1 < end:
        key, second = buf[pos], buf[pos + 1]
        if key >= 0x80 or second >= 0x80 or key < 8:
            break
        number, wire = key >> 3, key & 7
        if wire == 0:
            pos += 2
            if number == TENSOR_DIMS:
                dims.append(second)
            elif number == TENSOR_DATA_TYPE:
                tensor.data_type = second
            elif number == TENSOR_DATA_LOCATION:
                tensor.external = second == LOCATION_EXTERNAL
        elif wire == 2 and number != TENSOR_DIMS and number != TENSOR_EXTERNAL_DATA:  # name, or data skipped
            vstart = pos + 2
            if second > end - vstart:
                break
            pos = vstart + second
            if number == TENSOR_NAME:
                tensor.name = buf[vstart:pos]
        else:
            break
    for number, wire, _, vstart, vend, value in fields(buf, pos, end) if pos < end else ():
        if number == TENSOR_DIMS:
            if wire == 0:
                dims.append(signed64(value))
            elif wire == 2:  # packed
                pos = vstart
                while pos < vend:
                    dim, pos = read_varint(buf, pos, vend)
                    dims.append(signed64(dim))
        elif number == TENSOR_DATA_TYPE and wire == 0:
            tensor.data_type = signed64(value)
        elif number == TENSOR_NAME and wire == 2:
            tensor.name = buf[vstart:vend]
        elif number == TENSOR_DATA_LOCATION and wire == 0:
            tensor.external = value == LOCATION_EXTERNAL
        elif number == TENSOR_EXTERNAL_DATA and wire == 2:
            key = val = b""
            for n2, w2, _, s2, e2, _ in fields(buf, vstart, vend):
                if n2 == ENTRY_KEY and w2 == 2:
                    key = buf[s2:e2]
                elif n2 == ENTRY_VALUE and w2 == 2:
                    val = buf[s2:e2]
            tensor.entries[key] = val
        # raw_data and the typed data fields are skipped by their length, never read
    if any(d < 0 for d in dims):
        raise WireError(f"tensor {text(tensor.name)!r} has a negative dimension {dims}", start)
    return tensor


def value_info_name(buf, start: int, end: int) -> bytes:
    """A ValueInfoProto's name (the last one given, as protobuf reads it; b"" when none). Its
    length-delimited fields with a one-byte key and length (all of them, in files exporters write)
    are stepped over in place, lengths checked; anything else goes through `fields`, which checks it."""
    name = b""
    pos = start
    while pos < end:
        key = buf[pos]
        if key & 7 == 2 and 8 <= key < 0x80 and pos + 1 < end and buf[pos + 1] < 0x80:
            vstart = pos + 2
            length = buf[pos + 1]
            if length > end - vstart:
                break  # `fields` names the problem
            pos = vstart + length
            if key >> 3 == VALUE_INFO_NAME:
                name = buf[vstart:pos]
            continue
        break
    for number, wire, _, vstart, vend, _ in fields(buf, pos, end) if pos < end else ():
        if number == VALUE_INFO_NAME and wire == 2:
            name = buf[vstart:vend]
    return name


def text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def one_line(text: str) -> str:
    """For error messages, which are one line: control characters become '?'."""
    return "".join(c if c.isprintable() else "?" for c in text)


# ---------------------------------------------------------------------------------------------
