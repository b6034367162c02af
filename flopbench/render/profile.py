"""Render a profile: the layer table on the roofline, the reconciliation with the end-to-end
latency, the warnings in words, and the roofline plot. Rendering never computes."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from collections.abc import Sequence
from typing import Any

from ..profiling.profile import SLOWER_FACTOR, EngineRow, Finding, LayerRow, ProfileResult, profiling_slowdown
from . import charts, units
from .page import escape, roofline_card
from .registry import renderer
from .text import TableColumn, TableRow, TextTable
from .warnings import describe
from ..measure.stats import StatWarning

COLUMNS = ("layer", "type", "flops", "bytes", "executed_bytes", "intensity", "time_us", "median_us", "std_us", "predicted_time_us", "percent",
           "gflops_per_s",
           "attainable_gflops_per_s", "percent_of_attainable", "bound", "kernel", "precision", "level", "working_set_bytes",
           "fused_into")


def _above_roof_text(d: dict[str, Any]) -> str:
    ran = f"layer {d['layer']} ran at {d['gflops_per_s']:,.1f} GFLOP/s"
    measured = f"the measured {d['precision']} peak ({d['peak_gflops_per_s']:,.1f})"
    theoretical = d.get("theoretical_gflops_per_s")
    on_paper = (f"the theoretical one ({theoretical:,.1f}, at the clock the OS reports)" if theoretical
                else "no theoretical peak known")
    cause = d.get("cause")
    if cause == "roofline":
        return (f"{ran}, above {measured} but within what this machine can do on paper ({theoretical:,.1f}): "
                "the roofline was measured while the machine was busier; run flopbench machine --remeasure")
    if cause == "join":
        return (f"{ran}, {d['gflops_per_s'] / max(d['peak_gflops_per_s'], theoretical or 0.0):.1f}× the higher of "
                f"{measured} and {on_paper}: no re-measured roofline explains that; the join is wrong: this layer "
                "was given too little of the engine's time (the rest went to a layer near it)")
    if cause == "either":
        return (f"{ran}, above {measured} and {on_paper}: either the join gave it too little of the engine's time, "
                "or the peak was measured while the machine was busier; run flopbench machine --remeasure: "
                "if the layer is still above the new peak, the join is wrong")
    # written before the cause was recorded: only the measured peak is known
    return (f"{ran}, above {measured}: either the peak was measured while the machine was busier "
            "(flopbench machine --remeasure) or the join gave this layer too little of the engine's time")


def warning_text(finding: Finding, result: ProfileResult) -> str:
    """One warning in words, from its rule and numbers."""
    d = finding.data
    if finding.rule == "above_roof":
        return _above_roof_text(d)
    if finding.rule == "untimed_ops":
        return (f"{d['count']} counted op(s) ran in no engine node (removed or folded by the engine): "
                f"{', '.join(d['ops'])}")
    if finding.rule == "merged_ops":
        return (f"the engine merged {d['count']} op(s) into an op that computes the same and ran it once for both "
                "(common-subexpression elimination); the time is the op's it ran: "
                + ", ".join(f"{x['op']} (ran as {x['into']})" for x in d["ops"]))
    if finding.rule == "joined_by_layer":
        return (f"{d['count']} op(s) are named by no engine node and were timed with the node that runs their layer: "
                f"{', '.join(d['ops'])}")
    if finding.rule == "coarse_times":
        return (f"{d['count']} layer(s) took under {d['below_us']:g} µs; the engine resolves {d['resolution_us']:g} µs "
                "per node, so their times are coarse")
    if finding.rule == "above_bandwidth":
        if "levels" in d:
            return (f"{d['count']} layer(s) beat the bandwidth of the memory level their working set fits in: "
                    + ", ".join(f"{name} ({d['levels'][name]})" for name in d["layers"]))
        return (f"{d['count']} memory-bound layer(s) beat the measured DRAM bandwidth ({d['bandwidth_gb_per_s']:.1f} GB/s): "
                f"their data came from the caches, and the bytes counted are unfused ({', '.join(d['layers'])})")
    if finding.rule == "slower_than_predicted":
        profiled = d.get("profiler_factor", 1.0)
        beyond = f" (beyond the {profiled:.1f}× profiling added to every inference)" if profiled > 1.0 else ""
        return (f"{d['count']} layer(s) ran {d['factor']:g}× or more slower than this machine's calibrated model predicts{beyond}: "
                + "; ".join(f"{x['layer']} took {x['measured_us']:,.1f} µs, {x['ratio']:.1f}× the {x['predicted_us']:,.1f} µs "
                            f"this machine does for {_a_layer_of(x['kernel_class'])} of its size ({x['bound']}-bound)" for x in d["layers"]))
    if finding.rule == "negative_outside":
        return f"the node times add up to more than the end-to-end latency ({d['outside_layers_us']:.1f} µs outside)"
    if finding.rule == "quick_roofline":
        return f"the roofline is a quick measurement ({d['measured_at']}); flopbench machine measures the full one"
    if finding.rule == "precision_differs":
        return f"asked for --precision {d['asked']}, but the engine ran {d['used']}"
    if finding.rule == "input":
        return d["text"]
    if finding.rule == "latency_noise":
        return f"the {d['run']} inferences' end-to-end latency: {describe(StatWarning(d['verdict'], tuple(d['values'].items())))}"
    if finding.rule == "profiling_overhead":
        return (f"profiling made every inference {d['factor']:.1f}× slower ({d['profiled_median_us']:,.1f} µs against "
                f"{d['unprofiled_median_us']:,.1f} µs unprofiled, medians): the profiler's own cost is inside the layer times, "
                "so their shares say more than their µs; fewer, larger layers (or a larger batch) dilute it")
    if finding.rule == "noisy_layers":
        return (f"{d['count']} layer(s) timed with the noise bench calls out, so their times vary from one inference to the next: "
                + "; ".join(f"{x['layer']} ({', '.join(NOISE_WORDS.get(v, v) for v in x['noise'])})" for x in d["layers"])
                + "; close other programs or profile longer")
    return f"{finding.rule}: {json.dumps(d)}"


NOISE_WORDS = {"noisy": "std over 10% of the mean", "outliers": "outliers over 3× the median",
               "bimodal": "fastest 25% under the median"}


def overhead_line(result: ProfileResult) -> str | None:
    """What profiling costs, in words: a cost, within noise, or too few blocks to tell; never a
    negative cost."""
    if result.unprofiled_end_to_end_us is None:
        return None
    plain, profiled, overhead = result.unprofiled_latency, result.profiled_latency, result.overhead
    if plain is None or profiled is None or overhead is None:  # a file written before medians were kept
        cost = result.profiling_overhead_us
        verdict = f"profiling costs {cost:+,.1f} µs" if cost >= 0 else "profiling cost nothing measurable"
        return (f"Without profiling: {result.unprofiled_end_to_end_us:,.1f} µs mean over {result.unprofiled_iterations:,} "
                f"inferences ({verdict})")
    head = (f"Without profiling: {plain.median_ns / 1e3:,.1f} µs median over {plain.count:,} inferences, against "
            f"{profiled.median_ns / 1e3:,.1f} µs profiled, in {overhead.blocks} alternating blocks of {overhead.block_size}: ")
    difference = abs(overhead.difference_ns) / 1e3
    if overhead.verdict == "higher":
        return head + f"profiling costs {difference:,.1f} µs per inference (slower in {overhead.higher} of {overhead.blocks} blocks)"
    if overhead.verdict == "lower":
        return head + (f"the profiled inferences were {difference:,.1f} µs faster in {overhead.lower} of {overhead.blocks} blocks: "
                       "profiling cost nothing measurable, and something else changed between the two models' blocks")
    if overhead.verdict == "too_few_blocks":
        return head + f"too few blocks to tell what profiling costs from noise (a difference of {difference:,.1f} µs); profile longer (-niter)"
    return head + (f"what profiling costs is within noise (a difference of {difference:,.1f} µs, slower in {overhead.higher} "
                   f"and faster in {overhead.lower} of {overhead.blocks} blocks)")


def profile_warnings(result: ProfileResult) -> list[str]:
    """Every warning of a profile in words: the one list the terminal, the report page and the fleet's
    pages show, made from the same findings the JSON holds."""
    found = [warning_text(w, result) for w in result.warnings]
    if not result.complete:
        found.append("INCOMPLETE: the run was interrupted; the times cover what was measured")
    return found


def labelled_profile_warnings(label: str, result: ProfileResult) -> list[str]:
    """A profile's warnings as a page or a fleet's terminal lists them among others' (`label`: the
    machine, the column)."""
    return [f"{label} {engine_name(result)}: {text}" for text in profile_warnings(result)]


def _records(result: ProfileResult) -> list[dict[str, Any]]:
    records = []

    def add(row: LayerRow, parent: str) -> None:
        record = {"layer": row.name, "parent": parent, **{k: getattr(row, k) for k in COLUMNS if k != "layer"}}
        records.append(record)

    for row in result.layers:
        add(row, "")
        for part in row.parts:
            add(part, row.name)
    for node in result.engine_nodes:
        records.append({"layer": node.name, "parent": "(engine)", "type": node.type, "time_us": node.time_us,
                        "percent": node.percent, "kernel": node.kernel, "precision": node.precision})
    records.append({"layer": "(outside layers)", "parent": "", "time_us": result.outside_layers_us,
                    "percent": 100 * result.outside_layers_us / result.end_to_end_us if result.end_to_end_us else 0.0})
    return records


@renderer("profile", "csv")
def to_csv(result: ProfileResult) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["layer", "parent", *COLUMNS[1:]], lineterminator="\n")
    writer.writeheader()
    writer.writerows(units.csv_record(record) for record in _records(result))
    return buffer.getvalue()


def _kernel(text: str) -> str:
    return text.replace("CPUExecutionProvider", "ORT CPU")


def _cells(row: LayerRow | EngineRow, indent: bool, full: bool = True) -> list[str]:
    name = f"  └ {row.name}" if indent else row.name
    if isinstance(row, EngineRow):
        return [name, row.type, "", "", "", "", units.fixed(row.time_us), "", "", "", units.fixed(row.percent), "", "", "", "inserted",
                _kernel(row.kernel), row.precision]
    number = units.count if full else units.compact
    kernel = "" if row.parts and not full else _kernel(row.kernel)  # a separable layer's parts show theirs
    executed = "" if row.executed_bytes is None else number(row.executed_bytes)
    predicted = units.fixed(row.predicted_time_us) + (" !" if row.slower_than_predicted else "")
    spread = units.fixed(row.std_us) + (" ~" if row.noise else "")  # '~': bench calls its times noisy
    return [name, row.type, number(row.flops), number(row.bytes), executed, units.fixed(row.intensity, 2), units.fixed(row.time_us),
            units.fixed(row.median_us), spread, predicted, units.fixed(row.percent),
            units.fixed(row.gflops_per_s, 2), units.fixed(row.attainable_gflops_per_s), units.fixed(row.percent_of_attainable), row.bound, kernel,
            row.precision]


HEADER = ["Layer", "Type", "FLOPs", "Bytes (unfused)", "Bytes (executed)", "FLOP/B", "Time µs", "Median µs", "Std µs", "Predicted µs", "%",
          "GFLOP/s", "Attainable", "% of att.", "Bound", "Kernel", "Precision"]
SHORT_HEADER = ["Layer", "Type", "FLOPs", "Bytes", "Exec. B", "FLOP/B", "µs", "Med.", "±", "Pred.", "%", "GFLOP/s", "Attain.", "% att.", "Bound",
                "Kernel", "Prec."]


PREDICTED_COLUMN = HEADER.index("Predicted µs")


UNFUSED_COLUMN = HEADER.index("Bytes (unfused)")


SPREAD_COLUMNS = (HEADER.index("Median µs"), HEADER.index("Std µs"))


def _columns(cells: list[str], predicted: bool, narrow: bool = False, spread: bool = True) -> list[str]:
    """A row's cells, the predicted column left out when nothing was predicted (not calibrated), the
    median and spread when the engine timed no inference apart; in a terminal (`narrow`) with
    predictions, the unfused bytes make room for them (the JSON, CSV and markdown keep both)."""
    left_out = set() if spread else set(SPREAD_COLUMNS)
    if not predicted:
        left_out.add(PREDICTED_COLUMN)
    elif narrow:
        left_out.add(UNFUSED_COLUMN)
    return [cell for index, cell in enumerate(cells) if index not in left_out]


def _has_spread(result: ProfileResult) -> bool:
    return any(row.median_us is not None for row in result.layers)


def _has_predictions(result: ProfileResult) -> bool:
    return any(row.predicted_time_us is not None for row in result.layers)


def summary_lines(result: ProfileResult) -> list[str]:
    s = result.engine
    roof = result.roofline
    peaks = ", ".join(f"{p.precision} {p.gflops_per_s:,.0f}" for p in roof.peaks.values())
    kind = "engine latency (measured by the runtime)" if result.latency_kind == "engine" else "call latency (timed around each call)"
    lines = [
        f"{s['engine']} {str(s['engine_version']).split('-')[0]} on {s['device']}, precision {s['precision']}, "
        f"{s.get('threads') or '?'} thread(s); {result.iterations:,} profiled inferences after {result.warmup} warm-up",
        f"Layers {result.layers_us:,.1f} µs + engine nodes {result.engine_nodes_us:,.1f} µs + outside layers "
        f"{result.outside_layers_us:,.1f} µs = {result.end_to_end_us:,.1f} µs, the mean {kind} of the same profiled run",
    ]
    overhead = overhead_line(result)
    if overhead:
        lines.append(overhead)
    levels = "; ".join(f"{level.name} {units.fixed(level.bandwidth_gb_per_s, missing='?')}" for level in roof.memory_levels())
    lines.append(f"Roofline ({roof.engine}, measured {roof.measured_at}): peak GFLOP/s {peaks}; bandwidth GB/s {levels}. "
                 "FLOPs here are all arithmetic (conv/matmul + other); FLOP/B uses the bytes each engine node moved as "
                 "executed (after fusion) where the engine says, and each layer is held to the level its working set fits in.")
    if _has_spread(result):
        lines.append("µs is each layer's mean over the profiled inferences (the rows add up to the mean latency); Med. and ± "
                     "are its median and standard deviation over them one by one, '~' where bench would call its times noisy. "
                     "Fused nodes are shared over their ops by work.")
    else:
        lines.append("Node times are means over the profiled inferences (no single inference's times: the engine reports a mean "
                     "only, or the file was written before they were kept, so no median or spread); fused nodes are shared over "
                     "their ops by work.")
    if any(row.predicted_time_us is not None for row in result.layers):
        slowdown = profiling_slowdown(result.profiled_latency, result.unprofiled_latency, result.overhead)
        lines.append(f"Pred. is what this machine's calibrated model predicts without running (flopbench predict), as the layer "
                     f"runs unprofiled; '!' marks a layer {SLOWER_FACTOR:g}× or more slower than that"
                     + (f" beyond the {slowdown:.1f}× profiling added to every inference of this run." if slowdown > 1.0 else "."))
    else:
        lines.append("No predicted times: this engine and precision are not calibrated here (flopbench predict --calibrate).")
    lines += [f"warning: {text}" for text in profile_warnings(result)]
    return lines


@renderer("profile", "markdown")
def to_markdown(result: ProfileResult) -> str:
    rows = []
    for row in result.layers:
        rows.append(_cells(row, False))
        rows.extend(_cells(part, True) for part in row.parts)
    rows.extend(_cells(node, False) for node in result.engine_nodes)
    rows.append(["(outside layers)", "", "", "", "", "", units.fixed(result.outside_layers_us), "", "", "",
                 units.fixed(100 * result.outside_layers_us / result.end_to_end_us if result.end_to_end_us else 0.0), "", "", "", "", "", ""])
    predicted, spread = _has_predictions(result), _has_spread(result)
    header = _columns(HEADER, predicted, spread=spread)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(units.markdown_cell(c) for c in _columns(row, predicted, spread=spread)) + " |" for row in rows]
    return "\n".join(lines + [""] + [units.markdown_text(line) for line in summary_lines(result)]) + "\n"


# in a narrow terminal, the highest leave first: the kernel, then what the time and rate already say
TABLE_DROP = {"Kernel": 13, "Attain.": 12, "Prec.": 11, "Exec. B": 10, "Bytes": 9, "FLOP/B": 8, "Bound": 7, "Pred.": 6, "±": 5, "Type": 4,
              "FLOPs": 3, "% att.": 2, "GFLOP/s": 1, "Med.": 1}
LEFT = ("Layer", "Type", "Bound", "Kernel", "Prec.")


@renderer("profile", "table")
def to_table(result: ProfileResult) -> TextTable:
    predicted, spread = _has_predictions(result), _has_spread(result)

    def cells(values: list[str]) -> tuple[str, ...]:
        return tuple(_columns(values, predicted, narrow=True, spread=spread))

    columns = tuple(TableColumn(c, right=c not in LEFT, no_wrap=True, drop=TABLE_DROP.get(c, 0), names=c == "Layer")
                    for c in cells(SHORT_HEADER))
    rows = []
    for row in result.layers:
        rows.append(TableRow(cells(_cells(row, False, full=False)), "yellow" if row.untimed_ops and row.time_us == 0 else None))
        rows.extend(TableRow(cells(_cells(part, True, full=False)), "dim") for part in row.parts)
    rows.extend(TableRow(cells(_cells(node, False, full=False)), "cyan") for node in result.engine_nodes)
    if rows:
        rows[-1] = replace(rows[-1], end_section=True)
    before, after = [""] * 5, [""] * 6  # the time and its share sit under µs and %
    share = units.fixed(100 * result.outside_layers_us / result.end_to_end_us if result.end_to_end_us else 0.0)
    profiled = result.profiled_latency
    median = units.fixed(profiled.median_ns / 1e3) if profiled is not None else ""
    spread_of = units.fixed(profiled.std_ns / 1e3) if profiled is not None else ""
    rows.append(TableRow(cells(["(outside layers)", *before, units.fixed(result.outside_layers_us), "", "", "", share, *after])))
    rows.append(TableRow(cells(["End to end", *before, units.fixed(result.end_to_end_us), median, spread_of, "", "100.0", *after]), "bold"))
    return TextTable(f"{result.model}: time per layer on this machine's roofline", columns, tuple(rows), "\n".join(summary_lines(result)))


@renderer("profile", "json")
def to_json(result: ProfileResult) -> str:
    return json.dumps(result.to_dict(), indent=2) + "\n"


# ---- the roofline plot ---------------------------------------------------------------------------

ROLE_COLOURS = {"depthwise": "tab:orange", "pointwise": "tab:green", "": "tab:blue"}


def roofline_points(result: ProfileResult) -> list[LayerRow]:
    """The rows a roofline draws: each timed layer (a separable one as its parts), and a fused group
    once, as its main layer (the others ran in its node, at its very point)."""
    points = []
    for row in result.layers:
        if row.fused_into:
            continue
        for each in (row.parts or (row,)):
            if each.intensity and each.gflops_per_s:
                points.append(each)
    return points


def group_name(row: LayerRow) -> str:
    """A point's name: its layer, and what its engine node ran with it."""
    return f"{row.name} + {', '.join(row.fused)}" if row.fused else row.name


def level_slopes(roof) -> list[tuple[str, float]]:
    """(level, GB/s) of each memory level measured, L1 first."""
    return [(level.name, level.bandwidth_gb_per_s) for level in roof.memory_levels() if level.bandwidth_gb_per_s]


def roofline_figure(result: ProfileResult):
    """Log-log roofline of the executed precision, one point per timed layer (separable layers as
    their depthwise and pointwise parts), sized by time share."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    roof = result.roofline
    precision = result.engine.get("precision", "f32")
    peak = roof.peak({"u8": "i8"}.get(precision, precision)).gflops_per_s
    points = roofline_points(result)
    figure = Figure(figsize=(9, 6))
    axes = figure.add_subplot(1, 1, 1)
    slopes = level_slopes(roof)
    low = min([p.intensity for p in points] + [0.05]) / 2
    high = max([p.intensity for p in points] + [peak / min(gb_s for _, gb_s in slopes) * 4])
    for index, (name, gb_s) in enumerate(slopes):  # every level's ceiling; DRAM solid
        ridge = peak / gb_s
        axes.plot([low, ridge, high], [low * gb_s, peak, peak], color="black", linewidth=1.5 if index == len(slopes) - 1 else 0.9,
                  linestyle="-" if index == len(slopes) - 1 else "--", alpha=1.0 if index == len(slopes) - 1 else 0.6,
                  label=f"{name}: {gb_s:,.1f} GB/s" + (f"; {precision} peak {peak:,.0f} GFLOP/s" if index == len(slopes) - 1 else ""))
    for role, colour in ROLE_COLOURS.items():
        chosen = [p for p in points if p.role == role]
        if chosen:
            axes.scatter([p.intensity for p in chosen], [p.gflops_per_s for p in chosen],
                         s=[20 + 8 * p.percent for p in chosen], color=colour, alpha=0.7,
                         label={"": "layer", "depthwise": "depthwise part", "pointwise": "pointwise part"}[role])
    for p in points:
        axes.annotate(group_name(p), (p.intensity, p.gflops_per_s), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("arithmetic intensity (FLOPs / byte)")
    axes.set_ylabel("achieved GFLOP/s")
    axes.set_title(f"{result.model} on {result.engine.get('engine')} ({result.engine.get('device')})", fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    return figure


def plot_bytes(result: ProfileResult, fmt: str) -> bytes:
    buffer = io.BytesIO()
    roofline_figure(result).savefig(buffer, format=fmt, bbox_inches="tight", dpi=120)
    return buffer.getvalue()


# ---- on a page: the profiled layers' charts and the roofline --------------------------------------

def engine_name(profile: ProfileResult) -> str:
    return str(profile.engine.get("engine", "engine"))


def roof_card(profile: ProfileResult) -> str:
    roof = profile.roofline
    return roofline_card(engine_name(profile), roof.bandwidth_gb_per_s,
                          {name: peak.gflops_per_s for name, peak in roof.peaks.items()}, roof.quick, roof.measured_at)


def _reconciliation(profile: ProfileResult) -> str:
    parts = (f"layers {profile.layers_us:,.1f} µs + engine's own nodes {profile.engine_nodes_us:,.1f} µs "
             f"({len(profile.engine_nodes)}) + outside layers {profile.outside_layers_us:,.1f} µs = "
             f"{profile.end_to_end_us:,.1f} µs, the mean {profile.latency_kind} latency of {profile.iterations:,} profiled runs")
    overhead = overhead_line(profile)
    if overhead:
        parts += f". {overhead}"
    return parts + "."


def _profiled_layer_chart(profile: ProfileResult, index: int) -> str:
    # a separable layer shows as its depthwise and pointwise parts: their contrast is the case study
    rows = [leaf for row in profile.layers for leaf in (row.parts or (row,))]
    total = sum(row.flops for row in rows)
    labels = [row.name for row in rows]
    flops_share = [100.0 * row.flops / total if total else 0.0 for row in rows]
    time_share = [row.percent for row in rows]
    flops_titles = [f"{row.name} ({row.type}): {row.flops:,} FLOPs, {share:.1f}% of the model's"
                    for row, share in zip(rows, flops_share)]
    time_titles = [f"{row.name}: {row.time_us:,.1f} µs, {row.percent:.1f}% of the latency; "
                   + (f"{row.gflops_per_s:,.2f} GFLOP/s" if row.gflops_per_s is not None else "too short to rate")
                   + f"; {row.bound}-bound; {row.kernel}" for row in rows]
    # the time no layer accounts for, so the time bars add up to the whole latency
    end_to_end = profile.end_to_end_us
    for label, time_us in (("(engine's own nodes)", profile.engine_nodes_us), ("(outside layers)", profile.outside_layers_us)):
        share = 100.0 * time_us / end_to_end if end_to_end else 0.0
        labels.append(label)
        flops_share.append(0.0)
        time_share.append(share)
        flops_titles.append(f"{label}: no counted FLOPs")
        time_titles.append(f"{label}: {time_us:,.1f} µs, {share:.1f}% of the latency")
    series = [charts.Series("% of FLOPs", flops_share, flops_titles, charts.FLOPS_COLOR),
              charts.Series("% of time", time_share, time_titles, charts.TIME_COLOR)]
    engine = engine_name(profile)
    labels, series, folded = charts.largest_rows(labels, series)
    svg = charts.layer_bars(f"chart-layers-{index}", labels, series, "% of the model",
                            f"{engine}: share of the FLOPs and share of the measured time, per layer")
    shown = (f" The {len(labels) - 1:,} rows with the largest share of FLOPs or time are shown in the model's order; "
             f"the other {folded:,} are one bar.") if folded else ""
    return f"{svg}<p class=\"note\">{escape(engine)}: {escape(_reconciliation(profile) + shown)}</p>"


def profiled_layers_section(profiles: Sequence[ProfileResult]) -> str:
    note = ("A separable layer shows as its depthwise and pointwise parts. Where the two bars of a layer disagree is the story: a layer with a small share of the FLOPs and a large "
            "share of the time runs far below the machine's roof (depthwise convolutions, memory-bound layers). "
            "FLOPs here include the other FLOPs (bias, activation, pooling), as the roofline counts them. Hover a bar "
            "for its numbers.")
    charts_html = "".join(_profiled_layer_chart(profile, index) for index, profile in enumerate(profiles))
    return f'<section id="layers-chart"><h2>Work and time per layer</h2><p class="note">{escape(note)}</p>{charts_html}</section>'


def _roofline_chart(profile: ProfileResult, index: int) -> str:
    roof = profile.roofline
    points = []
    for each in roofline_points(profile):
        label = (f"{group_name(each)} ({each.type}): {each.intensity:,.2f} FLOPs/byte, {each.gflops_per_s:,.2f} GFLOP/s, "
                 f"{each.percent_of_attainable:,.0f}% of the attainable {each.attainable_gflops_per_s:,.1f}; "
                 f"{each.bound}-bound, {each.time_us:,.1f} µs" if each.percent_of_attainable is not None else
                 f"{group_name(each)}: {each.gflops_per_s:,.2f} GFLOP/s")
        points.append((each.intensity, each.gflops_per_s, label, each.name))
    roofs = [(name, peak.gflops_per_s) for name, peak in roof.peaks.items()]
    engine = engine_name(profile)
    svg = charts.roofline(f"chart-roofline-{index}", points, roofs, roof.bandwidth_gb_per_s,
                          f"{engine}: each layer on this machine's measured roofline", slopes=level_slopes(roof))
    return svg


def roofline_section(profiles: Sequence[ProfileResult]) -> str:
    note = ("One point per layer and per part of a separable layer: its arithmetic intensity (FLOPs per byte, bytes "
            "unfused) against the GFLOP/s it achieved. The flat lines are the peaks measured on this machine with the "
            "same engine, the slope its measured memory bandwidth. Layers shorter than the engine's time resolution "
            "are left out.")
    return (f'<section id="roofline"><h2>Roofline</h2><p class="note">{escape(note)}</p>'
            + "".join(_roofline_chart(p, i) for i, p in enumerate(profiles)) + "</section>")


def _a_layer_of(kernel_class: str) -> str:
    """'a depthwise layer', 'an elementwise layer', and for the class of the rest 'a layer'."""
    if kernel_class == "other":
        return "a layer"
    return f"{'an' if kernel_class[:1] in 'aeiou' else 'a'} {kernel_class} layer"
