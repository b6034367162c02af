"""One entry point that reads any model OpenVINO can read and fixes its shapes.

Counting needs shapes, not weight values: an IR's .bin is memory-mapped by OpenVINO, and an ONNX
file is read through a weight-free twin (see `onnx_skeleton`) so that a model with hundreds of MB of
weights counts as fast as a small one. Engines that need the weights read the file again in full.
"""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cost import ModelInputInfo
from .errors import ModelFileError, ShapeError
from .shapes import UNNAMED, ShapeSpec, format_shape, parse_shape_spec

FORMATS = {".xml": "ir", ".onnx": "onnx", ".tflite": "tflite", ".pb": "tf", ".pdmodel": "paddle"}
SUPPORTED_HINT = "flopbench reads OpenVINO IR (.xml + .bin), ONNX (.onnx), TFLite (.tflite), TensorFlow (.pb or a SavedModel folder) and PaddlePaddle (.pdmodel)"

_core = None


def openvino_core():
    """One shared `openvino.Core`: creating it loads plugins, which costs tens of milliseconds."""
    global _core
    if _core is None:
        import openvino as ov

        _core = ov.Core()
    return _core


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


def engine_message(exc: BaseException) -> str:
    """The informative line of an OpenVINO / ONNX Runtime exception, without source paths."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not re.match(r"^(Exception from|Check '|\[ ?(GENERAL_ERROR|NOT_FOUND) ?\]$)", ln)
              and not re.search(r"src/.*\.(cpp|hpp):\d+", ln)]
    text = useful[-1] if useful else (lines[0] if lines else type(exc).__name__)
    text = re.sub(r"\s+", " ", text)
    return text[:240]


def detect_format(path: Path) -> str:
    if path.is_dir():
        if (path / "saved_model.pb").exists():
            return "tf"
        raise ModelFileError(f"{path} is a folder, not a model file", "give the model file itself (.xml, .onnx, .tflite ...)")
    return FORMATS.get(path.suffix.lower(), "other")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ModelFileError(f"model file {path} does not exist", "check the path (flopbench zoo sep_cnn -o DIR writes a sample model)")
    if path.is_file():
        if not os.access(path, os.R_OK):
            raise ModelFileError(f"model file {path} is not readable", "check its permissions")
        if path.stat().st_size == 0:
            raise ModelFileError(f"model file {path} is empty", "re-export or re-download the model")


def _check_ir(xml_path: Path) -> None:
    """Catch the usual IR breakages before OpenVINO does, to name them plainly."""
    bin_path = xml_path.with_suffix(".bin")
    try:
        root = ElementTree.parse(xml_path).getroot()
    except ElementTree.ParseError as exc:
        raise ModelFileError(f"{xml_path} is not valid XML ({exc})", "re-export the IR; the .xml is truncated or not an IR file") from None
    if root.tag != "net":
        raise ModelFileError(f"{xml_path} is not an OpenVINO IR (root element <{root.tag}>, expected <net>)", "give an IR .xml written by OpenVINO (ov.save_model or ovc)")
    needed = 0
    for data in root.iter("data"):
        offset, size = data.get("offset"), data.get("size")
        if offset is not None and size is not None and offset.isdigit() and size.isdigit():
            needed = max(needed, int(offset) + int(size))
    if needed == 0:
        return
    if not bin_path.exists():
        raise ModelFileError(f"IR {xml_path.name} has no weights file {bin_path.name} beside it", f"keep the .xml and .bin together in {xml_path.parent}")
    have = bin_path.stat().st_size
    if have < needed:
        raise ModelFileError(f"IR weights {bin_path.name} are truncated: {have} bytes, the .xml needs {needed}", "copy or re-export the .bin again")


def _read(path: Path, fmt: str) -> tuple[Any, frozenset[str], bool]:
    core = openvino_core()
    if fmt == "onnx":
        from .onnx_skeleton import weightless_twin

        twin = weightless_twin(path)
        for name in twin.external_files:
            if not (path.parent / name).exists():
                raise ModelFileError(f"ONNX external data file {name} is missing beside {path.name}", f"copy {name} into {path.parent}")
        source: Any = twin.model_bytes
        weights = frozenset(twin.weight_inputs)
        weights_read = False
    else:
        if fmt == "ir":
            _check_ir(path)
        source, weights, weights_read = str(path), frozenset(), True
    try:
        model = core.read_model(source)
    except Exception as exc:  # OpenVINO raises RuntimeError and friends with multi-line texts
        raise ModelFileError(f"OpenVINO cannot read {path.name}: {engine_message(exc)}",
                             "check that the file is a complete model; " + SUPPORTED_HINT) from None
    return model, weights, weights_read


def _input_names(parameter) -> list[str]:
    names = sorted(parameter.get_output_tensor(0).get_names())
    friendly = parameter.get_friendly_name()
    return names + ([friendly] if friendly not in names else [])


def _describe(parameter) -> str:
    return f"{_input_names(parameter)[0]} ({parameter.get_output_partial_shape(0)})"


def _resolve_shapes(model, weight_inputs: frozenset[str], shapes: ShapeSpec, batch: int | None):
    """Decide a static shape for every real input: the user's, else the model's with batch 1."""
    import openvino as ov

    real = [p for p in model.get_parameters() if not (set(_input_names(p)) & weight_inputs)]
    described = ", ".join(_describe(p) for p in real)
    by_name = {name: p for p in real for name in _input_names(p)}
    if UNNAMED in shapes:
        if len(real) != 1:
            raise ShapeError(f"--shape without an input name, but the model has {len(real)} inputs: {described}",
                             "name each input: name:1x3x224x224")
        shapes = {_input_names(real[0])[0]: shapes[UNNAMED]}
    for name in shapes:
        if name not in by_name:
            raise ShapeError(f"--shape names input {name!r}, which the model does not have", f"its inputs are: {described}")
    chosen: dict[Any, tuple[int, ...]] = {}
    changed = False
    for parameter in real:
        names = _input_names(parameter)
        given = next((shapes[n] for n in names if n in shapes), None)
        partial = parameter.get_output_partial_shape(0)
        if given is not None:
            if partial.rank.is_static and len(given) != partial.rank.get_length():
                raise ShapeError(f"--shape gives input {names[0]!r} {len(given)} dimensions, but it has {partial.rank.get_length()}: {partial}",
                                 f"give {partial.rank.get_length()} dimensions")
            dims = tuple(given)
            if batch is not None and dims:
                dims = (batch,) + dims[1:]
        else:
            if partial.rank.is_dynamic:
                raise ShapeError(f"input {names[0]!r} has a dynamic rank", f"give its shape: --shape {names[0]}:1x3x224x224")
            dims_list = []
            for axis, dim in enumerate(partial):
                if dim.is_static:
                    dims_list.append(dim.get_length())
                elif axis == 0:
                    dims_list.append(1)  # dynamic batch defaults to 1, as in benchmark_app
                else:
                    raise ShapeError(f"input {names[0]!r} has dynamic dimensions: {partial}",
                                     f"give its shape, e.g. --shape {names[0]}:{'x'.join(str(d.get_length()) if d.is_static else '1' if i == 0 else 'N' for i, d in enumerate(partial))}")
            dims = tuple(dims_list)
            if batch is not None and dims:
                dims = (batch,) + dims[1:]
        if partial.is_dynamic or tuple(partial.to_shape()) != dims:
            changed = True
        chosen[parameter] = dims
    if changed:
        try:
            model.reshape({p.output(0): ov.PartialShape(list(d)) for p, d in chosen.items()})
        except Exception as exc:
            wanted = ", ".join(f"{_input_names(p)[0]}:{format_shape(d)}" for p, d in chosen.items())
            raise ShapeError(f"the model cannot take the shapes {wanted}: {engine_message(exc)}",
                             f"give shapes that fit the model; its inputs are: {described}") from None
    return tuple(ModelInputInfo(name=_input_names(p)[0], shape=d, dtype=p.get_element_type().to_dtype().name) for p, d in chosen.items())


def load(path: str | os.PathLike, shape: str | ShapeSpec | None = None, batch: int | None = None) -> LoadedModel:
    """Read a model for counting, with static shapes.

    `shape` is a `--shape` string (``"input:1x3x224x224"``) or a parsed {name: dims}. Dynamic batch
    defaults to 1; any other dynamic dimension needs a shape. `batch` overrides every input's first
    dimension.
    """
    model_path = Path(path)
    _check_file(model_path)
    fmt = detect_format(model_path)
    if model_path.suffix.lower() == ".bin":
        raise ModelFileError(f"{model_path.name} is the weights half of an OpenVINO IR", f"give the .xml: {model_path.with_suffix('.xml')}")
    if model_path.suffix.lower() == ".npy":
        raise ModelFileError(f"{model_path.name} is an input array, not a model", "give the model file (.xml, .onnx ...) first, the array with -i")
    if batch is not None and batch < 1:
        raise ShapeError(f"batch size {batch} is not positive", "use -b 1 or more")
    shapes = parse_shape_spec(shape) if isinstance(shape, str) or shape is None else dict(shape)
    model, weight_inputs, weights_read = _read(model_path, fmt)
    inputs = _resolve_shapes(model, weight_inputs, shapes, batch)
    return LoadedModel(path=model_path, format=fmt, ov_model=model, inputs=inputs, weight_inputs=weight_inputs, weights_read=weights_read)
