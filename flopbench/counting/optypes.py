"""Op facts as the stages read them: `op_facts(op_type)` and the op-type sets derived from the
registry (`registry.py`), where each op type's facts are declared with its formula (`formulas.py`).
Nothing here lists an op type: a set is recomputed from the registry, so an op type registered
later (a user's own formula module) is in it."""
from __future__ import annotations

from . import formulas  # noqa: F401  (the declarations: importing them fills the registry)
from .registry import NO_FACTS, OP_FACTS, OpFacts


def op_facts(op_type: str) -> OpFacts:
    """The facts registered for `op_type`; an op type nobody registered has none."""
    return OP_FACTS.get(op_type, NO_FACTS)


def op_types(test) -> frozenset[str]:
    """Every registered op type whose facts pass `test`."""
    return frozenset(op_type for op_type, facts in OP_FACTS.items() if test(facts))


def mac_op_types() -> frozenset[str]:
    """Op types whose work is multiply-accumulates: convolutions, matmuls, einsums."""
    return op_types(lambda facts: facts.multiplies)


# the sets by their former names, derived when asked for (module attributes, PEP 562)
_DERIVED = {
    "STRUCTURAL": lambda: op_types(lambda f: f.kind == "plumbing"),
    "CONVOLUTIONS": lambda: op_types(lambda f: f.kind == "conv"),
    "TRANSPOSED_CONVOLUTIONS": lambda: op_types(lambda f: f.transposed),
    "POOLS": lambda: op_types(lambda f: f.kind == "pool"),
    "ANCHORS": lambda: op_types(lambda f: f.starts_layer),
    "EPILOGUE": lambda: op_types(lambda f: f.epilogue),
    "MAC_OPS": mac_op_types,
    "SETTING_INPUTS": lambda: {op_type: f.setting_inputs for op_type, f in OP_FACTS.items() if f.setting_inputs},
}


def __getattr__(name: str):
    if name in _DERIVED:
        return _DERIVED[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
