"""The report as one self-contained HTML page: summary, charts, the layer table, warnings, environment.

Everything is inline — styles, the SVG charts and a few lines of script that sort the table — and
nothing is fetched: the page reads the same offline, from a file, or as an e-mail attachment.
Rendering never computes: the page shows what counting and measuring produced, in their units.
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..counting.cost import LayerCost, ModelCost
from ..measure.bench import BenchReport, BenchResult
from ..measure.stats import LatencyStats
from ..profiling.profile import LayerRow, ProfileResult
from ..study.compare import Comparison
from ..study.sweep import SweepResult, realized, summarize
from . import charts, units
from .profile import warning_text
from .study import geometry, summary_lines
from .warnings import describe

PERCENTILES = (50.0, 90.0, 99.0, 99.9)
HISTOGRAM_BINS = 60


@dataclass(frozen=True)
class ReportContent:
    """What one page shows. Any part may be missing: a page of a count alone, of a bench alone."""

    cost: ModelCost | None = None
    bench: BenchReport | None = None
    profiles: tuple[ProfileResult, ...] = ()  # one per engine profiled
    command: str = ""  # the command that produced the page
    sources: tuple[str, ...] = ()  # result files the page was rendered from, if any
    notes: tuple[str, ...] = field(default=())  # said by the caller: "interrupted", ...

    @property
    def model(self) -> str:
        if self.cost is not None:
            return self.cost.model
        if self.bench is not None and self.bench.results:
            return self.bench.results[0].model
        if self.profiles:
            return self.profiles[0].model
        return str(self.bench.metadata.get("model", "")) if self.bench else ""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


# -- summary -------------------------------------------------------------------------------------

def _card(label: str, value: str, detail: str = "", wide: bool = False) -> str:
    sub = f'<div class="detail">{_e(detail)}</div>' if detail else ""
    cls = "card wide" if wide else "card"
    return f'<div class="{cls}"><div class="label">{_e(label)}</div><div class="value">{_e(value)}</div>{sub}</div>'


def _percentile_text(stats: LatencyStats, p: float) -> tuple[str, str]:
    estimate = stats.percentile(p)
    if not estimate.valid:
        return "—", f"needs {estimate.min_samples:,} runs, has {stats.count:,}"
    return units.duration(estimate.value_ns), f"p{p:g}"


def _model_cards(cost: ModelCost) -> list[str]:
    inputs = ", ".join(f"{i.name} {units.shape(i.shape)}" for i in cost.inputs)
    flops_detail = "incl. other FLOPs" if cost.include_other else f"2 × MACs; + {units.si(cost.other_flops, 'FLOPs')} other"
    return [
        _card("Model", cost.model.rsplit("/", 1)[-1], f"{cost.format}, input {inputs}", wide=True),
        _card("FLOPs", units.si(cost.total_flops, "FLOPs"), flops_detail),
        _card("MACs", units.si(cost.macs, "MACs"),
              ", ".join(f"{precision} {macs:,}" for precision, macs in cost.macs_by_precision.items()) or f"{cost.macs:,}"),
        _card("Parameters", units.si(cost.params, ""), f"{cost.params:,}"),
        _card("Weights stored", units.si(cost.weight_bytes, "B"),
              ", ".join(f"{element} {units.si(size, 'B')}" for element, size in cost.weight_bytes_by_type.items()) or "none"),
        _card("Bytes moved", units.si(cost.bytes_read + cost.bytes_written, "B"), "every op's inputs and outputs, unfused"),
    ] + ([_card("Peak activations", units.si(cost.peak_activation_bytes, "B"), "live tensors at once, in the runtime's order")]
         if cost.memory is not None else [])


def _engine_cards(result: BenchResult) -> list[str]:
    stats = result.latency
    s = result.settings
    ran = _card("Ran", s.precision, f"{s.device} ({s.device_name}), {result.mode} mode, {s.streams or '?'} stream(s), "
                f"{s.threads or '?'} thread(s), {s.requests} request(s)", wide=True)
    if stats is None:
        return [_card("Latency", "—", "nothing was measured"), ran]
    kind = "engine" if result.engine_latency is not None else "call"
    p99, p99_detail = _percentile_text(stats, 99.0)
    achieved = "FLOPs not counted" if result.gflops_per_s is None else f"{result.gflops_per_s:,.2f} GFLOP/s achieved"
    return [
        _card("Median latency", units.duration(stats.median_ns), f"{kind} latency, {stats.count:,} runs"),
        _card("p99 latency", p99, p99_detail),
        _card("Throughput", f"{result.throughput_fps:,.1f} FPS", f"{achieved}, batch {result.batch}"),
        ran,
    ]


def _engine_name(profile: ProfileResult) -> str:
    return str(profile.engine.get("engine", "engine"))


def _roofline_card(engine: str, bandwidth_gb_per_s: float, peaks: dict[str, float], quick: bool, measured_at: str) -> str:
    peak_text = " · ".join(f"{name} {gflops:,.0f}" for name, gflops in peaks.items())
    kind = "quick measurement" if quick else "measured"
    return _card(f"Roofline ({engine})", f"{bandwidth_gb_per_s:,.1f} GB/s",
                 f"peak GFLOP/s {peak_text}; {kind} {measured_at[:16].replace('T', ' ')} UTC", wide=True)


def _roof_card(profile: ProfileResult) -> str:
    roof = profile.roofline
    return _roofline_card(_engine_name(profile), roof.bandwidth_gb_per_s,
                          {name: peak.gflops_per_s for name, peak in roof.peaks.items()}, roof.quick, roof.measured_at)


def _machine_cards(metadata: dict[str, Any]) -> list[str]:
    if not metadata.get("cpu"):
        return []
    return [_card("Machine", str(metadata.get("cpu")),
                  f"{metadata.get('cpu_count')} logical CPUs, {metadata.get('cpu_affinity')} usable")]


def _summary(content: ReportContent) -> str:
    cards: list[str] = _model_cards(content.cost) if content.cost is not None else []
    groups: list[str] = []
    if content.bench is not None:
        cards += _machine_cards(content.bench.metadata)
        for result in content.bench.results:
            s = result.settings
            heading = f"{s.engine} {s.engine_version.split('-')[0]}"
            groups.append(f'<h3>{_e(heading)}</h3><div class="cards">{"".join(_engine_cards(result))}</div>')
    for profile in content.profiles:
        cards.append(_roof_card(profile))
    return f'<section id="summary"><h2>Summary</h2><div class="cards">{"".join(cards)}</div>{"".join(groups)}</section>'


# -- per-layer chart -------------------------------------------------------------------------------

def _layer_chart(cost: ModelCost) -> str:
    total = cost.total_flops
    leaves = [leaf for layer in cost.layers for leaf in (layer.parts or (layer,))]
    labels = [leaf.name for leaf in leaves]
    values = [leaf.total_flops(cost.include_other) for leaf in leaves]
    shares = [100.0 * v / total if total else 0.0 for v in values]
    titles = [f"{leaf.name} ({leaf.type}): {v:,} FLOPs, {share:.1f}% of the model"
              for leaf, v, share in zip(leaves, values, shares)]
    series = [charts.Series("FLOPs", shares, titles, charts.FLOPS_COLOR)]
    svg = charts.layer_bars("chart-layers", labels, series, "% of the model's FLOPs",
                            "FLOPs per layer (share of the model's total)")
    note = ("Measured time per layer needs a profile; this page has the count and the end-to-end latency. "
            "Hover a bar for its numbers.")
    return f'<section id="layers-chart"><h2>Work per layer</h2><p class="note">{_e(note)}</p>{svg}</section>'


def _reconciliation(profile: ProfileResult) -> str:
    parts = (f"layers {profile.layers_us:,.1f} µs + engine's own nodes {profile.engine_nodes_us:,.1f} µs "
             f"({len(profile.engine_nodes)}) + outside layers {profile.outside_layers_us:,.1f} µs = "
             f"{profile.end_to_end_us:,.1f} µs, the mean {profile.latency_kind} latency of {profile.iterations:,} profiled runs")
    if profile.unprofiled_end_to_end_us is not None:
        parts += (f"; the same model without profiling: {profile.unprofiled_end_to_end_us:,.1f} µs "
                  f"(profiling cost {profile.profiling_overhead_us:,.1f} µs)")
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
    engine = _engine_name(profile)
    svg = charts.layer_bars(f"chart-layers-{index}", labels, series, "% of the model",
                            f"{engine}: share of the FLOPs and share of the measured time, per layer")
    return f"{svg}<p class=\"note\">{_e(engine)}: {_e(_reconciliation(profile))}</p>"


def _profiled_layers_section(profiles: Sequence[ProfileResult]) -> str:
    note = ("A separable layer shows as its depthwise and pointwise parts. Where the two bars of a layer disagree is the story: a layer with a small share of the FLOPs and a large "
            "share of the time runs far below the machine's roof (depthwise convolutions, memory-bound layers). "
            "FLOPs here include the other FLOPs (bias, activation, pooling), as the roofline counts them. Hover a bar "
            "for its numbers.")
    charts_html = "".join(_profiled_layer_chart(profile, index) for index, profile in enumerate(profiles))
    return f'<section id="layers-chart"><h2>Work and time per layer</h2><p class="note">{_e(note)}</p>{charts_html}</section>'


def _roofline_chart(profile: ProfileResult, index: int) -> str:
    roof = profile.roofline
    points = []
    for row in profile.layers:
        for each in (row, *row.parts):
            if each.intensity is None or each.gflops_per_s is None:
                continue
            label = (f"{each.name} ({each.type}): {each.intensity:,.2f} FLOPs/byte, {each.gflops_per_s:,.2f} GFLOP/s, "
                     f"{each.percent_of_attainable:,.0f}% of the attainable {each.attainable_gflops_per_s:,.1f}; "
                     f"{each.bound}-bound, {each.time_us:,.1f} µs" if each.percent_of_attainable is not None else
                     f"{each.name}: {each.gflops_per_s:,.2f} GFLOP/s")
            points.append((each.intensity, each.gflops_per_s, label, each.name))
    roofs = [(name, peak.gflops_per_s) for name, peak in roof.peaks.items()]
    engine = _engine_name(profile)
    svg = charts.roofline(f"chart-roofline-{index}", points, roofs, roof.bandwidth_gb_per_s,
                          f"{engine}: each layer on this machine's measured roofline")
    return svg


def _roofline_section(profiles: Sequence[ProfileResult]) -> str:
    note = ("One point per layer and per part of a separable layer: its arithmetic intensity (FLOPs per byte, bytes "
            "unfused) against the GFLOP/s it achieved. The flat lines are the peaks measured on this machine with the "
            "same engine, the slope its measured memory bandwidth. Layers shorter than the engine's time resolution "
            "are left out.")
    return (f'<section id="roofline"><h2>Roofline</h2><p class="note">{_e(note)}</p>'
            + "".join(_roofline_chart(p, i) for i, p in enumerate(profiles)) + "</section>")


# -- latency histograms ----------------------------------------------------------------------------

def _latency_chart(result: BenchResult, index: int) -> str:
    kind = "engine" if "engine" in result.latencies and len(result.latencies["engine"]) else "call"
    latencies = result.latencies.get(kind)
    stats = result.engine_latency if kind == "engine" else result.call_latency
    engine = result.settings.engine
    if latencies is None or not len(latencies) or stats is None:
        return (f'<p class="note">{_e(engine)}: no individual latencies in this result '
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
    for p in PERCENTILES:
        estimate = stats.percentile(p)
        if estimate.valid:
            marks.append(charts.Mark(f"p{p:g} {estimate.value_ns / scale:,.1f} {unit}", estimate.value_ns / scale))
    title = f"{result.model.rsplit('/', 1)[-1]} on {engine}: {kind} latency, {stats.count:,} runs"
    svg = charts.histogram(f"chart-latency-{index}", edges.tolist(), counts.tolist(), marks, f"latency ({unit})", title,
                           bar_titles)
    missing = [f"p{p:g} needs {stats.percentile(p).min_samples:,} runs" for p in PERCENTILES if not stats.percentile(p).valid]
    note = f'<p class="note">Not shown, too few runs to trust: {_e(", ".join(missing))}.</p>' if missing else ""
    return svg + note


def _latency_section(bench: BenchReport) -> str:
    parts = [_latency_chart(result, index) for index, result in enumerate(bench.results)]
    rows = []
    for result in bench.results:
        for kind, stats in (("engine", result.engine_latency), ("call", result.call_latency)):
            if stats is None:
                continue
            cells = [_e(result.settings.engine), kind, units.count(stats.count), units.duration(stats.min_ns), units.duration(stats.median_ns),
                     units.duration(stats.mean_ns)]
            cells += [_percentile_text(stats, p)[0] for p in (90.0, 99.0, 99.9)]
            cells += [units.duration(stats.max_ns), units.duration(stats.std_ns)]
            rows.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    heads = ("Engine", "Latency", "Runs", "Min", "Median", "Mean", "p90", "p99", "p99.9", "Max", "Std")
    table = ('<table class="plain"><thead><tr>' + "".join(f"<th>{h}</th>" for h in heads) + "</tr></thead><tbody>"
             + "".join(rows) + "</tbody></table>")
    legend = ("engine latency = measured inside the runtime (what benchmark_app reports); call latency = timed around "
              "each call from Python. A percentile is shown when enough runs back it at 99% confidence.")
    return (f'<section id="latency"><h2>Latency</h2>{"".join(parts)}{table}'
            f'<p class="note">{_e(legend)}</p></section>')


# -- layer table ----------------------------------------------------------------------------------

LAYER_HEADS = (("#", "number"), ("Layer", "text"), ("Type", "text"), ("Input", "text"), ("Kernel", "text"),
               ("Kernels", "number"), ("Output", "text"), ("MACs", "number"), ("FLOPs", "number"),
               ("% FLOPs", "number"), ("Other FLOPs", "number"), ("Precision", "text"), ("Params", "number"),
               ("Weight bytes", "number"), ("Bytes moved", "number"))


def _timed_cells(timed: LayerRow | None) -> list[tuple[str, Any]]:
    if timed is None:
        return [("", None), ("", None), ("", None)]
    rate = timed.gflops_per_s
    roof = timed.percent_of_attainable
    return [(f"{timed.time_us:,.1f}", round(timed.time_us, 3)),
            ("" if rate is None else f"{rate:,.2f}", None if rate is None else round(rate, 4)),
            ("" if roof is None else f"{roof:,.0f}", None if roof is None else round(roof, 2))]


def _layer_cells(position: str, layer: LayerCost, total: int, include_other: bool, sort_key: int | None,
                 timed: Sequence[LayerRow | None] = ()) -> str:
    flops = layer.total_flops(include_other)
    share = 100.0 * flops / total if total else 0.0
    bytes_moved = layer.bytes_read + layer.bytes_written
    name = layer.name if not layer.role else f"└ {layer.name}"
    cells = [
        (position, sort_key), (name, None), (layer.type, None), (units.shape(layer.input_shape), None),
        (units.shape(layer.kernel), None), (units.count(layer.kernels), layer.kernels), (units.shape(layer.output_shape), None),
        (units.count(layer.macs), layer.macs), (units.count(flops), flops), (f"{share:.1f}", round(share, 4)),
        (units.count(layer.other_flops), layer.other_flops), (layer.precision, None), (units.count(layer.params), layer.params),
        (units.count(layer.weight_bytes), layer.weight_bytes), (units.count(bytes_moved), bytes_moved),
    ]
    for row in timed:
        cells += _timed_cells(row)
    return _sortable_cells(cells)


def _sortable_cells(cells: Sequence[tuple[str, Any]]) -> str:
    """Table cells of (text, sort key): a number sorts by its key (data-v), not by its text."""
    out = []
    for text, key in cells:
        value = f' data-v="{key}"' if key is not None else ""
        out.append(f"<td{value}>{_e(text)}</td>")
    return "".join(out)


def _sortable_heads(heads: Sequence[tuple[str, str]]) -> str:
    """Header cells of (name, "number" or "text") that the page's script sorts by on a click."""
    return "".join(f'<th data-type="{kind}" tabindex="0" title="sort by {_e(name)}">{_e(name)}</th>' for name, kind in heads)


def _rows_by_name(profile: ProfileResult) -> dict[str, LayerRow]:
    found = {}
    for row in profile.layers:
        found[row.name] = row
        for part in row.parts:
            found[part.name] = part
    return found


def _layer_table(cost: ModelCost, profiles: Sequence[ProfileResult] = ()) -> str:
    total = cost.total_flops
    timed_heads = [(f"{_engine_name(p)} {what}", "number") for p in profiles for what in ("µs", "GFLOP/s", "% of roof")]
    heads = _sortable_heads((*LAYER_HEADS, *timed_heads))
    by_name = [_rows_by_name(p) for p in profiles]
    bodies = []
    for index, layer in enumerate(cost.layers, start=1):
        cls = "layer" if layer.counted else "layer uncounted"
        timed = [rows.get(layer.name) for rows in by_name]
        rows = [f'<tr class="{cls}">{_layer_cells(str(index), layer, total, cost.include_other, index, timed)}</tr>']
        rows += [f'<tr class="part">{_layer_cells("", part, total, cost.include_other, None, [r.get(part.name) for r in by_name])}</tr>'
                 for part in layer.parts]
        bodies.append(f"<tbody>{''.join(rows)}</tbody>")
    timed_totals = "".join(f"<td>{p.layers_us:,.1f}</td><td></td><td></td>" for p in profiles)
    footer = (f'<tfoot><tr><td></td><td>Total</td><td colspan="5"></td><td>{units.count(cost.macs)}</td><td>{units.count(total)}</td>'
              f'<td>100.0</td><td>{units.count(cost.other_flops)}</td><td></td><td>{units.count(cost.params)}</td>'
              f'<td>{units.count(cost.weight_bytes)}</td><td>{units.count(cost.bytes_read + cost.bytes_written)}</td>{timed_totals}</tr></tfoot>')
    note = ("Click a header to sort (again to reverse); the parts of a separable layer (depthwise, pointwise) stay "
            "under their layer. FLOPs = 2 × MACs of convolutions and matmuls"
            + (" + other FLOPs." if cost.include_other else "; other FLOPs (bias, activation, pooling, softmax) are "
               "their own column.")
            + (" Times are the profiled mean per inference; GFLOP/s and % of roof count all FLOPs of the layer "
               "against the attainable roof at its intensity." if profiles else ""))
    return (f'<section id="layers"><h2>Layers ({len(cost.layers)})</h2><p class="note">{_e(note)}</p>'
            f'<div class="scroll"><table id="layer-table" class="sortable"><thead><tr>{heads}</tr></thead>'
            f'{"".join(bodies)}{footer}</table></div></section>')


# -- warnings, environment ------------------------------------------------------------------------

def _warnings(content: ReportContent) -> list[str]:
    found: list[str] = list(content.notes)
    cost = content.cost
    if cost is not None:
        if cost.not_counted:
            found.append("not counted (no formula): " + ", ".join(f"{t} ×{n}" for t, n in cost.not_counted.items()))
        if cost.dynamic_shapes:
            found.append("not counted, shapes depend on the data: "
                         + ", ".join(f"{t} ×{n}" for t, n in cost.dynamic_shapes.items()))
    if content.bench is not None:
        for result in content.bench.results:
            label = result.settings.engine
            for kind, stats in (("engine", result.engine_latency), ("call", result.call_latency)):
                if stats is not None:
                    found.extend(f"{label} {kind} latency: {describe(w)}" for w in stats.warnings)
            found.extend(f"{label}: {w}" for w in result.warnings)
            if not result.complete:
                found.append(f"{label}: the run is INCOMPLETE ({result.stop_reason}); statistics cover what was measured")
    for profile in content.profiles:
        label = f"{_engine_name(profile)} profile"
        found.extend(f"{label}: {warning_text(finding, profile)}" for finding in profile.warnings)
        if not profile.complete:
            found.append(f"{label}: INCOMPLETE (interrupted); the times cover what was measured")
    return found


def _warnings_section(content: ReportContent) -> str:
    return _warnings_list(_warnings(content))


def _warnings_list(found: Sequence[str]) -> str:
    body = ("<ul>" + "".join(f"<li>{_e(w)}</li>" for w in found) + "</ul>") if found else "<p>None.</p>"
    return f'<section id="warnings"><h2>Warnings ({len(found)})</h2>{body}</section>'


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for key, inner in value.items():
            rows.extend(_flatten(f"{prefix}.{key}" if prefix else str(key), inner))
        return rows
    if isinstance(value, (list, tuple)):
        return [(prefix, " ".join(str(v) for v in value))]
    return [(prefix, "" if value is None else str(value))]


def _environment(content: ReportContent) -> str:
    rows: list[tuple[str, str]] = []
    if content.bench is not None:
        rows.extend((k, v) for k, v in _flatten("", content.bench.metadata) if k not in ("inputs",))
        for result in content.bench.results:
            s = result.settings
            label = s.engine
            rows.append((f"{label}.engine", f"{s.engine} {s.engine_version} on {s.device} ({s.device_name})"))
            rows.append((f"{label}.asked", ", ".join(f"{k}={v}" for k, v in result.config.to_dict().items() if v is not None)))
            rows.append((f"{label}.used", f"hint {s.hint}, precision {s.precision}, {s.streams} stream(s), "
                         f"{s.threads} thread(s), {s.requests} request(s) (optimal {s.optimal_requests})"))
            first = units.duration(result.first_inference_ns) if result.first_inference_ns is not None else "no warm-up"
            rows.append((f"{label}.run", f"{result.iterations:,} runs in {result.wall_s:.2f} s ({result.stop_reason}); "
                         f"first inference {first}, {len(result.warmup_ns)} warm-up runs; inputs: {result.inputs}"))
    for profile in content.profiles:
        label = f"{_engine_name(profile)}.profile"
        e = profile.engine
        rows.append((label, f"{profile.iterations:,} profiled runs after {profile.warmup} warm-up, {profile.latency_kind} latency, "
                     f"node time resolution {profile.time_resolution_us:g} µs; precision {e.get('precision')}, "
                     f"{e.get('threads')} thread(s)"))
        roof = profile.roofline
        rows.append((f"{label}.roofline", "; ".join(f"{name} {peak.gflops_per_s:,.1f} GFLOP/s by {peak.op}"
                                                     + (f" (theoretical {peak.theoretical_gflops_per_s:,.0f})"
                                                        if peak.theoretical_gflops_per_s else "")
                                                     for name, peak in roof.peaks.items())
                     + f"; memory {roof.bandwidth_gb_per_s:,.2f} GB/s"))
    if content.cost is not None:
        rows.extend((f"count.{k}", v) for k, v in _flatten("", content.cost.metadata))
    return _environment_table(rows, content.command, content.sources)


def _environment_table(rows: Sequence[tuple[str, str]], command: str, sources: Sequence[str]) -> str:
    table = ('<table class="plain env"><tbody>' + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
             + "</tbody></table>") if rows else "<p>Not recorded.</p>"
    command_html = f"<pre><code>{_e(command)}</code></pre>" if command else ""
    sources_html = ("<p>Rendered from: " + ", ".join(f"<code>{_e(s)}</code>" for s in sources) + "</p>"
                    if sources else "")
    return f'<section id="environment"><h2>Environment and command</h2>{command_html}{sources_html}{table}</section>'


# -- the page -------------------------------------------------------------------------------------

STYLE = """
:root{--ink:#1d2433;--muted:#5b6475;--line:#e3e6ec;--card:#f6f7f9;--accent:#4c72b0}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1280px;padding:24px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink)}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}
.sub,.note{color:var(--muted)}.note{font-size:12.5px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.card{background:var(--card);border-radius:8px;padding:10px 12px}.card.wide{grid-column:span 2}
h3{font-size:14px;margin:14px 0 6px}
.card .label{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
.card .value{font-size:20px;font-weight:600;margin:2px 0;overflow-wrap:anywhere}
.card .detail{font-size:12px;color:var(--muted);overflow-wrap:anywhere}
svg.chart text{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif}
svg.chart{display:block;max-width:100%;height:auto;margin:8px 0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:12.5px;font-variant-numeric:tabular-nums}
th,td{padding:3px 6px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th{background:var(--card);position:sticky;top:0}
td:nth-child(2),td:nth-child(3),th:nth-child(2),th:nth-child(3){text-align:left}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th:hover{color:var(--accent)}
table.sortable th[aria-sort=ascending]::after{content:" ▲"}
table.sortable th[aria-sort=descending]::after{content:" ▼"}
tr.part td{color:var(--muted)}tr.uncounted td{background:#fff6dd}
tfoot td{font-weight:600;border-top:2px solid var(--ink)}
table.plain td:first-child,table.plain td:nth-child(2){text-align:left}
table.env th,table.env td{text-align:left;white-space:normal;background:none;position:static}
pre{background:var(--card);padding:10px;border-radius:6px;overflow-x:auto}
li{margin:3px 0}
"""

# sorts the tbody groups (a layer and its parts) by the clicked column of the layer's row
SCRIPT = """
(function(){
document.querySelectorAll("table.sortable").forEach(function(table){
  var heads=table.tHead.rows[0].cells;
  function key(body,col,numeric){
    var cell=body.rows[0].cells[col];
    var raw=cell.hasAttribute("data-v")?cell.getAttribute("data-v"):cell.textContent;
    if(!numeric)return raw.toLowerCase();
    var v=parseFloat(raw);return isNaN(v)?-Infinity:v;
  }
  function sort(col){
    var th=heads[col],numeric=th.getAttribute("data-type")==="number";
    var ascending=th.getAttribute("aria-sort")!=="ascending";
    for(var i=0;i<heads.length;i++)heads[i].removeAttribute("aria-sort");
    th.setAttribute("aria-sort",ascending?"ascending":"descending");
    var bodies=Array.prototype.slice.call(table.tBodies);
    bodies.sort(function(a,b){
      var x=key(a,col,numeric),y=key(b,col,numeric);
      var order=x<y?-1:x>y?1:0;return ascending?order:-order;
    });
    var foot=table.tFoot;
    bodies.forEach(function(b){table.insertBefore(b,foot);});
  }
  Array.prototype.forEach.call(heads,function(th,col){
    th.addEventListener("click",function(){sort(col);});
    th.addEventListener("keydown",function(ev){if(ev.key==="Enter"||ev.key===" "){ev.preventDefault();sort(col);}});
  });
});
})();
"""


def _page(title: str, subtitle: str, parts: Sequence[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)} · flopbench report</title><style>{STYLE}</style></head><body>"
        f'<header><h1>{_e(title)}</h1><div class="sub">{_e(subtitle)}</div></header>'
        + "".join(parts)
        + f"<script>{SCRIPT}</script></body></html>\n"
    )


def render_comparison_page(comparison: Comparison, command: str = "") -> str:
    """Several models (or one model on several machines) on one page: every metric with its ratio to the first column, the FLOPs ratio
    next to the measured latency ratio per engine, and each run's latency histogram."""
    from ..version import __version__

    names = [model.rsplit("/", 1)[-1] for model in comparison.models]
    heads = _sortable_heads([("Metric", "text"), ("Engine", "text")]
                            + [(head, "number") for name in names for head in (name, "× first")])
    bodies = []
    for row in comparison.rows:
        cells = f"<td>{_e(row.label)}</td><td>{_e(row.engine or 'count')}</td>"
        for value, ratio in zip(row.values, row.ratios):
            cells += (f'<td data-v="{value if value is not None else ""}">{_e(units.metric(value, row.unit))}</td>'
                      f'<td data-v="{ratio if ratio is not None else ""}">{"—" if ratio is None else f"{ratio:,.3f}"}</td>')
        bodies.append(f"<tbody><tr>{cells}</tr></tbody>")
    table = (f'<section id="comparison"><h2>Side by side</h2><p class="note">Ratios are to the first column, '
             f'{_e(names[0])}. Click a header to sort.</p><div class="scroll"><table id="compare-table" class="sortable">'
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
    content = ReportContent(bench=bench, command=command,
                            notes=("interrupted (Ctrl-C): the page shows what was measured until then",)
                            if comparison.interrupted else ())
    latency = (_latency_section(bench).replace("<h2>Latency</h2>", "<h2>Latency, column by column</h2>")
               if comparison.results else "")
    subtitle = f"flopbench {__version__} · compare · {', '.join(names)}"
    return _page(" vs ".join(names), subtitle, [table, chart_section, _layers_side_by_side(comparison, names), latency,
                                                _warnings_section(content), _environment(content)])


def _find_row(comparison: Comparison, metric: str, engine: str | None = None):
    return next((row for row in comparison.rows if row.metric == metric and row.engine == engine), None)


def _layers_side_by_side(comparison: Comparison, names: Sequence[str]) -> str:
    """Layers of the same name per engine, each column's mean time from its profile and its ratio to the first."""
    if not comparison.layers:
        return ""
    heads = _sortable_heads([("Layer", "text"), ("Engine", "text"), ("Type", "text")]
                            + [(head, "number") for name in names for head in (f"{name} µs", "× first")])
    bodies = []
    for match in comparison.layers:
        cells = [(match.name, None), (match.engine, None), (next((t for t in match.types if t), ""), None)]
        for time_us, ratio in zip(match.time_us, match.ratios):
            cells += [("—" if time_us is None else f"{time_us:,.1f}", "" if time_us is None else time_us),
                      ("—" if ratio is None else f"{ratio:,.3f}", "" if ratio is None else ratio)]
        bodies.append(f"<tbody><tr>{_sortable_cells(cells)}</tr></tbody>")
    return (f'<section id="layers-side-by-side"><h2>Layers side by side</h2><p class="note">Mean time per inference of each '
            f'layer, from the profiler, as a ratio to the first column. Click a header to sort.</p><div class="scroll">'
            f'<table id="layers-table" class="sortable"><thead><tr>{heads}</tr></thead>{"".join(bodies)}</table></div></section>')


def render_report(content: ReportContent) -> str:
    """The whole page as one string of HTML."""
    from ..version import __version__

    name = content.model.rsplit("/", 1)[-1] or "flopbench report"
    parts = [_summary(content)]
    if content.profiles:
        parts.append(_profiled_layers_section(content.profiles))
        parts.append(_roofline_section(content.profiles))
    elif content.cost is not None:
        parts.append(_layer_chart(content.cost))
    if content.bench is not None:
        parts.append(_latency_section(content.bench))
    if content.cost is not None:
        parts.append(_layer_table(content.cost, content.profiles))
    parts.append(_warnings_section(content))
    parts.append(_environment(content))
    measured = []
    if content.cost is not None:
        measured.append("count")
    if content.bench is not None:
        measured.append("bench" + ("" if content.bench.complete else " (incomplete)"))
    if content.profiles:
        measured.append("profile" + ("" if all(p.complete for p in content.profiles) else " (incomplete)"))
    subtitle = f"flopbench {__version__} · {' + '.join(measured) or 'nothing measured'} · {content.model}"
    return _page(name, subtitle, parts)


# -- the separable-convolution sweep ------------------------------------------------------------------

STUDY_TITLE = "Separable vs standard convolution"
CONFIG_COLORS = (charts.FLOPS_COLOR, charts.TIME_COLOR, *charts.MARK_COLORS)


def _config(point: dict[str, Any]) -> str:
    return f"{point['engine']}:{point['precision']}"


def _ok(result: SweepResult) -> list[dict[str, Any]]:
    return [r for r in result.records if r.get("status") == "ok"]


def _values(points: Sequence[dict[str, Any]], field: str) -> str:
    return ", ".join(str(v) for v in sorted({p[field] for p in points}))


def _study_rooflines(result: SweepResult) -> dict[str, dict[str, Any]]:
    """The roofline each engine's parts were placed on, as recorded with the points (first found)."""
    found: dict[str, dict[str, Any]] = {}
    for record in _ok(result):
        roof = (record.get("parts") or {}).get("roofline")
        if roof and roof.get("engine") not in found:
            found[roof["engine"]] = roof
    return found


def _study_summary(result: SweepResult) -> str:
    points = [dict(p) for p in result.points]
    configs = list(dict.fromkeys(_config(p) for p in points))
    failed = sum(1 for r in result.records if r.get("status") != "ok")
    done = f"{len(result.records)} of {result.planned_count} measured" + (f", {failed} failed" if failed else "")
    cards = [
        _card("Points", f"{result.planned_count:,}", done),
        _card("Configs (engine:precision)", str(len(configs)), ", ".join(configs), wide=True),
        _card("Geometries", f"{len({geometry(p) for p in points}):,}",
              f"channels {_values(points, 'in_channels')} → {_values(points, 'out_channels')}; kernel "
              f"{_values(points, 'kernel')}; size {_values(points, 'size')}; stride {_values(points, 'stride')}", wide=True),
    ]
    cards += _machine_cards(result.metadata)
    for engine, roof in _study_rooflines(result).items():
        cards.append(_roofline_card(engine, roof["bandwidth_gb_per_s"], roof["peaks_gflops_per_s"], roof["quick"],
                                    roof["measured_at"]))
    for s in summarize(result.records):
        if s.time_ratio_median is None:
            cards.append(_card(s.config, "failed", f"all {s.points} points failed"))
            continue
        saving = "—" if s.realized_median is None else f"{100 * s.realized_median:.0f}%"
        cards.append(_card(s.config, f"{1 / s.time_ratio_median:,.2f}× faster",
                           f"for {1 / s.flop_ratio_median:,.2f}× fewer FLOPs (medians over {s.points - s.failed} points); "
                           f"{saving} of the FLOP saving became a time saving", wide=True))
    story = "".join(f"<li>{_e(line)}</li>" for line in summary_lines(result))
    return (f'<section id="summary"><h2>Summary</h2><div class="cards">{"".join(cards)}</div>'
            f'<h3>What the sweep says</h3><ul>{story}</ul></section>')


def _speedup_section(result: SweepResult) -> str:
    by_config: dict[str, list[dict[str, Any]]] = {}
    for record in _ok(result):
        by_config.setdefault(_config(record["point"]), []).append(record)
    series = []
    for index, (config, records) in enumerate(by_config.items()):
        # speedup = standard / separable: the reciprocal of the recorded ratios (separable / standard)
        ratios = [r["time_ratio"] for r in records]
        titles = [f"{r['key']} ({geometry(r['point'])}): {1 / r['flop_ratio']:,.2f}× fewer FLOPs, "
                  f"{1 / t['median']:,.2f}× faster (range {1 / t['max']:,.2f}–{1 / t['min']:,.2f} over "
                  f"{len(t['repeats'])} repeats); standard {r['latency_us']['standard']['median']:,.1f} µs, "
                  f"separable {r['latency_us']['separable']['median']:,.1f} µs" for r, t in zip(records, ratios)]
        series.append(charts.Spread(config, [1 / r["flop_ratio"] for r in records], [1 / t["median"] for t in ratios],
                                    [1 / t["max"] for t in ratios], [1 / t["min"] for t in ratios], titles,
                                    CONFIG_COLORS[index % len(CONFIG_COLORS)]))
    if not series:
        return '<section id="speedup"><h2>Fewer FLOPs, less time?</h2><p>No point was measured.</p></section>'
    svg = charts.speedup("chart-speedup", series, "expected speedup: standard FLOPs / separable FLOPs",
                         "measured speedup: standard time / separable time",
                         "Separable vs standard: the speedup the FLOPs promise and the one measured")
    note = ("One point per layer geometry and engine:precision; the bar is the range over the repeats. On the dashed "
            "line time fell exactly as much as the FLOPs; below it, less. Under the dotted line the separable layer "
            "was slower than the standard one. Hover a point for its numbers.")
    return f'<section id="speedup"><h2>Fewer FLOPs, less time?</h2><p class="note">{_e(note)}</p>{svg}</section>'


def _part_us(part: dict[str, Any] | None) -> str:
    return "—" if not part else f"{part['time_us']:,.1f} µs"


def _split_section(result: SweepResult) -> str:
    profiled = [r for r in _ok(result) if (r.get("parts") or {}).get("depthwise") and r["parts"].get("depthwise_flop_share") is not None]
    if not profiled:
        return ""
    labels = [f"{geometry(r['point'])} {_config(r['point'])}" for r in profiled]
    flops = [100 * r["parts"]["depthwise_flop_share"] for r in profiled]
    times = [100 * r["parts"]["depthwise"]["share"] for r in profiled]
    flops_titles = [f"{r['key']}: the depthwise part does {share:.1f}% of the separable layer's FLOPs"
                    for r, share in zip(profiled, flops)]
    time_titles = [f"{r['key']}: the depthwise part takes {share:.1f}% of the separable layer's time "
                   f"(depthwise {_part_us(r['parts']['depthwise'])}, pointwise {_part_us(r['parts'].get('pointwise'))})"
                   for r, share in zip(profiled, times)]
    series = [charts.Series("depthwise % of FLOPs", flops, flops_titles, charts.FLOPS_COLOR),
              charts.Series("depthwise % of time", times, time_titles, charts.TIME_COLOR)]
    svg = charts.layer_bars("chart-split", labels, series, "% of the separable layer",
                            "The depthwise part: its share of the separable layer's FLOPs and of its profiled time")
    note = ("The separable layer profiled part by part; the pointwise part is the rest of each bar's 100%. A depthwise "
            "part that takes a larger share of the time than of the FLOPs runs below the machine's roof. Hover a bar "
            "for the times.")
    return f'<section id="split"><h2>Depthwise and pointwise</h2><p class="note">{_e(note)}</p>{svg}</section>'


# (part, legend, short name beside a point, colour): the roofs take MARK_COLORS from the first, the parts from the last
STUDY_PARTS = (("standard", "standard k×k", "std", charts.FLOPS_COLOR), ("depthwise", "depthwise k×k", "dw", charts.TIME_COLOR),
               ("pointwise", "pointwise 1×1", "pw", charts.MARK_COLORS[-1]))


def _study_roofline_chart(config: str, records: Sequence[dict[str, Any]], index: int) -> str:
    roof = records[0]["parts"]["roofline"]
    points, colors = [], []
    for record in records:
        for part, label, short, color in STUDY_PARTS:
            row = record["parts"].get(part)
            if not row or row.get("intensity") is None or row.get("gflops_per_s") is None:
                continue
            attainable = ("" if row.get("percent_of_attainable") is None else
                          f", {row['percent_of_attainable']:,.0f}% of the attainable {row['attainable_gflops_per_s']:,.1f}")
            points.append((row["intensity"], row["gflops_per_s"],
                           f"{record['key']} {label}: {row['intensity']:,.2f} FLOPs/byte, {row['gflops_per_s']:,.2f} GFLOP/s"
                           f"{attainable}; {row.get('bound')}-bound, {row['time_us']:,.1f} µs", f"{geometry(record['point'])} {short}"))
            colors.append(color)
    return charts.roofline(f"chart-roofline-{index}", points, list(roof["peaks_gflops_per_s"].items()),
                           roof["bandwidth_gb_per_s"], f"{config}: each part on the machine's measured roofline",
                           colors=colors, legend=[(label, color) for _, label, _, color in STUDY_PARTS])


def _study_roofline_section(result: SweepResult) -> str:
    by_config: dict[str, list[dict[str, Any]]] = {}
    for record in _ok(result):
        if (record.get("parts") or {}).get("roofline"):
            by_config.setdefault(_config(record["point"]), []).append(record)
    if not by_config:
        return ""
    note = ("Each profiled layer — the standard one, and the separable one's depthwise and pointwise parts — at its "
            "arithmetic intensity (FLOPs per byte, unfused) and the GFLOP/s it achieved, under the peaks and memory "
            "bandwidth measured on this machine with the same engine. Parts too short for the engine's timer are left out.")
    svgs = "".join(_study_roofline_chart(config, records, index) for index, (config, records) in enumerate(by_config.items()))
    return f'<section id="roofline"><h2>Roofline</h2><p class="note">{_e(note)}</p>{svgs}</section>'


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


def _point_heads(with_nodes: bool) -> tuple[tuple[str, str], ...]:
    """A sweep spread over a cluster (`--ray`) names the node each point ran on, after what it ran."""
    return POINT_HEADS[:4] + (("Node", "text"),) + POINT_HEADS[4:] if with_nodes else POINT_HEADS


def _point_cells(position: int, record: dict[str, Any], with_nodes: bool) -> list[tuple[str, Any]]:
    point = record["point"]
    cells = [(str(position), position), (record["key"], None), (_config(point), None),
             (str((record.get("engine") or {}).get("precision", "")), None)]
    if with_nodes:
        cells.append((str(record.get("node_id") or "")[:8], None))
    cells += [(str(point[f]), point[f]) for f in ("in_channels", "out_channels", "kernel", "size", "stride")]
    if record.get("status") != "ok":
        return (cells + [("", None)] * (len(_point_heads(with_nodes)) - len(cells) - 1)
                + [(f"failed: {record.get('reason', '?')}", None)])
    parts = record.get("parts") or {}
    depthwise, pointwise, standard = (parts.get(name) or {} for name in ("depthwise", "pointwise", "standard"))
    ratio, latency = record["time_ratio"], record["latency_us"]
    share = realized(record)
    cells += [(units.count(record["flops"]["standard"]), record["flops"]["standard"]),
              (units.count(record["flops"]["separable"]), record["flops"]["separable"]), _number(record["flop_ratio"], 3),
              _number(latency["standard"]["median"], 1), _number(latency["separable"]["median"], 1),
              _number(ratio["median"], 3), _number(ratio["min"], 3), _number(ratio["max"], 3),
              _number(None if share is None else 100 * share, 0),
              _number(None if parts.get("depthwise_flop_share") is None else 100 * parts["depthwise_flop_share"], 0),
              _number(None if depthwise.get("share") is None else 100 * depthwise["share"], 0),
              _number(depthwise.get("time_us"), 1), _number(pointwise.get("time_us"), 1),
              _number(standard.get("gflops_per_s"), 2), _number(depthwise.get("gflops_per_s"), 2),
              _number(pointwise.get("gflops_per_s"), 2), _number(depthwise.get("percent_of_attainable"), 0),
              _number(pointwise.get("percent_of_attainable"), 0), (str(depthwise.get("bound") or ""), None),
              ("ok" if "profile_error" not in parts else "ok, not profiled", None)]
    return cells


def _points_table(result: SweepResult) -> str:
    with_nodes = any("node_id" in record for record in result.records)
    bodies = "".join(f"<tbody><tr>{_sortable_cells(_point_cells(index, record, with_nodes))}</tr></tbody>"
                     for index, record in enumerate(result.records, start=1))
    note = ("Click a header to sort (again to reverse). Ratios are separable / standard: below 1 the separable layer "
            "needs less. Times are the median end-to-end latency over the repeats (Min and Max: the time ratio's "
            "range); Realized is the share of the FLOP saving that became a time saving; DW and PW are the "
            "depthwise and pointwise parts, as profiled; % of roof is of the attainable GFLOP/s at the part's "
            "arithmetic intensity on the measured roofline.")
    return (f'<section id="points"><h2>Points ({len(result.records)})</h2><p class="note">{_e(note)}</p>'
            f'<div class="scroll"><table id="points-table" class="sortable"><thead><tr>{_sortable_heads(_point_heads(with_nodes))}</tr>'
            f'</thead>{bodies}</table></div></section>')


def _study_warnings(result: SweepResult, notes: Sequence[str]) -> list[str]:
    found = list(notes)
    if not result.complete:
        found.append(f"INCOMPLETE: {len(result.records)} of {result.planned_count} points measured; "
                     "running the same command again measures the rest")
    for record in result.records:
        point = record["point"]
        if record.get("status") != "ok":
            found.append(f"{record['key']}: failed: {record.get('reason', '?')}")
            continue
        error = (record.get("parts") or {}).get("profile_error")
        if error:
            found.append(f"{record['key']}: not profiled, no depthwise / pointwise split ({error})")
        ran = (record.get("engine") or {}).get("precision")
        if ran and ran != point["precision"]:
            found.append(f"{record['key']}: asked for {point['precision']}, the engine ran {ran}")
    return found


def _study_environment(result: SweepResult, command: str, sources: Sequence[str]) -> str:
    rows = [(k, v) for k, v in _flatten("", result.metadata)]
    measuring = ("device", "seconds", "repeats", "profile_iterations", "seed")
    rows.append(("points.measured", "; ".join(f"{field} {_values([dict(p) for p in result.points], field)}"
                                              for field in measuring if all(field in p for p in result.points))))
    seen: set[str] = set()
    for record in _ok(result):
        config = _config(record["point"])
        if config not in seen and record.get("engine"):
            seen.add(config)
            rows.extend((f"{config}.used.{k}", v) for k, v in _flatten("", record["engine"]))
    return _environment_table(rows, command, sources)


def render_study_page(result: SweepResult, command: str = "", sources: Sequence[str] = (), notes: Sequence[str] = ()) -> str:
    """The sweep of `flopbench study sepconv` as one page: what it says, the speedup the FLOPs
    promise against the one measured, the depthwise / pointwise split, every point, the warnings."""
    from ..version import __version__

    status = "" if result.complete else " (incomplete)"
    subtitle = f"flopbench {__version__} · study sepconv · {len(result.records)} of {result.planned_count} points{status}"
    parts = [_study_summary(result), _speedup_section(result), _split_section(result), _study_roofline_section(result),
             _points_table(result),
             _warnings_list(_study_warnings(result, notes)), _study_environment(result, command, sources)]
    return _page(STUDY_TITLE, subtitle, parts)
