"""The MobileNet paper's way of counting (Howard et al. 2017, arXiv 1704.04861), from flopbench's counts.

The paper counts mult-adds of convolutions and the fully connected layer, and parameters as their
weights only: no BatchNorm, no bias (Table 2's parameter shares add up to 100% that way, and only
that way). Its layer types are the 1×1 convolutions, the depthwise convolutions, the first full
convolution and the fully connected layer.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..counting import ModelCost, OpCost
from ..results.codec import encoded, json_field, result_kind

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


@encoded(derived=("mult_adds_error",))
@dataclass(frozen=True)
class PaperRow:
    """One line of the paper's tables beside flopbench's count of the same model."""

    table: str
    model: str
    paper_mult_adds_m: float
    paper_params_m: float | None
    mult_adds: int
    params: int  # as the paper counts: weights only

    @property
    def mult_adds_error(self) -> float:
        return self.mult_adds / 1e6 / self.paper_mult_adds_m - 1.0


# (table, label, zoo name, alpha, resolution, paper mult-adds in millions, paper params in millions)
PAPER_MODELS = (
    ("4", "1.0 MobileNet-224", "mobilenet_v1", None, None, 569, 4.2),
    ("4", "Conv MobileNet", "conv_mobilenet_v1", None, None, 4866, 29.3),
    ("6", "0.75 MobileNet-224", "mobilenet_v1", 0.75, None, 325, 2.6),
    ("6", "0.50 MobileNet-224", "mobilenet_v1", 0.5, None, 149, 1.3),
    ("6", "0.25 MobileNet-224", "mobilenet_v1", 0.25, None, 41, 0.5),
    ("7", "1.0 MobileNet-192", "mobilenet_v1", None, 192, 418, 4.2),
    ("7", "1.0 MobileNet-160", "mobilenet_v1", None, 160, 290, 4.2),
    ("7", "1.0 MobileNet-128", "mobilenet_v1", None, 128, 186, 4.2),
)
# Table 2 of the paper: each layer type's share of mult-adds and parameters, in percent
PAPER_SHARES = {"Conv 1x1": (94.86, 74.59), "Conv DW 3x3": (3.06, 1.06), "Conv 3x3": (1.19, 0.02), "Fully Connected": (0.18, 24.33)}


@result_kind("paper", version=1)
@dataclass(frozen=True)
class PaperTables:
    """The paper's Tables 3, 4, 6 and 7 counted (`rows`) and Table 2's shares of 1.0 MobileNet-224."""

    rows: tuple[PaperRow, ...]
    shares_of_v1: dict[str, tuple[float, float]] = json_field(json="table2_shares")
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False)


def paper_tables(folder) -> PaperTables:
    from ..results.metadata import result_metadata

    return PaperTables(*paper_rows(folder), metadata=result_metadata())


def paper_rows(folder) -> tuple[tuple[PaperRow, ...], dict[str, tuple[float, float]]]:
    """Tables 4, 6 and 7 (each model built from the zoo into `folder`, then counted) and Table 2's shares."""
    from ..counting import count
    from ..zoo import write_zoo_model

    rows, shares_of_v1 = [], {}
    for table, label, name, alpha, resolution, mult_adds_m, params_m in PAPER_MODELS:
        files = write_zoo_model(name, folder, fmt="ir", alpha=alpha, resolution=resolution)
        cost = count(files.xml)
        macs, params = paper_totals(cost)
        rows.append(PaperRow(table, label, mult_adds_m, params_m, macs, params))
        if label == "1.0 MobileNet-224":
            shares_of_v1 = shares(cost)
    rows += _table_3(Path(folder))
    return tuple(rows), shares_of_v1


def _table_3(folder: Path) -> list[PaperRow]:
    """Table 3: one 14×14×512 → 512 3×3 layer, standard and (through `convert`) separable."""
    from ..counting import count
    from ..converting.convert import convert
    from .sweep import standard_layer

    point = {"in_channels": 512, "out_channels": 512, "kernel": 3, "size": 14, "stride": 1, "seed": 0}
    standard = standard_layer(folder / "table3.onnx", point)
    separable = folder / "table3_separable.onnx"
    convert(standard, "separable", separable)
    rows = []
    for label, path, mult_adds_m, params_m in (("Conv 3x3, 14x14x512 → 512", standard, 462, 2.36),
                                                ("Depthwise Separable Conv", separable, 52.3, 0.27)):
        cost = count(path)
        rows.append(PaperRow("3", label, mult_adds_m, params_m, cost.macs, cost.params))
    return rows
