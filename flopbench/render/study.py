"""Render a separable-convolution sweep: its table, its written summary and its plot.
Rendering never computes: the ratios, medians and trends come from `study.sweep`."""
from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

from ..study.sweep import ConfigSummary, SweepResult, realized, summarize, trend
from . import units

COLUMNS = ("Point", "Engine", "FLOP ratio", "Time ratio", "Spread", "Realized", "DW share (time)", "DW share (FLOPs)",
           "Std GFLOP/s", "DW GFLOP/s", "PW GFLOP/s")


def _ratio(value: float | None) -> str:
    return units.fixed(value, 3, units.NONE)


def _gflops(part: dict[str, Any] | None) -> str:
    return "—" if not part or part.get("gflops_per_s") is None else f"{part['gflops_per_s']:.1f}"


def geometry(point: dict[str, Any]) -> str:
    k = point["kernel"]
    return f"{point['in_channels']}→{point['out_channels']} {k}x{k} @{point['size']} s{point['stride']}"


def record_cells(record: dict[str, Any]) -> list[str]:
    point = record["point"]
    config = f"{point['engine']} {point['precision']}"
    if record.get("status") != "ok":
        return [geometry(point), config, "failed: " + record.get("reason", "?")] + [""] * (len(COLUMNS) - 3)
    ratio = record["time_ratio"]
    parts = record.get("parts") or {}
    used = (record.get("engine") or {}).get("precision")
    if used and used != point["precision"]:
        config += f" (ran {used})"
    return [geometry(point), config, _ratio(record["flop_ratio"]), _ratio(ratio["median"]), f"{_ratio(ratio['min'])}–{_ratio(ratio['max'])}",
            units.percent(realized(record)), units.percent((parts.get("depthwise") or {}).get("share")), units.percent(parts.get("depthwise_flop_share")),
            _gflops(parts.get("standard")), _gflops(parts.get("depthwise")), _gflops(parts.get("pointwise"))]


def study_table(result: SweepResult):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Separable vs standard convolution (ratios: separable / standard)", title_justify="left")
    for i, name in enumerate(COLUMNS):
        table.add_column(name, justify="left" if i < 2 else "right")
    for record in result.records:
        table.add_row(*record_cells(record))
    notes = [Text(line) for line in summary_lines(result)]
    return Group(table, *notes)


def _config_sentence(s: ConfigSummary) -> str:
    if s.flop_ratio_median is None:
        return f"{s.config}: every one of its {s.points} points failed."
    text = (f"{s.config}: the separable layer needs a median {s.flop_ratio_median:.3f}× the FLOPs of the standard one and takes "
            f"{s.time_ratio_median:.3f}× its time; {units.percent(s.realized_median)} of the FLOP saving became a time saving")
    if s.slower:
        text += f"; at {len(s.slower)} point(s) it was slower than the standard layer ({', '.join(s.slower)})"
    if s.best and s.worst and s.best != s.worst:
        text += f". Closest to its FLOPs: {s.best}; furthest: {s.worst}"
    if s.depthwise_time_share_median is not None and s.depthwise_flop_share_median is not None:
        text += (f". The depthwise part is {units.percent(s.depthwise_flop_share_median)} of the separable FLOPs but "
                 f"{units.percent(s.depthwise_time_share_median)} of its time")
    if s.failed:
        text += f". {s.failed} point(s) failed"
    return text + "."


def _trend_sentence(records: Sequence[dict[str, Any]], field: str, label: str) -> list[str]:
    by = trend(records, field)
    configs = sorted({config for config, _ in by})
    lines = []
    for config in configs:
        values = [(value, ratio) for (c, value), ratio in by.items() if c == config]
        if len(values) > 1:
            cells = ", ".join(f"{value}: {ratio:.2f}" for value, ratio in values)
            lines.append(f"{config}, time ratio / FLOP ratio by {label} (1 = time fell as much as FLOPs): {cells}.")
    return lines


def summary_lines(result: SweepResult) -> list[str]:
    lines = [_config_sentence(s) for s in summarize(result.records)]
    for field, label in (("in_channels", "input channels"), ("kernel", "kernel"), ("size", "spatial size"), ("stride", "stride")):
        lines += _trend_sentence(result.records, field, label)
    done = len(result.records)
    if not result.complete:
        lines.append(f"incomplete: {done} of {result.planned_count} points measured; run the same command again to measure the rest")
    return lines


def summary_markdown(result: SweepResult) -> str:
    header = "| " + " | ".join(COLUMNS) + " |\n|" + "|".join(["---"] * 2 + ["---:"] * (len(COLUMNS) - 2)) + "|\n"
    rows = "".join("| " + " | ".join(record_cells(r)) + " |\n" for r in result.records)
    return ("# Separable vs standard convolution\n\n" + "\n".join(f"- {line}" for line in summary_lines(result)) + "\n\n"
            + header + rows)


def to_json(result: SweepResult) -> str:
    return json.dumps(result.to_dict(), indent=1) + "\n"


def plot_png(result: SweepResult) -> bytes:
    """FLOP ratio against time ratio, one colour per engine configuration, with the line where
    time falls exactly as FLOPs do and the line where the separable layer stops being faster."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5), dpi=110)
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in result.records:
        if record.get("status") == "ok":
            point = record["point"]
            groups.setdefault(f"{point['engine']} {point['precision']}", []).append(record)
    for label, records in groups.items():
        x = [r["flop_ratio"] for r in records]
        y = [r["time_ratio"]["median"] for r in records]
        low = [r["time_ratio"]["median"] - r["time_ratio"]["min"] for r in records]
        high = [r["time_ratio"]["max"] - r["time_ratio"]["median"] for r in records]
        ax.errorbar(x, y, yerr=[low, high], fmt="o", capsize=2, alpha=0.8, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    lo, hi = ax.get_xlim()
    ax.plot([lo, hi], [lo, hi], "k--", linewidth=0.8, label="time ratio = FLOP ratio")
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":", label="break-even")
    ax.set_xlabel("FLOP ratio (separable / standard)")
    ax.set_ylabel("time ratio (separable / standard), median and range")
    ax.set_title("When do fewer FLOPs mean less time?")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.2)
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _params(millions: float | None, table: str) -> str:
    """As the paper rounds them: two decimals in Table 3, one elsewhere."""
    if millions is None:
        return "—"
    return f"{millions:.2f} M" if table == "3" else f"{millions:.1f} M"


def paper_table(rows, shares_of_v1):
    """The MobileNet paper's Tables 4, 6, 7 and 2 beside flopbench's counts."""
    from rich.console import Group
    from rich.table import Table

    from ..study.paper import PAPER_SHARES

    models = Table(title="MobileNet (Howard et al. 2017): the paper's numbers and flopbench's", title_justify="left")
    for i, name in enumerate(("Table", "Model", "Mult-adds (paper)", "Mult-adds (flopbench)", "Difference",
                              "Params (paper)", "Params (flopbench)")):
        models.add_column(name, justify="left" if i < 2 else "right")
    for row in rows:
        models.add_row(row.table, row.model, f"{row.paper_mult_adds_m:,.1f} M" if row.table == "3" else f"{row.paper_mult_adds_m:,.0f} M", f"{row.mult_adds / 1e6:,.1f} M",
                       f"{100 * row.mult_adds_error:+.2f}%", _params(row.paper_params_m, row.table), f"{_params(row.params / 1e6, row.table)} ({row.params:,})")
    table2 = Table(title="Table 2: share of mult-adds and parameters by layer type (1.0 MobileNet-224)", title_justify="left")
    for i, name in enumerate(("Type", "Mult-adds (paper)", "Mult-adds (flopbench)", "Params (paper)", "Params (flopbench)")):
        table2.add_column(name, justify="left" if i == 0 else "right")
    for kind, (macs, params) in PAPER_SHARES.items():
        got = shares_of_v1.get(kind, (0.0, 0.0))
        table2.add_row(kind, f"{macs:.2f}%", f"{got[0]:.2f}%", f"{params:.2f}%", f"{got[1]:.2f}%")
    return Group(models, table2)


def paper_markdown(rows, shares_of_v1) -> str:
    from ..study.paper import PAPER_SHARES

    lines = ["| Table | Model | Mult-adds (paper) | Mult-adds (flopbench) | Difference | Params (paper) | Params (flopbench) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        paper = f"{row.paper_mult_adds_m:,.1f}" if row.table == "3" else f"{row.paper_mult_adds_m:,.0f}"
        lines.append(f"| {row.table} | {row.model} | {paper} M | {row.mult_adds / 1e6:,.1f} M | "
                     f"{100 * row.mult_adds_error:+.2f}% | {_params(row.paper_params_m, row.table)} | "
                     f"{_params(row.params / 1e6, row.table)} ({row.params:,}) |")
    lines += ["", "| Type (Table 2) | Mult-adds (paper) | Mult-adds (flopbench) | Params (paper) | Params (flopbench) |",
              "|---|---:|---:|---:|---:|"]
    for kind, (macs, params) in PAPER_SHARES.items():
        got = shares_of_v1.get(kind, (0.0, 0.0))
        lines.append(f"| {kind} | {macs:.2f}% | {got[0]:.2f}% | {params:.2f}% | {got[1]:.2f}% |")
    return "\n".join(lines) + "\n"
