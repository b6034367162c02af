"""Render benchmark results: a rich table with its notes. Rendering never computes."""
from __future__ import annotations

from .measure import BenchReport, BenchResult
from .stats import LatencyStats


def fmt_ns(ns: float | None) -> str:
    if ns is None:
        return ""
    if ns < 1e3:
        return f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.1f} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e9:.2f} s"


def _percentile_cell(stats: LatencyStats, p: float) -> str:
    estimate = stats.percentile(p)
    if not estimate.valid:
        return f"[dim]n/a (<{estimate.min_samples} runs)[/dim]"
    return fmt_ns(estimate.value_ns)


def _latency_rows(result: BenchResult):
    kinds = [("engine", result.engine_latency), ("call", result.call_latency)]
    return [(kind, stats) for kind, stats in kinds if stats is not None]


def bench_table(report: BenchReport):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Latency and throughput", title_justify="left", header_style="bold")
    for column in ("Engine", "Device", "Precision", "Str/Thr/Req", "Latency", "Runs", "Median", "Mean", "p90", "p99", "p99.9", "Max", "FPS", "GFLOP/s"):
        table.add_column(column, justify="left" if column in ("Engine", "Device", "Precision", "Latency") else "right")
    notes: list[str] = []
    for result in report.results:
        s = result.settings
        for index, (kind, stats) in enumerate(_latency_rows(result)):
            first = index == 0
            table.add_row(
                f"{s.engine} ({result.mode})" if first else "", s.device if first else "", s.precision if first else "",
                f"{s.streams}/{s.threads}/{s.requests}" if first else "", kind, f"{stats.count:,}",
                fmt_ns(stats.median_ns), fmt_ns(stats.mean_ns), _percentile_cell(stats, 90.0), _percentile_cell(stats, 99.0),
                _percentile_cell(stats, 99.9), fmt_ns(stats.max_ns),
                f"{result.throughput_fps:,.1f}" if first else "", f"{result.gflops_per_s:,.2f}" if first else "",
            )
        label = f"{s.engine}"
        if result.first_inference_ns is not None:
            notes.append(f"{label}: first inference {fmt_ns(result.first_inference_ns)}, {len(result.warmup_ns)} warm-up runs; "
                         f"measured {result.iterations:,} runs in {result.wall_s:.2f} s ({result.stop_reason})")
        for kind, stats in _latency_rows(result):
            notes.extend(f"{label} {kind} latency: {w}" for w in stats.warnings)
        notes.extend(f"{label}: {w}" for w in result.warnings)
        if not result.complete:
            notes.append(f"{label}: the run is INCOMPLETE ({result.stop_reason}); statistics cover what was measured")
    notes.append("engine latency = measured inside the runtime (what benchmark_app reports); call latency = timed around each call from Python.")
    return Group(table, Text("\n".join(notes)))
