"""Input arrays: read .npy files safely, fit them to the model's inputs, or make seeded random ones.

An .npy file is checked from its header before any data is read: a file that holds Python objects
(a pickle, or an object array) is refused, never loaded; a header that promises more data than the
file has is refused before anything is allocated.
"""
from __future__ import annotations

import math
import os
import re
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..model.reading import ModelInputInfo
from ..errors import InputDataError, OptionError, one_line
from ..model.reading import source_files
from ..model.shapes import format_shape
from ..model.spec import check_seed, input_specs

NPY_MAGIC = b"\x93NUMPY"
MAX_HEADER_SIZE = 10_000  # numpy's own default: the header is parsed with ast.literal_eval
MAX_INPUT_BYTES = 4 << 30  # all inputs of one inference; beyond this a shape is a typo
_SAVE_FIX = "write it with numpy.save(path, array)"
_NUMERIC_FIX = "save a numeric array instead: np.save(path, array.astype(np.float32))"


@dataclass(frozen=True)
class PreparedInputs:
    arrays: dict[str, np.ndarray]  # input name -> array of the model's shape and dtype
    warnings: tuple[str, ...]
    source: str  # "random (seed N)" or the files


def _read_header(handle, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) from an .npy header, without reading any data."""
    fmt = np.lib.format
    version = fmt.read_magic(handle)
    with warnings.catch_warnings():  # numpy warns about headers written by Python 2
        warnings.simplefilter("ignore")
        if version == (1, 0):
            return fmt.read_array_header_1_0(handle, max_header_size=MAX_HEADER_SIZE)
        if version == (2, 0):
            return fmt.read_array_header_2_0(handle, max_header_size=MAX_HEADER_SIZE)
        reader = getattr(getattr(np.lib, "_format_impl", fmt), "_read_array_header", None)
        if version == (3, 0) and reader is not None:
            return reader(handle, version, max_header_size=MAX_HEADER_SIZE)
    raise InputDataError(f"{name} is not a valid .npy file (unknown format version {version[0]}.{version[1]})", _SAVE_FIX)


def read_npy(path: str | os.PathLike) -> np.ndarray:
    """Read a .npy array; a file holding Python objects is refused, never unpickled."""
    try:
        file = Path(path)
    except TypeError:
        raise InputDataError(f"input {path!r} is not a file path", "give an .npy file with -i") from None
    name = file.name or str(file)
    try:
        info = file.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise InputDataError(f"input file {file} does not exist", "check the path given with -i") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise InputDataError(f"cannot read input file {file} ({getattr(exc, 'strerror', None) or exc})", "check the path and its permissions") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputDataError(f"input path {file} is a folder", "give an .npy file with -i")
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device could block or never end
        raise InputDataError(f"input path {file} is not a regular file", "give an .npy file with -i")
    try:
        with open(file, "rb") as handle:
            magic = handle.read(len(NPY_MAGIC))
            if magic.startswith(b"PK\x03\x04"):
                raise InputDataError(f"{name} is an .npz archive, not one array", "give one .npy file per input")
            if magic != NPY_MAGIC:
                if magic[:1] == b"\x80":  # a pickle's PROTO opcode: np.load would unpickle it
                    raise InputDataError(f"{name} holds Python objects (a pickle), which flopbench never loads", _NUMERIC_FIX)
                what = "it is empty" if not magic else "it does not start with numpy's magic bytes"
                raise InputDataError(f"{name} is not an .npy file ({what})", _SAVE_FIX)
            handle.seek(0)
            shape, fortran_order, dtype = _read_header(handle, name)
            if dtype.hasobject:
                raise InputDataError(f"{name} holds Python objects (a pickle), which flopbench never loads", _NUMERIC_FIX)
            if dtype.kind not in "biuf" or dtype.itemsize == 0:
                raise InputDataError(f"{name} holds {dtype} values, not numbers", "save a numeric array (float32, int64 ...)")
            needed = math.prod(shape) * dtype.itemsize
            have = info.st_size - handle.tell()
            if have < needed:
                raise InputDataError(f"{name} is truncated: its header says {format_shape(shape) or 'scalar'} {dtype} "
                                     f"({needed:,} bytes of data), the file has {max(have, 0):,}", "copy it again, or write it again with numpy.save")
            handle.seek(0)
            array = np.lib.format.read_array(handle, allow_pickle=False, max_header_size=MAX_HEADER_SIZE)
    except InputDataError:
        raise
    except MemoryError:
        raise InputDataError(f"{name} is too large to read into memory", "give a smaller array") from None
    except OSError as exc:
        raise InputDataError(f"{name} cannot be read as an .npy array ({exc.strerror or exc})", _SAVE_FIX) from None
    except Exception as exc:  # numpy's header parser raises ValueError, SyntaxError, tokenize.TokenError ...
        if "pickle" in str(exc).lower():
            raise InputDataError(f"{name} holds Python objects (a pickle), which flopbench never loads", _NUMERIC_FIX) from None
        raise InputDataError(f"{name} is not a valid .npy array ({one_line(exc, 160) or type(exc).__name__})", _SAVE_FIX) from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":  # defence in depth
        raise InputDataError(f"{name} does not hold a numeric array", "save a numeric array (float32, int64 ...)")
    return array


def numpy_dtype(model_input: ModelInputInfo) -> np.dtype:
    """The numpy dtype of a model input; an element type numpy has no name for is an error."""
    try:
        return np.dtype(model_input.dtype)
    except (TypeError, ValueError):
        raise InputDataError(f"input {model_input.name!r} has element type {model_input.dtype}, for which flopbench cannot make data",
                             "re-export the model with a fixed element type (f32, i64 ...); flopbench flops counts it as it is") from None


def _nonfinite(array: np.ndarray) -> int:
    if array.dtype.kind != "f" or array.size == 0:
        return 0
    return int(array.size - np.count_nonzero(np.isfinite(array)))


# the order of a channels-first model input's axes, the default target of --layout
CHANNELS_FIRST = "NCDHW"
_LAYOUT = re.compile(r"^(?P<name>[^\[\]]*)\[(?P<source>[A-Za-z?]+)(?:->(?P<target>[A-Za-z?]+))?\]$|^(?P<plain>[A-Za-z?]+)$")


@dataclass(frozen=True)
class Layout:
    """`--layout`: the axes of the data in an -i file (`source`) and of the model input (`target`),
    one letter per axis, as benchmark_app writes them: `input[NHWC]`, `input[HWC->CHW]`."""

    source: str
    target: str | None = None  # None: the source's letters in channels-first order (NCDHW)

    def order(self, label: str) -> str:
        if self.target is not None:
            return self.target
        if any(letter not in CHANNELS_FIRST for letter in self.source):
            raise OptionError(f"--layout [{self.source}] for {label} has letters other than {CHANNELS_FIRST}, so the model's order is unknown",
                              f"say both: --layout name[{self.source}->...] with the model input's letters")
        return "".join(sorted(self.source, key=CHANNELS_FIRST.index))


def parse_layouts(spec: str | None) -> dict[str | None, Layout]:
    """`--layout` as benchmark_app takes it: `name[NHWC]`, several comma-separated, or `NHWC` for
    every input; `name[NHWC->NCHW]` names the model input's order when it is not channels-first."""
    layouts: dict[str | None, Layout] = {}
    for part in [p.strip() for p in (spec or "").split(",") if p.strip()]:
        match = _LAYOUT.match(part)
        if not match:
            raise OptionError(f"--layout {part!r} is not a layout", "write it as benchmark_app does: input[NHWC] (or input[HWC->CHW], or NHWC for every input)")
        source = (match["source"] or match["plain"]).upper()
        target = match["target"].upper() if match["target"] else None
        for letters in (source, target or source):
            if len(set(letters)) != len(letters):
                raise OptionError(f"--layout {part!r} names an axis twice", "give each axis one letter, e.g. input[NHWC]")
        if target is not None and sorted(source) != sorted(target):
            raise OptionError(f"--layout {part!r}: {source} and {target} do not name the same axes", "give the same letters on both sides, e.g. input[HWC->CHW]")
        layouts[(match["name"] or "").strip() or None] = Layout(source, target)
    return layouts


def apply_layout(array: np.ndarray, layout: Layout, model_input: ModelInputInfo, label: str) -> np.ndarray:
    """Transpose `array` from the layout the user named to the model input's."""
    source, target = layout.source, layout.order(label)
    if array.ndim == len(source) - 1 and source.startswith("N"):  # an image without its batch axis
        source, target = source[1:], target.replace("N", "")
    if array.ndim != len(source):
        raise InputDataError(f"--layout [{layout.source}] has {len(layout.source)} axes, but {label} has {array.ndim} ({format_shape(array.shape) or 'scalar'})",
                             f"give one letter per axis of the file, e.g. --layout {model_input.name}[{'NCHW'[:array.ndim] if array.ndim <= 4 else 'N...'}]")
    return array.transpose([source.index(letter) for letter in target])


def _without_ones(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


def fit_array(array: np.ndarray, model_input: ModelInputInfo, label: str, layout: Layout | None = None) -> tuple[np.ndarray, list[str]]:
    """Give `array` the input's shape and dtype; say what was changed. Only size-1 axes are added or
    dropped (the exercise's 28x28 image into 1x1x28x28); axes in another order are transposed when
    `layout` says how, and refused otherwise: a reshape would scramble the data."""
    if not isinstance(array, np.ndarray):
        raise InputDataError(f"{label} is a {type(array).__name__}, not a numpy array", "give a numeric numpy array")
    if array.dtype.kind not in "biuf" or array.dtype.itemsize == 0:
        raise InputDataError(f"{label} holds {array.dtype} values, not numbers", "save a numeric array (float32, int64 ...)")
    notes: list[str] = []
    shape = tuple(int(d) for d in model_input.shape)
    dtype = numpy_dtype(model_input)
    expected = math.prod(shape)
    if layout is not None:
        array = apply_layout(array, layout, model_input, label)
    if array.shape != shape:
        if array.size != expected:
            raise InputDataError(
                f"{label} has shape {format_shape(array.shape) or 'scalar'} ({array.size:,} elements); "
                f"input {model_input.name!r} expects {format_shape(shape) or 'a scalar'} ({expected:,} elements)",
                f"give an array of shape {format_shape(shape) or 'scalar'} (axes of size 1 may be added or left out)",
            )
        if array.ndim == 1 and len(_without_ones(shape)) > 1:
            # a flat array has no order of axes to name: which axis each element belongs to is not in the file
            raise InputDataError(
                f"{label} is a flat array of {array.size:,} elements and input {model_input.name!r} expects {format_shape(shape)}: "
                "the file does not say how its elements fill those axes",
                f"save it with the input's shape, e.g. np.save(path, a.reshape({', '.join(map(str, shape))}))",
            )
        if _without_ones(array.shape) != _without_ones(shape):
            raise InputDataError(
                f"{label} has shape {format_shape(array.shape)} and input {model_input.name!r} expects {format_shape(shape)}: "
                "the same elements in another order of axes, which a reshape would scramble",
                f"save it in the input's order, or name the file's layout to transpose it, e.g. --layout {model_input.name}[{_guess_layout(array.shape, shape)}]",
            )
        array = array.reshape(shape)
    bad = _nonfinite(array)
    if array.dtype != dtype:
        same_kind = array.dtype.kind == dtype.kind and array.dtype.itemsize == dtype.itemsize
        if not same_kind:  # a byte-order difference alone is no news
            lossy = not np.can_cast(array.dtype, dtype, casting="same_kind") or array.dtype.itemsize > dtype.itemsize
            notes.append(f"{label} holds {array.dtype}; converted to {dtype}" + (", which may lose information" if lossy else ""))
        with np.errstate(all="ignore"):  # NaN to int, overflow: said in words below, not as numpy warnings
            array = array.astype(dtype)
    if bad:
        where = "the timing is real but the outputs are meaningless" if dtype.kind == "f" else f"they became arbitrary {dtype} values"
        notes.append(f"{label} contains {bad:,} NaN or Inf values: {where}")
    elif _nonfinite(array):
        notes.append(f"{label} has {_nonfinite(array):,} values beyond the range of {dtype}, which became Inf")
    # not np.ascontiguousarray: it turns a 0-d array (a scalar input) into shape (1,)
    return (array if array.flags.c_contiguous else np.array(array, order="C")), notes


def _guess_layout(have: tuple[int, ...], want: tuple[int, ...]) -> str:
    """The file's layout in letters, for the hint: an image with its channels last."""
    letters = CHANNELS_FIRST if len(want) == 5 else "NCHW"
    named = dict(zip(want, letters[: len(want)]))
    guess = "".join(named.get(d, "?") for d in have)
    return guess if "?" not in guess and len(set(guess)) == len(guess) else ("NHWC" if len(have) == 4 else "HWC")


def _split_spec(spec: str) -> tuple[str | None, str]:
    # name:path, but keep Windows drive letters and plain paths with colons whole
    try:
        exists = Path(spec).exists()
    except (OSError, ValueError):
        exists = False
    if ":" in spec and not exists:
        name, _, path = spec.partition(":")
        if name and path:
            return name, path
    return None, spec


def expand_specs(files: list[str]) -> list[str]:
    """`-i a:a.npy,b:b.npy` as benchmark_app writes it, and repeated -i, into one spec per input."""
    specs: list[str] = []
    for spec in files:
        try:
            whole = Path(spec).exists()
        except (OSError, ValueError):
            whole = False
        specs.extend([spec] if whole or "," not in spec else [part for part in spec.split(",") if part])
    return specs


def input_paths(files: list[str] | None) -> list[str]:
    """The file paths named by -i specs (to keep outputs from overwriting them)."""
    return [_split_spec(spec)[1] for spec in expand_specs([os.fspath(f) for f in files or []])]


def files_read(model: str | os.PathLike | None, files: list[str] | None) -> list:
    """Every file a command reads (the model, its weights, its -i arrays), so that no output
    overwrites one of them."""
    return (source_files(model) if model else []) + input_paths(files)


def _random(model_input: ModelInputInfo, dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
    shape = tuple(model_input.shape)
    if dtype.kind == "f":
        return rng.random(shape, dtype=np.float32).astype(dtype, copy=False)
    if dtype.kind in "iu":
        return rng.integers(0, 2, size=shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    return np.zeros(shape, dtype=dtype)


def _listed(inputs) -> str:
    """The inputs with their shapes for a message: names come from the model's file, any length."""
    shown = ", ".join(f"{one_line(i.name, 80)} ({one_line(format_shape(i.shape), 40)})" for i in inputs[:8])
    return one_line(shown + (f" and {len(inputs) - 8:,} more" if len(inputs) > 8 else ""), 400)


def prepare_inputs(inputs: tuple[ModelInputInfo, ...], files: list[str] | None = None, seed: int = 0,
                   layout: str | None = None) -> PreparedInputs:
    """Arrays for every model input: from `files` (`path` or `name:path`), else seeded random;
    `layout` (`input[NHWC]`) says the order of a file's axes, to transpose it to the input's."""
    layouts = parse_layouts(layout)
    if layouts and not files:
        raise OptionError("--layout says how the -i files' axes are ordered, but no -i file was given", "give the input with -i, or drop --layout")
    for name in layouts:
        if name is not None and name not in {i.name for i in inputs}:
            raise OptionError(f"--layout names input {one_line(repr(name), 80)}, which the model does not have",
                              f"its inputs are: {_listed(inputs)}")
    check_seed(seed)
    files = expand_specs(list(input_specs(files) or ()))
    by_name = {i.name: i for i in inputs}
    dtypes = {i.name: numpy_dtype(i) for i in inputs}
    total = sum(math.prod(i.shape) * dtypes[i.name].itemsize for i in inputs)
    if total > MAX_INPUT_BYTES:
        biggest = max(inputs, key=lambda i: math.prod(i.shape) * dtypes[i.name].itemsize)
        raise InputDataError(f"the model's inputs need {total / (1 << 30):,.1f} GiB of data (input {one_line(repr(biggest.name), 80)} is {one_line(format_shape(biggest.shape), 80)})",
                             f"give smaller shapes with --shape or -b; flopbench feeds at most {MAX_INPUT_BYTES >> 30} GiB")
    arrays: dict[str, np.ndarray] = {}
    warnings_: list[str] = []
    unnamed: list[tuple[str, np.ndarray]] = []
    for spec in files:
        name, path = _split_spec(spec)
        if name is not None and name not in by_name:
            raise InputDataError(f"-i names input {one_line(repr(name), 80)}, which the model does not have",
                                 f"its inputs are: {_listed(inputs)}")
        if name is not None and name in arrays:
            raise InputDataError(f"-i gives input {name!r} twice", "give each input once")
        array = read_npy(path)
        if name is not None:
            arrays[name], notes = fit_array(array, by_name[name], Path(path).name, layouts.get(name, layouts.get(None)))
            warnings_ += notes
        else:
            unnamed.append((path, array))
    for path, array in unnamed:
        free = [i for i in inputs if i.name not in arrays]
        fitting = [i for i in free if math.prod(i.shape) == array.size]
        if not fitting:
            wanted = _listed(free) or "none left"
            raise InputDataError(f"{Path(path).name} has shape {format_shape(array.shape) or 'scalar'} ({array.size:,} elements), which fits no input: {wanted}",
                                 "give an array of one of those shapes (axes of size 1 may be added or left out)")
        target = fitting[0]
        arrays[target.name], notes = fit_array(array, target, Path(path).name, layouts.get(target.name, layouts.get(None)))
        warnings_ += notes
    rng = np.random.default_rng(seed)
    made_random = []
    for model_input in inputs:
        if model_input.name in arrays:
            continue
        arrays[model_input.name] = _random(model_input, dtypes[model_input.name], rng)
        made_random.append(model_input.name)
    source = ", ".join(files)
    if made_random:
        source = (source + "; " if source else "") + f"random (seed {seed}) for {', '.join(made_random)}"
        if files:
            warnings_.append(f"no -i file for input(s) {', '.join(made_random)}: they get random data (seed {seed})")
    return PreparedInputs(arrays=arrays, warnings=tuple(warnings_), source=source)
