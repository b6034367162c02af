"""Render benchmark results: a rich table with its notes. Rendering never computes."""
from __future__ import annotations

import csv
import io
import json

from ..measure.bench import BenchReport, BenchResult
from ..measure.stats import LatencyStats
from ..results.display import register_display
from . import units
from .text import html_table, render_text
from .warnings import describe

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


def _settings_line(result: BenchResult) -> str:
    s = result.settings
    counts = ", ".join(f"{value} {noun}(s)" for value, noun in ((s.streams, "stream"), (s.threads, "thread"), (s.requests, "request"))
                       if value is not None)
    used = s.executed_precision or s.precision
    precision = (f"precision {used} for every engine (like with like; --precision to choose)" if result.precision_matched
                 else f"precision {used}" + ("" if result.config.precision else " (the engine's default)"))
    mode = f"{result.mode} mode" if result.mode != "none" else (
        "no performance hint (the engine's defaults" + (f", which mean {s.hint}" if s.hint not in ("none", "") else "") + "), one request at a time")
    return (f"{s.engine} {s.engine_version.split('-')[0]} on {s.device} ({s.device_name}): {mode}, "
            f"{precision}, {counts}, batch {result.batch}")


def bench_table(report: BenchReport):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    unit, scale = _unit(report)
    table = Table(title=f"Latency ({unit}) and throughput", title_justify="left", header_style="bold")
    for column in ("Engine", "Precision", "Latency", "Runs", "Min", "Median", "Mean", "p90", "p99", "p99.9", "Max", "Std", "FPS", "GFLOP/s"):
        table.add_column(column, justify="left" if column in ("Engine", "Precision", "Latency") else "right", no_wrap=True,
                         min_width=11 if column == "Engine" else None)
    notes: list[str] = []
    too_few: dict[float, int] = {}
    for result in report.results:
        for index, (kind, stats) in enumerate(_latency_rows(result)):
            first = index == 0
            table.add_row(
                result.settings.engine if first else "", result.settings.precision if first else "", kind, f"{stats.count:,}",
                units.in_unit(stats.min_ns, scale), units.in_unit(stats.median_ns, scale), units.in_unit(stats.mean_ns, scale),
                *(_percentile_cell(stats, p, scale, too_few) for p in PERCENTILES), units.in_unit(stats.max_ns, scale),
                units.in_unit(stats.std_ns, scale),
                (f"{result.throughput_fps:,.1f}" if result.throughput_fps < 100 else f"{result.throughput_fps:,.0f}") if first else "", _gflops(result) if first else "",
            )
        label = result.settings.engine
        notes.append(_settings_line(result))
        warmup = (f"first inference {units.duration(result.first_inference_ns)}, {len(result.warmup_ns)} warm-up runs; "
                  if result.first_inference_ns is not None else "no warm-up; ")
        notes.append(f"{label}: {warmup}measured {result.iterations:,} runs in {result.wall_s:.2f} s ({result.stop_reason})")
        for kind, stats in _latency_rows(result):
            notes.extend(f"{label} {kind} latency: {describe(w)}" for w in stats.warnings)
        notes.extend(f"{label}: {w}" for w in result.warnings)
        if not result.complete:
            notes.append(f"{label}: the run is INCOMPLETE ({result.stop_reason}); statistics cover what was measured")
    notes.extend(f"{name} was never measured: the run was interrupted before it" for name in report.not_measured)
    if too_few:
        needed = ", ".join(f"p{p:g} needs {n:,}" for p, n in sorted(too_few.items()))
        notes.append(f"— : too few runs to trust that percentile at 99% confidence ({needed}); run longer with -t or -niter")
    if any(result.engine_latency and result.call_latency for result in report.results):
        notes.append("engine latency = measured inside the runtime (what benchmark_app reports); call latency = timed around each call from Python.")
    return Group(table, Text("\n".join(notes)))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def bench_csv(report: BenchReport) -> str:
    buffer = io.StringIO()
    rows = report.rows()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["engine"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def bench_markdown(report: BenchReport) -> str:
    rows = report.rows()
    header = list(rows[0]) if rows else ["engine"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(units.markdown_cell(_cell(row[column])) for column in header) + " |" for row in rows]
    notes = [_settings_line(result) for result in report.results]
    notes += [f"{name} was never measured: the run was interrupted before it" for name in report.not_measured]
    return "\n".join(lines + [""] + notes) + "\n"


def render_bench(report: BenchReport, fmt: str = "table", save_latencies: bool = False):
    """The report in a format of `render.text.FORMATS`: a rich renderable for "table", text otherwise."""
    from .text import check_format

    check_format(fmt)
    if fmt == "json":
        return json.dumps(report.to_dict(save_latencies=save_latencies), indent=2) + "\n"
    if fmt == "csv":
        return bench_csv(report)
    if fmt == "markdown":
        return bench_markdown(report)
    return bench_table(report)


def _bench_html(report: BenchReport) -> str:
    notes = [_settings_line(result) for result in report.results]
    notes += [f"{result.settings.engine}: {w}" for result in report.results for w in result.warnings]
    return html_table(report.rows(), "Latency (ms) and throughput", notes)


register_display("BenchReport", text=lambda report: render_text(bench_table(report)), html=_bench_html)
