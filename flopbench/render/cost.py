"""Render counted results: rich table, JSON, CSV, Markdown. Rendering never computes."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..counting.cost import LayerCost, ModelCost, OpCost
from ..counting.memory import MemoryFit
from ..errors import OptionError
from . import charts, units
from .page import card, escape
from .registry import renderer
from .text import TableColumn, TableRow, TextTable, html_table, short_name

VIEWS = ("layer", "op")


def check_view(view: str) -> str:
    if view not in VIEWS:
        raise OptionError(f"unknown view --by {view!r}", f"choose one of: {', '.join(VIEWS)}")
    return view


LAYER_COLUMNS = ("layer", "type", "input", "kernel", "kernels", "output", "macs", "flops", "other_flops", "params", "bytes")
OP_COLUMNS = ("op", "type", "layer", "inputs", "output", "macs", "flops", "other_flops", "params", "bytes_read", "bytes_written", "counted")
# in a narrow terminal, the highest leave first: shapes and kernels, then the rarer counts; FLOPs and names stay
LAYER_DROP = {"Input": 12, "Output": 11, "Kernel": 10, "Kernels": 9, "Other": 8, "Output B": 7, "Weight B": 6, "Precision": 5,
              "Type": 3, "Params": 2, "MACs": 1}
OP_DROP = {"Inputs": 12, "Output": 11, "Other": 8, "Layer": 6, "Bytes": 4, "Type": 3, "Params": 2, "MACs": 1}


def layer_records(cost: ModelCost) -> list[dict[str, Any]]:
    """One flat record per layer and per part of a layer (parts name their parent)."""
    return cost.rows("layer")


def _op_record(op: OpCost) -> dict[str, Any]:
    return op.record()


@renderer("count", "json")
def to_json(cost: ModelCost, budget: MemoryFit | None = None, measured=()) -> str:
    document = cost.to_dict()
    if budget is not None:
        document["memory_budget"] = budget.to_dict()
    if measured:
        document["measured_memory"] = [{**footprint.to_dict(), **({"breakdown": breakdown.to_dict()} if breakdown else {})}
                                       for footprint, breakdown in measured]
    return json.dumps(document, indent=2) + "\n"


def _measured_lines(cost: ModelCost, measured) -> list[str]:
    if not measured:
        return []
    estimate = cost.materialized_weight_bytes + cost.peak_activation_bytes
    lines = [f"Measured memory (RSS of a fresh process; estimate: weights + peak activations = {units.megabytes(estimate)}):"]
    for footprint, breakdown in measured:
        lines.append(f"  {footprint.engine} ({footprint.precision}): +{units.megabytes(footprint.compile_growth_bytes)} compiling, "
                     f"+{units.megabytes(footprint.inference_growth_bytes)} more at the inference peak, {units.megabytes(footprint.total_growth_bytes)} in all "
                     f"({footprint.total_growth_bytes / estimate:.1f}× the estimate)" if estimate else "")
        if breakdown is not None:
            lines += _breakdown_lines(breakdown)
    return lines


def _breakdown_lines(part) -> list[str]:
    """The measured growth, part by part (measure/footprint.explain)."""
    mb = units.megabytes
    rest = (f"+ the rest {mb(part.rest_bytes)}: workspace, allocator slack" if part.rest_bytes >= 0 else
            f"− {mb(-part.rest_bytes)} less than that: the engine fused and reused buffers the per-op estimate keeps apart")
    ratio = f" (the measurement is {part.measured_bytes / part.estimate_bytes:.2f}× it)" if part.estimate_bytes else ""
    return [f"    = engine fixed cost {mb(part.engine_fixed_bytes)} (a one-op model, measured the same way)",
            f"    + weights {mb(part.weight_bytes)} once computed",
            f"    + the engine's copy of them at {part.run_precision} {mb(part.weight_copy_bytes)} (repacked for its kernels; the model's own copy stays)",
            f"    + peak activations {mb(part.activation_bytes)}",
            f"    {rest}",
            f"    estimate with the engine's costs: {mb(part.estimate_bytes)}{ratio}"]


def _memory_lines(cost: ModelCost, budget: MemoryFit | None) -> list[str]:
    by_type = ", ".join(f"{element} {size:,}" for element, size in cost.weight_bytes_by_type.items())
    lines = [f"Weights: {units.bytes_exact(cost.weight_bytes)} as stored" + (f" ({by_type})" if by_type else "")]
    if cost.materialized_weight_bytes != cost.weight_bytes:  # the graph computes some of its weights (ConstantOfShape ...)
        lines[0] += f"; {units.bytes_exact(cost.materialized_weight_bytes)} once computed in the graph"
    memory = cost.memory
    if memory is not None:
        lowest = "the same" if memory.lowest_peak_bytes == memory.peak_bytes and memory.lowest_peak_exact else (
            f"{memory.lowest_peak_bytes:,} B" if memory.lowest_peak_exact else f"at least {memory.lowest_peak_bytes:,} B (a bound: too many orders to search)")
        lines.append(f"Activations: peak {units.bytes_exact(memory.peak_bytes)} along the graph's order, at {memory.peak_op}; "
                     f"lowest over any order: {lowest}")
    if budget is not None:
        verdict = (f"fits, {units.bytes_exact(budget.margin_bytes)} to spare" if budget.fits
                   else f"does NOT fit: {units.bytes_exact(-budget.margin_bytes)} over")
        lines.append(f"Memory budget {units.bytes_exact(budget.budget_bytes)}: weights + peak activations = {units.bytes_exact(budget.needed_bytes)}: {verdict}")
    return lines


def _precision_lines(cost: ModelCost) -> list[str]:
    if not cost.integer_macs:
        return []
    split = ", ".join(f"{precision} {macs:,}" for precision, macs in cost.macs_by_precision.items())
    return [f"MACs by precision: {split} — {2 * cost.integer_macs / 1e9:.4g} GIOPs integer, {2 * cost.float_macs / 1e9:.4g} GFLOPs float"]


@renderer("count", "csv")
def to_csv(cost: ModelCost, view: str = "layer") -> str:
    buffer = io.StringIO()
    if view == "op":
        records = [_op_record(op) for op in cost.ops]
    else:
        records = layer_records(cost)
    writer = csv.DictWriter(buffer, fieldnames=list(records[0].keys()) if records else ["layer"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(units.csv_record(record) for record in records)
    return buffer.getvalue()


def _summary_lines(cost: ModelCost, budget: MemoryFit | None = None, measured=()) -> list[str]:
    lines = [
        f"Total: {cost.total_flops:,} FLOPs ({cost.macs:,} MACs), {cost.params:,} parameters, "
        f"{cost.bytes_read + cost.bytes_written:,} bytes moved",
    ] + _precision_lines(cost) + _memory_lines(cost, budget) + _measured_lines(cost, measured)
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


@renderer("count", "markdown")
def to_markdown(cost: ModelCost, view: str = "layer", budget: MemoryFit | None = None, measured=()) -> str:
    if view == "op":
        header = ["Op", "Type", "Layer", "Inputs", "Output", "MACs", "FLOPs", "Other FLOPs", "Params", "Counted"]
        rows = [[op.name, op.type, op.layer, " ".join(units.shape(s) for s in op.input_shapes),
                 " ".join(units.shape(s) for s in op.output_shapes), units.count(op.macs), units.count(op.flops), units.count(op.other_flops),
                 units.count(op.params), "yes" if op.counted else "no"] for op in cost.ops]
    else:
        header = ["Layer", "Type", "Input", "Kernel", "Kernels", "Output", "MACs", "FLOPs", "Other FLOPs", "Params"]
        rows = []
        for layer in cost.layers:
            rows.append(_layer_cells(layer, indent=False))
            rows.extend(_layer_cells(part, indent=True) for part in layer.parts)
        rows.append(["**Total**", "", "", "", "", "", units.count(cost.macs), units.count(cost.total_flops), units.count(cost.other_flops), units.count(cost.params)])
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(units.markdown_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines + [""] + [units.markdown_text(line) for line in _summary_lines(cost, budget, measured)]) + "\n"


def _layer_cells(layer: LayerCost, indent: bool, precision: bool = False, memory: bool = False) -> list[str]:
    name = f"  └ {short_name(layer.name)}" if indent else short_name(layer.name)
    return [name, layer.type, units.shape(layer.input_shape), units.shape(layer.kernel), units.count(layer.kernels), units.shape(layer.output_shape),
            *([layer.precision] if precision else []), units.count(layer.macs), units.count(layer.flops), units.count(layer.other_flops), units.count(layer.params),
            *([units.count(layer.weight_bytes), units.count(layer.activation_bytes)] if memory else [])]


@renderer("count", "table")
def to_table(cost: ModelCost, view: str = "layer", memory: bool = False, budget: MemoryFit | None = None, measured=()) -> TextTable:
    """The layer (or op) table with totals and notes; a Precision column when some MACs run on
    integers, weight and activation bytes per layer with `memory` or a `budget`; `measured`:
    `Footprint`s (measure/footprint.py) said beside the memory estimate."""
    memory = memory or budget is not None
    title = f"{cost.model}  ({cost.format}, input {', '.join(f'{i.name} {units.shape(i.shape)}' for i in cost.inputs)})"
    if view == "op":
        columns = [TableColumn(c, no_wrap=c in ("Op", "Layer"), drop=OP_DROP.get(c, 0), names=c in ("Op", "Layer"))
                   for c in ("Op", "Type", "Layer", "Inputs", "Output")]
        columns += [TableColumn(c, right=True, drop=OP_DROP.get(c, 0)) for c in ("MACs", "FLOPs", "Other", "Params", "Bytes")]
        rows = [TableRow((short_name(op.name), op.type, short_name(op.layer), " ".join(units.shape(s) for s in op.input_shapes),
                          " ".join(units.shape(s) for s in op.output_shapes), units.count(op.macs), units.count(op.flops),
                          units.count(op.other_flops), units.count(op.params), units.count(op.bytes_read + op.bytes_written)), None if op.counted else "yellow")
                for op in cost.ops]
        total = ("Total", *([""] * 4), units.count(cost.macs), units.count(cost.total_flops), units.count(cost.other_flops),
                 units.count(cost.params), units.count(cost.bytes_read + cost.bytes_written))
    else:
        precision = cost.integer_macs > 0
        columns = [TableColumn(c, no_wrap=c == "Layer", drop=LAYER_DROP.get(c, 0), names=c == "Layer")
                   for c in ("Layer", "Type", "Input", "Kernel", "Kernels", "Output", *(["Precision"] if precision else []))]
        columns += [TableColumn(c, right=True, drop=LAYER_DROP.get(c, 0))
                    for c in ("MACs", "FLOPs", "Other", "Params", *(["Weight B", "Output B"] if memory else []))]
        rows = []
        for layer in cost.layers:
            rows.append(TableRow(tuple(_layer_cells(layer, False, precision, memory)), None if layer.counted else "yellow"))
            rows.extend(TableRow(tuple(_layer_cells(part, True, precision, memory)), "dim") for part in layer.parts)
        total = ("Total", *([""] * (6 if precision else 5)), units.count(cost.macs), units.count(cost.total_flops), units.count(cost.other_flops),
                 units.count(cost.params), *([units.count(cost.weight_bytes), ""] if memory else []))
    if rows:  # a rule between the rows and their total
        rows[-1] = replace(rows[-1], end_section=True)
    rows.append(TableRow(total, "bold"))
    return TextTable(title, tuple(columns), tuple(rows), "\n".join(_summary_lines(cost, budget, measured)))


@renderer("count", "html")
def cost_html(cost: ModelCost) -> str:
    """The layers as an HTML table with the totals under it, for a notebook."""
    columns = ("layer", "parent", "type", "input", "kernel", "kernels", "output", "macs", "flops", "other_flops", "params")
    rows = [{c: row[c] for c in columns} for row in cost.rows()]
    return html_table(rows, f"{cost.model} ({cost.format})", _summary_lines(cost))



# ---- on a page: the model's cards and its work per layer -------------------------------------------

def model_cards(cost: ModelCost) -> list[str]:
    inputs = ", ".join(f"{i.name} {units.shape(i.shape)}" for i in cost.inputs)
    flops_detail = "incl. other FLOPs" if cost.include_other else f"2 × MACs; + {units.si(cost.other_flops, 'FLOPs')} other"
    return [
        card("Model", cost.model.rsplit("/", 1)[-1], f"{cost.format}, input {inputs}", wide=True),
        card("FLOPs", units.si(cost.total_flops, "FLOPs"), flops_detail),
        card("MACs", units.si(cost.macs, "MACs"),
              ", ".join(f"{precision} {macs:,}" for precision, macs in cost.macs_by_precision.items()) or f"{cost.macs:,}"),
        card("Parameters", units.si(cost.params, ""), f"{cost.params:,}"),
        card("Weights stored", units.si(cost.weight_bytes, "B"),
              ", ".join(f"{element} {units.si(size, 'B')}" for element, size in cost.weight_bytes_by_type.items()) or "none"),
        card("Bytes moved", units.si(cost.bytes_read + cost.bytes_written, "B"), "every op's inputs and outputs, unfused"),
    ] + ([card("Peak activations", units.si(cost.peak_activation_bytes, "B"), "live tensors at once, in the runtime's order")]
         if cost.memory is not None else [])


class _Made(Sequence):
    """A sequence whose items are made when asked for."""

    def __init__(self, length: int, make):
        self.length, self.make = length, make

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self.make(row) for row in range(*index.indices(self.length))]
        if not -self.length <= index < self.length:
            raise IndexError(index)
        return self.make(index % self.length)


def layer_chart_section(cost: ModelCost) -> str:
    total = cost.total_flops
    leaves = [leaf for layer in cost.layers for leaf in (layer.parts or (layer,))]
    labels = [leaf.name for leaf in leaves]
    values = [leaf.total_flops(cost.include_other) for leaf in leaves]
    shares = [100.0 * v / total if total else 0.0 for v in values]
    # made for the bars drawn only: a count of 100,000 layers draws 200
    titles = _Made(len(leaves), lambda row: f"{leaves[row].name} ({leaves[row].type}): {values[row]:,} FLOPs, "
                                            f"{shares[row]:.1f}% of the model")
    series = [charts.Series("FLOPs", shares, titles, charts.FLOPS_COLOR)]
    labels, series, folded = charts.largest_rows(labels, series)
    svg = charts.layer_bars("chart-layers", labels, series, "% of the model's FLOPs",
                            "FLOPs per layer (share of the model's total)")
    note = ("Measured time per layer needs a profile; this page has the count and the end-to-end latency. "
            "Hover a bar for its numbers."
            + (f" The {len(labels) - 1:,} layers with the most FLOPs are shown in the model's order; the other "
               f"{folded:,} are one bar (flopbench flops MODEL -o count.json or .csv has every layer)."
               if folded else ""))
    return f'<section id="layers-chart"><h2>Work per layer</h2><p class="note">{escape(note)}</p>{svg}</section>'
