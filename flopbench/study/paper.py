"""The MobileNet paper's way of counting (Howard et al. 2017, arXiv 1704.04861), from flopbench's counts.

The paper counts mult-adds of convolutions and the fully connected layer, and parameters as their
weights only: no BatchNorm, no bias (Table 2's parameter shares add up to 100% that way, and only
that way). Its layer types are the 1×1 convolutions, the depthwise convolutions, the first full
convolution and the fully connected layer.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..counting import ModelCost, OpCost

KINDS = ("Conv 1x1", "Conv DW 3x3", "Conv 3x3", "Fully Connected")


@dataclass(frozen=True)
class PaperCount:
    kind: str
    mult_adds: int
    params: int  # weights only, as the paper counts them


def _kind(op: OpCost) -> str | None:
    if op.type == "GroupConvolution":
        return "Conv DW 3x3"
    if op.type == "Convolution":
        return "Conv 1x1" if op.kernel and all(k == 1 for k in op.kernel) else "Conv 3x3"
    if op.type == "MatMul":
        return "Fully Connected"
    return None


def _weights(op: OpCost) -> int:
    """Elements of the op's weight input (its second input), the parameters the paper counts."""
    shape = op.input_shapes[1] if len(op.input_shapes) > 1 else ()
    count = 1
    for dim in shape:
        count *= dim
    return count


def paper_counts(cost: ModelCost) -> tuple[PaperCount, ...]:
    """Mult-adds and weights per layer type, the paper's Table 2 rows, in its order."""
    totals = {kind: [0, 0] for kind in KINDS}
    for op in cost.ops:
        kind = _kind(op)
        if kind is not None:
            totals[kind][0] += op.macs
            totals[kind][1] += _weights(op)
    return tuple(PaperCount(kind, macs, params) for kind, (macs, params) in totals.items())


def paper_totals(cost: ModelCost) -> tuple[int, int]:
    """(mult-adds, parameters) as the paper's Tables 4 to 7 give them."""
    rows = paper_counts(cost)
    return sum(r.mult_adds for r in rows), sum(r.params for r in rows)


def shares(cost: ModelCost) -> dict[str, tuple[float, float]]:
    """Table 2: each layer type's percentage of the mult-adds and of the parameters."""
    rows = paper_counts(cost)
    macs, params = sum(r.mult_adds for r in rows), sum(r.params for r in rows)
    return {r.kind: (100.0 * r.mult_adds / macs, 100.0 * r.params / params) for r in rows}
