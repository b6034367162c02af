"""The words for a statistics warning (a rule and its numbers), chosen here, when rendering."""
from __future__ import annotations

from typing import Any

from ..measure.stats import StatWarning
from . import units


def _time(ns: float) -> str:
    return units.duration_in_words(ns, ascii_micro=True)


def describe(warning: StatWarning) -> str:
    """One sentence: what is wrong with the run, and what to do about it."""
    v = dict(warning.values)
    if warning.rule == "too_few_samples":
        n = int(v["samples"])
        return (f"only {n} sample{'s' if n != 1 else ''}: the {v['percentile']:g}th percentile needs at least {int(v['needed'])} "
                f"to be backed at {v['confidence']:.0%} confidence; run longer (raise -t or -niter)")
    if warning.rule == "noisy":
        return f"the run is noisy: std is {v['std_fraction']:.0%} of the mean; close other programs or run longer"
    if warning.rule == "outliers":
        slow, n = int(v["slow"]), int(v["samples"])
        return (f"outliers: {slow} of {n} inferences ({slow / n:.1%}) took more than {v['factor']:g}x the "
                f"median {_time(v['median_ns'])} (the slowest {_time(v['slowest_ns'])}); something else ran at the "
                f"same time or warm-up was too short; add warm-up iterations or quiet the machine")
    if warning.rule == "bimodal":
        minimum, median = v["min_ns"], v["median_ns"]
        return (f"the fastest inference ({_time(minimum)}) is {1 - minimum / median:.0%} below the median "
                f"({_time(median)}): the timings are bimodal (CPU frequency scaling, caches or an engine "
                f"shortcut); pin the CPU frequency or check the inputs")
    if warning.rule == "below_clock_resolution":
        return (f"the median latency {_time(v['median_ns'])} is below {_time(v['resolution_ns'])}: it is mostly "
                f"timer and loop overhead; give each inference more work (larger batch or model)")
    return f"{warning.rule}: " + ", ".join(f"{k} {val:g}" for k, val in v.items())


# ---- a bench's warnings over several engines: one line per fact -----------------------------------
# Two engines and two kinds of latency (the engine's own, and timed around the call) would say one
# fact up to four times ("too few runs", "noisy" ...); a reader needs it once, with the engines it
# concerns and each one's figure; the sentence per engine and kind stays available as detail.

def _percent(value: float) -> str:
    return f"{value:.0%}"


def _figure(rule: str, warning: StatWarning) -> str:
    """The one number that tells an engine's case of a rule apart from another's."""
    v = dict(warning.values)
    if rule == "too_few_samples":
        return f"{int(v['samples']):,} runs"
    if rule == "noisy":
        return f"std {_percent(v['std_fraction'])} of the mean"
    if rule == "outliers":
        return f"{int(v['slow']):,} of {int(v['samples']):,}, the slowest {_time(v['slowest_ns'])}"
    if rule == "bimodal":
        return f"fastest {_percent(1 - v['min_ns'] / v['median_ns'])} below the median"
    if rule == "below_clock_resolution":
        return f"median {_time(v['median_ns'])}"
    return ", ".join(f"{k} {val:g}" for k, val in v.items())


_ADVICE = {
    "too_few_samples": "run longer (raise -t or -niter)",
    "noisy": "close other programs or run longer",
    "outliers": "something else ran at the same time or warm-up was too short; add warm-up iterations or quiet the machine",
    "bimodal": "CPU frequency scaling, caches or an engine shortcut; pin the CPU frequency or check the inputs",
    "below_clock_resolution": "mostly timer and loop overhead; give each inference more work (larger batch or model)",
}


def _engines_with(cases: list[tuple[str, str, StatWarning]], kinds_of: dict[str, list[str]], rule: str) -> str:
    """"openvino (20 runs) and onnxruntime call latency (20 runs)": each engine once, with the
    kind of latency named only where the engine measured another kind that did not warn."""
    by_engine: dict[str, list[tuple[str, StatWarning]]] = {}
    for engine, kind, warning in cases:
        by_engine.setdefault(engine, []).append((kind, warning))
    parts = []
    for engine, found in by_engine.items():
        kind, warning = found[0]
        label = engine if len(found) == len(kinds_of.get(engine, ())) else f"{engine} {kind} latency"
        parts.append(f"{label} ({_figure(rule, warning)})")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _latency_kinds(result) -> list[tuple[str, Any]]:
    return [(kind, stats) for kind, stats in (("engine", result.engine_latency), ("call", result.call_latency)) if stats is not None]


def latency_facts(results, *, verbose: bool = False, percentiles_needed: dict[float, int] | None = None) -> list[str]:
    """The warnings of a bench's results (`BenchResult`s), one line per fact naming the engines it
    concerns; `verbose` puts each engine's and each kind of latency's own sentence under its fact.
    `percentiles_needed` (percentile -> runs it needs) are the percentiles a table shows as "—":
    the too-few-runs fact then explains those cells too."""
    kinds_of: dict[str, list[str]] = {}
    cases: dict[str, list[tuple[str, str, StatWarning]]] = {}
    for result in results:
        engine = result.settings.engine
        for kind, stats in _latency_kinds(result):
            kinds_of.setdefault(engine, []).append(kind)
            for warning in stats.warnings:
                cases.setdefault(warning.rule, []).append((engine, kind, warning))
    lines: list[str] = []

    def detail(found) -> None:
        if verbose:
            lines.extend(f"  {engine} {kind} latency: {describe(warning)}" for engine, kind, warning in found)

    too_few = cases.pop("too_few_samples", [])
    if too_few or percentiles_needed:
        who = f" on {_engines_with(too_few, kinds_of, 'too_few_samples')}" if too_few else ""
        if percentiles_needed:
            needed = ", ".join(f"p{p:g} needs {n:,}" for p, n in sorted(percentiles_needed.items()))
            confidence = dict(too_few[0][2].values)["confidence"] if too_few else 0.99
            lines.append(f"— : too few runs{who} to trust those percentiles at {confidence:.0%} confidence ({needed}); "
                         f"run longer with -t or -niter")
        else:
            v = dict(too_few[0][2].values)
            lines.append(f"too few runs{who}: the {v['percentile']:g}th percentile needs {int(v['needed']):,} to be backed at "
                         f"{v['confidence']:.0%} confidence; {_ADVICE['too_few_samples']}")
        detail(too_few)
    for rule, found in cases.items():
        head = {"noisy": "noisy runs", "bimodal": "bimodal timings", "below_clock_resolution": "median below the clock's resolution",
                "outliers": f"outliers (slower than {dict(found[0][2].values).get('factor', 0):g}x the median)"}.get(rule)
        if head is None:  # a rule without a fact's words: each case in its own sentence
            lines.extend(f"{engine} {kind} latency: {describe(warning)}" for engine, kind, warning in found)
            continue
        lines.append(f"{head} on {_engines_with(found, kinds_of, rule)}: {_ADVICE[rule]}")
        detail(found)
    # the same sentence on several results (the sessions' own facts, such as the engines' differing
    # precisions, or the inputs') is one fact: said once, unlabelled when it concerns them all
    said: dict[str, list[str]] = {}
    for result in results:
        for text in result.warnings:
            said.setdefault(text, []).append(result.settings.engine)
    for text, engines in said.items():
        every = len(results) > 1 and len(engines) == len(results)
        lines.append(text if every else f"{', '.join(engines)}: {text}")
    for result in results:
        if not result.complete:
            lines.append(f"{result.settings.engine}: the run is INCOMPLETE ({result.stop_reason}); statistics cover what was measured")
    return lines


def has_detail(results) -> bool:
    """Whether `latency_facts(..., verbose=True)` says more than the facts alone."""
    return any(stats.warnings for result in results for _, stats in _latency_kinds(result))
