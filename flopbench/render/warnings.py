"""The words for a statistics warning (a rule and its numbers), chosen here, when rendering."""
from __future__ import annotations

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
