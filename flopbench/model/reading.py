"""One entry point that reads any model OpenVINO can read and fixes its shapes.

Counting needs shapes, not weight values: an IR's .bin is memory-mapped by OpenVINO, and an ONNX
file is read through a weight-free twin (see `onnx_skeleton`) so that a model with hundreds of MB of
weights counts as fast as a small one. Engines that need the weights read the file again in full.
"""
from __future__ import annotations

import os
import stat
import xml.etree.ElementTree as ElementTree
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..results.codec import encoded
from ..errors import ModelFileError, ShapeError, engine_message, one_line
from .core import openvino_core, quiet_native_stderr
from .flatbuffer import read_flatbuffer, read_tflite, stand_ins
from .names import settle_made_up_names
from .objects import is_model_object, object_name, to_openvino_model
from .shapes import DeclaredInput, Shape, ShapeSpec, check_batch, format_shape, normalize_shape_spec, resolve_static_shapes

FORMATS = {".xml": "ir", ".onnx": "onnx", ".tflite": "tflite", ".pb": "tf", ".pdmodel": "paddle"}
SUPPORTED_HINT = "flopbench reads OpenVINO IR (.xml + .bin), ONNX (.onnx), TFLite (.tflite), TensorFlow (.pb or a SavedModel folder) and PaddlePaddle (.pdmodel)"

@encoded
@dataclass(frozen=True)
class ModelInputInfo:
    name: str
    shape: Shape
    dtype: str


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model read by OpenVINO with every input shape fixed."""

    path: Path
    format: str
    ov_model: Any = field(repr=False)  # openvino.Model, static shapes
    inputs: tuple[ModelInputInfo, ...]
    weight_inputs: frozenset[str] = frozenset()  # Parameters that stand in for weights
    weights_read: bool = True  # False when the weights were skipped (weight-free ONNX twin)

    @property
    def name(self) -> str:
        return self.path.stem

    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        return {i.name: i.shape for i in self.inputs}


IR_VERSIONS = ("10", "11")  # the IR versions OpenVINO 2023+ reads

def source_files(path: str | os.PathLike) -> list[Path]:
    """The files a model is read from: an IR's .xml and .bin; one file otherwise."""
    model = Path(path)
    return [model, model.with_suffix(".bin")] if model.suffix.lower() == ".xml" else [model]


def detect_format(path: Path) -> str:
    if path.is_dir():
        if (path / "saved_model.pb").exists():
            return "tf"
        raise ModelFileError(f"{path} is a folder, not a model file", "give the model file itself (.xml, .onnx, .tflite ...)")
    return FORMATS.get(path.suffix.lower(), "other")


def _check_file(path: Path) -> None:
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ModelFileError(f"model file {path} does not exist", "check the path (flopbench zoo sep_cnn -o DIR writes a sample model)") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ModelFileError(f"cannot read model file {one_line(str(path), 200)} ({getattr(exc, 'strerror', None) or exc})", "check the path and its permissions") from None
    if stat.S_ISDIR(info.st_mode):
        return  # a SavedModel folder, or an error from detect_format
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
        raise ModelFileError(f"{path} is not a regular file", "give the model file itself (.xml, .onnx, .tflite ...)")
    if not os.access(path, os.R_OK):
        raise ModelFileError(f"model file {path} is not readable", "check its permissions")
    if info.st_size == 0:
        raise ModelFileError(f"model file {path} is empty", "re-export or re-download the model")


_REEXPORT = "re-export the IR (ov.save_model or ovc)"


def _ir_cycle(root) -> str | None:
    """The id of a layer on a cycle of the top-level graph, or None. OpenVINO's IR reader rejects
    cycles itself, but only after walking them; this is linear and names the layer."""
    layers, edges = root.find("layers"), root.find("edges")
    if layers is None or edges is None:
        return None
    ids = [layer.get("id") for layer in layers.findall("layer")]
    consumers: dict[str, list[str]] = {i: [] for i in ids if i is not None}
    pending = dict.fromkeys(consumers, 0)
    for edge in edges.findall("edge"):
        source, target = edge.get("from-layer"), edge.get("to-layer")
        if source in consumers and target in pending:
            consumers[source].append(target)
            pending[target] += 1
    ready = deque(i for i, n in pending.items() if n == 0)
    while ready:
        for target in consumers[ready.popleft()]:
            pending[target] -= 1
            if pending[target] == 0:
                ready.append(target)
    return next((i for i, n in pending.items() if n > 0), None)


def _decimal(text: str | None) -> int | None:
    """A plain ASCII decimal's value ('²'.isdigit() is True, and int() refuses 5,000 digits), capped
    at 10**20; None for anything else."""
    if text is None or not text or not text.isascii() or not text.isdigit():
        return None
    return int(text) if len(text) <= 20 else 10**20


def _ir_version_error(xml_path: Path, version: str) -> ModelFileError:
    return ModelFileError(f"{xml_path} is an IR of version {version or '(none)'}; this OpenVINO reads versions {' and '.join(IR_VERSIONS)}",
                          f"{_REEXPORT} with this OpenVINO, or update OpenVINO")


def _check_ir(xml_path: Path) -> str:
    """Catch the usual IR breakages before OpenVINO does, to name them plainly; hand OpenVINO only
    an .xml that is well-formed, has no DTD and is an IR of a version it reads."""
    bin_path = xml_path.with_suffix(".bin")
    try:
        data = xml_path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read {xml_path} ({exc.strerror or exc})", "check the file and its permissions") from None
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ModelFileError(f"{xml_path} declares a DTD or entities, which an OpenVINO IR never has (flopbench does not expand them)",
                             _REEXPORT)
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise ModelFileError(f"{xml_path} is not valid XML ({exc})", "re-export the IR; the .xml is truncated or not an IR file") from None
    if root.tag != "net":
        raise ModelFileError(f"{xml_path} is not an OpenVINO IR (root element <{root.tag}>, expected <net>)", "give an IR .xml written by OpenVINO (ov.save_model or ovc)")
    version = root.get("version") or ""
    if _decimal(version) is None or _decimal(version) < int(IR_VERSIONS[0]):
        raise _ir_version_error(xml_path, version)
    layers = root.find("layers")
    if layers is None or layers.find("layer") is None:
        raise ModelFileError(f"{xml_path} is an IR without layers", _REEXPORT)
    cycle = _ir_cycle(root)
    if cycle is not None:
        raise ModelFileError(f"{xml_path} is not a valid IR: its graph has a cycle through layer id {cycle}", _REEXPORT)
    needed = 0
    for data in root.iter("data"):
        offset, size = data.get("offset"), data.get("size")
        if _decimal(offset) is not None and _decimal(size) is not None:
            needed = max(needed, _decimal(offset) + _decimal(size))
    if needed == 0:
        return version
    if not bin_path.exists():
        raise ModelFileError(f"IR {xml_path.name} has no weights file {bin_path.name} beside it", f"keep the .xml and .bin together in {xml_path.parent}")
    have = bin_path.stat().st_size
    if have < needed:
        raise ModelFileError(f"IR weights {bin_path.name} are truncated: {have} bytes, the .xml needs {needed}", "copy or re-export the .bin again")
    return version


def _read(path: Path, fmt: str) -> tuple[Any, frozenset[str], bool]:
    core = openvino_core()
    ir_version = None
    if fmt == "onnx":
        from .onnx_twin import weightless_twin

        twin = weightless_twin(path)
        for name in twin.external_files:
            if not (path.parent / name).exists():
                raise ModelFileError(f"ONNX external data file {name} is missing beside {path.name}", f"copy {name} into {path.parent}")
        source: Any = twin.model_bytes
        weights = frozenset(twin.weight_inputs)
        weights_read = False
    else:
        ir_version = _check_ir(path) if fmt == "ir" else None
        source, weights, weights_read = str(path), frozenset(), True
    try:
        with quiet_native_stderr():
            model = read_tflite(path, read_flatbuffer(path)) if fmt == "tflite" else core.read_model(source)
    except Exception as exc:  # OpenVINO raises RuntimeError and friends with multi-line texts
        message = engine_message(exc)
        if "No conversion rule found for operations" in str(exc):
            raise ModelFileError(f"OpenVINO cannot read {path.name}: {message}",
                                 "the model uses ops OpenVINO does not know (a custom domain, or an op newer than this OpenVINO); "
                                 "export it with standard ops, or update OpenVINO", openvino_refused=True) from None
        if fmt == "ir" and ir_version not in IR_VERSIONS:  # a newer IR than this OpenVINO knows
            newer = _ir_version_error(path, ir_version)
            raise ModelFileError(newer.problem, newer.fix, openvino_refused=True) from None
        if fmt == "ir":
            raise ModelFileError(f"OpenVINO cannot read {path.name}: {message}",
                                 "the IR is damaged, or uses ops this OpenVINO does not know: re-export it with this OpenVINO "
                                 "(ov.save_model or ovc), or update OpenVINO", openvino_refused=True) from None
        raise ModelFileError(f"OpenVINO cannot read {path.name}: {message}",
                             "check that the file is a complete model; " + SUPPORTED_HINT, openvino_refused=True) from None
    if fmt != "onnx":  # the twin checked every name of an ONNX file as it read them
        _check_names(model, path)
    if fmt != "ir":  # an IR names every layer itself
        settle_made_up_names(model)
    return model, weights, weights_read


def read_openvino_model(path: str | os.PathLike):
    """The whole model file as OpenVINO reads it (weights and all) for an engine, a conversion or
    a quantization, with the names `load` gives its ops, so their results join the count's. A
    custom op the count stood in for is refused: none of them can run or write it."""
    model_path = Path(path)
    fmt = detect_format(model_path)
    if fmt == "tflite":
        model = read_tflite(model_path, read_flatbuffer(model_path))
        unknown = stand_ins(model)
        if unknown:  # counted around, but nothing can run or write them
            ops = ", ".join(f"{name} ×{n}" for name, n in unknown.items())
            raise ModelFileError(f"OpenVINO cannot run {model_path.name}: its custom op(s) {ops} have no implementation here",
                                 "flopbench flops counts the rest of the model; run it where the custom op is registered")
    else:
        model = openvino_core().read_model(str(model_path))
    if fmt != "ir":
        settle_made_up_names(model)
    return model


def _check_names(model, path: Path) -> None:
    """Every op and tensor name must be readable from Python: a name that is not UTF-8 (a damaged
    file) would otherwise fail later, in counting, as a UnicodeDecodeError."""
    try:
        for node in model.get_ordered_ops():
            node.get_friendly_name()
            for index in range(node.get_output_size()):
                node.get_output_tensor(index).get_names()
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{path.name} has an op or tensor name that is not valid UTF-8 (byte {exc.object[exc.start:exc.start + 1]!r})",
                             "the file is damaged; re-export or re-download the model") from None


def _input_names(parameter) -> list[str]:
    names = sorted(parameter.get_output_tensor(0).get_names())
    friendly = parameter.get_friendly_name()
    return names + ([friendly] if friendly not in names else [])


def _describe(parameter) -> str:
    return f"{_input_names(parameter)[0]} ({parameter.get_output_partial_shape(0)})"


def _declared(parameter) -> DeclaredInput:
    partial = parameter.get_output_partial_shape(0)
    dims = None if partial.rank.is_dynamic else tuple(d.get_length() if d.is_static else None for d in partial)
    return DeclaredInput(names=tuple(_input_names(parameter)), dims=dims, shown=str(partial))


def _resolve_shapes(model, weight_inputs: frozenset[str], shapes: ShapeSpec, batch: int | None):
    """Decide a static shape for every real input and reshape the model to it."""
    import openvino as ov

    real = [p for p in model.get_parameters() if not (set(_input_names(p)) & weight_inputs)]
    declared = [_declared(p) for p in real]
    chosen = dict(zip(real, resolve_static_shapes(declared, shapes, batch)))
    if any(d.dims != dims for d, dims in zip(declared, chosen.values())):
        try:
            model.reshape({p.output(0): ov.PartialShape(list(d)) for p, d in chosen.items()})
        except Exception as exc:
            wanted = ", ".join(f"{_input_names(p)[0]}:{format_shape(d)}" for p, d in chosen.items())
            described = one_line(", ".join(f"{one_line(d.names[0], 80)} ({one_line(d.shown, 40)})" for d in declared[:8]), 400)
            raise ShapeError(f"the model cannot take the shapes {wanted}: {engine_message(exc)}",
                             f"give shapes that fit the model; its inputs are: {described}") from None
    return tuple(ModelInputInfo(name=_input_names(p)[0], shape=d, dtype=_dtype_name(p.get_element_type())) for p, d in chosen.items())


def _dtype_name(element_type) -> str:
    """numpy's name for an OpenVINO element type, or OpenVINO's own ("dynamic") when numpy has none."""
    try:
        return element_type.to_dtype().name
    except Exception:  # a dynamic element type has no numpy dtype (IndexError: map::at)
        return str(element_type.get_type_name())


def load(path: str | os.PathLike | Any, shape: str | ShapeSpec | None = None, batch: int | None = None,
         example_input: Any = None) -> LoadedModel:
    """Read a model for counting, with static shapes.

    `path` is a model file, an `openvino.Model` (left as it is: a clone is counted) or a
    `torch.nn.Module` with `example_input`. `shape` is a `--shape` string (``"input:1x3x224x224"``)
    or a parsed {name: dims}. Dynamic batch defaults to 1; any other dynamic dimension needs a
    shape. `batch` overrides every input's first dimension.
    """
    if is_model_object(path):
        batch = check_batch(batch)
        shapes = normalize_shape_spec(shape)
        model = to_openvino_model(path, example_input)
        inputs = _resolve_shapes(model, frozenset(), shapes, batch)
        return LoadedModel(path=Path(object_name(path)), format="object", ov_model=model, inputs=inputs)
    if not isinstance(path, (str, os.PathLike)):
        raise ModelFileError(f"model {path!r} is not a file path", "give the path of a model file (.xml, .onnx ...)")
    model_path = Path(path)
    _check_file(model_path)
    fmt = detect_format(model_path)
    if model_path.suffix.lower() == ".bin":
        raise ModelFileError(f"{model_path.name} is the weights half of an OpenVINO IR", f"give the .xml: {model_path.with_suffix('.xml')}")
    if model_path.suffix.lower() == ".npy":
        raise ModelFileError(f"{model_path.name} is an input array, not a model", "give the model file (.xml, .onnx ...) first, the array with -i")
    batch = check_batch(batch)
    shapes = normalize_shape_spec(shape)
    model, weight_inputs, weights_read = _read(model_path, fmt)
    inputs = _resolve_shapes(model, weight_inputs, shapes, batch)
    return LoadedModel(path=model_path, format=fmt, ov_model=model, inputs=inputs, weight_inputs=weight_inputs, weights_read=weights_read)
