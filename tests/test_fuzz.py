"""Fuzzing: whatever the bytes or the text, the only outcomes are a result or a clean flopbench error.

Targets: the `--shape` parser, input fitting, the .npy reader (mutated bytes of a real .npy, and of
a pickle that must never run), and the loaders on mutated bytes of the zoo's real sep_cnn files
(ONNX: byte flips aimed at the protobuf structure, truncations, insertions, deletions; IR: the same
on the .xml text, attribute values swapped for odd ones, a truncated .bin).

Hypothesis runs derandomized (the same cases on every run, no example database), so a failure here
is reproducible. A few thousand cases in all.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import flopbench
from flopbench.model.reading import ModelInputInfo
from flopbench.counting.ops import count_loaded
from flopbench.errors import FlopbenchError, InputDataError, ShapeError
from flopbench.measure.inputs import fit_array, read_npy
from flopbench.model.shapes import MAX_DIMENSION, UNNAMED, parse_shape_spec
from flopbench.zoo import write_zoo_model


def fuzz(n: int):
    return settings(max_examples=n, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


def _event(text: str) -> None:
    """Count outcomes (pytest --hypothesis-show-statistics shows them)."""
    if currently_in_test_context():
        event(text)


def _clean(error: FlopbenchError) -> None:
    """A flopbench error is one printable line with a fix."""
    message = str(error)
    assert message and "\n" not in message and "\r" not in message, repr(message)
    assert all(c.isprintable() for c in message), repr(message)


# --- real files ---------------------------------------------------------------------------------


class _Files(dict):
    """The real files' contents; a short repr, for Hypothesis' failure reports."""

    def __repr__(self) -> str:
        return "<sep_cnn files>"


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz_zoo")
    files = write_zoo_model("sep_cnn", folder)
    work = tmp_path_factory.mktemp("fuzz_work")
    onnx_bytes = files.onnx.read_bytes()
    return _Files(xml=files.xml.read_text(), bin=files.bin.read_bytes(), onnx=onnx_bytes,
                  onnx_hot=_structure_ranges(onnx_bytes, files.onnx), npy=files.image.read_bytes(), work=work)


def _structure_ranges(data: bytes, path: Path) -> list[tuple[int, int]]:
    """Byte ranges of the ONNX file that are not the bulk of a weight's raw data: where a mutation
    changes the graph rather than a weight value."""
    import onnx

    model = onnx.load(str(path))
    big = sorted((data.find(t.raw_data), len(t.raw_data)) for t in model.graph.initializer if len(t.raw_data) > 256)
    ranges, start = [], 0
    for offset, length in big:
        assert offset >= 0
        ranges.append((start, offset + 16))  # keep a few data bytes after each header
        start = offset + length - 16
    ranges.append((start, len(data)))
    return ranges


# --- mutations ----------------------------------------------------------------------------------

ODD_VALUES = ["-1", "0", "99999999999", "", "abc", "1,1", "f64", "u1", "i4", "string", "dynamic", "?", "-", "1,-1,28",
              "18446744073709551615", "opset1", "opset999", "Parameter", "Const", "Result", "2147483648", "1e9", "nan", " ",
              "1, 1, 1, 3, 3, 3", "undefined", "f8e4m3", "boolean", "0,0,0,0", "same_upper", "²", "9" * 25, "10", "12"]


@st.composite
def byte_mutations(draw, size: int, hot: list[tuple[int, int]] | None = None):
    """A list of (op, position, argument) edits, positions drawn mostly from `hot` ranges."""
    size = max(size, 1)

    def position():
        if hot and draw(st.integers(0, 9)) < 8:
            start, end = draw(st.sampled_from(hot))
            return draw(st.integers(start, max(start, end - 1)))
        return draw(st.integers(0, size - 1))

    edits = []
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        if op == "flip":
            edits.append((op, position(), 1 << draw(st.integers(0, 7))))
        elif op == "set":
            edits.append((op, position(), draw(st.integers(0, 255))))
        elif op == "insert":
            edits.append((op, position(), draw(st.binary(min_size=1, max_size=16))))
        elif op == "delete":
            edits.append((op, position(), draw(st.integers(1, 64))))
        else:
            edits.append((op, draw(st.integers(0, size - 1)), None))
    return edits


def apply(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for op, pos, arg in edits:
        pos = min(pos, max(len(out) - 1, 0))
        if op == "flip" and out:
            out[pos] ^= arg
        elif op == "set" and out:
            out[pos] = arg
        elif op == "insert":
            out[pos:pos] = arg
        elif op == "delete":
            del out[pos:pos + arg]
        elif op == "truncate":
            del out[pos:]
    return bytes(out)


# --- the --shape parser -------------------------------------------------------------------------

_dim_text = st.one_of(st.integers(-5, 2**33).map(str), st.sampled_from(["", "x", "?", "-", "0", "00", "1e3", "٣", " 3", "3 "]),
                      st.text("0123456789", min_size=1, max_size=60))
_name = st.one_of(st.sampled_from(["input", "x", "a:b", "", " ", "in put", "[", "]", ",", "é"]), st.text(max_size=8))


@st.composite
def shape_texts(draw):
    dims = draw(st.lists(_dim_text, min_size=0, max_size=6))
    body = draw(st.sampled_from(["x".join(dims), "[" + ",".join(dims) + "]", ", ".join(dims)]))
    name = draw(_name)
    item = draw(st.sampled_from([f"{name}:{body}", f"{name}{body}", body]))
    more = draw(st.lists(st.sampled_from(["", ",", ",,", "]", "["]), max_size=2))
    return item + "".join(more) + draw(st.sampled_from(["", ",b:1x2", ",b[1,2]", ":", ",input:1x1x28x28"]))


@fuzz(600)
@given(st.one_of(st.text(max_size=80), shape_texts()))
def test_shape_parser(text):
    try:
        spec = parse_shape_spec(text)
    except ShapeError as error:
        _clean(error)
        event("error")
        return
    event("parsed")
    assert isinstance(spec, dict) and spec
    for name, dims in spec.items():
        assert isinstance(name, str)
        assert isinstance(dims, tuple) and all(type(d) is int and 0 < d < MAX_DIMENSION for d in dims)
    assert UNNAMED not in spec or len(spec) == 1


def test_shape_parser_examples():
    assert parse_shape_spec("input:1x3x224x224") == {"input": (1, 3, 224, 224)}
    assert parse_shape_spec("a[1, 3],b:2x5") == {"a": (1, 3), "b": (2, 5)}
    assert parse_shape_spec("1x1x28x28") == {UNNAMED: (1, 1, 28, 28)}
    assert parse_shape_spec({"x": (1, 2)}) == {"x": (1, 2)}
    for bad in ("", "a:", ":1x2", "a:1x2,a:1x2", "a:1x0", "a:-1x2", "a:" + "9" * 5000, "1x2,b:3", "a:1xx2", {"x": (1, -2)}, {"x": "1x2"}):
        with pytest.raises(ShapeError):
            parse_shape_spec(bad)


# --- input fitting ------------------------------------------------------------------------------

_array_dtypes = st.one_of(hnp.scalar_dtypes(), hnp.byte_string_dtypes(max_len=3), hnp.unicode_string_dtypes(max_len=3),
                          st.just(np.dtype(object)), st.just(np.dtype([("a", "<i4"), ("b", "<f8")])))
_model_dtypes = st.sampled_from(["float32", "float16", "float64", "int64", "int32", "int8", "uint8", "bool", "bf16", "dynamic", "string"])
_shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)


@fuzz(500)
@given(data=st.data(), dtype=_array_dtypes, shape=_shapes, model_shape=_shapes, model_dtype=_model_dtypes)
def test_fit_array(data, dtype, shape, model_shape, model_dtype):
    if dtype.kind == "O":
        array = np.empty(shape, dtype=object)
    else:
        array = data.draw(hnp.arrays(dtype, shape))
    if data.draw(st.booleans()):  # sometimes an array whose size matches the input's
        array = data.draw(hnp.arrays(dtype if dtype.kind != "O" else np.float64, (int(np.prod(model_shape)),)))
    model_input = ModelInputInfo(name="x", shape=tuple(model_shape), dtype=model_dtype)
    try:
        fitted, notes = fit_array(array, model_input, "fuzz.npy")
    except InputDataError as error:
        _clean(error)
        event("error")
        return
    event("fitted")
    assert fitted.shape == tuple(model_shape) and fitted.dtype == np.dtype(model_dtype)
    assert fitted.flags.c_contiguous
    assert all(isinstance(n, str) and "\n" not in n for n in notes)


# --- .npy reading -------------------------------------------------------------------------------


class _Payload:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@fuzz(400)
@given(edits=byte_mutations(3264, hot=[(0, 128), (0, 3264)]))
def test_read_npy_on_mutated_bytes(real, edits):
    path = real["work"] / "mutated.npy"
    path.write_bytes(apply(real["npy"], edits))
    try:
        array = read_npy(path)
    except InputDataError as error:
        _clean(error)
        event("error")
        return
    event("read")
    assert isinstance(array, np.ndarray) and array.dtype.kind in "biuf"


@pytest.fixture(scope="module")
def evil_npy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pickles")
    marker = folder / "EXECUTED"
    source = folder / "evil.npy"
    np.save(source, np.array([_Payload(str(marker)), 1.5], dtype=object), allow_pickle=True)
    return _Files(evil=source.read_bytes(), marker=marker, folder=folder)


@fuzz(300)
@given(data=st.data())
def test_read_npy_never_unpickles(evil_npy, data):
    """Mutations of an object-array .npy whose unpickling would create a marker file."""
    evil, marker, folder = evil_npy.values()
    path = folder / "mutated.npy"
    path.write_bytes(apply(evil, data.draw(byte_mutations(len(evil), hot=[(0, 140)]))))
    try:
        read_npy(path)
    except InputDataError as error:
        _clean(error)
    assert not marker.exists()


# --- the loaders --------------------------------------------------------------------------------


def _load_or_clean_error(path: Path):
    try:
        loaded = flopbench.load(path)
    except FlopbenchError as error:
        _clean(error)
        _event("error from OpenVINO" if "OpenVINO cannot read" in str(error) else f"error: {type(error).__name__}")
        return None
    _event("loaded")
    assert isinstance(loaded, flopbench.LoadedModel)
    assert all(all(type(d) is int and d >= 0 for d in i.shape) for i in loaded.inputs)
    try:  # what loads must count, too (names, shapes and types of a damaged model included)
        cost = count_loaded(loaded)
    except FlopbenchError as error:
        _clean(error)
    else:
        assert cost.total_flops >= 0 and cost.params >= 0
    return loaded


@fuzz(600)
@given(data=st.data())
def test_onnx_loader_on_mutated_bytes(real, data):
    edits = data.draw(byte_mutations(len(real["onnx"]), hot=real["onnx_hot"]))
    path = real["work"] / "mutated.onnx"
    path.write_bytes(apply(real["onnx"], edits))
    _load_or_clean_error(path)


_ATTRIBUTE = re.compile(r'="([^"]*)"|<dim>([^<]*)</dim>')


@st.composite
def xml_mutations(draw, files: _Files):
    text = files["xml"]
    for _ in range(draw(st.integers(1, 3))):
        spans = [m.span(1) if m.group(1) is not None else m.span(2) for m in _ATTRIBUTE.finditer(text)]
        if spans and draw(st.integers(0, 3)) > 0:  # an attribute value or a <dim> replaced by an odd one
            start, end = draw(st.sampled_from(spans))
            text = text[:start] + draw(st.one_of(st.sampled_from(ODD_VALUES), st.text(max_size=6))) + text[end:]
        else:
            raw = apply(text.encode("utf-8", "surrogateescape"), draw(byte_mutations(len(text))))
            text = raw.decode("utf-8", "surrogateescape")
    return text


@fuzz(450)
@given(data=st.data())
def test_ir_loader_on_mutated_xml_and_bin(real, data):
    folder = real["work"]
    xml = data.draw(xml_mutations(real))
    (folder / "m.xml").write_bytes(xml.encode("utf-8", "surrogateescape"))
    weights = real["bin"]
    if data.draw(st.integers(0, 4)) == 0:
        weights = weights[: data.draw(st.integers(0, len(weights)))]
    (folder / "m.bin").write_bytes(weights)
    _load_or_clean_error(folder / "m.xml")


def test_mutations_hit_both_outcomes(real):
    """The fuzzers are not vacuous: a mild edit still loads, a harsh one is a clean error."""
    folder = real["work"]
    (folder / "mild.onnx").write_bytes(real["onnx"])
    assert _load_or_clean_error(folder / "mild.onnx") is not None
    (folder / "harsh.onnx").write_bytes(real["onnx"][:100])
    assert _load_or_clean_error(folder / "harsh.onnx") is None
