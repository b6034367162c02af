"""Charts for the HTML report: matplotlib figures written as inline SVG.

SVG, not a JavaScript charting library: the page stays small, readable offline and as an e-mail
attachment, prints, and needs no script to draw. Text stays text (`svg.fonttype = none`), so the
SVG is a fraction of the size with glyphs as paths and the labels can be searched and copied.
Every bar carries a `<title>`, which the browser shows on hover.

Each function takes numbers already measured or counted and returns one `<svg>` element as a
string; none measures or counts anything.
"""
from __future__ import annotations

import heapq
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .units import safe_name

FLOPS_COLOR = "#4c72b0"
TIME_COLOR = "#dd8452"
NAMED_POINTS = 24  # up to this many layers, the roofline names each point
WIDTH_IN = 10.5  # the page's width at 96 CSS pixels per inch: text in the chart reads at the page's size
MARK_COLORS = ("#2a9d8f", "#e9c46a", "#e76f51", "#8e44ad")

_RC = {
    "svg.fonttype": "none",  # text as <text>, not glyph paths
    "svg.hashsalt": "flopbench",  # the same data gives the same SVG, byte for byte
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "text.parse_math": False,  # a layer name is text: "a$\\frac{$b" is not math (and would not parse)
}


@dataclass(frozen=True)
class Series:
    """One set of bars: a name for the legend, one value per label, and the hover text of each bar."""

    name: str
    values: Sequence[float]
    titles: Sequence[str]
    color: str


@dataclass(frozen=True)
class Mark:
    """A vertical line at `x` with its label (a percentile on a latency histogram)."""

    label: str
    x: float


def _figure(width_in: float, height_in: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=100)


def _to_svg(figure, titles: dict[str, str], chart_id: str) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context(_RC):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    svg = buffer.getvalue()
    svg = _inline(svg[svg.index("<svg"):])
    svg = svg.replace("<svg ", f'<svg class="chart" id="{chart_id}" role="img" ', 1)
    # matplotlib's own ids (figure_1, axes_1, patch_1 ...) repeat in every chart; on one page they
    # would clash, so each chart's ids get its own prefix
    svg = re.sub(r'id="((?:figure|axes|patch|line2d|text|legend|matplotlib\.axis|xtick|ytick|'
                 r'LineCollection|PathCollection|PolyCollection|QuadMesh)_[0-9_]+)"',
                 lambda m: f'id="{chart_id}-{m.group(1)}"', svg)

    def titled(match: re.Match) -> str:
        gid = match.group(1)
        return f'{match.group(0)}<title>{html.escape(safe_name(titles[gid]))}</title>'

    if titles:
        svg = re.sub(r'<g id="(' + re.escape(chart_id) + r'-bar-[0-9]+-[0-9]+)">', titled, svg)
    figure.clear()
    return svg


_NAMESPACES = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_ATTRIBUTE = re.compile(r'(\s(?:d|x|y|x1|x2|y1|y2|width|height|viewBox|transform|points)=")([^"]*)"')
_FONT_FAMILY = re.compile(r"font-family: [^;\"]*;? ?")
_LONG_DECIMAL = re.compile(r"(-?\d+\.\d\d)\d+")


def _inline(svg: str) -> str:
    """An SVG for inline use in HTML: no XML prolog, no namespace declarations or RDF metadata
    (the HTML parser puts <svg> in its namespace by itself, and the page names no web address),
    coordinates to 1/100 of a point."""
    svg = _METADATA.sub("", _NAMESPACES.sub("", svg))
    svg = _FONT_FAMILY.sub("", svg)  # the page's style gives every chart text one font

    def short(match: re.Match) -> str:
        value = _LONG_DECIMAL.sub(r"\1", match.group(2))
        return f'{match.group(1)}{" ".join(value.split())}"'

    return _ATTRIBUTE.sub(short, svg)


def _build(function, *args, **kwargs):
    import matplotlib

    with matplotlib.rc_context(_RC):
        return function(*args, **kwargs)


MOST_BARS = 200  # rows of a layer chart; past them one chart would be a label per few pixels and minutes to draw


def largest_rows(labels: Sequence[str], series: Sequence[Series], what: str = "layers",
                 most: int = MOST_BARS) -> tuple[list[str], list[Series], int]:
    """Shares (% of the model) for a layer chart of at most `most` rows: past that, the `most` - 1
    rows whose longest bar is longest, in the model's order, and one row "other N layers" whose
    bars add up the rest, so every series still sums to its whole. Also how many rows were folded."""
    if len(labels) <= most:
        return list(labels), list(series), 0
    longest = list(series[0].values) if len(series) == 1 else [max(s.values[row] for s in series) for row in range(len(labels))]
    # the most - 1 longest, the earlier row first among equals (as a stable sort by length would take them)
    kept = sorted(heapq.nlargest(most - 1, range(len(labels)), key=longest.__getitem__))
    keep = set(kept)
    folded = len(labels) - len(kept)
    label = f"other {folded:,} {what}"
    merged = []
    for s in series:
        rest = sum(value for row, value in enumerate(s.values) if row not in keep)
        merged.append(Series(s.name, [s.values[row] for row in kept] + [rest], [s.titles[row] for row in kept]
                             + [f"{label}: {rest:.1f}% together ({s.name})"], s.color))
    return [labels[row] for row in kept] + [label], merged, folded


def layer_bars(chart_id: str, labels: Sequence[str], series: Sequence[Series], xlabel: str, title: str) -> str:
    """Horizontal bars, one row per layer in the model's order, one bar per series in each row."""
    return _build(_layer_bars, chart_id, labels, series, xlabel, title)


def _layer_bars(chart_id, labels, series, xlabel, title) -> str:
    rows = len(labels)
    # a deep model gets thinner rows, so its chart stays one long look rather than pages of scrolling
    per_row = (0.16 if rows <= 40 else 0.09) + 0.06 * len(series)
    figure = _figure(WIDTH_IN, max(1.6, 0.9 + per_row * rows))
    axes = figure.add_subplot()
    height = 0.8 / max(1, len(series))
    titles: dict[str, str] = {}
    for s_index, s in enumerate(series):
        offsets = [row - 0.4 + height * (s_index + 0.5) for row in range(rows)]
        bars = axes.barh(offsets, list(s.values), height=height, color=s.color, label=safe_name(s.name))
        for row, bar in enumerate(bars):
            gid = f"{chart_id}-bar-{s_index}-{row}"
            bar.set_gid(gid)
            titles[gid] = s.titles[row]
    axes.set_yticks(range(rows), labels=[_short(label) for label in labels])
    axes.set_ylim(rows - 0.5, -0.5)  # the first layer on top, as in the table
    axes.set_xlabel(xlabel)
    # the title's and the axis labels' places given, not found: matplotlib otherwise measures every
    # row's label on each drawing pass to keep clear of them, a second or more for 200 rows; the
    # title sits where it would be found (nothing is above the axes) and the y axis has no label
    axes.set_title(safe_name(title), loc="left", y=1.0)
    axes.yaxis.set_label_coords(0.0, 0.5)
    axes.grid(axis="x", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    axes.tick_params(axis="y", length=0, labelsize=8)
    if len(series) > 1:  # beside the bars, never over them
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _to_svg(figure, titles, chart_id)


def _short(label: str, limit: int = 34) -> str:
    label = safe_name(label)
    return label if len(label) <= limit else "…" + label[-(limit - 1):]


def histogram(chart_id: str, edges: Sequence[float], counts: Sequence[int], marks: Sequence[Mark], xlabel: str,
              title: str, bar_titles: Sequence[str]) -> str:
    """A histogram drawn from bins already made (`edges` has one more entry than `counts`), with
    vertical lines at the marks."""
    return _build(_histogram, chart_id, edges, counts, marks, xlabel, title, bar_titles)


def _histogram(chart_id, edges, counts, marks, xlabel, title, bar_titles) -> str:
    figure = _figure(WIDTH_IN, 2.6)
    axes = figure.add_subplot()
    widths = [right - left for left, right in zip(edges[:-1], edges[1:])]
    bars = axes.bar(list(edges[:-1]), list(counts), width=widths, align="edge", color=FLOPS_COLOR, edgecolor="white",
                    linewidth=0.3)
    titles: dict[str, str] = {}
    for index, bar in enumerate(bars):
        gid = f"{chart_id}-bar-0-{index}"
        bar.set_gid(gid)
        titles[gid] = bar_titles[index]
    _log_axis(axes.xaxis)
    for index, mark in enumerate(marks):
        axes.axvline(mark.x, color=MARK_COLORS[index % len(MARK_COLORS)], linewidth=1.2, linestyle="--", label=safe_name(mark.label))
    axes.set_xlabel(xlabel + ", log scale")
    axes.set_ylabel("runs")
    axes.set_title(safe_name(title), loc="left")
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    if marks:
        axes.legend(loc="upper right", frameon=False, fontsize=8)
    return _to_svg(figure, titles, chart_id)


def _log_axis(axis) -> None:
    """A log axis labelled 20, 50, 100, 200 … rather than 10^2."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.axes.set_xscale("log") if axis.axis_name == "x" else axis.axes.set_yscale("log")
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.4g}"))
    axis.set_minor_formatter(NullFormatter())


def _log_log(width_in: float, height_in: float):
    """A figure with one axes, both axes logarithmic."""
    figure = _figure(width_in, height_in)
    axes = figure.add_subplot()
    _log_axis(axes.xaxis)
    _log_axis(axes.yaxis)
    return figure, axes


def roofline(chart_id: str, points: Sequence[tuple[float, float, str, str]], roofs: Sequence[tuple[str, float]],
             bandwidth_gb_s: float | None, title: str, colors: Sequence[str] = (),
             legend: Sequence[tuple[str, str]] = (), slopes: Sequence[tuple[str, float]] = ()) -> str:
    """Achieved GFLOP/s against arithmetic intensity (FLOPs per byte), one point per layer, under
    the machine's measured roofs: flat lines at peak GFLOP/s, a slope of the memory bandwidth (one
    per level of the hierarchy when `slopes` gives them, (name, GB/s) from L1 to DRAM).
    A point is (intensity, GFLOP/s, hover text, name); names are written beside the points of a
    small model. `colors` gives each point its own colour, `legend` (label, colour) says what they mean."""
    return _build(_roofline, chart_id, points, roofs, bandwidth_gb_s, title, colors, legend, slopes)


def _roofline(chart_id, points, roofs, bandwidth_gb_s, title, colors, legend, slopes=()) -> str:
    figure, axes = _log_log(WIDTH_IN, 4.6)
    xs = [p[0] for p in points if p[0] > 0 and p[1] > 0]
    peaks = [peak for _, peak in roofs if peak > 0]
    low_x = min(xs + [0.1]) / 2
    high_x = max(xs + [100.0]) * 2
    titles: dict[str, str] = {}
    named = len(points) <= NAMED_POINTS
    for index, (x, y, label, name) in enumerate(points):
        if x <= 0 or y <= 0:
            continue
        if named:
            axes.annotate(safe_name(name), (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7, color="#555555")
        color = colors[index] if colors else TIME_COLOR
        (line,) = axes.plot([x], [y], marker="o", markersize=5, color=color, alpha=0.85, linestyle="none")
        gid = f"{chart_id}-bar-0-{index}"
        line.set_gid(gid)
        titles[gid] = label
    slopes = [(name, gb_s) for name, gb_s in slopes if gb_s and gb_s > 0] or (
        [("memory", bandwidth_gb_s)] if bandwidth_gb_s else [])
    fastest = max((gb_s for _, gb_s in slopes), default=None)
    for index, (name, peak) in enumerate(roofs):
        if peak <= 0:
            continue
        ridge = peak / fastest if fastest else low_x
        axes.plot([max(ridge, low_x), high_x], [peak, peak], color=MARK_COLORS[index % len(MARK_COLORS)], linewidth=1.4,
                  label=safe_name(f"{name} peak {peak:,.0f} GFLOP/s"))
    if peaks:
        top = max(peaks)
        shades = ("#bbbbbb", "#999999", "#777777", "#555555", "#333333")
        for index, (name, gb_s) in enumerate(slopes):  # the nearest level first, DRAM darkest
            axes.plot([low_x, top / gb_s], [low_x * gb_s, top], color=shades[max(0, len(shades) - len(slopes) + index)],
                      linewidth=1.2, linestyle="-" if index == len(slopes) - 1 else "--",
                      label=safe_name(f"{name} {gb_s:,.1f} GB/s"))
    for label, color in legend:
        axes.plot([], [], marker="o", markersize=5, color=color, linestyle="none", label=safe_name(label))
    axes.set_xlim(low_x, high_x)
    axes.set_xlabel("arithmetic intensity (FLOPs per byte moved)")
    axes.set_ylabel("achieved GFLOP/s")
    axes.set_title(safe_name(title), loc="left")
    axes.grid(which="major", color="#dddddd", linewidth=0.6)
    axes.legend(loc="lower right", frameon=False, fontsize=8)
    return _to_svg(figure, titles, chart_id)


@dataclass(frozen=True)
class Spread:
    """One set of points: a name for the legend, each point's x, its y with the low and high ends
    of y's spread, and its hover text."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    lows: Sequence[float]
    highs: Sequence[float]
    titles: Sequence[str]
    color: str


def speedup(chart_id: str, series: Sequence[Spread], xlabel: str, ylabel: str, title: str) -> str:
    """Measured against expected on log axes, one colour per series, each point with a vertical bar
    over its spread; the diagonal where the measurement meets the expectation and the line at 1."""
    return _build(_speedup, chart_id, series, xlabel, ylabel, title)


def _speedup(chart_id, series, xlabel, ylabel, title) -> str:
    figure, axes = _log_log(WIDTH_IN, 4.8)
    titles: dict[str, str] = {}
    values = [1.0]
    for s_index, s in enumerate(series):
        axes.vlines(list(s.xs), list(s.lows), list(s.highs), color=s.color, linewidth=1.0, alpha=0.6)
        for index, (x, y) in enumerate(zip(s.xs, s.ys)):
            (point,) = axes.plot([x], [y], marker="o", markersize=5.5, color=s.color, alpha=0.9, linestyle="none",
                                 label=s.name if index == 0 else None)
            gid = f"{chart_id}-bar-{s_index}-{index}"
            point.set_gid(gid)
            titles[gid] = s.titles[index]
        values += [v for v in (*s.xs, *s.lows, *s.highs) if v > 0]
    low, high = min(values) / 1.3, max(values) * 1.3
    axes.plot([low, high], [low, high], color="#555555", linewidth=1.0, linestyle="--", label="measured = expected")
    axes.axhline(1.0, color="#999999", linewidth=1.0, linestyle=":", label="break-even (1×)")
    axes.set_xlim(low, high)
    axes.set_ylim(low, high)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title, loc="left")
    axes.grid(which="major", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    return _to_svg(figure, titles, chart_id)
