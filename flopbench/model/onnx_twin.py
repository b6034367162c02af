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

Anything that is not a parsable ONNX file raises `ModelFileError`; the wire reader (`protobuf_wire.py`)
is bounded by the file size (every length is checked against its enclosing message before use) and
never recurses.
"""
from __future__ import annotations

import mmap
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelFileError
from .protobuf_wire import (ATTR_NAME, ATTR_T, DTYPES, ELEMENT_CAP, GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_NODE, INDEX_TYPES,
                            MODEL_GRAPH, NODE_ATTRIBUTE, NODE_DOMAIN, NODE_INPUT, NODE_NAME, NODE_OP_TYPE, NODE_OUTPUT,
                            TENSOR_DATA_LOCATION, TENSOR_EXTERNAL_DATA, TENSOR_RAW_DATA, TensorHeader, WireError,
                            fields, length_field, one_line, read_varint, tensor_header, text, value_info, value_info_name)

__all__ = ["WeightlessTwin", "weightless_twin", "KEEP_MAX_ELEMENTS", "KEEP_MAX_INDEX_ELEMENTS"]

KEEP_MAX_ELEMENTS = 1024
KEEP_MAX_INDEX_ELEMENTS = 65536

_FIX = "re-export or re-download the model"

_UNCHANGED = object()
_INPUT_KEY, _OUTPUT_KEY, _NAME_KEY = NODE_INPUT << 3 | 2, NODE_OUTPUT << 3 | 2, NODE_NAME << 3 | 2
# op_type "Constant" as a NodeProto field (field 4, length-delimited, 8 bytes): not ConstantOfShape
_CONSTANT_OP_TYPE = bytes([NODE_OP_TYPE << 3 | 2, 8]) + b"Constant"


@dataclass(frozen=True)
class WeightlessTwin:
    model_bytes: bytes  # a valid ONNX ModelProto without the large weights
    weight_inputs: dict[str, tuple[int, ...]]  # graph inputs that stand in for removed initializers: name -> dims
    weight_dtypes: dict[str, str]  # name -> numpy dtype name ("float32", "float16", ...)
    external_files: tuple[str, ...]  # external-data file names referenced (relative to the model's folder)


def _keep_as_constant(tensor: TensorHeader) -> bool:
    if tensor.data_type not in DTYPES:
        return True  # strings, UNDEFINED, types newer than this table: leave them to OpenVINO
    elements = tensor.elements
    if elements <= KEEP_MAX_ELEMENTS:
        return True
    return tensor.data_type in INDEX_TYPES and elements <= KEEP_MAX_INDEX_ELEMENTS


# the twin


class _Builder:
    def __init__(self, buf: mmap.mmap, path: Path):
        self.buf = buf  # a slice of a memory map is bytes: no copy of it is needed to keep or hash it
        self.path = path
        self.removed: dict[bytes, tuple[int, tuple[int, ...]]] = {}  # name -> (data type, dims)
        self.external_files: dict[str, None] = {}

    def _note_external(self, tensor: TensorHeader) -> None:
        location = tensor.entries.get(b"location")
        if location:
            self.external_files.setdefault(self._relative_location(tensor, location), None)

    def _relative_location(self, tensor: TensorHeader, location: bytes) -> str:
        """An external data file name, which must stay inside the model's folder."""
        try:
            relative = location.decode("utf-8")
        except UnicodeDecodeError:
            relative = ""
        if not relative or "\0" in relative or os.path.isabs(relative) or os.path.normpath(relative).split(os.sep)[0] == os.pardir:
            raise ModelFileError(f"{self.path.name}: tensor {text(tensor.name)!r} has an invalid external data location {text(location)!r}",
                                 "external data must be a file name relative to the model's folder; " + _FIX)
        if relative not in self.external_files:
            check_inside_folder(self.path, relative)
        return relative

    def tensor_bytes(self, tensor: TensorHeader, name: bytes) -> bytes | None:
        """The tensor's serialized bytes to keep in the twin, or None when it becomes the input `name`
        (a tensor without a name cannot become an input and is kept)."""
        if tensor.external:
            self._note_external(tensor)
        elif tensor.elements > tensor.end - tensor.start:
            # every encoding stores an element in a byte at least: a shape its data cannot hold is a
            # lie both engines refuse, and counting it would report terabytes of weights that are not there
            shown = "x".join(str(d) for d in tensor.dims)
            raise ModelFileError(f"{self.path.name}: tensor {text(tensor.name)!r} declares {tensor.elements:,} elements ({shown}), "
                                 f"more than the {tensor.end - tensor.start:,} bytes it stores can hold", _FIX)
        if name and not _keep_as_constant(tensor):
            return None
        if not tensor.external:
            return self.buf[tensor.start:tensor.end]
        if tensor.data_type not in DTYPES:
            return self.buf[tensor.start:tensor.end]
        return self._inline_external(tensor)

    def _inline_external(self, tensor: TensorHeader) -> bytes:
        """A small tensor whose data is in an external file: the same tensor with the data inlined."""
        name = text(tensor.name)
        location = tensor.entries.get(b"location", b"")
        bits = DTYPES[tensor.data_type][1]
        nbytes = (tensor.elements * bits + 7) // 8
        relative = self._relative_location(tensor, location)
        try:
            offset = int(tensor.entries.get(b"offset", b"0") or b"0")
            length = int(tensor.entries[b"length"]) if tensor.entries.get(b"length") else nbytes
        except ValueError:
            raise ModelFileError(f"{self.path.name}: tensor {name!r} has malformed external data fields {self._entries_text(tensor)}", _FIX) from None
        if offset < 0 or offset > ELEMENT_CAP or length != nbytes:
            raise ModelFileError(f"{self.path.name}: tensor {name!r} has external data of {length} bytes at offset {offset}, "
                                 f"but its shape {tensor.dims} needs {nbytes}", _FIX)
        data_path = self.path.parent / relative
        relative = one_line(relative)
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
        kept = [self.buf[fs:fe] for number, _, fs, _, fe, _ in fields(self.buf, tensor.start, tensor.end)
                if number not in (TENSOR_RAW_DATA, TENSOR_EXTERNAL_DATA, TENSOR_DATA_LOCATION)]
        return b"".join(kept) + length_field(TENSOR_RAW_DATA, data)

    @staticmethod
    def _entries_text(tensor: TensorHeader) -> str:
        return str({text(k): text(v) for k, v in tensor.entries.items()})

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

    def remove(self, name: bytes, tensor: TensorHeader) -> None:
        try:
            name.decode("utf-8")  # it names a Parameter the caller must find by name
        except UnicodeDecodeError:
            raise WireError(f"tensor name {text(name)!r} is not UTF-8", tensor.start) from None
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
        for number, wire, fs, vs, ve, _ in fields(buf, start, end):
            if wire != 2:
                continue
            if number == NODE_OP_TYPE:
                op_type = buf[vs:ve]
            elif number == NODE_DOMAIN:
                domain = buf[vs:ve]
            elif number == NODE_OUTPUT:
                outputs.append(buf[vs:ve])
            elif number == NODE_ATTRIBUTE:
                attributes.append((fs, ve, vs, ve))
        if op_type != b"Constant" or domain not in (b"", b"ai.onnx") or len(outputs) != 1:
            return _UNCHANGED
        for afs, afe, avs, ave in attributes:
            attr_name = b""
            tensor_range = None
            for number, wire, _, vs, ve, _ in fields(buf, avs, ave):
                if number == ATTR_NAME and wire == 2:
                    attr_name = buf[vs:ve]
                elif number == ATTR_T and wire == 2:
                    tensor_range = (vs, ve)
            if attr_name != b"value" or tensor_range is None:
                continue
            tensor = tensor_header(buf, *tensor_range)
            kept = self.tensor_bytes(tensor, outputs[0])
            if kept is None:
                self.remove(outputs[0], tensor)
                return None
            if tensor.external:  # inlined: rebuild attribute and node around the new tensor
                attr = b"".join(buf[fs:fe] for number, _, fs, _, fe, _ in fields(buf, avs, ave) if number != ATTR_T)
                attr += length_field(ATTR_T, kept)
                return buf[start:afs] + length_field(NODE_ATTRIBUTE, attr) + buf[afe:end]
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
            for number, wire, fs, vs, ve, _ in fields(buf, start, end):
                kept: bytes | None = None
                if wire == 2 and number == GRAPH_INITIALIZER:
                    tensor = tensor_header(buf, vs, ve)
                    self.check_name(tensor.name)
                    new = self.tensor_bytes(tensor, tensor.name)
                    if new is None:
                        self.remove(tensor.name, tensor)
                        flush()
                        continue
                    if tensor.external:
                        kept = length_field(GRAPH_INITIALIZER, new)
                elif wire == 2 and number == GRAPH_NODE:
                    nodes.append((vs, ve))
                    node = self.node_bytes(vs, ve)
                    if node is None:
                        flush()
                        continue
                    if node is not _UNCHANGED:
                        kept = length_field(GRAPH_NODE, node)
                elif wire == 2 and number == GRAPH_INPUT:
                    name = value_info_name(buf, vs, ve)
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
                    chunks[index] = length_field(GRAPH_INPUT, value_info(name, data_type, dims))
            listed.add(name)
        for name, (data_type, dims) in self.removed.items():
            if name not in listed:
                chunks.append(length_field(GRAPH_INPUT, value_info(name, data_type, dims)))
        self.check_acyclic(nodes)
        return b"".join(chunks)

    def _edges(self, start: int, end: int, names: list[bytes]) -> tuple[list[bytes], list[bytes]]:
        """A node's input and output names ("" is an omitted optional input, left out); its name
        is added to `names`, to be checked to be UTF-8. Length-delimited fields with a one-byte key
        (every field of a NodeProto) are read in place, lengths checked; anything else goes through
        `fields`, which checks it. This runs once per node."""
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
                    length, vstart = read_varint(buf, pos + 1, end)
                if length > end - vstart:
                    raise WireError(f"field length {length} runs past the end of its message", vstart)
                pos = vstart + length
                if length:
                    if key == _INPUT_KEY:
                        ins.append(buf[vstart:pos])
                    elif key == _OUTPUT_KEY:
                        outs.append(buf[vstart:pos])
                    elif key == _NAME_KEY:
                        names.append(buf[vstart:pos])
                continue
            for _, _, _, _, ve, _ in fields(buf, pos, end):  # one field of another kind, checked
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
        for number, wire, _, vs, ve, _ in fields(buf, *nodes[stuck]):
            if wire == 2 and number == NODE_NAME:
                name = buf[vs:ve]
            elif wire == 2 and number == NODE_OP_TYPE:
                op_type = buf[vs:ve]
            elif wire == 2 and number == NODE_OUTPUT:
                outputs.append(buf[vs:ve])
        label = one_line(text(name or (outputs[0] if outputs else b"")))[:80]
        raise ModelFileError(f"{self.path.name} is not a valid ONNX graph: it has a cycle through {one_line(text(op_type))[:40]} node {label!r}, "
                             "whose input depends on its own output", _FIX)

    def model(self) -> bytes:
        buf = self.buf
        graphs = [(vs, ve) for number, wire, _, vs, ve, _ in fields(buf, 0, len(buf)) if number == MODEL_GRAPH and wire == 2]
        if not graphs:
            raise WireError("no graph", len(buf))
        graph = length_field(MODEL_GRAPH, self.graph(graphs))
        out: list[bytes] = []
        for number, wire, fs, _, fe, _ in fields(buf, 0, len(buf)):
            if number == MODEL_GRAPH and wire == 2:
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
        raise ModelFileError(f"cannot resolve ONNX external data file {one_line(relative)} of {model.name} ({exc})",
                             "check the file and its symlinks") from None
    if home not in target.parents:
        raise ModelFileError(f"ONNX external data file {one_line(relative)} resolves outside the model's folder {one_line(str(folder))}",
                             "copy the file into the model's folder: flopbench reads no file outside it, symlinks included")
    return target


def _open(path: Path):
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} does not exist", "check the path") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise ModelFileError(f"cannot read model file {one_line(str(path))} ({getattr(exc, 'strerror', None) or exc})",
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
        raise ModelFileError(f"cannot read model file {one_line(str(path), 200)} ({exc.strerror or exc})", "check the path and its permissions") from None
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
        except WireError as bad:
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
    weight_inputs = {text(name): dims for name, (_, dims) in builder.removed.items()}
    weight_dtypes = {text(name): DTYPES[data_type][0] for name, (data_type, _) in builder.removed.items()}
    return WeightlessTwin(model_bytes=model_bytes, weight_inputs=weight_inputs, weight_dtypes=weight_dtypes,
                          external_files=tuple(builder.external_files))
