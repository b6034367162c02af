"""Render a prediction: per layer the predicted time, where the layer sits on the roofline, and the
calibration it came from. Rendering never computes."""
from __future__ import annotations

import csv
import io
import json

from ..profiling.predict import PredictedLayer, PredictResult
from . import units
from .registry import renderer

COLUMNS = ("layer", "type", "kernel_class", "flops", "bytes", "executed_bytes", "working_set_bytes", "level", "bound",
           "precision", "roof_time_us", "factor", "fixed_us", "predicted_time_us", "fused_into")
HEADER = ("Layer", "Type", "Class", "FLOPs", "Exec. B", "Level", "Bound", "Roof µs", "× class", "Predicted µs")


def _rows(result: PredictResult):
    for layer in result.layers:
        yield layer, ""
        for part in layer.parts:
            yield part, layer.name


def _cells(layer: PredictedLayer, parent: str) -> list[str]:
    name = f"  └ {layer.name}" if parent else layer.name
    return [name, layer.type, layer.kernel_class, units.compact(layer.flops), units.compact(layer.executed_bytes), layer.level,
            layer.bound, units.fixed(layer.roof_time_us), units.fixed(layer.factor, 2), units.fixed(layer.predicted_time_us)]


def summary_lines(result: PredictResult) -> list[str]:
    s = result.engine
    c = result.calibration
    fixed = c.get("fixed_us", {})
    factors = ", ".join(f"{k} {fixed.get(k, 0.0):.1f} µs + ×{v:.2f}" for k, v in c.get("factors", {}).items())
    return [
        f"{s['engine']} {str(s['engine_version']).split('-')[0]} on {s['device']}, precision {s['precision']}, "
        f"{s.get('threads') or '?'} thread(s); nothing was run: the model was read, counted and compiled",
        f"Predicted latency {result.predicted_latency_us:,.1f} µs = layers {result.layers_us:,.1f} µs + inserted nodes "
        f"{result.inserted_us:,.1f} µs + the per-inference cost {result.call_overhead_us:,.1f} µs",
        f"Each layer: its kernel class's fixed cost per engine node + its slope × max(FLOPs / peak, executed bytes / bandwidth "
        f"of the level its working set fits in), both fitted to this machine's calibration sweep ({factors})"
        + ("; the sweep's layer times were scaled to its models' unprofiled latency, as this engine's profiler slows the nodes it times"
           if c.get("scaled_to_unprofiled") else ""),
        f"Calibration {c.get('file', '')} measured {c.get('measured_at', '')}{' (quick)' if c.get('quick') else ''}, "
        f"roofline measured {c.get('roofline_measured_at', '')}",
    ] + ([f"While it was calibrated this machine moved: a sweep model's slowest pass took {100 * c['pass_spread']:.0f}% longer than "
          f"its fastest (the median over the sweep), so one bench of a model can land about that far from another"]
         if c.get("pass_spread") else [])


@renderer("predict", "csv")
def to_csv(result: PredictResult) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["layer", "parent", *COLUMNS[1:]], lineterminator="\n")
    writer.writeheader()
    for layer, parent in _rows(result):
        record = {"layer": layer.name, "parent": parent, **{k: getattr(layer, k) for k in COLUMNS[1:]}}
        writer.writerow(units.csv_record(record))
    return buffer.getvalue()


@renderer("predict", "markdown")
def to_markdown(result: PredictResult) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    lines += ["| " + " | ".join(units.markdown_cell(c) for c in _cells(layer, parent)) + " |" for layer, parent in _rows(result)]
    lines.append("| **Predicted latency** | | | | | | | | | " + units.fixed(result.predicted_latency_us) + " |")
    return "\n".join(lines + [""] + [units.markdown_text(line) for line in summary_lines(result)]) + "\n"


@renderer("predict", "table")
def to_table(result: PredictResult):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{result.model}: predicted time per layer (not run)", title_justify="left", header_style="bold")
    for column in HEADER:
        table.add_column(column, justify="left" if column in ("Layer", "Type", "Class", "Level", "Bound") else "right",
                         overflow="fold", no_wrap=column != "Layer")
    for layer, parent in _rows(result):
        table.add_row(*_cells(layer, parent), style="dim" if parent else None)
    table.add_section()
    table.add_row("Predicted latency", *[""] * 8, units.fixed(result.predicted_latency_us), style="bold")
    return Group(table, Text("\n".join(summary_lines(result))))


@renderer("predict", "json")
def to_json(result: PredictResult) -> str:
    return json.dumps(result.to_dict(), indent=2) + "\n"
