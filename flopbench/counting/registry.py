"""The op registry: per OpenVINO op type, its cost formula and the facts every stage needs about it
(is it convolution-like, which inputs hold its data and weights, does it join a convolution's
layer ...), declared together in one registration (`formula(...)` in `formulas.py`).

Every op set flopbench uses is read from here (`optypes.py` derives them), so a new op type is one
registration: counting, layer grouping, precision and the profile join all learn it from that.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .formulas import OpView, Work

# what an op is, for the stages that treat families of ops alike
KINDS = ("", "conv", "matmul", "pool", "elementwise", "data_movement", "plumbing")


@dataclass(frozen=True)
class OpFacts:
    """What is true of every op of one type, beyond its cost.

    kind: "conv" (weights [C_out, C_in/G, K...], or [G, C_out/G, C_in/G, K...] when `grouped`),
      "matmul", "pool", "elementwise", "data_movement", "plumbing" (Parameter, Constant, Result).
    mac_inputs: the inputs that carry the data and the weights of an op whose work is
      multiply-accumulates (not offsets, masks or shapes); empty for every other op.
    weight_input: the input holding a convolution's weights (its kernel is their trailing axes).
    layer: the layer type a convolution or matmul makes (+ "2D" for a 2-D one), e.g. "Conv".
    epilogue: elementwise work with constants that joins the layer of the op before it (bias, scale,
      batch norm, activation, (de)quantization); per_channel: it acts on each channel alone.
    anchor: starts a layer that takes the epilogue after it (besides multiply-accumulate ops).
    value_inputs: the inputs that carry values, None for all; (0,) when the others are shapes, axes
      or indices.
    setting_inputs: constant inputs that configure the op rather than weigh it (Interpolate's sizes).
    range_inputs: inputs that are quantization ranges: stored, but settings rather than parameters.
    keeps_values: walking back through it keeps the same values up to a scale (a dequantization
      step, a re-layout, a max pool's pick): the precision walk passes it.
    relabels: between a constant and its use, it only re-shapes or re-types it (a constant shared
      through such ops is one constant).
    """

    kind: str = ""
    mac_inputs: tuple[int, ...] = ()
    weight_input: int | None = None
    transposed: bool = False
    grouped: bool = False
    layer: str = ""
    epilogue: bool = False
    per_channel: bool = False
    anchor: bool = False
    value_inputs: tuple[int, ...] | None = None
    setting_inputs: tuple[int, ...] = ()
    range_inputs: tuple[int, ...] = ()
    keeps_values: bool = False
    relabels: bool = False

    @property
    def multiplies(self) -> bool:
        """Its work is multiply-accumulates (a convolution, a matmul, an einsum)."""
        return bool(self.mac_inputs)

    @property
    def starts_layer(self) -> bool:
        return self.multiplies or self.anchor


NO_FACTS = OpFacts()

Formula = Callable[["OpView"], "Work"]
FORMULAS: dict[str, Formula] = {}
FORMULA_DOCS: dict[str, str] = {}
OP_FACTS: dict[str, OpFacts] = {}


class DuplicateFormulaError(ValueError):
    """Two registrations for one op type: a mistake in the code, found when it is imported.
    (To change a formula for one count, pass `count(model, formulas={...})`.)"""


def make_facts(op_type: str, kind: str = "", mac_inputs: tuple[int, ...] | None = None, weight_input: int | None = None,
               **facts) -> OpFacts:
    """The facts of a registration, with the defaults of its kind: a convolution's weights are input
    1, and a convolution's or matmul's data and weights are inputs 0 and the weights."""
    if kind not in KINDS:
        raise ValueError(f"op type {op_type!r}: kind {kind!r} is not one of {', '.join(repr(k) for k in KINDS)}")
    if kind == "conv":
        weight_input = 1 if weight_input is None else weight_input
        facts.setdefault("layer", op_type)
    if mac_inputs is None:
        mac_inputs = (0, weight_input if weight_input is not None else 1) if kind in ("conv", "matmul") else ()
    return OpFacts(kind=kind, mac_inputs=tuple(mac_inputs), weight_input=weight_input, **facts)


def register_op(op_type: str, func: Formula | None = None, doc: str = "", facts: OpFacts = NO_FACTS) -> None:
    """Register an op type's formula (None for graph plumbing, which costs nothing) and its facts."""
    if op_type in OP_FACTS:
        former = f" ({_qualname(FORMULAS[op_type])})" if op_type in FORMULAS else ""
        mine = _qualname(func) if func is not None else "a second declaration"
        raise DuplicateFormulaError(f"a formula for op type {op_type!r} is already registered{former}; "
                                    f"{mine} would replace it: give it another op type, or pass count(..., formulas={{{op_type!r}: ...}}) "
                                    "to override it for one count")
    OP_FACTS[op_type] = facts
    if func is not None:
        FORMULAS[op_type] = func
        FORMULA_DOCS[op_type] = doc


def register_formula(op_type: str, func: Formula, doc: str, **facts) -> None:
    register_op(op_type, func, doc, make_facts(op_type, **facts))


def _qualname(func: Callable) -> str:
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"


def formula(*op_types: str, doc: str | None = None, **facts) -> Callable[[Formula], Formula]:
    """Register `func` as the formula of each op type, with the op type's facts (see `OpFacts`:
    `kind="conv"`, `weight_input=2`, `mac_inputs=(0, 2)` ...); an op type registered twice raises
    `DuplicateFormulaError` (at import time, since formulas are registered by decorators)."""
    def register(func: Formula) -> Formula:
        text = doc or ((func.__doc__ or "").strip().splitlines() or [""])[0]
        for op_type in op_types:
            register_formula(op_type, func, text, **facts)
        return func

    return register


def formula_docs() -> list[tuple[str, str]]:
    """(op type, what is counted) for every registered formula, for the docs' formula table."""
    return sorted(FORMULA_DOCS.items())
