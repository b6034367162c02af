"""The report page of one model: summary, charts, the layer table, warnings, environment. A
report is a count, a bench and profiles of one model, any of them missing; each kind's sections
live with its renderer (cost.py, bench.py, profile.py), the page's shell in page.py.
Rendering never computes: the page shows what counting and measuring produced, in their units."""
from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..counting.cost import LayerCost, ModelCost
from ..measure.bench import BenchReport
from ..profiling.profile import SLOWER_FACTOR, LayerRow, ProfileResult
from . import units
from .bench import engine_cards, latency_section
from .cost import layer_chart_section, model_cards
from .page import environment_section, escape, flatten, machine_cards, sortable_cells, sortable_heads, warnings_list, whole_page
from .profile import engine_name, profile_warnings, profiled_layers_section, roof_card, roofline_section
from .registry import renderer
from .warnings import latency_facts


MOST_TABLE_LAYERS = 1000  # rows of the page's layer table; past them, the layers with the most FLOPs

LAYER_HEADS = (("#", "number"), ("Layer", "text"), ("Type", "text"), ("Input", "text"), ("Kernel", "text"),
               ("Kernels", "number"), ("Output", "text"), ("MACs", "number"), ("FLOPs", "number"),
               ("% FLOPs", "number"), ("Other FLOPs", "number"), ("Precision", "text"), ("Params", "number"),
               ("Weight bytes", "number"), ("Bytes moved", "number"))


def _timed_cells(timed: LayerRow | None, predicted: bool = False) -> list[tuple[str, Any]]:
    """A profiled layer's time, GFLOP/s and % of its roof; with `predicted`, the time this machine's
    calibrated model predicted beside its measured time (marked ! when it ran SLOWER_FACTOR× slower)."""
    if timed is None:
        return [("", None)] * (4 if predicted else 3)
    rate = timed.gflops_per_s
    roof = timed.percent_of_attainable
    cells = [(f"{timed.time_us:,.1f}", round(timed.time_us, 3))]
    if predicted:
        guess = timed.predicted_time_us
        cells.append(("" if guess is None else f"{guess:,.1f}" + (" !" if timed.slower_than_predicted else ""),
                      None if guess is None else round(guess, 3)))
    return cells + [("" if rate is None else f"{rate:,.2f}", None if rate is None else round(rate, 4)),
                    ("" if roof is None else f"{roof:,.0f}", None if roof is None else round(roof, 2))]


def has_predictions(profile: ProfileResult) -> bool:
    return any(row.predicted_time_us is not None for row in profile.layers)


def _page_layer_cells(position: str, layer: LayerCost, total: int, include_other: bool, sort_key: int | None,
                 timed: Sequence[LayerRow | None] = (), predicted: Sequence[bool] = ()) -> str:
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
    for index, row in enumerate(timed):
        cells += _timed_cells(row, index < len(predicted) and predicted[index])
    return sortable_cells(cells)


def _rows_by_name(profile: ProfileResult) -> dict[str, LayerRow]:
    found = {}
    for row in profile.layers:
        found[row.name] = row
        for part in row.parts:
            found[part.name] = part
    return found


def layer_table_section(cost: ModelCost, profiles: Sequence[ProfileResult] = ()) -> str:
    total = cost.total_flops
    predicted = [has_predictions(p) for p in profiles]
    timed_heads = [(f"{engine_name(p)} {what}", "number") for p, guessed in zip(profiles, predicted)
                   for what in ("µs", *(("predicted µs",) if guessed else ()), "GFLOP/s", "% of roof")]
    heads = sortable_heads((*LAYER_HEADS, *timed_heads))
    by_name = [_rows_by_name(p) for p in profiles]
    bodies = []
    layers = list(enumerate(cost.layers, start=1))
    shown = layers
    if len(layers) > MOST_TABLE_LAYERS:  # a page of 100,000 rows would not open; the JSON keeps them all
        most = heapq.nlargest(MOST_TABLE_LAYERS, layers, key=lambda item: item[1].total_flops(cost.include_other))
        shown = sorted(most, key=lambda item: item[0])
    for index, layer in shown:
        cls = "layer" if layer.counted else "layer uncounted"
        timed = [rows.get(layer.name) for rows in by_name]
        rows = [f'<tr class="{cls}">{_page_layer_cells(str(index), layer, total, cost.include_other, index, timed, predicted)}</tr>']
        rows += [f'<tr class="part">{_page_layer_cells("", part, total, cost.include_other, None, [r.get(part.name) for r in by_name], predicted)}</tr>'
                 for part in layer.parts]
        bodies.append(f"<tbody>{''.join(rows)}</tbody>")
    timed_totals = "".join(f"<td>{p.layers_us:,.1f}</td>" + "<td></td>" * (3 if guessed else 2) for p, guessed in zip(profiles, predicted))
    footer = (f'<tfoot>{_rest_row(cost, [layer for _, layer in _left_out(layers, shown)], len(timed_heads))}<tr><td></td><td>Total</td><td colspan="5"></td><td>{units.count(cost.macs)}</td><td>{units.count(total)}</td>'
              f'<td>100.0</td><td>{units.count(cost.other_flops)}</td><td></td><td>{units.count(cost.params)}</td>'
              f'<td>{units.count(cost.weight_bytes)}</td><td>{units.count(cost.bytes_read + cost.bytes_written)}</td>{timed_totals}</tr></tfoot>')
    note = ("Click a header to sort (again to reverse); the parts of a separable layer (depthwise, pointwise) stay "
            "under their layer. FLOPs = 2 × MACs of convolutions and matmuls"
            + (" + other FLOPs." if cost.include_other else "; other FLOPs (bias, activation, pooling, softmax) are "
               "their own column.")
            + (" Times are the profiled mean per inference; GFLOP/s and % of roof count all FLOPs of the layer "
               "against the attainable roof at its intensity." if profiles else "")
            + "".join(f" {engine_name(p)} predicted µs: what this machine's calibrated model (flopbench predict) foretold for the "
                      f"layer without running it; ! marks a layer that ran {SLOWER_FACTOR:g}× or more slower." if guessed else
                      f" {engine_name(p)}: no predicted times, as this engine and precision are not calibrated here "
                      f"(flopbench predict --calibrate --engine {engine_name(p)})."
                      for p, guessed in zip(profiles, predicted))
            + (f" Shown: the {len(shown):,} layers with the most FLOPs, numbered in the model's order; the other "
               f"{len(layers) - len(shown):,} layers are one row under them, with their sums (flopbench flops "
               "MODEL -o count.json or .csv has every layer)." if len(shown) < len(layers) else ""))
    return (f'<section id="layers"><h2>Layers ({len(cost.layers)})</h2><p class="note">{escape(note)}</p>'
            f'<div class="scroll"><table id="layer-table" class="sortable"><thead><tr>{heads}</tr></thead>'
            f'{"".join(bodies)}{footer}</table></div></section>')


def _left_out(layers: list, shown: list) -> list:
    kept = {index for index, _ in shown}
    return [item for item in layers if item[0] not in kept]


def _rest_row(cost: ModelCost, rest: Sequence[LayerCost], timed_columns: int) -> str:
    """One row for the layers the table leaves out, with their sums: its rows and this one add up
    to the totals under them, so no layer's work goes missing from the page."""
    if not rest:
        return ""
    macs = other = params = weights = moved = 0
    for layer in rest:  # one pass: these can be 100,000 layers of a few ops each
        # each layer's sums of its ops, taken already for its FLOPs (the largest layers were picked by them)
        macs += layer.macs
        other += layer.other_flops
        params += layer.params
        moved += layer.bytes_read + layer.bytes_written
        weights += layer.weight_bytes
    flops = 2 * macs + (other if cost.include_other else 0)
    total = cost.total_flops
    share = 100.0 * flops / total if total else 0.0
    cells = [("", None), (f"other {len(rest):,} layers", None), *[("", None)] * 5, (units.count(macs), macs),
             (units.count(flops), flops), (f"{share:.1f}", round(share, 4)), (units.count(other), other), ("", None),
             (units.count(params), params), (units.count(weights), weights), (units.count(moved), moved),
             *[("", None)] * timed_columns]
    return f'<tr class="rest">{sortable_cells(cells)}</tr>'


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


def _summary(content: ReportContent) -> str:
    cards: list[str] = model_cards(content.cost) if content.cost is not None else []
    groups: list[str] = []
    if content.bench is not None:
        cards += machine_cards(content.bench.metadata)
        for result in content.bench.results:
            s = result.settings
            heading = f"{s.engine} {s.engine_version.split('-')[0]}"
            groups.append(f'<h3>{escape(heading)}</h3><div class="cards">{"".join(engine_cards(result))}</div>')
    for profile in content.profiles:
        cards.append(roof_card(profile))
    return f'<section id="summary"><h2>Summary</h2><div class="cards">{"".join(cards)}</div>{"".join(groups)}</section>'


def _report_warnings(content: ReportContent) -> list[str]:
    found: list[str] = list(content.notes)
    cost = content.cost
    if cost is not None:
        if cost.not_counted:
            found.append("not counted (no formula): " + ", ".join(f"{t} ×{n}" for t, n in cost.not_counted.items()))
        if cost.dynamic_shapes:
            found.append("not counted, shapes depend on the data: "
                         + ", ".join(f"{t} ×{n}" for t, n in cost.dynamic_shapes.items()))
    if content.bench is not None:
        found.extend(latency_facts(content.bench.results))
    for profile in content.profiles:
        label = f"{engine_name(profile)} profile"
        found.extend(f"{label}: {text}" for text in profile_warnings(profile))
    return found


def report_warnings_section(content: ReportContent) -> str:
    return warnings_list(_report_warnings(content))


def report_environment_section(content: ReportContent) -> str:
    rows: list[tuple[str, str]] = []
    if content.bench is not None:
        rows.extend((k, v) for k, v in flatten("", content.bench.metadata) if k not in ("inputs",))
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
        label = f"{engine_name(profile)}.profile"
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
        rows.extend((f"count.{k}", v) for k, v in flatten("", content.cost.metadata))
    return environment_section(rows, content.command, content.sources)


@renderer("report", "html")
def render_report(content: ReportContent) -> str:
    """The whole page as one string of HTML."""
    from ..version import __version__

    name = content.model.rsplit("/", 1)[-1] or "flopbench report"
    parts = [_summary(content)]
    if content.profiles:
        parts.append(profiled_layers_section(content.profiles))
        parts.append(roofline_section(content.profiles))
    elif content.cost is not None:
        parts.append(layer_chart_section(content.cost))
    if content.bench is not None:
        parts.append(latency_section(content.bench))
    if content.cost is not None:
        parts.append(layer_table_section(content.cost, content.profiles))
    parts.append(report_warnings_section(content))
    parts.append(report_environment_section(content))
    measured = []
    if content.cost is not None:
        measured.append("count")
    if content.bench is not None:
        measured.append("bench" + ("" if content.bench.complete else " (incomplete)"))
    if content.profiles:
        measured.append("profile" + ("" if all(p.complete for p in content.profiles) else " (incomplete)"))
    subtitle = f"flopbench {__version__} · {' + '.join(measured) or 'nothing measured'} · {content.model}"
    return whole_page(name, subtitle, parts)
