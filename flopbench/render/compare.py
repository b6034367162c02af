"""Render a comparison of models: one column per model, each followed by its ratio to the first.
Rendering never computes: the values and ratios come from `comparing.compare`."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from ..measure.bench import BenchReport
from ..comparing.compare import Comparison, Row
from . import charts, units
from .bench import latency_section
from .page import escape, sortable_cells, sortable_heads, whole_page
from .registry import renderer
from .text import TableColumn, TableRow, TextTable, short_name
from .profile import labelled_profile_warnings
from .report import ReportContent, report_environment_section, report_warnings_section


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


def _layer_columns(comparison: Comparison) -> tuple[TableColumn, ...]:
    names = _names(comparison)
    columns = [TableColumn("Layer", no_wrap=True, names=True), TableColumn("Engine", no_wrap=True, drop=3)]
    for i, name in enumerate(names):
        short = short_name(name, MODEL_HEADER)
        columns += [TableColumn(f"{name} type", no_wrap=True, drop=5, short=f"{short} type"),
                    TableColumn(f"{name} µs", right=True, short=f"{short} µs")]
        columns += [TableColumn(f"{name} / {names[0]}", right=True, short="ratio")] if i else []
    return tuple(columns)


def _layer_cells(match) -> list[str]:
    cells = [match.name, match.engine]
    for i, (kind, time_us, ratio) in enumerate(zip(match.types, match.time_us, match.ratios)):
        cells += [kind or "—", units.fixed(time_us, 1, units.NONE)] + ([units.ratio(ratio)] if i else [])
    return cells


MODEL_HEADER = 16  # where room is short, a model's column is headed by its name shortened to this


@renderer("compare", "table")
def compare_table(comparison: Comparison):
    """The metrics side by side, and with --by layer the layers side by side, then the notes."""
    title = ("Machines compared: each node's own result (ratios to the first column)" if "fleet" in comparison.metadata
             else "Models compared (ratios to the first)")
    names = _names(comparison)
    columns = [TableColumn("Metric", no_wrap=True, names=True), TableColumn(names[0], right=True, short=short_name(names[0], MODEL_HEADER))]
    for name in names[1:]:
        columns += [TableColumn(name, right=True, short=short_name(name, MODEL_HEADER)),
                    TableColumn(f"{name} / {names[0]}", right=True, short="ratio")]
    rows = []
    for index, row in enumerate(comparison.rows):
        last_of_engine = index + 1 < len(comparison.rows) and comparison.rows[index + 1].engine != row.engine
        rows.append(TableRow(tuple(_cells(comparison, row)), end_section=last_of_engine))
    notes = "\n".join(_notes(comparison))
    metrics = TextTable(title, tuple(columns), tuple(rows), "" if comparison.layers else notes)
    if not comparison.layers:
        return metrics
    layers = TextTable("Layers side by side (mean time per inference, from the profiler)", _layer_columns(comparison),
                       tuple(TableRow(tuple(_layer_cells(match))) for match in comparison.layers), notes)
    return (metrics, layers)


@renderer("compare", "markdown")
def to_markdown(comparison: Comparison) -> str:
    header = _header(comparison)
    def cells(row) -> str:
        return " | ".join(map(units.markdown_cell, row))

    lines = ["| " + cells(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + cells(_cells(comparison, row)) + " |" for row in comparison.rows]
    if comparison.layers:
        header = _layer_header(comparison)
        lines += ["", "| " + cells(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + cells(_layer_cells(m)) + " |" for m in comparison.layers]
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {units.markdown_text(note)}" for note in _notes(comparison)) + "\n"


@renderer("compare", "csv")
def to_csv(comparison: Comparison) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["metric", "unit", "engine"]
    for model in comparison.models:
        header.append(model)
    header += [f"ratio:{model}" for model in comparison.models[1:]]
    writer.writerow(map(units.safe_name, header))
    for row in comparison.rows:
        writer.writerow([row.metric, row.unit, row.engine or ""] + ["" if v is None else v for v in row.values]
                        + ["" if r is None else r for r in row.ratios[1:]])
    for match in comparison.layers:
        writer.writerow([units.safe_name(f"layer_time_us:{match.name}"), units.MICRO, match.engine] + ["" if t is None else t for t in match.time_us]
                        + ["" if r is None else r for r in match.ratios[1:]])
    return out.getvalue()


@renderer("compare", "json")
def to_json(comparison: Comparison) -> str:
    return json.dumps(comparison.to_dict(), indent=2) + "\n"


# ---- the comparison page --------------------------------------------------------------------------

@renderer("compare", "html")
def render_comparison_page(comparison: Comparison, command: str = "") -> str:
    """Several models (or one model on several machines) on one page: every metric with its ratio to the first column, the FLOPs ratio
    next to the measured latency ratio per engine, and each run's latency histogram."""
    from ..version import __version__

    names = [model.rsplit("/", 1)[-1] for model in comparison.models]
    heads = sortable_heads([("Metric", "text"), ("Engine", "text")]
                            + [(head, "number") for name in names for head in (name, "× first")])
    bodies = []
    for row in comparison.rows:
        cells = f"<td>{escape(row.label)}</td><td>{escape(row.engine or 'count')}</td>"
        for value, ratio in zip(row.values, row.ratios):
            cells += (f'<td data-v="{value if value is not None else ""}">{escape(units.metric(value, row.unit))}</td>'
                      f'<td data-v="{ratio if ratio is not None else ""}">{"—" if ratio is None else f"{ratio:,.3f}"}</td>')
        bodies.append(f"<tbody><tr>{cells}</tr></tbody>")
    table = (f'<section id="comparison"><h2>Side by side</h2><p class="note">Ratios are to the first column, '
             f'{escape(names[0])}. Click a header to sort.</p><div class="scroll"><table id="compare-table" class="sortable">'
             f'<thead><tr>{heads}</tr></thead>{"".join(bodies)}</table></div></section>')

    flops = _find_row(comparison, "flops")
    series = [charts.Series("FLOPs", [r or 0.0 for r in flops.ratios],
                            [f"{n}: {units.metric(v, '')} FLOPs, {'—' if r is None else f'{r:,.3f}'} × the first"
                             for n, v, r in zip(names, flops.values, flops.ratios)], charts.FLOPS_COLOR)] if flops else []
    colors = (charts.TIME_COLOR, *charts.MARK_COLORS)
    for index, engine in enumerate(comparison.engines):
        latency = _find_row(comparison, "latency_median_ns", engine) or _find_row(comparison, "latency_mean_ns", engine)
        if latency is None:
            continue
        series.append(charts.Series(f"{engine} {latency.label.lower()}", [r or 0.0 for r in latency.ratios],
                                    [f"{n} on {engine}: {units.metric(v, 'ns')}, {'—' if r is None else f'{r:,.3f}'} × the first"
                                     for n, v, r in zip(names, latency.values, latency.ratios)], colors[index % len(colors)]))
    ratio_chart = charts.layer_bars("chart-compare", names, series, f"× {names[0]}",
                                    f"FLOPs and measured latency, each as a ratio to the first column ({names[0]})")
    chart_section = ('<section id="ratios"><h2>Work against time</h2><p class="note">Fewer FLOPs do not always mean '
                     'proportionally less time: compare the bars of each column. Hover a bar for its numbers.</p>'
                     f'{ratio_chart}</section>')
    bench = BenchReport(results=comparison.results, metadata=comparison.metadata, interrupted=comparison.interrupted)
    notes = ["interrupted (Ctrl-C): the page shows what was measured until then"] if comparison.interrupted else []
    notes += [line for profile in comparison.profiles for line in labelled_profile_warnings(profile.model, profile)]
    content = ReportContent(bench=bench, command=command, notes=tuple(notes))
    latency = (latency_section(bench).replace("<h2>Latency</h2>", "<h2>Latency, column by column</h2>")
               if comparison.results else "")
    subtitle = f"flopbench {__version__} · compare · {', '.join(names)}"
    return whole_page(" vs ".join(names), subtitle, [table, chart_section, _layers_side_by_side(comparison, names), latency,
                                                report_warnings_section(content), report_environment_section(content)])


def _find_row(comparison: Comparison, metric: str, engine: str | None = None):
    return next((row for row in comparison.rows if row.metric == metric and row.engine == engine), None)


def _layers_side_by_side(comparison: Comparison, names: Sequence[str]) -> str:
    """Layers of the same name per engine, each column's mean time from its profile and its ratio to the first."""
    if not comparison.layers:
        return ""
    heads = sortable_heads([("Layer", "text"), ("Engine", "text"), ("Type", "text")]
                            + [(head, "number") for name in names for head in (f"{name} µs", "× first")])
    bodies = []
    for match in comparison.layers:
        cells = [(match.name, None), (match.engine, None), (next((t for t in match.types if t), ""), None)]
        for time_us, ratio in zip(match.time_us, match.ratios):
            cells += [("—" if time_us is None else f"{time_us:,.1f}", "" if time_us is None else time_us),
                      ("—" if ratio is None else f"{ratio:,.3f}", "" if ratio is None else ratio)]
        bodies.append(f"<tbody><tr>{sortable_cells(cells)}</tr></tbody>")
    return (f'<section id="layers-side-by-side"><h2>Layers side by side</h2><p class="note">Mean time per inference of each '
            f'layer, from the profiler, as a ratio to the first column. Click a header to sort.</p><div class="scroll">'
            f'<table id="layers-table" class="sortable"><thead><tr>{heads}</tr></thead>{"".join(bodies)}</table></div></section>')
