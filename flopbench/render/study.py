"""Render a separable-convolution sweep: its table, its written summary and its plot.
Rendering never computes: the ratios, medians and trends come from `study.sweep`."""
from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

from ..study.records import PartOnRoof, SweepRecord, SweepRoofline
from ..study.summary import ConfigSummary, realized, summarize, trend
from ..study.sweep import SweepResult
from . import charts, units
from .page import card, environment_section, escape, flatten, machine_cards, roofline_card, sortable_cells, sortable_heads, warnings_list, whole_page
from .registry import renderer

COLUMNS = ("Point", "Engine", "FLOP ratio", "Time ratio", "Spread", "Realized", "DW share (time)", "DW share (FLOPs)",
           "Std GFLOP/s", "DW GFLOP/s", "PW GFLOP/s")


def _ratio(value: float | None) -> str:
    return units.fixed(value, 3, units.NONE)


def _gflops(part: PartOnRoof | None) -> str:
    return "—" if part is None or part.gflops_per_s is None else f"{part.gflops_per_s:.1f}"


def geometry(point: dict[str, Any]) -> str:
    k = point["kernel"]
    return f"{point['in_channels']}→{point['out_channels']} {k}x{k} @{point['size']} s{point['stride']}"


PREDICTED_COLUMN = "Pred. ratio"  # beside the time ratio, when any point was predicted


def has_predictions(records: Sequence[SweepRecord]) -> bool:
    return any(record.predicted is not None for record in records)


def columns(records: Sequence[SweepRecord]) -> tuple[str, ...]:
    """The table's columns: the predicted time ratio after the measured one's spread when any point has one."""
    if not has_predictions(records):
        return COLUMNS
    at = COLUMNS.index("Spread") + 1
    return (*COLUMNS[:at], PREDICTED_COLUMN, *COLUMNS[at:])


def record_cells(record: SweepRecord, predicted: bool = False) -> list[str]:
    cells = _record_cells(record)
    if predicted:
        at = COLUMNS.index("Spread") + 1
        value = _ratio(record.predicted.time_ratio) if record.done and record.predicted is not None else ("—" if record.done else "")
        cells.insert(at, value)
    return cells


def _record_cells(record: SweepRecord) -> list[str]:
    point = record.point
    config = f"{point['engine']} {point['precision']}"
    if not record.done:
        return [geometry(point), config, "failed: " + (record.reason or "?")] + [""] * (len(COLUMNS) - 3)
    ratio = record.time_ratio
    parts = record.parts
    used = record.precision_used
    if used and used != point["precision"]:
        config += f" (ran {used})"
    return [geometry(point), config, _ratio(record.flop_ratio), _ratio(ratio.median), f"{_ratio(ratio.min)}–{_ratio(ratio.max)}",
            units.percent(realized(record)), units.percent(parts.depthwise.share if parts.depthwise else None),
            units.percent(parts.depthwise_flop_share), _gflops(parts.standard), _gflops(parts.depthwise), _gflops(parts.pointwise)]


@renderer("study", "table")
def study_table(result: SweepResult):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Separable vs standard convolution (ratios: separable / standard)", title_justify="left")
    predicted = has_predictions(result.records)
    for i, name in enumerate(columns(result.records)):
        table.add_column(name, justify="left" if i < 2 else "right")
    for record in result.records:
        table.add_row(*record_cells(record, predicted))
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
    if s.predicted_time_ratio_median is not None:
        text += (f". This machine's calibrated model (flopbench predict) predicted a median time ratio of "
                 f"{s.predicted_time_ratio_median:.3f}× over the {s.predicted_points} point(s) it predicted")
    if s.failed:
        text += f". {s.failed} point(s) failed"
    return text + "."


def _trend_sentence(records: Sequence[SweepRecord], field: str, label: str) -> list[str]:
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


@renderer("study", "markdown")
def summary_markdown(result: SweepResult) -> str:
    shown, predicted = columns(result.records), has_predictions(result.records)
    header = "| " + " | ".join(shown) + " |\n|" + "|".join(["---"] * 2 + ["---:"] * (len(shown) - 2)) + "|\n"
    rows = "".join("| " + " | ".join(map(units.markdown_cell, record_cells(r, predicted))) + " |\n" for r in result.records)
    return ("# Separable vs standard convolution\n\n" + "\n".join(f"- {units.markdown_text(line)}" for line in summary_lines(result)) + "\n\n"
            + header + rows)


@renderer("study", "json")
def to_json(result: SweepResult) -> str:
    return json.dumps(result.to_dict(), indent=1) + "\n"


def plot_png(result: SweepResult) -> bytes:
    """FLOP ratio against time ratio, one colour per engine configuration, with the line where
    time falls exactly as FLOPs do and the line where the separable layer stops being faster."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5), dpi=110)
    groups: dict[str, list[SweepRecord]] = {}
    for record in _ok(result):
        groups.setdefault(f"{record.point['engine']} {record.point['precision']}", []).append(record)
    for label, records in groups.items():
        x = [r.flop_ratio for r in records]
        y = [r.time_ratio.median for r in records]
        low = [r.time_ratio.median - r.time_ratio.min for r in records]
        high = [r.time_ratio.max - r.time_ratio.median for r in records]
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


# ---- the sweep's page -----------------------------------------------------------------------------

STUDY_TITLE = "Separable vs standard convolution"


CONFIG_COLORS = (charts.FLOPS_COLOR, charts.TIME_COLOR, *charts.MARK_COLORS)


def _config(point: dict[str, Any]) -> str:
    return f"{point['engine']}:{point['precision']}"


def _ok(result: SweepResult) -> list[SweepRecord]:
    return [r for r in result.records if r.done]


def _values(points: Sequence[dict[str, Any]], field: str) -> str:
    return ", ".join(str(v) for v in sorted({p[field] for p in points}))


def _study_rooflines(result: SweepResult) -> dict[str, SweepRoofline]:
    """The roofline each engine's parts were placed on, as recorded with the points (first found)."""
    found: dict[str, SweepRoofline] = {}
    for record in _ok(result):
        roof = record.parts.roofline if record.parts else None
        if roof and roof.engine not in found:
            found[roof.engine] = roof
    return found


def _study_summary(result: SweepResult) -> str:
    points = [dict(p) for p in result.points]
    configs = list(dict.fromkeys(_config(p) for p in points))
    failed = sum(1 for r in result.records if not r.done)
    done = f"{len(result.records)} of {result.planned_count} measured" + (f", {failed} failed" if failed else "")
    cards = [
        card("Points", f"{result.planned_count:,}", done),
        card("Configs (engine:precision)", str(len(configs)), ", ".join(configs), wide=True),
        card("Geometries", f"{len({geometry(p) for p in points}):,}",
              f"channels {_values(points, 'in_channels')} → {_values(points, 'out_channels')}; kernel "
              f"{_values(points, 'kernel')}; size {_values(points, 'size')}; stride {_values(points, 'stride')}", wide=True),
    ]
    cards += machine_cards(result.metadata)
    for engine, roof in _study_rooflines(result).items():
        cards.append(roofline_card(engine, roof.bandwidth_gb_per_s, roof.peaks_gflops_per_s, roof.quick, roof.measured_at))
    for s in summarize(result.records):
        if s.time_ratio_median is None:
            cards.append(card(s.config, "failed", f"all {s.points} points failed"))
            continue
        saving = "—" if s.realized_median is None else f"{100 * s.realized_median:.0f}%"
        cards.append(card(s.config, f"{1 / s.time_ratio_median:,.2f}× faster",
                           f"for {1 / s.flop_ratio_median:,.2f}× fewer FLOPs (medians over {s.points - s.failed} points); "
                           f"{saving} of the FLOP saving became a time saving", wide=True))
    story = "".join(f"<li>{escape(line)}</li>" for line in summary_lines(result))
    return (f'<section id="summary"><h2>Summary</h2><div class="cards">{"".join(cards)}</div>'
            f'<h3>What the sweep says</h3><ul>{story}</ul></section>')


def _speedup_section(result: SweepResult) -> str:
    by_config: dict[str, list[SweepRecord]] = {}
    for record in _ok(result):
        by_config.setdefault(record.config, []).append(record)
    series = []
    for index, (config, records) in enumerate(by_config.items()):
        # speedup = standard / separable: the reciprocal of the recorded ratios (separable / standard)
        ratios = [r.time_ratio for r in records]
        titles = [f"{r.key} ({geometry(r.point)}): {1 / r.flop_ratio:,.2f}× fewer FLOPs, "
                  f"{1 / t.median:,.2f}× faster (range {1 / t.max:,.2f}–{1 / t.min:,.2f} over "
                  f"{len(t.repeats)} repeats); standard {r.latency_us.standard.median:,.1f} µs, "
                  f"separable {r.latency_us.separable.median:,.1f} µs" for r, t in zip(records, ratios)]
        series.append(charts.Spread(config, [1 / r.flop_ratio for r in records], [1 / t.median for t in ratios],
                                    [1 / t.max for t in ratios], [1 / t.min for t in ratios], titles,
                                    CONFIG_COLORS[index % len(CONFIG_COLORS)]))
    if not series:
        return '<section id="speedup"><h2>Fewer FLOPs, less time?</h2><p>No point was measured.</p></section>'
    svg = charts.speedup("chart-speedup", series, "expected speedup: standard FLOPs / separable FLOPs",
                         "measured speedup: standard time / separable time",
                         "Separable vs standard: the speedup the FLOPs promise and the one measured")
    note = ("One point per layer geometry and engine:precision; the bar is the range over the repeats. On the dashed "
            "line time fell exactly as much as the FLOPs; below it, less. Under the dotted line the separable layer "
            "was slower than the standard one. Hover a point for its numbers.")
    return f'<section id="speedup"><h2>Fewer FLOPs, less time?</h2><p class="note">{escape(note)}</p>{svg}</section>'


def _part_us(part: PartOnRoof | None) -> str:
    return "—" if part is None else f"{part.time_us:,.1f} µs"


def _split_section(result: SweepResult) -> str:
    # a part too short for the engine's timer has no share of the time: its point has no bar
    profiled = [r for r in _ok(result) if r.parts and r.parts.depthwise and r.parts.depthwise.share is not None
                and r.parts.depthwise_flop_share is not None]
    if not profiled:
        return ""
    labels = [f"{geometry(r.point)} {r.config}" for r in profiled]
    flops = [100 * r.parts.depthwise_flop_share for r in profiled]
    times = [100 * r.parts.depthwise.share for r in profiled]
    flops_titles = [f"{r.key}: the depthwise part does {share:.1f}% of the separable layer's FLOPs"
                    for r, share in zip(profiled, flops)]
    time_titles = [f"{r.key}: the depthwise part takes {share:.1f}% of the separable layer's time "
                   f"(depthwise {_part_us(r.parts.depthwise)}, pointwise {_part_us(r.parts.pointwise)})"
                   for r, share in zip(profiled, times)]
    series = [charts.Series("depthwise % of FLOPs", flops, flops_titles, charts.FLOPS_COLOR),
              charts.Series("depthwise % of time", times, time_titles, charts.TIME_COLOR)]
    svg = charts.layer_bars("chart-split", labels, series, "% of the separable layer",
                            "The depthwise part: its share of the separable layer's FLOPs and of its profiled time")
    note = ("The separable layer profiled part by part; the pointwise part is the rest of each bar's 100%. A depthwise "
            "part that takes a larger share of the time than of the FLOPs runs below the machine's roof. Hover a bar "
            "for the times.")
    return f'<section id="split"><h2>Depthwise and pointwise</h2><p class="note">{escape(note)}</p>{svg}</section>'


# (part, legend, short name beside a point, colour): the roofs take MARK_COLORS from the first, the parts from the last
STUDY_PARTS = (("standard", "standard k×k", "std", charts.FLOPS_COLOR), ("depthwise", "depthwise k×k", "dw", charts.TIME_COLOR),
               ("pointwise", "pointwise 1×1", "pw", charts.MARK_COLORS[-1]))


def _study_roofline_chart(config: str, records: Sequence[SweepRecord], index: int) -> str:
    roof = records[0].parts.roofline
    points, colors = [], []
    for record in records:
        for part, label, short, color in STUDY_PARTS:
            row = getattr(record.parts, part)
            if row is None or row.intensity is None or row.gflops_per_s is None:
                continue
            attainable = ("" if row.percent_of_attainable is None else
                          f", {row.percent_of_attainable:,.0f}% of the attainable {row.attainable_gflops_per_s:,.1f}")
            points.append((row.intensity, row.gflops_per_s,
                           f"{record.key} {label}: {row.intensity:,.2f} FLOPs/byte, {row.gflops_per_s:,.2f} GFLOP/s"
                           f"{attainable}; {row.bound}-bound, {row.time_us:,.1f} µs", f"{geometry(record.point)} {short}"))
            colors.append(color)
    return charts.roofline(f"chart-roofline-{index}", points, list(roof.peaks_gflops_per_s.items()),
                           roof.bandwidth_gb_per_s, f"{config}: each part on the machine's measured roofline",
                           colors=colors, legend=[(label, color) for _, label, _, color in STUDY_PARTS])


def _study_roofline_section(result: SweepResult) -> str:
    by_config: dict[str, list[SweepRecord]] = {}
    for record in _ok(result):
        if record.parts and record.parts.roofline:
            by_config.setdefault(record.config, []).append(record)
    if not by_config:
        return ""
    note = ("Each profiled layer — the standard one, and the separable one's depthwise and pointwise parts — at its "
            "arithmetic intensity (FLOPs per byte, unfused) and the GFLOP/s it achieved, under the peaks and memory "
            "bandwidth measured on this machine with the same engine. Parts too short for the engine's timer are left out.")
    svgs = "".join(_study_roofline_chart(config, records, index) for index, (config, records) in enumerate(by_config.items()))
    return f'<section id="roofline"><h2>Roofline</h2><p class="note">{escape(note)}</p>{svgs}</section>'


POINT_HEADS = (("#", "number"), ("Point", "text"), ("Config", "text"), ("Ran", "text"), ("In", "number"),
               ("Out", "number"), ("Kernel", "number"), ("Size", "number"), ("Stride", "number"),
               ("Standard FLOPs", "number"), ("Separable FLOPs", "number"), ("FLOP ratio", "number"),
               ("Standard µs", "number"), ("Separable µs", "number"), ("Time ratio", "number"), ("Min", "number"),
               ("Max", "number"), ("Realized %", "number"), ("DW % FLOPs", "number"), ("DW % time", "number"),
               ("DW µs", "number"), ("PW µs", "number"), ("Std GFLOP/s", "number"), ("DW GFLOP/s", "number"),
               ("PW GFLOP/s", "number"), ("DW % of roof", "number"), ("PW % of roof", "number"), ("DW bound", "text"),
               ("Status", "text"))


def _number(value: float | None, digits: int) -> tuple[str, Any]:
    return ("", None) if value is None else (f"{value:,.{digits}f}", round(value, 6))


def _point_heads(with_nodes: bool, predicted: bool = False) -> tuple[tuple[str, str], ...]:
    """A sweep spread over a cluster (`--ray`) names the node each point ran on, after what it ran;
    a sweep with predictions has the predicted time ratio after the measured one's range."""
    heads = POINT_HEADS[:4] + (("Node", "text"),) + POINT_HEADS[4:] if with_nodes else POINT_HEADS
    if predicted:
        at = heads.index(("Max", "number")) + 1
        heads = heads[:at] + (("Predicted ratio", "number"),) + heads[at:]
    return heads


def _part_value(part: PartOnRoof | None, name: str) -> Any:
    return None if part is None else getattr(part, name)


def _point_cells(position: int, record: SweepRecord, with_nodes: bool, predicted: bool = False) -> list[tuple[str, Any]]:
    cells = _measured_cells(position, record, with_nodes)
    if predicted and record.done:
        at = _point_heads(with_nodes).index(("Max", "number")) + 1
        cells.insert(at, _number(record.predicted.time_ratio if record.predicted is not None else None, 3))
    elif predicted:
        cells.insert(len(cells) - 1, ("", None))
    return cells


def _measured_cells(position: int, record: SweepRecord, with_nodes: bool) -> list[tuple[str, Any]]:
    point = record.point
    cells = [(str(position), position), (record.key, None), (_config(point), None), (str(record.precision_used or ""), None)]
    if with_nodes:
        cells.append((str(record.node_id or "")[:8], None))
    cells += [(str(point[f]), point[f]) for f in ("in_channels", "out_channels", "kernel", "size", "stride")]
    if not record.done:
        return (cells + [("", None)] * (len(_point_heads(with_nodes)) - len(cells) - 1)
                + [(f"failed: {record.reason or '?'}", None)])
    parts = record.parts
    depthwise, pointwise, standard = parts.depthwise, parts.pointwise, parts.standard
    ratio, latency, flops = record.time_ratio, record.latency_us, record.flops
    share, dw_share = realized(record), _part_value(depthwise, "share")
    cells += [(units.count(flops.standard), flops.standard),
              (units.count(flops.separable), flops.separable), _number(record.flop_ratio, 3),
              _number(latency.standard.median, 1), _number(latency.separable.median, 1),
              _number(ratio.median, 3), _number(ratio.min, 3), _number(ratio.max, 3),
              _number(None if share is None else 100 * share, 0),
              _number(None if parts.depthwise_flop_share is None else 100 * parts.depthwise_flop_share, 0),
              _number(None if dw_share is None else 100 * dw_share, 0),
              _number(_part_value(depthwise, "time_us"), 1), _number(_part_value(pointwise, "time_us"), 1),
              _number(_part_value(standard, "gflops_per_s"), 2), _number(_part_value(depthwise, "gflops_per_s"), 2),
              _number(_part_value(pointwise, "gflops_per_s"), 2), _number(_part_value(depthwise, "percent_of_attainable"), 0),
              _number(_part_value(pointwise, "percent_of_attainable"), 0), (str(_part_value(depthwise, "bound") or ""), None),
              ("done" if parts.profile_error is None else "done, not profiled", None)]
    return cells


def _points_table(result: SweepResult) -> str:
    with_nodes = any(record.node_id is not None for record in result.records)
    predicted = has_predictions(result.records)
    bodies = "".join(f"<tbody><tr>{sortable_cells(_point_cells(index, record, with_nodes, predicted))}</tr></tbody>"
                     for index, record in enumerate(result.records, start=1))
    note = ("Click a header to sort (again to reverse). Ratios are separable / standard: below 1 the separable layer "
            "needs less. Times are the median end-to-end latency over the repeats (Min and Max: the time ratio's "
            "range); Realized is the share of the FLOP saving that became a time saving; DW and PW are the "
            "depthwise and pointwise parts, as profiled; % of roof is of the attainable GFLOP/s at the part's "
            "arithmetic intensity on the measured roofline."
            + (" Predicted ratio is what this machine's calibrated model (flopbench predict) foretold before the "
               "layers ran." if predicted else ""))
    return (f'<section id="points"><h2>Points ({len(result.records)})</h2><p class="note">{escape(note)}</p>'
            f'<div class="scroll"><table id="points-table" class="sortable"><thead><tr>{sortable_heads(_point_heads(with_nodes, predicted))}</tr>'
            f'</thead>{bodies}</table></div></section>')


def _study_warnings(result: SweepResult, notes: Sequence[str]) -> list[str]:
    found = list(notes)
    if not result.complete:
        found.append(f"INCOMPLETE: {len(result.records)} of {result.planned_count} points measured; "
                     "running the same command again measures the rest")
    for record in result.records:
        point = record.point
        if not record.done:
            found.append(f"{record.key}: failed: {record.reason or '?'}")
            continue
        error = record.parts.profile_error if record.parts else None
        if error:
            found.append(f"{record.key}: not profiled, no depthwise / pointwise split ({error})")
        ran = record.precision_used
        if ran and ran != point["precision"]:
            found.append(f"{record.key}: asked for {point['precision']}, the engine ran {ran}")
    return found


def _study_environment(result: SweepResult, command: str, sources: Sequence[str]) -> str:
    rows = [(k, v) for k, v in flatten("", result.metadata)]
    measuring = ("device", "seconds", "repeats", "profile_iterations", "seed")
    rows.append(("points.measured", "; ".join(f"{field} {_values([dict(p) for p in result.points], field)}"
                                              for field in measuring if all(field in p for p in result.points))))
    seen: set[str] = set()
    for record in _ok(result):
        config = record.config
        if config not in seen and record.settings:
            seen.add(config)
            rows.extend((f"{config}.used.{k}", v) for k, v in flatten("", record.settings))
    return environment_section(rows, command, sources)


@renderer("study", "html")
def render_study_page(result: SweepResult, command: str = "", sources: Sequence[str] = (), notes: Sequence[str] = ()) -> str:
    """The sweep of `flopbench study sepconv` as one page: what it says, the speedup the FLOPs
    promise against the one measured, the depthwise / pointwise split, every point, the warnings."""
    from ..version import __version__

    status = "" if result.complete else " (incomplete)"
    subtitle = f"flopbench {__version__} · study sepconv · {len(result.records)} of {result.planned_count} points{status}"
    parts = [_study_summary(result), _speedup_section(result), _split_section(result), _study_roofline_section(result),
             _points_table(result),
             warnings_list(_study_warnings(result, notes)), _study_environment(result, command, sources)]
    return whole_page(STUDY_TITLE, subtitle, parts)
