"""Reading an OpenVINO graph quickly: shapes as tuples, one walk for the facts counting needs.

Every call into OpenVINO's Python binding costs about a microsecond, and iterating a `Shape` costs
one per dimension and more (~20 µs for a 4-D shape): a model with thousands of ops spends most of
its count there, not in the formulas. So a shape is read once per op output, from the text
OpenVINO prints for it (`[1,96,54,54]`, one call), and each node's facts are gathered in one walk.
"""
from __future__ import annotations

Shape = tuple[int, ...]


def static_shape(partial) -> Shape | None:
    """An OpenVINO PartialShape as a tuple of ints, or None when any dimension is dynamic."""
    if not partial.is_static:
        return None
    text = str(partial)  # "[1,96,54,54]"; "[]" for a scalar
    try:
        return tuple(map(int, text[1:-1].split(","))) if len(text) > 2 else ()
    except ValueError:  # a format this code does not know: the slow, sure way
        return tuple(int(d) for d in partial.to_shape())
