"""The `--shape` option: `name:1x3x224x224`, several inputs comma-separated.

Also accepted, as benchmark_app writes them: `name[1,3,224,224]`, and a bare `1x3x224x224` when the
model has exactly one input.
"""
from __future__ import annotations

import re

from .errors import ShapeError

MAX_DIMENSION = 1 << 31  # far beyond any real tensor; keeps a typo from allocating the world
_DIMS_X = re.compile(r"^\d+(x\d+)*$")
_DIMS_BRACKET = re.compile(r"^\[\s*\d+(\s*,\s*\d+)*\s*\]$")

ShapeSpec = dict[str, tuple[int, ...]]
UNNAMED = ""  # key of a shape given without an input name


def _dims(text: str, spec: str) -> tuple[int, ...]:
    text = text.strip()
    if _DIMS_BRACKET.match(text):
        parts = [p.strip() for p in text[1:-1].split(",")]
    elif _DIMS_X.match(text):
        parts = text.split("x")
    else:
        raise ShapeError(
            f"malformed --shape {spec!r}: dimensions {text!r} are not positive integers",
            "write it as name:1x3x224x224 (several inputs comma-separated)",
        )
    dims = tuple(int(p) for p in parts)
    for d in dims:
        if d <= 0:
            raise ShapeError(f"--shape {spec!r} has a dimension of {d}", "every dimension must be at least 1")
        if d >= MAX_DIMENSION:
            raise ShapeError(f"--shape {spec!r} has a dimension of {d}", f"dimensions must be below {MAX_DIMENSION}")
    return dims


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
    if not spec.strip():
        raise ShapeError("--shape is empty", "write it as name:1x3x224x224")
    result: ShapeSpec = {}
    for item in _split_inputs(spec):
        item = item.strip()
        if not item:
            raise ShapeError(f"malformed --shape {spec!r}: an empty entry", "separate inputs with single commas: a:1x3x8x8,b:1x10")
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
            raise ShapeError(f"malformed --shape {spec!r}: an input name is empty", "write it as name:1x3x224x224")
        if name in result:
            raise ShapeError(f"--shape names input {name or '(unnamed)'!r} twice", "give each input once")
        result[name] = _dims(dims_text, spec)
    if UNNAMED in result and len(result) > 1:
        raise ShapeError(f"--shape {spec!r} mixes named and unnamed shapes", "name every input: a:1x3x8x8,b:1x10")
    return result


def format_shape(dims) -> str:
    return "x".join(str(d) for d in dims)
