"""Tests for flopbench.measure.stats: known lists, exact binomial cross-checks, MLPerf LoadGen's published numbers."""
from __future__ import annotations

import json
import math
import statistics
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from flopbench.render.warnings import describe
from flopbench.measure.stats import (
    CLOCK_RESOLUTION_NS,
    LatencyStats,
    PercentileEstimate,
    early_stopping_min_samples,
    early_stopping_rank,
    nearest_rank,
    summarize,
)


# ---------------------------------------------------------------------------------------------------
# Independent reference implementations (exact rational arithmetic, different algorithm)
# ---------------------------------------------------------------------------------------------------

def brute_rank(n: int, percentile: str | Fraction, confidence: str | Fraction = "0.99") -> int | None:
    """Smallest k in 1..n with P(Binomial(n, q) <= k - 1) >= c, by summing math.comb terms exactly
    from k = 1 upwards (the library sums the upper tail from the top, in floating point)."""
    q = Fraction(percentile) / 100
    c = Fraction(confidence)
    cdf = Fraction(0)
    for k in range(1, n + 1):
        j = k - 1
        cdf += math.comb(n, j) * q**j * (1 - q) ** (n - j)
        if cdf >= c:
            return k
    return None


def brute_rank_from_top(n: int, percentile: str, confidence: str = "0.99") -> int | None:
    """Same definition, summing P(B >= k) downwards exactly -- fast when k is near n (large percentiles)."""
    q = Fraction(percentile) / 100
    alpha = 1 - Fraction(confidence)
    tail = Fraction(0)
    for j in range(n, -1, -1):
        tail += math.comb(n, j) * q**j * (1 - q) ** (n - j)
        if tail > alpha:
            k = j + 1
            return k if k <= n else None
    raise AssertionError("unreachable")


def brute_min_samples(percentile: str, confidence: str = "0.99") -> int:
    q = Fraction(percentile) / 100
    alpha = 1 - Fraction(confidence)
    n, power = 1, q
    while power > alpha:
        n += 1
        power *= q
    return n


def nearest_rank_value(values, percentile) -> int:
    """Smallest sample x with #(v <= x) >= p% of n -- the nearest-rank definition, without ranks."""
    p = Fraction(str(percentile))
    n = len(values)
    for x in sorted(set(values)):
        if sum(1 for v in values if v <= x) * 100 >= p * n:
            return x
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------------------------------
# Minimum samples
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("percentile, expected", [(50, 7), (90, 44), (99, 459), (99.9, 4603)])
def test_min_samples_known_values(percentile, expected):
    assert early_stopping_min_samples(percentile) == expected
    assert early_stopping_min_samples(percentile, 0.99) == expected
    assert brute_min_samples(str(percentile)) == expected


def test_min_samples_defining_inequality_exact():
    # 0.9**44 ~= 0.0097 <= 0.01 < 0.9**43 ~= 0.0108
    q = Fraction(9, 10)
    assert q**44 <= Fraction(1, 100) < q**43
    assert float(q**44) == pytest.approx(0.0097, abs=5e-5)
    q = Fraction(999, 1000)
    assert q**4603 <= Fraction(1, 100) < q**4602


@given(p=st.sampled_from(["1", "10", "25", "50", "75", "90", "95", "99", "99.5", "99.9"]),
       c=st.sampled_from(["0.5", "0.9", "0.95", "0.99", "0.999"]))
@settings(max_examples=40, deadline=None)
def test_min_samples_matches_exact(p, c):
    assert early_stopping_min_samples(float(p), float(c)) == brute_min_samples(p, c)


def test_min_samples_is_where_the_bound_appears():
    for p in (50.0, 90.0, 99.0, 99.9):
        n = early_stopping_min_samples(p)
        assert early_stopping_rank(n - 1, p) is None
        assert early_stopping_rank(n, p) == n  # at the minimum only the maximum is a bound


@pytest.mark.parametrize("bad", [0, 100, -1, 101, float("nan")])
def test_min_samples_rejects_bad_percentile(bad):
    with pytest.raises(ValueError, match="percentile"):
        early_stopping_min_samples(bad)


@pytest.mark.parametrize("bad", [0, 1, -0.5, 1.5, float("nan")])
def test_min_samples_rejects_bad_confidence(bad):
    with pytest.raises(ValueError, match="confidence"):
        early_stopping_min_samples(90, bad)


# ---------------------------------------------------------------------------------------------------
# Early-stopping rank: exact cross-checks
# ---------------------------------------------------------------------------------------------------

def test_rank_p90_n100_matches_fraction_brute_force():
    k = early_stopping_rank(100, 90.0)
    assert k == brute_rank(100, "90") == brute_rank_from_top(100, "90") == 97


@given(n=st.integers(1, 220),
       p=st.sampled_from(["5", "25", "50", "80", "90", "95", "99"]),
       c=st.sampled_from(["0.6", "0.9", "0.95", "0.99"]))
@settings(max_examples=80, deadline=None)
def test_rank_matches_fraction_brute_force(n, p, c):
    assert early_stopping_rank(n, float(p), float(c)) == brute_rank(n, p, c)


@pytest.mark.parametrize("n, p", [(459, "99"), (1000, "99"), (4603, "99.9"), (5000, "99.9"), (7000, "99.9")])
def test_rank_matches_exact_at_moderate_n(n, p):
    assert early_stopping_rank(n, float(p)) == brute_rank_from_top(n, p)


# LoadGen's published SingleStream summaries (mlperf_log_summary.txt, 90th percentile, confidence
# 0.99): "Processed at least 64 queries (n). Would discard D highest latency queries." LoadGen reports
# sorted[n - t] with D = t - 1, which is one rank above our x(k): D == n - k - 1.
@pytest.mark.parametrize("n, discard", [(100, 2), (201, 9), (2048, 172), (2116, 178), (2145, 181),
                                        (7469, 685), (79944, 7796)])
def test_rank_agrees_with_mlperf_loadgen_logs(n, discard):
    k = early_stopping_rank(n, 90.0)
    assert n - k - 1 == discard


def test_loadgen_minimums_are_one_discardable_query_more():
    # LoadGen asks for 64 (p90) and 662 (p99) queries: the least n whose bound is not the maximum.
    def least_n_with_a_spare(p):
        n = early_stopping_min_samples(p)
        while early_stopping_rank(n, p) >= n:
            n += 1
        return n

    assert least_n_with_a_spare(90.0) == 64
    assert least_n_with_a_spare(99.0) == 662


def test_rank_large_n_close_to_normal_approximation():
    z99 = 2.3263478740408408  # standard normal 0.99 quantile
    for n, p in [(10_000_000, 99.9), (10_000_000, 99.0), (10_000_000, 90.0), (10_000_000, 50.0), (1_000_000, 99.9)]:
        k = early_stopping_rank(n, p)
        q = p / 100
        approx = n * q + z99 * math.sqrt(n * q * (1 - q)) + 0.5
        assert abs(k - approx) <= 3, (n, p, k, approx)


@given(n=st.integers(1, 3000), p=st.floats(1.0, 99.95), c=st.floats(0.5, 0.9999))
@settings(max_examples=150, deadline=None)
def test_rank_properties(n, p, c):
    k = early_stopping_rank(n, p, c)
    need = early_stopping_min_samples(p, c)
    assert (k is not None) == (n >= need)
    if k is not None:
        assert nearest_rank(n, p) <= k <= n
        if k < n:  # monotone in n: one more sample never needs a higher relative rank
            assert early_stopping_rank(n + 1, p, c) >= k


# ---------------------------------------------------------------------------------------------------
# summarize: known lists
# ---------------------------------------------------------------------------------------------------

def test_summarize_one_to_hundred():
    s = summarize(list(range(1, 101)))
    assert (s.count, s.min_ns, s.max_ns) == (100, 1, 100)
    assert s.mean_ns == 50.5
    assert s.median_ns == 50                                   # nearest-rank (lower) median
    assert s.std_ns == pytest.approx(statistics.stdev(range(1, 101)), rel=1e-12)  # sample std, ddof=1
    assert s.std_ns == pytest.approx(math.sqrt(101 * 100 / 12), rel=1e-12)
    p90, p99, p999 = s.percentiles
    assert p90 == PercentileEstimate(90.0, 90, True, 44, brute_rank(100, "90"))
    assert p90.bound_ns == 97
    assert p99 == PercentileEstimate(99.0, 99, False, 459, None)
    assert p999 == PercentileEstimate(99.9, 100, False, 4603, None)
    assert s.median_valid and s.median_min_samples == 7
    assert s.median.bound_ns == brute_rank(100, "50")
    assert s.percentile(99.0) is p99
    assert s.percentile(50) == s.median


def test_summarize_order_and_dtype_do_not_matter():
    rng = np.random.default_rng(0)
    values = rng.integers(1_000, 5_000_000, size=2000)
    ref = summarize(sorted(int(v) for v in values))
    for arr in (values.astype(np.int64), values.astype(np.int32), values.astype(np.uint64), list(values)):
        assert summarize(arr) == ref


def test_summarize_does_not_modify_input():
    arr = np.array([5, 3, 9, 1, 7], dtype=np.int64)
    before = arr.copy()
    s = summarize(arr)
    np.testing.assert_array_equal(arr, before)
    assert s.sorted_ns is not arr
    assert s.sorted_ns.tolist() == [1, 3, 5, 7, 9]


def test_summarize_single_and_small():
    s = summarize([1234567])
    assert (s.count, s.min_ns, s.max_ns, s.median_ns, s.std_ns) == (1, 1234567, 1234567, 1234567, 0.0)
    assert not s.median_valid and not s.trustworthy
    assert all(not e.valid and e.bound_ns is None for e in s.percentiles)
    s = summarize([10**6] * 6)
    assert not s.median_valid
    s = summarize([10**6] * 7)
    assert s.median_valid and s.median.bound_ns == 10**6


@given(values=st.lists(st.integers(0, 10**12), min_size=1, max_size=300),
       ps=st.lists(st.sampled_from([1.0, 10.0, 33.3, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9]), min_size=0,
                   max_size=4, unique=True))
@settings(max_examples=150, deadline=None)
def test_summarize_properties(values, ps):
    s = summarize(values, percentiles=ps)
    srt = sorted(values)
    assert s.count == len(values) and s.min_ns == srt[0] and s.max_ns == srt[-1]
    assert s.mean_ns == pytest.approx(Fraction(sum(values), len(values)), rel=1e-12)
    assert s.median_ns == nearest_rank_value(values, 50)
    assert s.std_ns == (pytest.approx(statistics.stdev(values), rel=1e-9, abs=1e-6) if len(values) > 1 else 0.0)
    for est in s.percentiles:
        assert est.value_ns == nearest_rank_value(values, est.percentile)
        assert est.valid == (len(values) >= est.min_samples)
        assert (est.bound_ns is None) == (not est.valid)
        if est.valid:
            assert est.value_ns <= est.bound_ns <= s.max_ns
            assert est.bound_ns == srt[early_stopping_rank(len(values), est.percentile) - 1]
    # on-demand percentiles agree with the definition too
    assert s.percentile(66.6).value_ns == nearest_rank_value(values, 66.6)
    json.dumps(s.to_dict())


def test_nearest_rank_is_exact_for_decimal_percentiles():
    assert nearest_rank(1000, 99.9) == 999        # 99.9 * 1000 / 100 is 999.0000000000001 in floats
    assert nearest_rank(100, 90) == 90
    assert nearest_rank(3, 50) == 2
    assert nearest_rank(1, 0.1) == 1


# ---------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [[], np.array([], dtype=np.int64)])
def test_empty_raises(bad):
    with pytest.raises(ValueError, match="no latencies"):
        summarize(bad)


@pytest.mark.parametrize("bad, match", [
    ([1, -2, 3], "negative"),
    ([1.5, 2.0], "integer"),
    (np.array([1.0, 2.0]), "integer"),
    ([True, False], "integer"),
    (np.zeros((2, 2), dtype=np.int64), "one-dimensional"),
])
def test_bad_latencies_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        summarize(bad)


def test_bad_percentile_and_confidence_raise():
    with pytest.raises(ValueError, match="percentile"):
        summarize([1, 2, 3], percentiles=(100.0,))
    with pytest.raises(ValueError, match="confidence"):
        summarize([1, 2, 3], confidence=1.0)


def test_percentile_lookup():
    s = summarize(list(range(1, 1001)))
    assert s.percentile(75).value_ns == 750
    assert s.percentile(75).valid
    by_hand = LatencyStats(count=s.count, min_ns=s.min_ns, max_ns=s.max_ns, mean_ns=s.mean_ns,
                           median_ns=s.median_ns, std_ns=s.std_ns, percentiles=s.percentiles,
                           warnings=s.warnings, median_bound_ns=s.median_bound_ns)
    assert by_hand == s  # sorted_ns takes no part in equality
    with pytest.raises(KeyError, match="75"):
        by_hand.percentile(75)
    assert by_hand.percentile(90) == s.percentile(90)


# ---------------------------------------------------------------------------------------------------
# Warnings
# ---------------------------------------------------------------------------------------------------

def words(stats):
    """The warnings as the terminal shows them: the rule and its numbers, put into words."""
    return tuple(describe(w) for w in stats.warnings)


def steady(n=1000, center=1_000_000, spread=0.01, seed=1):
    rng = np.random.default_rng(seed)
    return (center * (1 + spread * rng.uniform(-1, 1, size=n))).astype(np.int64)


def test_steady_run_is_trustworthy():
    s = summarize(steady())
    assert s.warnings == ()
    assert s.trustworthy
    assert s.to_dict()["trustworthy"] is True


def test_noisy_warning_text():
    lat = np.array([770_000] * 500 + [1_230_000] * 500, dtype=np.int64)   # std ~= 23% of the mean
    s = summarize(lat)
    assert s.std_ns / s.mean_ns == pytest.approx(0.23, abs=0.001)
    assert words(s) == ("the run is noisy: std is 23% of the mean; close other programs or run longer",)
    assert not s.trustworthy


def test_too_few_samples_warning():
    s = summarize(steady(n=30))
    assert len(s.warnings) == 1 and "only 30 samples" in words(s)[0] and "44" in words(s)[0]
    assert s.median_valid and not s.trustworthy
    assert summarize(steady(n=44)).warnings == ()
    # the threshold follows the lowest requested percentile; the median when none is requested
    assert summarize(steady(n=30), percentiles=()).warnings == ()
    assert "7" in words(summarize(steady(n=5), percentiles=()))[0]


def test_outlier_warning():
    base = steady(n=2000).tolist()
    s = summarize(base + [10_000_000] * 3)                       # 0.15% of samples at ~10x the median
    assert any(w.startswith("outliers: 3 of 2003 inferences") for w in words(s))
    assert any("10 ms" in w for w in words(s))
    s = summarize(steady(n=5000).tolist() + [10_000_000])         # one stall in 5001 is tolerated
    assert not any(w.startswith("outliers") for w in words(s))


def test_fast_minimum_warning():
    s = summarize(steady().tolist() + [400_000])
    assert len(s.warnings) == 1
    assert words(s)[0].startswith("the fastest inference (400 us) is 60% below the median")


def test_clock_resolution_warning():
    s = summarize(steady(center=500))
    assert len(s.warnings) == 1 and "below 1 us" in words(s)[0]
    assert not summarize(steady(center=CLOCK_RESOLUTION_NS * 2)).warnings


def test_to_dict_is_plain_json():
    s = summarize(np.arange(1, 5001, dtype=np.int64) * 1000)
    d = s.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert type(d["count"]) is int and type(d["mean_ns"]) is float and type(d["median_ns"]) is int
    assert [e["percentile"] for e in d["percentiles"]] == [90.0, 99.0, 99.9]
    assert all(e["valid"] for e in d["percentiles"])
    assert d["median"] == {"percentile": 50.0, "value_ns": 2_500_000, "valid": True, "min_samples": 7,
                           "bound_ns": s.median.bound_ns}
    assert "sorted_ns" not in d


def test_large_input():
    rng = np.random.default_rng(2)
    lat = rng.integers(1_000_000, 1_050_000, size=2_000_000, dtype=np.int64)
    s = summarize(lat)
    assert s.count == 2_000_000 and all(e.valid for e in s.percentiles)
    assert s.trustworthy
