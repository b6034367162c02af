"""Render counted results: rich table, JSON, CSV, Markdown. Rendering never computes."""
from __future__ import annotations

import csv
import io
import json
from typing import Any

from ..counting.cost import LayerCost, ModelCost, OpCost
from ..errors import OptionError
from ..model.shapes import format_shape
from .text import FORMATS, check_format, render_text

VIEWS = ("layer", "op")


def check_view(view: str) -> str:
    if view not in VIEWS:
        raise OptionError(f"unknown view --by {view!r}", f"choose one of: {', '.join(VIEWS)}")
    return view


def _shape(shape) -> str:
    return format_shape(shape) if shape else ""


def _n(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


LAYER_COLUMNS = ("layer", "type", "input", "kernel", "kernels", "output", "macs", "flops", "other_flops", "params", "bytes")
OP_COLUMNS = ("op", "type", "layer", "inputs", "output", "macs", "flops", "other_flops", "params", "bytes_read", "bytes_written", "counted")


def _layer_record(layer: LayerCost, parent: str, include_other: bool) -> dict[str, Any]:
    return {
        "layer": layer.name, "parent": parent, "type": layer.type, "role": layer.role,
        "input": _shape(layer.input_shape), "kernel": _shape(layer.kernel), "kernels": layer.kernels,
        "output": _shape(layer.output_shape), "macs": layer.macs, "flops": layer.flops,
        "other_flops": layer.other_flops, "total_flops": layer.total_flops(include_other), "params": layer.params,
        "bytes": layer.bytes_read + layer.bytes_written,
    }


def layer_records(cost: ModelCost) -> list[dict[str, Any]]:
    """One flat record per layer and per part of a layer (parts name their parent)."""
    records = []
    for layer in cost.layers:
        records.append(_layer_record(layer, "", cost.include_other))
        records.extend(_layer_record(part, layer.name, cost.include_other) for part in layer.parts)
    return records


def _op_record(op: OpCost) -> dict[str, Any]:
    return {
        "op": op.name, "type": op.type, "layer": op.layer,
        "inputs": " ".join(_shape(s) for s in op.input_shapes), "output": " ".join(_shape(s) for s in op.output_shapes),
        "macs": op.macs, "flops": op.flops, "other_flops": op.other_flops, "params": op.params,
        "bytes_read": op.bytes_read, "bytes_written": op.bytes_written, "counted": op.counted,
    }


def to_json(cost: ModelCost) -> str:
    return json.dumps(cost.to_dict(), indent=2) + "\n"


def to_csv(cost: ModelCost, view: str = "layer") -> str:
    buffer = io.StringIO()
    if view == "op":
        records = [_op_record(op) for op in cost.ops]
    else:
        records = layer_records(cost)
    writer = csv.DictWriter(buffer, fieldnames=list(records[0].keys()) if records else ["layer"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def _summary_lines(cost: ModelCost) -> list[str]:
    lines = [
        f"Total: {cost.total_flops:,} FLOPs ({cost.macs:,} MACs), {cost.params:,} parameters, "
        f"{cost.bytes_read + cost.bytes_written:,} bytes moved",
    ]
    if cost.include_other:
        lines.append(f"The total includes {cost.other_flops:,} other FLOPs (bias, activation, pooling, normalization, softmax).")
    else:
        lines.append(f"FLOPs = 2 × MACs of convolutions and matmuls; {cost.other_flops:,} other FLOPs (bias, activation, "
                     "pooling, softmax) are not in the total: --include-other adds them.")
    if cost.not_counted:
        missing = ", ".join(f"{kind} ×{n}" for kind, n in cost.not_counted.items())
        lines.append(f"Not counted (no formula): {missing}")
    if cost.dynamic_shapes:
        dynamic = ", ".join(f"{kind} ×{n}" for kind, n in cost.dynamic_shapes.items())
        lines.append(f"Not counted (shapes depend on the data, e.g. after NonZero): {dynamic}")
    return lines


def to_markdown(cost: ModelCost, view: str = "layer") -> str:
    if view == "op":
        header = ["Op", "Type", "Layer", "Inputs", "Output", "MACs", "FLOPs", "Other FLOPs", "Params", "Counted"]
        rows = [[op.name, op.type, op.layer, " ".join(_shape(s) for s in op.input_shapes),
                 " ".join(_shape(s) for s in op.output_shapes), _n(op.macs), _n(op.flops), _n(op.other_flops),
                 _n(op.params), "yes" if op.counted else "no"] for op in cost.ops]
    else:
        header = ["Layer", "Type", "Input", "Kernel", "Kernels", "Output", "MACs", "FLOPs", "Other FLOPs", "Params"]
        rows = []
        for layer in cost.layers:
            rows.append(_layer_cells(layer, indent=False))
            rows.extend(_layer_cells(part, indent=True) for part in layer.parts)
        rows.append(["**Total**", "", "", "", "", "", _n(cost.macs), _n(cost.total_flops), _n(cost.other_flops), _n(cost.params)])
    escape = lambda cell: str(cell).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines + [""] + _summary_lines(cost)) + "\n"


def _layer_cells(layer: LayerCost, indent: bool) -> list[str]:
    name = f"  └ {layer.name}" if indent else layer.name
    return [name, layer.type, _shape(layer.input_shape), _shape(layer.kernel), _n(layer.kernels), _shape(layer.output_shape),
            _n(layer.macs), _n(layer.flops), _n(layer.other_flops), _n(layer.params)]


def to_table(cost: ModelCost, view: str = "layer"):
    """A rich renderable: the layer (or op) table with totals and notes."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    title = f"{cost.model}  ({cost.format}, input {', '.join(f'{i.name} {_shape(i.shape)}' for i in cost.inputs)})"
    table = Table(title=title, title_justify="left", show_footer=False, header_style="bold")
    if view == "op":
        for column in ("Op", "Type", "Layer", "Inputs", "Output"):
            table.add_column(column, overflow="fold")
        for column in ("MACs", "FLOPs", "Other", "Params", "Bytes"):
            table.add_column(column, justify="right")
        for op in cost.ops:
            style = None if op.counted else "yellow"
            table.add_row(op.name, op.type, op.layer, " ".join(_shape(s) for s in op.input_shapes),
                          " ".join(_shape(s) for s in op.output_shapes), _n(op.macs), _n(op.flops),
                          _n(op.other_flops), _n(op.params), _n(op.bytes_read + op.bytes_written), style=style)
    else:
        for column in ("Layer", "Type", "Input", "Kernel", "Kernels", "Output"):
            table.add_column(column, overflow="fold")
        for column in ("MACs", "FLOPs", "Other", "Params"):
            table.add_column(column, justify="right")
        for layer in cost.layers:
            table.add_row(*_layer_cells(layer, indent=False), style=None if layer.counted else "yellow")
            for part in layer.parts:
                table.add_row(*_layer_cells(part, indent=True), style="dim")
    table.add_section()
    table.add_row("Total", *([""] * (4 if view == "op" else 5)), _n(cost.macs), _n(cost.total_flops), _n(cost.other_flops),
                  _n(cost.params), *([_n(cost.bytes_read + cost.bytes_written)] if view == "op" else []), style="bold")
    return Group(table, Text("\n".join(_summary_lines(cost))))


def render_cost(cost: ModelCost, fmt: str = "table", view: str = "layer"):
    check_format(fmt)
    check_view(view)
    if fmt == "json":
        return to_json(cost)
    if fmt == "csv":
        return to_csv(cost, view)
    if fmt == "markdown":
        return to_markdown(cost, view)
    return to_table(cost, view)
