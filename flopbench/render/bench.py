"""Render benchmark results: a rich table with its notes. Rendering never computes."""
from __future__ import annotations

import csv
import io
import json

import numpy as np

from ..measure.bench import BenchReport, BenchResult
from ..measure.stats import LatencyStats
from . import charts, units
from .page import card, escape
from .registry import renderer
from .text import TableColumn, TableRow, TextTable, html_table
from .warnings import has_detail, latency_facts

PERCENTILES = (90.0, 99.0, 99.9)


def _unit(report: BenchReport) -> tuple[str, float]:
    """One unit for the whole table, so the columns stay narrow and comparable."""
    medians = [stats.median_ns for result in report.results for _, stats in _latency_rows(result)]
    return units.duration_unit(min(medians, default=0))


def _percentile_cell(stats: LatencyStats, p: float, scale: float, too_few: dict[float, int]) -> str:
    estimate = stats.percentile(p)
    if not estimate.valid:
        too_few[p] = estimate.min_samples
        return "—"
    return units.in_unit(estimate.value_ns, scale)


def _gflops(result: BenchResult) -> str:
    return "—" if result.gflops_per_s is None else f"{result.gflops_per_s:,.2f}"


def _latency_rows(result: BenchResult):
    kinds = [("engine", result.engine_latency), ("call", result.call_latency)]
    return [(kind, stats) for kind, stats in kinds if stats is not None]


def _counts(s) -> str:
    """The streams, threads and requests an engine has: what it lacks (ONNX Runtime has no streams)
    is left out, and threads are named as the engine names them (its intra-op threads)."""
    threads = f"{s.extra.get('threads', '')} thread".lstrip()
    return ", ".join(f"{value} {noun}(s)" for value, noun in ((s.streams, "stream"), (s.threads, threads), (s.requests, "request"))
                     if value is not None)


def _settings_line(result: BenchResult) -> str:
    s = result.settings
    counts = _counts(s)
    used = s.executed_precision or s.precision
    precision = (f"precision {used} for every engine (like with like; --precision to choose)" if result.precision_matched
                 else f"precision {used}" + ("" if result.config.precision else " (the engine's default)"))
    mode = f"{result.mode} mode" if result.mode != "none" else (
        "no performance hint (the engine's defaults" + (f", which mean {s.hint}" if s.hint not in ("none", "") else "") + "), one request at a time")
    return (f"{s.engine} {s.engine_version.split('-')[0]} on {s.device} ({s.device_name}): {mode}, "
            f"{precision}, {counts}, batch {result.batch}")


# in a narrow terminal, the highest leave first; the engine, the kind of latency, the median and FPS stay
TABLE_DROP = {"Runs": 10, "p90": 9, "p99.9": 8, "Min": 7, "Max": 6, "Std": 5, "Mean": 4, "Precision": 3, "GFLOP/s": 2, "p99": 1}
LEFT = ("Engine", "Precision", "Latency")


@renderer("bench", "table")
def bench_table(report: BenchReport, verbose: bool = False) -> TextTable:
    """The table and its notes: each warning once, naming the engines it concerns; `verbose`
    (bench --verbose) adds each engine's and each kind of latency's own sentence under it."""
    unit, scale = _unit(report)
    columns = tuple(TableColumn(c, right=c not in LEFT, no_wrap=True, drop=TABLE_DROP.get(c, 0))
                    for c in ("Engine", "Precision", "Latency", "Runs", "Min", "Median", "Mean", "p90", "p99", "p99.9", "Max", "Std", "FPS", "GFLOP/s"))
    rows = []
    notes: list[str] = []
    too_few: dict[float, int] = {}
    for result in report.results:
        for index, (kind, stats) in enumerate(_latency_rows(result)):
            first = index == 0
            rows.append(TableRow((
                result.settings.engine if first else "", result.settings.precision if first else "", kind, f"{stats.count:,}",
                units.in_unit(stats.min_ns, scale), units.in_unit(stats.median_ns, scale), units.in_unit(stats.mean_ns, scale),
                *(_percentile_cell(stats, p, scale, too_few) for p in PERCENTILES), units.in_unit(stats.max_ns, scale),
                units.in_unit(stats.std_ns, scale),
                (f"{result.throughput_fps:,.1f}" if result.throughput_fps < 100 else f"{result.throughput_fps:,.0f}") if first else "", _gflops(result) if first else "",
            )))
        label = result.settings.engine
        notes.append(_settings_line(result))
        warmup = (f"first inference {units.duration(result.first_inference_ns)}, {len(result.warmup_ns)} warm-up runs; "
                  if result.first_inference_ns is not None else "no warm-up; ")
        notes.append(f"{label}: {warmup}measured {result.iterations:,} runs in {result.wall_s:.2f} s ({result.stop_reason})")
    notes.extend(latency_facts(report.results, verbose=verbose, percentiles_needed=too_few))
    notes.extend(f"{name} was never measured: the run was interrupted before it" for name in report.not_measured)
    if not verbose and has_detail(report.results):
        notes.append("each engine's warnings in full, per kind of latency: --verbose")
    if any(result.engine_latency and result.call_latency for result in report.results):
        notes.append("engine latency = measured inside the runtime (what benchmark_app reports); call latency = timed around each call from Python.")
    return TextTable(f"Latency ({unit}) and throughput", columns, tuple(rows), "\n".join(notes))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


@renderer("bench", "csv")
def bench_csv(report: BenchReport) -> str:
    buffer = io.StringIO()
    rows = report.rows()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["engine"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(units.csv_record(row) for row in rows)
    return buffer.getvalue()


@renderer("bench", "markdown")
def bench_markdown(report: BenchReport) -> str:
    rows = report.rows()
    header = list(rows[0]) if rows else ["engine"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(units.markdown_cell(_cell(row[column])) for column in header) + " |" for row in rows]
    notes = [_settings_line(result) for result in report.results]
    notes += [f"{name} was never measured: the run was interrupted before it" for name in report.not_measured]
    return "\n".join(lines + [""] + [units.markdown_text(note) for note in notes]) + "\n"


@renderer("bench", "json")
def bench_json(report: BenchReport, save_latencies: bool = False) -> str:
    return json.dumps(report.to_dict(save_latencies=save_latencies), indent=2) + "\n"


@renderer("bench", "html")
def bench_html(report: BenchReport) -> str:
    notes = [_settings_line(result) for result in report.results]
    notes += [f"{result.settings.engine}: {w}" for result in report.results for w in result.warnings]
    return html_table(report.rows(), "Latency (ms) and throughput", notes)



# ---- on a page: the summary cards of one engine and the latency section ----------------------------

MARKED_PERCENTILES = (50.0, 90.0, 99.0, 99.9)


HISTOGRAM_BINS = 60


def _percentile_text(stats: LatencyStats, p: float) -> tuple[str, str]:
    estimate = stats.percentile(p)
    if not estimate.valid:
        return "—", f"needs {estimate.min_samples:,} runs, has {stats.count:,}"
    return units.duration(estimate.value_ns), f"p{p:g}"


def engine_cards(result: BenchResult) -> list[str]:
    stats = result.latency
    s = result.settings
    ran = card("Ran", s.precision, f"{s.device} ({s.device_name}), {result.mode} mode, {_counts(s)}", wide=True)
    if stats is None:
        return [card("Latency", "—", "nothing was measured"), ran]
    kind = "engine" if result.engine_latency is not None else "call"
    p99, p99_detail = _percentile_text(stats, 99.0)
    achieved = "FLOPs not counted" if result.gflops_per_s is None else f"{result.gflops_per_s:,.2f} GFLOP/s achieved"
    return [
        card("Median latency", units.duration(stats.median_ns), f"{kind} latency, {stats.count:,} runs"),
        card("p99 latency", p99, p99_detail),
        card("Throughput", f"{result.throughput_fps:,.1f} FPS", f"{achieved}, batch {result.batch}"),
        ran,
    ]


def _latency_chart(result: BenchResult, index: int) -> str:
    kind = "engine" if "engine" in result.latencies and len(result.latencies["engine"]) else "call"
    latencies = result.latencies.get(kind)
    stats = result.engine_latency if kind == "engine" else result.call_latency
    engine = result.settings.engine
    if latencies is None or not len(latencies) or stats is None:
        return (f'<p class="note">{escape(engine)}: no individual latencies in this result '
                f'(re-measure, or save them with bench --json FILE --save-latencies).</p>')
    scale, unit = (1e3, "µs") if stats.median_ns < 1e6 else (1e6, "ms")
    values = np.asarray(latencies, dtype=np.float64) / scale
    # bins of equal width on a log axis: the slow tail (p99, p99.9) stays on the chart without
    # squeezing the bulk of the runs into one bar
    low, high = float(values.min()), float(values.max())
    if high <= low * 1.001:
        low, high = low * 0.99, high * 1.01 + 1e-6
    edges = np.geomspace(low, high, HISTOGRAM_BINS + 1)
    counts, _ = np.histogram(values, bins=edges)
    bar_titles = [f"{edges[i]:,.1f}–{edges[i + 1]:,.1f} {unit}: {int(c):,} runs" for i, c in enumerate(counts)]
    marks = []
    for p in MARKED_PERCENTILES:
        estimate = stats.percentile(p)
        if estimate.valid:
            marks.append(charts.Mark(f"p{p:g} {estimate.value_ns / scale:,.1f} {unit}", estimate.value_ns / scale))
    title = f"{result.model.rsplit('/', 1)[-1]} on {engine}: {kind} latency, {stats.count:,} runs"
    svg = charts.histogram(f"chart-latency-{index}", edges.tolist(), counts.tolist(), marks, f"latency ({unit})", title,
                           bar_titles)
    missing = [f"p{p:g} needs {stats.percentile(p).min_samples:,} runs" for p in MARKED_PERCENTILES if not stats.percentile(p).valid]
    note = f'<p class="note">Not shown, too few runs to trust: {escape(", ".join(missing))}.</p>' if missing else ""
    return svg + note


def latency_section(bench: BenchReport) -> str:
    parts = [_latency_chart(result, index) for index, result in enumerate(bench.results)]
    rows = []
    for result in bench.results:
        for kind, stats in (("engine", result.engine_latency), ("call", result.call_latency)):
            if stats is None:
                continue
            cells = [escape(result.settings.engine), kind, units.count(stats.count), units.duration(stats.min_ns), units.duration(stats.median_ns),
                     units.duration(stats.mean_ns)]
            cells += [_percentile_text(stats, p)[0] for p in (90.0, 99.0, 99.9)]
            cells += [units.duration(stats.max_ns), units.duration(stats.std_ns)]
            rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    heads = ("Engine", "Latency", "Runs", "Min", "Median", "Mean", "p90", "p99", "p99.9", "Max", "Std")
    table = ('<table class="plain"><thead><tr>' + "".join(f"<th>{h}</th>" for h in heads) + "</tr></thead><tbody>"
             + "".join(rows) + "</tbody></table>")
    legend = ("engine latency = measured inside the runtime (what benchmark_app reports); call latency = timed around "
              "each call from Python. A percentile is shown when enough runs back it at 99% confidence.")
    return (f'<section id="latency"><h2>Latency</h2>{"".join(parts)}{table}'
            f'<p class="note">{escape(legend)}</p></section>')
