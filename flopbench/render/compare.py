"""Render a comparison of models: one column per model, each followed by its ratio to the first.
Rendering never computes: the values and ratios come from `study.compare`."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..study.compare import Comparison, Row
from . import units


def _names(comparison: Comparison) -> list[str]:
    """File names, or the paths as given when two models share a file name."""
    short = [Path(m).name for m in comparison.models]
    return short if len(set(short)) == len(short) else list(comparison.models)


def _label(row: Row) -> str:
    return f"{row.engine} {row.label.lower()}" if row.engine else row.label


def _header(comparison: Comparison) -> list[str]:
    names = _names(comparison)
    first = names[0]
    cells = ["Metric", first]
    for name in names[1:]:
        cells += [name, f"{name} / {first}"]
    return cells


def _cells(comparison: Comparison, row: Row) -> list[str]:
    cells = [_label(row), units.metric(row.values[0], row.unit)]
    for value, ratio in zip(row.values[1:], row.ratios[1:]):
        cells += [units.metric(value, row.unit), units.ratio(ratio)]
    return cells


def _notes(comparison: Comparison) -> list[str]:
    notes = []
    for result in comparison.results:
        s = result.settings
        notes.append(f"{result.model} on {s.engine} {s.engine_version.split('-')[0]} ({s.device}): {result.mode} mode, "
                     f"precision {s.precision}, {s.threads or '?'} thread(s), {result.iterations:,} runs in {result.wall_s:.2f} s")
    notes.append("latency: the engine's own where it has one (OpenVINO), else timed around each call; "
                 "p99 shows — with too few runs to back it")
    if not comparison.complete:
        notes.append("incomplete: the measurement was stopped before every model ran")
    return notes


def _layer_header(comparison: Comparison) -> list[str]:
    names = _names(comparison)
    cells = ["Layer", "Engine"]
    for i, name in enumerate(names):
        cells += [f"{name} type", f"{name} µs"] + ([f"{name} / {names[0]}"] if i else [])
    return cells


def _layer_cells(match) -> list[str]:
    cells = [match.name, match.engine]
    for i, (kind, time_us, ratio) in enumerate(zip(match.types, match.time_us, match.ratios)):
        cells += [kind or "—", units.fixed(time_us, 1, units.NONE)] + ([units.ratio(ratio)] if i else [])
    return cells


def layer_table(comparison: Comparison):
    from rich.table import Table

    table = Table(title="Layers side by side (mean time per inference, from the profiler)", title_justify="left")
    for i, cell in enumerate(_layer_header(comparison)):
        table.add_column(cell, justify="left" if i < 2 or cell.endswith(" type") else "right")
    for match in comparison.layers:
        table.add_row(*_layer_cells(match))
    return table


def compare_table(comparison: Comparison):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    title = ("Machines compared: each node's own result (ratios to the first column)" if "fleet" in comparison.metadata
             else "Models compared (ratios to the first)")
    table = Table(title=title, title_justify="left")
    for i, cell in enumerate(_header(comparison)):
        table.add_column(cell, justify="left" if i == 0 else "right")
    previous = None
    for row in comparison.rows:
        if previous is not None and row.engine != previous:
            table.add_section()
        previous = row.engine
        table.add_row(*_cells(comparison, row))
    layers = [layer_table(comparison)] if comparison.layers else []
    return Group(table, *layers, *(Text(note) for note in _notes(comparison)))


def to_markdown(comparison: Comparison) -> str:
    header = _header(comparison)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(_cells(comparison, row)) + " |" for row in comparison.rows]
    if comparison.layers:
        header = _layer_header(comparison)
        lines += ["", "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(_layer_cells(m)) + " |" for m in comparison.layers]
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {note}" for note in _notes(comparison)) + "\n"


def to_csv(comparison: Comparison) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["metric", "unit", "engine"]
    for model in comparison.models:
        header.append(model)
    header += [f"ratio:{model}" for model in comparison.models[1:]]
    writer.writerow(header)
    for row in comparison.rows:
        writer.writerow([row.metric, row.unit, row.engine or ""] + ["" if v is None else v for v in row.values]
                        + ["" if r is None else r for r in row.ratios[1:]])
    for match in comparison.layers:
        writer.writerow([f"layer_time_us:{match.name}", units.MICRO, match.engine] + ["" if t is None else t for t in match.time_us]
                        + ["" if r is None else r for r in match.ratios[1:]])
    return out.getvalue()


def to_json(comparison: Comparison) -> str:
    return json.dumps(comparison.to_dict(), indent=2) + "\n"


def render_comparison(comparison: Comparison, fmt: str):
    if fmt == "json":
        return to_json(comparison)
    if fmt == "csv":
        return to_csv(comparison)
    if fmt == "markdown":
        return to_markdown(comparison)
    return compare_table(comparison)
