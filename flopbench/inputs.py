"""Input arrays: read .npy files safely, fit them to the model's inputs, or make seeded random ones."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cost import ModelInputInfo
from .errors import InputDataError
from .shapes import format_shape


@dataclass(frozen=True)
class PreparedInputs:
    arrays: dict[str, np.ndarray]  # input name -> array of the model's shape and dtype
    warnings: tuple[str, ...]
    source: str  # "random (seed N)" or the files


def read_npy(path: str | os.PathLike) -> np.ndarray:
    """Read a .npy array; a file holding Python objects is refused, never unpickled."""
    file = Path(path)
    if not file.exists():
        raise InputDataError(f"input file {file} does not exist", "check the path given with -i")
    if file.is_dir():
        raise InputDataError(f"input path {file} is a folder", "give an .npy file with -i")
    try:
        with open(file, "rb") as handle:
            array = np.load(handle, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "pickle" in str(exc).lower():
            raise InputDataError(f"{file.name} holds Python objects (a pickle), which flopbench never loads",
                                 "save a numeric array instead: np.save(path, array.astype(np.float32))") from None
        raise InputDataError(f"{file.name} is not a valid .npy array ({exc})", "write it with numpy.save") from None
    except (OSError, EOFError) as exc:
        raise InputDataError(f"{file.name} cannot be read as an .npy array ({exc})", "write it with numpy.save") from None
    if not isinstance(array, np.ndarray):  # an .npz archive
        raise InputDataError(f"{file.name} is an .npz archive, not one array", "give one .npy file per input")
    if array.dtype.kind not in "biuf":
        raise InputDataError(f"{file.name} holds {array.dtype} values, not numbers", "save a numeric array (float32, int64 ...)")
    return array


def fit_array(array: np.ndarray, model_input: ModelInputInfo, label: str) -> tuple[np.ndarray, list[str]]:
    """Give `array` the input's shape and dtype when its elements allow it; say what was changed."""
    notes: list[str] = []
    shape = tuple(model_input.shape)
    expected = math.prod(shape)
    if array.shape != shape:
        if array.size != expected:
            raise InputDataError(
                f"{label} has shape {format_shape(array.shape) or 'scalar'} ({array.size:,} elements); "
                f"input {model_input.name!r} expects {format_shape(shape)} ({expected:,} elements)",
                f"give an array with {expected:,} elements",
            )
        array = array.reshape(shape)
    dtype = np.dtype(model_input.dtype)
    if array.dtype != dtype:
        if not np.can_cast(array.dtype, dtype, casting="same_kind"):
            notes.append(f"{label} holds {array.dtype}; converted to {dtype}, which may lose information")
        else:
            notes.append(f"{label} holds {array.dtype}; converted to {dtype}")
        array = array.astype(dtype)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int(np.size(array) - np.isfinite(array).sum())
        notes.append(f"{label} contains {bad} NaN or Inf values: the timing is real but the outputs are meaningless")
    return np.ascontiguousarray(array), notes


def _split_spec(spec: str) -> tuple[str | None, str]:
    # name:path, but keep Windows drive letters and plain paths with colons whole
    if ":" in spec and not Path(spec).exists():
        name, _, path = spec.partition(":")
        if name and path:
            return name, path
    return None, spec


def prepare_inputs(inputs: tuple[ModelInputInfo, ...], files: list[str] | None = None, seed: int = 0) -> PreparedInputs:
    """Arrays for every model input: from `files` (`path` or `name:path`), else seeded random."""
    by_name = {i.name: i for i in inputs}
    arrays: dict[str, np.ndarray] = {}
    warnings: list[str] = []
    unnamed: list[tuple[str, np.ndarray]] = []
    for spec in files or []:
        name, path = _split_spec(spec)
        if name is not None and name not in by_name:
            raise InputDataError(f"-i names input {name!r}, which the model does not have",
                                 f"its inputs are: {', '.join(f'{i.name} ({format_shape(i.shape)})' for i in inputs)}")
        array = read_npy(path)
        if name is not None:
            arrays[name], notes = fit_array(array, by_name[name], Path(path).name)
            warnings += notes
        else:
            unnamed.append((path, array))
    for path, array in unnamed:
        free = [i for i in inputs if i.name not in arrays]
        fitting = [i for i in free if math.prod(i.shape) == array.size]
        if not fitting:
            wanted = ", ".join(f"{i.name} ({format_shape(i.shape)})" for i in free) or "none left"
            raise InputDataError(f"{Path(path).name} has shape {format_shape(array.shape) or 'scalar'} ({array.size:,} elements), which fits no input: {wanted}",
                                 "give an array with as many elements as the input, or name it: -i name:file.npy")
        target = fitting[0]
        arrays[target.name], notes = fit_array(array, target, Path(path).name)
        warnings += notes
    rng = np.random.default_rng(seed)
    made_random = []
    for model_input in inputs:
        if model_input.name in arrays:
            continue
        dtype = np.dtype(model_input.dtype)
        if dtype.kind == "f":
            arrays[model_input.name] = rng.random(model_input.shape, dtype=np.float32).astype(dtype, copy=False)
        elif dtype.kind in "iu":
            arrays[model_input.name] = rng.integers(0, 2, size=model_input.shape).astype(dtype)
        else:
            arrays[model_input.name] = np.zeros(model_input.shape, dtype=dtype)
        made_random.append(model_input.name)
    source = ", ".join(files or [])
    if made_random:
        source = (source + "; " if source else "") + f"random (seed {seed}) for {', '.join(made_random)}"
    return PreparedInputs(arrays=arrays, warnings=tuple(warnings), source=source)
