"""The `--shape` option: `name:1x3x224x224`, several inputs comma-separated.

Also accepted, as benchmark_app writes them: `name[1,3,224,224]`, and a bare `1x3x224x224` when the
model has exactly one input.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError, one_line

Shape = tuple[int, ...]

MAX_DIMENSION = 1 << 31  # far beyond any real tensor; keeps a typo from allocating the world
MAX_RANK = 32
_DIMS_X = re.compile(r"^[0-9]+(x[0-9]+)*$")
_DIMS_BRACKET = re.compile(r"^\[\s*[0-9]+(\s*,\s*[0-9]+)*\s*\]$")
_NEGATIVE = re.compile(r"(?:^|[x\[,\s])\s*(-[0-9]+)")
_FORMAT_FIX = "write it as name:1x3x224x224 (several inputs comma-separated)"

ShapeSpec = dict[str, tuple[int, ...]]
UNNAMED = ""  # key of a shape given without an input name


def _show(text: str, limit: int = 60) -> str:
    """A user's text quoted for an error message, shortened when it is long."""
    return repr(text) if len(text) <= limit else repr(text[: limit - 3] + "...")


def _dims(text: str, spec: str) -> tuple[int, ...]:
    text = text.strip()
    if _DIMS_BRACKET.match(text):
        parts = [p.strip() for p in text[1:-1].split(",")]
    elif _DIMS_X.match(text):
        parts = text.split("x")
    else:
        negative = _NEGATIVE.search(text)
        if negative and _DIMS_X.match(text.replace("-", "")) or negative and _DIMS_BRACKET.match(text.replace("-", "")):
            raise ShapeError(f"--shape {_show(spec)} has a negative dimension {negative.group(1)}",
                             "every dimension must be at least 1 (dynamic dimensions need a size)")
        raise ShapeError(f"malformed --shape {_show(spec)}: dimensions {_show(text)} are not positive integers", _FORMAT_FIX)
    if len(parts) > MAX_RANK:
        raise ShapeError(f"--shape {_show(spec)} has {len(parts)} dimensions", f"give at most {MAX_RANK}")
    dims = []
    for part in parts:
        digits = part.lstrip("0") or "0"
        if len(digits) > 40:  # int() of thousands of digits is slow (and refused past 4,300)
            raise ShapeError(f"--shape {_show(spec)} has a dimension of {len(digits)} digits", f"dimensions must be below {MAX_DIMENSION}")
        dims.append(int(digits))
    for d in dims:
        if d <= 0:
            raise ShapeError(f"--shape {_show(spec)} has a dimension of {d}", "every dimension must be at least 1")
        if d >= MAX_DIMENSION:
            raise ShapeError(f"--shape {_show(spec)} has a dimension of {d}", f"dimensions must be below {MAX_DIMENSION}")
    return tuple(dims)


def normalize_shape_spec(shapes) -> ShapeSpec:
    """Check a {name: dims} given through the API as the parser checks a `--shape` string."""
    if isinstance(shapes, str) or shapes is None:
        return parse_shape_spec(shapes)
    try:
        items = list(dict(shapes).items())
    except (TypeError, ValueError):
        raise ShapeError(f"shape {shapes!r} is neither a --shape string nor a {{name: dims}} mapping",
                         "pass e.g. shape='input:1x3x224x224' or shape={'input': (1, 3, 224, 224)}") from None
    result: ShapeSpec = {}
    for name, dims in items:
        if not isinstance(name, str):
            raise ShapeError(f"shape names input {name!r}, which is not a string", "name inputs by their names")
        try:
            values = tuple(dims)
        except TypeError:
            raise ShapeError(f"shape of input {name!r} is {dims!r}, not a sequence of dimensions", "give e.g. (1, 3, 224, 224)") from None
        if len(values) > MAX_RANK:
            raise ShapeError(f"shape of input {name!r} has {len(values)} dimensions", f"give at most {MAX_RANK}")
        for d in values:
            if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
                raise ShapeError(f"shape of input {name!r} has a dimension {d!r}, not a whole number", "give e.g. (1, 3, 224, 224)")
            if not 0 < d < MAX_DIMENSION:
                raise ShapeError(f"shape of input {name!r} has a dimension of {d}", f"every dimension must be from 1 to {MAX_DIMENSION - 1}")
        result[name] = tuple(int(d) for d in values)
    return result


def _split_inputs(spec: str) -> list[str]:
    """Split on commas that are not inside brackets."""
    items, depth, current = [], 0, []
    for char in spec:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return items


def parse_shape_spec(spec: str | None) -> ShapeSpec:
    """Parse a `--shape` value into {input name: dims}; the name is "" when none was given."""
    if spec is None:
        return {}
    if not isinstance(spec, str):
        return normalize_shape_spec(spec)
    if not spec.strip():
        raise ShapeError("--shape is empty", "write it as name:1x3x224x224")
    result: ShapeSpec = {}
    items = _split_inputs(spec)
    if len(items) > 1 and any(item.strip().isdigit() for item in items):
        named = spec.split(":")[0] + ":" if ":" in spec else ""
        dims = "x".join(part.strip() for part in spec.split(":")[-1].split(","))
        raise ShapeError(f"--shape {_show(spec)} separates dimensions with commas, which separate inputs",
                         f"write the dimensions with x: --shape {named}{dims} (or {named.rstrip(':')}[{spec.split(':')[-1]}])")
    for item in items:
        item = item.strip()
        if not item:
            raise ShapeError(f"malformed --shape {_show(spec)}: an empty entry", "separate inputs with single commas: a:1x3x8x8,b:1x10")
        bracket = item.find("[")
        colon = item.rfind(":")
        if bracket > 0 and item.endswith("]"):
            name, dims_text = item[:bracket], item[bracket:]
        elif colon >= 0:
            name, dims_text = item[:colon], item[colon + 1 :]
        else:
            name, dims_text = UNNAMED, item
        name = name.strip()
        if colon == 0 or (colon > 0 and not name):
            raise ShapeError(f"malformed --shape {_show(spec)}: an input name is empty", "write it as name:1x3x224x224")
        if name in result:
            raise ShapeError(f"--shape names input {_show(name or '(unnamed)')} twice", "give each input once")
        result[name] = _dims(dims_text, spec)
    if UNNAMED in result and len(result) > 1:
        raise ShapeError(f"--shape {_show(spec)} mixes named and unnamed shapes", "name every input: a:1x3x8x8,b:1x10")
    return result


def format_shape(dims) -> str:
    return "x".join(str(d) for d in dims)


@dataclass(frozen=True)
class DeclaredInput:
    """A model input as its file declares it, whoever read the file: `dims` has None for a dynamic
    dimension and is None for a dynamic rank; `shown` is how the engine prints the declared shape."""

    names: tuple[str, ...]  # the first is the one flopbench reports
    dims: tuple[int | None, ...] | None
    shown: str


def check_batch(batch) -> int | None:
    if batch is None:
        return None
    if isinstance(batch, bool) or not isinstance(batch, int) and not hasattr(batch, "__index__"):
        raise ShapeError(f"batch size {batch!r} is not a whole number", "use -b 1 or more")
    batch = int(batch)
    if batch < 1:
        raise ShapeError(f"batch size {batch} is not positive", "use -b 1 or more")
    if batch >= MAX_DIMENSION:
        raise ShapeError(f"batch size {batch} is too large", f"use -b below {MAX_DIMENSION}")
    return batch


def resolve_static_shapes(declared: list[DeclaredInput], shapes: ShapeSpec, batch: int | None) -> list[Shape]:
    """A static shape for every input: the user's, else the declared one with a dynamic batch of 1
    (as benchmark_app); `batch` overrides every first dimension. Any other dynamic dimension needs
    a shape, and the error says which and how."""
    # names come from the model's file, any length: each shown by its start
    described = one_line(", ".join(f"{one_line(d.names[0], 80)} ({one_line(d.shown, 40)})" for d in declared[:8])
                         + (f" and {len(declared) - 8:,} more" if len(declared) > 8 else ""), 400)
    if UNNAMED in shapes:
        if len(declared) != 1:
            raise ShapeError(f"--shape without an input name, but the model has {len(declared)} inputs: {described}",
                             "name each input: name:1x3x224x224")
        shapes = {declared[0].names[0]: shapes[UNNAMED]}
    known = {name for d in declared for name in d.names}
    for name in shapes:
        if name not in known:
            raise ShapeError(f"--shape names input {one_line(repr(name), 80)}, which the model does not have", f"its inputs are: {described}")
    chosen: list[Shape] = []
    for item in declared:
        given = next((shapes[n] for n in item.names if n in shapes), None)
        if given is not None:
            if item.dims is not None and len(given) != len(item.dims):
                raise ShapeError(f"--shape gives input {one_line(repr(item.names[0]), 80)} {len(given)} dimensions, but it has {len(item.dims)}: {one_line(item.shown, 80)}",
                                 f"give {len(item.dims)} dimensions")
            dims = tuple(given)
            if batch is not None and dims and dims[0] != batch:
                raise ShapeError(f"-b {batch} and --shape {one_line(item.names[0], 80)}:{one_line(format_shape(dims), 80)} give input {one_line(repr(item.names[0]), 80)} two batch sizes ({batch} and {dims[0]})",
                                 "give the batch once: in --shape, or with -b")
        else:
            if item.dims is None:
                raise ShapeError(f"input {item.names[0]!r} has a dynamic rank", f"give its shape: --shape {item.names[0]}:1x3x224x224")
            if any(d is None for d in item.dims[1:]):
                example = "x".join(str(d) if d is not None else "1" if i == 0 else "224" for i, d in enumerate(item.dims))
                raise ShapeError(f"input {item.names[0]!r} has dynamic dimensions: {item.shown}",
                                 f"give every dimension with --shape, e.g. --shape {item.names[0]}:{example}")
            dims = tuple(1 if d is None else d for d in item.dims)  # dynamic batch defaults to 1
        if batch is not None and dims:
            dims = (batch,) + dims[1:]
        chosen.append(dims)
    return chosen
