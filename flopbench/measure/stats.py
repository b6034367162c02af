"""Statistics over measured latencies, in integer nanoseconds.

Everything here is pure: it takes latencies and returns numbers, with no clock and no engine.

Conventions (they hold everywhere in this module):

* **Percentiles are nearest-rank.** With ``n`` latencies sorted ascending as ``x(1) <= ... <= x(n)``
  the p-th percentile is ``x(r)`` with ``r = ceil(p/100 * n)`` (and at least 1). It is always one of the
  measured latencies, never an interpolation. The rank is computed exactly (``p`` is read through its
  decimal string, so ``99.9 * 1000`` is exactly 999, not 999.0000000000001).
* **The median is the nearest-rank 50th percentile**, i.e. the *lower* median: ``x(ceil(n/2))``.
  The median of 1..100 is 50.
* **The standard deviation is the sample one** (``ddof=1``, divides by ``n - 1``). For a single
  latency it is reported as 0.0 (the warnings already say one sample is not enough).
* **The mean** is exact integer arithmetic divided once, so it is a float but not a rounded one.

Early stopping (how many samples a percentile needs, and what we can claim)
-----------------------------------------------------------------------------
Let ``q = p/100`` and let ``xi`` be the true q-quantile of the latency distribution. Each measured
latency falls below ``xi`` with probability (at most) ``q``, independently, so the number ``B`` of
samples below ``xi`` is Binomial(n, q). The order statistic ``x(k)`` is below ``xi`` only if at least
``k`` samples are, hence::

    P(xi <= x(k)) >= P(B <= k - 1) = P(Binomial(n, q) < k)

The **bound** (``PercentileEstimate.bound_ns``) is ``x(k)`` for the smallest ``k`` with
``P(Binomial(n, q) < k) >= confidence``: with that confidence the true percentile is at most the bound.
Such a ``k <= n`` exists iff ``P(B < n) = 1 - q**n >= confidence``, i.e. iff ``q**n <= 1 - confidence``,
which gives :func:`early_stopping_min_samples`: ``n = ceil(log(1 - c) / log(q))``. At 99% confidence:

    ======  ===========
    p       min samples
    ======  ===========
    50      7
    90      44
    99      459
    99.9    4603
    ======  ===========

A percentile is *valid* iff the run has at least that many samples.

This is MLPerf LoadGen's early-stopping criterion (``loadgen/early_stopping.cc``: the regularized beta
function there is this binomial tail, with tolerance 0 and confidence 0.99) with one documented
difference: LoadGen's SingleStream estimate is ``sorted[n - t]`` (0-based), one rank *above* our
``x(k)``, and it requires at least one "discardable" query, so it asks for 64 samples for p90 and 662
for p99 where we ask for 44 and 459. LoadGen's "Would discard D highest latency queries" equals our
``n - k - 1``; the tests check this against LoadGen's published logs.

The binomial tail is computed exactly (up to floating point), for any ``n`` up to and beyond 10
million (about 25 ms at n = 10**7), by summing the probability mass in log space from the top of the
distribution downwards, over only the ranks that can matter (``n*q +- (60 standard deviations + 60)``;
the mass outside is below 1e-200, far too small to move a decision at any confidence in practical
use). The start term uses ``math.lgamma``; the next ones use the exact ratio of consecutive terms,
summed with numpy. The tests check it against exact rational arithmetic (``fractions.Fraction``) for
n up to 7000 and against LoadGen's published logs up to n = 79944. No normal approximation is used.
:func:`early_stopping_min_samples` settles exact ties (e.g. p=10, c=0.9, where ``0.1**1 == 1 - 0.9``)
with the decimal values as written, in rational arithmetic.

Warnings (``LatencyStats.warnings``)
------------------------------------
Modelled on ``pyperf check``. Each rule, with its threshold as a module constant:

1. **Too few samples** -- ``count`` is below the early-stopping minimum of the *lowest* requested
   percentile (44 for the default p90), or below 7 (the median's) when no percentile is requested.
   Higher percentiles that lack samples are not warned about; they carry ``valid=False`` and their
   own ``min_samples`` so a report can say "p99.9: needs 4603 samples".
2. **Noisy** -- the standard deviation is more than ``NOISY_STD_FRACTION`` (10%) of the mean (pyperf's
   rule).
3. **Outliers** -- more than ``OUTLIER_MAX_FRACTION`` (0.1%) of the samples are slower than
   ``OUTLIER_FACTOR`` (3x) the median. A lone stall in a long run is tolerated (it cannot move the
   median and barely moves p99); a recurring one is not.
4. **Fast minimum** -- the minimum is more than ``MIN_BELOW_MEDIAN_FRACTION`` (25%, pyperf's figure)
   below the median: the run is bimodal (frequency scaling, caches, a shortcut in the engine).
5. **Clock resolution** -- the median is below ``CLOCK_RESOLUTION_NS`` (1 us): the numbers are mostly
   timer and loop overhead, not inference.

``LatencyStats.trustworthy`` is true iff there are no warnings and the median is valid.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from ..results.codec import encoded, json_field

__all__ = [
    "PercentileEstimate",
    "LatencyStats",
    "summarize",
    "early_stopping_min_samples",
    "early_stopping_rank",
    "nearest_rank",
    "DEFAULT_PERCENTILES",
    "DEFAULT_CONFIDENCE",
]

DEFAULT_PERCENTILES: tuple[float, ...] = (90.0, 99.0, 99.9)
DEFAULT_CONFIDENCE = 0.99

#: Rule 2: warn when std / mean exceeds this.
NOISY_STD_FRACTION = 0.10
#: Rule 3: a sample slower than this multiple of the median is an outlier ...
OUTLIER_FACTOR = 3.0
#: ... and more than this fraction of outliers triggers the warning.
OUTLIER_MAX_FRACTION = 0.001
#: Rule 4: warn when the minimum is more than this fraction below the median.
MIN_BELOW_MEDIAN_FRACTION = 0.25
#: Rule 5: warn when the median is below this many nanoseconds.
CLOCK_RESOLUTION_NS = 1_000

# Largest n for which early_stopping_min_samples settles a near-tie with exact rational powers.
_EXACT_TIE_LIMIT = 100_000
# How many standard deviations around n*q the binomial tail sum covers (see the module docstring).
_TAIL_SIGMAS = 60.0


# --------------------------------------------------------------------------------------------------
# Early stopping
# --------------------------------------------------------------------------------------------------

def _check_percentile(percentile: float) -> float:
    p = float(percentile)
    if not (0.0 < p < 100.0) or math.isnan(p):
        raise ValueError(f"percentile must be strictly between 0 and 100, got {percentile!r}")
    return p


def _check_confidence(confidence: float) -> float:
    c = float(confidence)
    if not (0.0 < c < 1.0) or math.isnan(c):
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return c


def early_stopping_min_samples(percentile: float, confidence: float = DEFAULT_CONFIDENCE) -> int:
    """Smallest number of samples for which some measured latency bounds the `percentile` from above
    with probability `confidence`: the least ``n`` with ``(p/100)**n <= 1 - confidence``.

    >>> [early_stopping_min_samples(p) for p in (50, 90, 99, 99.9)]
    [7, 44, 459, 4603]
    """
    p = _check_percentile(percentile)
    c = _check_confidence(confidence)
    x = math.log1p(-c) / math.log(p / 100.0)
    m = max(1, round(x))
    if abs(x - m) <= 1e-9 * max(1.0, x) and m <= _EXACT_TIE_LIMIT:
        # (nearly) a tie, e.g. p=10, c=0.9 where 0.1**1 == 1 - 0.9 exactly: decide with the decimal
        # values the caller wrote, in exact rational arithmetic.
        q = Fraction(str(p)) / 100
        alpha = 1 - Fraction(str(c))
        return m if q**m <= alpha else m + 1
    return max(1, math.ceil(x))


def _binomial_upper_tail_rank(n: int, q: float, alpha: float) -> int:
    """Smallest k in [0, n + 1] with P(Binomial(n, q) >= k) <= alpha (P(B >= n + 1) = 0)."""
    mean = n * q
    sd = math.sqrt(n * q * (1.0 - q))
    hi = min(n, int(math.ceil(mean + _TAIL_SIGMAS * sd + _TAIL_SIGMAS)))
    lo = max(0, int(math.floor(mean - _TAIL_SIGMAS * sd - _TAIL_SIGMAS)))
    log_q, log_1q = math.log(q), math.log1p(-q)
    # log P(B = hi), exactly up to lgamma's rounding.
    log_top = (math.lgamma(n + 1) - math.lgamma(hi + 1) - math.lgamma(n - hi + 1)
               + hi * log_q + (n - hi) * log_1q)
    # P(B = j - 1) / P(B = j) = j / (n - j + 1) * (1 - q) / q, for j = hi, hi - 1, ..., lo + 1.
    j = np.arange(hi, lo, -1, dtype=np.float64)
    log_ratio = np.log(j) - np.log(n - j + 1.0) + (log_1q - log_q)
    log_pmf = np.empty(hi - lo + 1, dtype=np.float64)
    log_pmf[0] = log_top
    np.cumsum(log_ratio, out=log_pmf[1:])
    log_pmf[1:] += log_top
    tail = np.cumsum(np.exp(log_pmf))        # tail[i] = P(B >= hi - i)
    over = np.flatnonzero(tail > alpha)
    if over.size == 0:                       # never happens for alpha < 1 - 1e-300; be safe anyway
        return lo
    # tail[i] <= alpha for i < first, so the smallest passing rank is hi - first + 1.
    return hi - int(over[0]) + 1


def early_stopping_rank(count: int, percentile: float, confidence: float = DEFAULT_CONFIDENCE) -> int | None:
    """1-based rank ``k`` of the order statistic that bounds the `percentile` from above with probability
    `confidence` given `count` samples -- the smallest ``k`` with ``P(Binomial(count, p/100) < k) >= confidence``
    -- or None when even the maximum is not enough (``count < early_stopping_min_samples(...)``)."""
    q = _check_percentile(percentile) / 100.0
    c = _check_confidence(confidence)
    n = int(count)
    if n < 0:
        raise ValueError(f"count must be non-negative, got {count!r}")
    if n < early_stopping_min_samples(percentile, c):
        return None
    k = _binomial_upper_tail_rank(n, q, 1.0 - c)
    # n >= min_samples means P(B >= n) = q**n <= 1 - c, so k <= n; clamp floating-point noise at the
    # boundary so that "valid" and "has a bound" always agree.
    return min(max(k, 1), n)


# --------------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------------

def nearest_rank(count: int, percentile: float) -> int:
    """1-based nearest rank ``max(1, ceil(p/100 * count))``, computed exactly."""
    p = Fraction(str(float(percentile)))
    return max(1, math.ceil(p * int(count) / 100))


@dataclass(frozen=True)
class PercentileEstimate:
    """One percentile of a run.

    * ``value_ns`` -- the empirical nearest-rank percentile (see the module docstring).
    * ``valid`` -- ``count >= min_samples``: enough samples to back the percentile at the confidence used.
    * ``min_samples`` -- :func:`early_stopping_min_samples` for this percentile and confidence.
    * ``bound_ns`` -- MLPerf-style early-stopping bound: with the confidence used, the true percentile is
      at most this latency; None iff not valid. Always ``>= value_ns`` when the confidence is >= 50%.
    """

    percentile: float
    value_ns: int
    valid: bool
    min_samples: int
    bound_ns: int | None


def _estimate(sorted_ns: np.ndarray, percentile: float, confidence: float) -> PercentileEstimate:
    n = int(sorted_ns.shape[0])
    p = _check_percentile(percentile)
    need = early_stopping_min_samples(p, confidence)
    k = early_stopping_rank(n, p, confidence)
    return PercentileEstimate(
        percentile=p,
        value_ns=int(sorted_ns[nearest_rank(n, p) - 1]),
        valid=n >= need,
        min_samples=need,
        bound_ns=None if k is None else int(sorted_ns[k - 1]),
    )


def _median_bound_of_older_documents(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Statistics written before `median_bound_ns` had a key of its own kept it only as median.bound_ns."""
    if "median_bound_ns" in data or not isinstance(data.get("median"), Mapping):
        return data
    return {**data, "median_bound_ns": data["median"].get("bound_ns")}


@encoded(derived=("median", "trustworthy"), before_read=_median_bound_of_older_documents)
@dataclass(frozen=True)
class LatencyStats:
    """Summary of one run's latencies; build it with :func:`summarize`.

    ``median_ns`` is the nearest-rank (lower) median; ``std_ns`` is the sample standard deviation.
    ``sorted_ns`` keeps the sorted latencies (not compared, not printed, not in ``to_dict``) so that
    :meth:`percentile` can answer any percentile; it is None when built by hand.
    """

    count: int
    min_ns: int
    max_ns: int
    mean_ns: float
    median_ns: int
    std_ns: float
    percentiles: tuple[PercentileEstimate, ...]
    warnings: tuple[StatWarning, ...]
    confidence: float = DEFAULT_CONFIDENCE
    median_bound_ns: int | None = None
    sorted_ns: np.ndarray | None = json_field(default=None, compare=False, repr=False, omit=True)

    # -- the median's early-stopping view ----------------------------------------------------------
    @property
    def median_min_samples(self) -> int:
        return early_stopping_min_samples(50.0, self.confidence)

    @property
    def median_valid(self) -> bool:
        """At least 7 samples (at 99% confidence): some sample bounds the true median from above."""
        return self.count >= self.median_min_samples

    @property
    def median(self) -> PercentileEstimate:
        return PercentileEstimate(50.0, self.median_ns, self.median_valid, self.median_min_samples,
                                  self.median_bound_ns)

    def percentile(self, p: float) -> PercentileEstimate:
        """The estimate for percentile `p`: a computed one, the median for 50, or -- when the sorted
        latencies are kept -- computed on demand. KeyError otherwise."""
        p = _check_percentile(p)
        for est in self.percentiles:
            if math.isclose(est.percentile, p, rel_tol=0.0, abs_tol=1e-9):
                return est
        if math.isclose(p, 50.0, rel_tol=0.0, abs_tol=1e-9):
            return self.median
        if self.sorted_ns is not None and self.sorted_ns.shape[0] == self.count:
            return _estimate(self.sorted_ns, p, self.confidence)
        have = ", ".join(f"{e.percentile:g}" for e in self.percentiles) or "none"
        raise KeyError(f"percentile {p:g} was not computed (have: {have}, and 50)")

    @property
    def trustworthy(self) -> bool:
        """No warnings and a valid median."""
        return not self.warnings and self.median_valid


def _as_latency_array(latencies_ns: Sequence[int] | np.ndarray) -> np.ndarray:
    if isinstance(latencies_ns, np.ndarray):
        arr = latencies_ns
        if arr.dtype.kind not in "iu":
            raise ValueError(f"latencies must be integer nanoseconds, got an array of {arr.dtype}")
        if arr.dtype != np.int64:
            arr = arr.astype(np.int64)         # the only conversion copy; int64 input is used as is
    else:
        values = list(latencies_ns)
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"latencies must be integer nanoseconds, got {v!r}")
        arr = np.array(values, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError(f"latencies must be one-dimensional, got shape {arr.shape}")
    return arr


@dataclass(frozen=True)
class StatWarning:
    """Why a run's statistics should not be trusted, as a rule and its numbers; the words are
    chosen when rendering (`flopbench.render.warnings.describe`)."""

    rule: str  # one of WARNING_RULES
    values: tuple[tuple[str, float], ...] = json_field(flatten=True, default=())  # written beside "rule"

    def __getitem__(self, key: str) -> float:
        return dict(self.values)[key]


WARNING_RULES = ("too_few_samples", "noisy", "outliers", "bimodal", "below_clock_resolution")


def _warnings(sorted_ns: np.ndarray, percentiles: Sequence[float], confidence: float,
              mean: float, std: float, median: int) -> list[StatWarning]:
    n = int(sorted_ns.shape[0])
    out: list[StatWarning] = []
    base_p = min(percentiles) if len(percentiles) else 50.0
    need = early_stopping_min_samples(base_p, confidence)
    if n < need:
        out.append(StatWarning("too_few_samples", (("samples", n), ("percentile", base_p), ("needed", need), ("confidence", confidence))))
    if n >= 2 and mean > 0 and std / mean > NOISY_STD_FRACTION:
        out.append(StatWarning("noisy", (("std_fraction", std / mean),)))
    if median > 0:
        cut = OUTLIER_FACTOR * median
        slow = n - int(np.searchsorted(sorted_ns, math.floor(cut), side="right"))
        if slow > OUTLIER_MAX_FRACTION * n:
            out.append(StatWarning("outliers", (("slow", slow), ("samples", n), ("factor", OUTLIER_FACTOR), ("median_ns", median),
                                                ("slowest_ns", int(sorted_ns[-1])))))
    minimum = int(sorted_ns[0])
    if median > 0 and minimum < (1.0 - MIN_BELOW_MEDIAN_FRACTION) * median:
        out.append(StatWarning("bimodal", (("min_ns", minimum), ("median_ns", median))))
    if median < CLOCK_RESOLUTION_NS:
        out.append(StatWarning("below_clock_resolution", (("median_ns", median), ("resolution_ns", CLOCK_RESOLUTION_NS))))
    return out


def summarize(latencies_ns: Sequence[int] | np.ndarray,
              percentiles: Sequence[float] = DEFAULT_PERCENTILES,
              confidence: float = DEFAULT_CONFIDENCE) -> LatencyStats:
    """Summarize latencies given in integer nanoseconds.

    Accepts a sequence of ints or an integer numpy array (an int64 array is not copied except by the
    one sort). Raises ValueError for no latencies, negative or non-integer ones, or a percentile or
    confidence out of range.
    """
    arr = _as_latency_array(latencies_ns)
    n = int(arr.shape[0])
    if n == 0:
        raise ValueError("no latencies to summarize: the run measured nothing; run at least one iteration")
    c = _check_confidence(confidence)
    ps = tuple(_check_percentile(p) for p in percentiles)
    s = np.sort(arr, kind="stable")          # the single sort (and the single copy)
    lo, hi = int(s[0]), int(s[-1])
    if lo < 0:
        raise ValueError(f"latencies cannot be negative, got {lo} ns")
    # Exact mean: integer sum when it cannot overflow int64, Python ints otherwise.
    if hi == 0 or n <= (2**63 - 1) // hi:
        total = int(s.sum(dtype=np.int64))
    else:
        total = sum(int(v) for v in s)
    mean = total / n
    if n >= 2:
        centered = s.astype(np.float64)
        centered -= mean
        std = math.sqrt(float(np.dot(centered, centered)) / (n - 1))
    else:
        std = 0.0
    median = int(s[nearest_rank(n, 50.0) - 1])
    k50 = early_stopping_rank(n, 50.0, c)
    return LatencyStats(
        count=n,
        min_ns=lo,
        max_ns=hi,
        mean_ns=float(mean),
        median_ns=median,
        std_ns=float(std),
        percentiles=tuple(_estimate(s, p, c) for p in ps),
        warnings=tuple(_warnings(s, ps, c, mean, std, median)),
        confidence=c,
        median_bound_ns=None if k50 is None else int(s[k50 - 1]),
        sorted_ns=s,
    )


# --------------------------------------------------------------------------------------------------
# Two runs measured in alternating blocks
# --------------------------------------------------------------------------------------------------

#: A difference is told from noise when a two-sided sign test over the blocks rejects "no
#: difference" at this level.
SIGN_TEST_LEVEL = 0.05
#: Fewer pairs than this cannot reject at that level even when every pair agrees (2 / 2**5 > 0.05).
SIGN_TEST_MIN_PAIRS = 6


@encoded
@dataclass(frozen=True)
class BlockDifference:
    """How much slower a run A was than a run B measured in alternating blocks (A, B, A, B ...).

    Each pair of neighbouring blocks ran under the same conditions (load, clock, caches), so a
    drift of the machine cancels out in their difference. ``difference_ns`` is the median over the
    pairs of (A's block median − B's block median); ``higher``/``lower`` count the pairs where A was
    slower/faster. ``verdict`` is "higher" or "lower" when a two-sided sign test over the pairs
    rejects "no difference" at ``SIGN_TEST_LEVEL``, "within_noise" when it does not (the pairs
    disagree), "too_few_blocks" under ``SIGN_TEST_MIN_PAIRS`` pairs (no split could be told from noise)."""

    blocks: int
    block_size: int
    difference_ns: float
    higher: int
    lower: int
    p_value: float
    verdict: str  # "higher" | "lower" | "within_noise" | "too_few_blocks"


def sign_test_p(higher: int, lower: int) -> float:
    """Two-sided sign test: the chance of a split at least this lopsided if each pair were a coin
    toss (ties left out), computed exactly."""
    n = higher + lower
    if n == 0:
        return 1.0
    k = min(higher, lower)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def block_difference(a_ns: Sequence[int] | np.ndarray, b_ns: Sequence[int] | np.ndarray, block_size: int) -> BlockDifference:
    """`a_ns` and `b_ns` measured in alternating blocks of `block_size` (A's first block, then B's,
    ...): the blocks both runs completed are compared pair by pair."""
    a = _as_latency_array(a_ns)
    b = _as_latency_array(b_ns)
    size = max(1, int(block_size))
    pairs = min(len(a), len(b)) // size
    differences = [float(np.median(a[i * size:(i + 1) * size]) - np.median(b[i * size:(i + 1) * size])) for i in range(pairs)]
    higher = sum(d > 0 for d in differences)
    lower = sum(d < 0 for d in differences)
    p = sign_test_p(higher, lower)
    if pairs < SIGN_TEST_MIN_PAIRS:
        verdict = "too_few_blocks"
    else:
        verdict = "within_noise" if p > SIGN_TEST_LEVEL else ("higher" if higher > lower else "lower")
    return BlockDifference(blocks=pairs, block_size=size, difference_ns=float(np.median(differences)) if differences else 0.0,
                           higher=higher, lower=lower, p_value=p, verdict=verdict)
