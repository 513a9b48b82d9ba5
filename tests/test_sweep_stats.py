"""benchmarks/sweep_stats: power-law exponents with between-process intervals, verdict crossovers."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.analysis.sweep_stats import (A_FASTER, B_FASTER, EQUIVALENT, INCONCLUSIVE, NO_INTERVAL, Crossover,
                                             Slope, crossovers, fit_power_law, verdict)


def synthetic_power_law(b: float, seed: int, sigma: float = 0.05, processes: int = 5):
    """y = 0.003 * x^b with multiplicative (log-normal) noise per process, x over 4 decades."""
    rng = np.random.default_rng(seed)
    x = np.geomspace(100, 1e6, 6)
    groups = [list(0.003 * xi ** b * np.exp(rng.normal(0, sigma, processes))) for xi in x]
    return x, groups


@pytest.mark.parametrize("b", [1.3, 0.5, -0.8])
def test_fit_recovers_a_noisy_power_law_within_one_percent_and_covers_it(b):
    x, groups = synthetic_power_law(b, seed=7)
    s = fit_power_law(x, groups)
    assert isinstance(s, Slope)
    assert abs(s.exponent - b) <= 0.01 * abs(b), s
    assert s.low < b < s.high, s
    assert (s.n_points, s.n_obs) == (6, 30)
    assert np.exp(s.intercept) == pytest.approx(0.003, rel=0.1)
    assert np.exp(s.intercept) * 1e4 ** s.exponent == pytest.approx(0.003 * 1e4 ** b, rel=0.1)
    assert set(s.to_dict()) == {"exponent", "low", "high", "intercept", "n_points", "n_obs", "confidence"}


def test_interval_covers_the_truth_about_95_percent_of_the_time():
    """The t interval over process-level observations is calibrated for independent processes."""
    hits = sum(s.low < 1.3 < s.high for s in (fit_power_law(*synthetic_power_law(1.3, seed)) for seed in range(400)))
    assert 0.91 <= hits / 400 <= 0.99, hits


def test_interval_widens_with_between_process_scatter():
    quiet = fit_power_law(*synthetic_power_law(1.0, seed=3, sigma=0.01))
    noisy = fit_power_law(*synthetic_power_law(1.0, seed=3, sigma=0.2))
    assert (noisy.high - noisy.low) > 10 * (quiet.high - quiet.low)


def test_exact_power_law_and_degenerate_inputs():
    s = fit_power_law([1, 2, 4], [[3.0, 3.0], [12.0], [48.0, 48.0]])  # y = 3 x^2 exactly
    assert s.exponent == pytest.approx(2.0) and s.intercept == pytest.approx(np.log(3.0))
    assert s.low == pytest.approx(2.0) and s.high == pytest.approx(2.0)
    two = fit_power_law([1, 2], [[1.0], [2.0]])
    assert two.exponent == pytest.approx(1.0) and two.low is None and two.high is None
    for x, y in (([1, 1], [[1.0], [2.0]]), ([1, 2], [[1.0]]), ([1, 2], [[1.0], []]), ([0, 2], [[1.0], [2.0]]),
                 ([1, 2], [[1.0], [-2.0]])):
        with pytest.raises(ValueError):
            fit_power_law(x, y)


# --- verdicts and crossovers --------------------------------------------------------------

def r(value: float, half: float = 0.02):
    """A ratio with a tight symmetric interval."""
    return (value, value - half, value + half)


def test_verdict_needs_both_an_interval_excluding_one_and_the_minimum_effect():
    assert verdict(0.80, 0.78, 0.82) == A_FASTER
    assert verdict(1.20, 1.18, 1.22) == B_FASTER
    assert verdict(0.97, 0.96, 0.98) == EQUIVALENT  # excludes 1, but under 5%, and inside the bounds
    assert verdict(1.04, 1.03, 1.05) == EQUIVALENT  # the bound itself is inside
    assert verdict(1.04, 1.03, 1.06) == INCONCLUSIVE  # under 5%, but the interval reaches past 1.05
    assert verdict(0.80, 0.60, 1.10) == INCONCLUSIVE  # big, but the interval holds 1
    assert verdict(0.80, None, None) == NO_INTERVAL
    assert verdict(1 / 1.05 - 1e-9, 0.9, 0.99) == A_FASTER  # just beyond 1/(1+e)
    assert verdict(1 / 1.05 + 1e-9, 0.9, 0.99) == INCONCLUSIVE
    assert verdict(0.97, 0.96, 0.98, min_effect=0.02) == A_FASTER


def test_verdict_with_se_and_df_reads_the_90_percent_interval():
    """Given the log-scale statistics the equivalence test is the exact TOST (90% interval), which
    a 95% interval slightly past the bound can still pass."""
    from scipy import stats as st
    se, df = 0.02, 10.0
    h95, h90 = st.t.ppf(0.975, df) * se, st.t.ppf(0.95, df) * se
    d = np.log(1.05) - (h95 + h90) / 2  # the 90% interval ends inside 1.05, the 95% one past it
    lo, hi = np.exp(d - h95), np.exp(d + h95)
    assert hi > 1.05 and verdict(np.exp(d), lo, hi) == INCONCLUSIVE  # without se/df: the 95% interval
    assert verdict(np.exp(d), lo, hi, se=se, df=df) == EQUIVALENT


def test_clean_flip_is_found_and_placed_by_log_linear_interpolation():
    x = [100, 200, 400, 800]
    out = crossovers(x, [r(0.7), r(0.8), r(1.25), r(1.4)])
    assert len(out) == 1
    c = out[0]
    assert isinstance(c, Crossover)
    assert (c.left_index, c.right_index, c.left_x, c.right_x, c.before, c.after) == (1, 2, 200, 400, "A", "B")
    # log r goes from log 0.8 to log 1.25 = -log 0.8 between log 200 and log 400: zero at the midpoint
    assert c.x_estimate == pytest.approx(np.sqrt(200 * 400))
    assert c.undecided_between == 0
    assert c.to_dict()["x_estimate"] == pytest.approx(c.x_estimate)


def test_no_flip():
    assert crossovers([1, 2, 3, 4], [r(0.7), r(0.8), r(0.9), r(0.6)]) == []
    assert crossovers([1, 2, 3], [r(1.0), r(1.01), r(0.99)]) == []  # never decisive
    assert crossovers([1, 2, 3], [r(0.7), r(1.0), r(0.7)]) == []  # A, undecided, A


def test_flip_through_a_no_difference_region():
    x = [10, 20, 40, 80, 160]
    ratios = [r(0.6), (0.9, 0.7, 1.1), r(0.98), (1.1, 0.95, 1.3), r(1.5)]  # A, -, -, -, B
    (c,) = crossovers(x, ratios)
    assert (c.left_index, c.right_index, c.before, c.after, c.undecided_between) == (0, 4, "A", "B", 3)
    assert (c.equivalent_between, c.inconclusive_between) == (1, 2)  # 0.98 +- 0.02 is inside 5%
    # log r crosses 0 between x = 40 (0.98) and x = 80 (1.1)
    t = -np.log(0.98) / (np.log(1.1) - np.log(0.98))
    assert c.x_estimate == pytest.approx(np.exp(np.log(40) + t * np.log(2)))
    assert 40 < c.x_estimate < 80


def test_noisy_region_crossing_zero_several_times_gives_the_median_crossing():
    x = [1, 2, 4, 8, 16]
    ratios = [r(1.5), (0.99, 0.9, 1.1), (1.01, 0.9, 1.1), (0.99, 0.9, 1.1), r(0.5)]  # B ... A, 3 zero crossings
    (c,) = crossovers(x, ratios)
    assert (c.before, c.after) == ("B", "A")
    assert 2 < c.x_estimate < 4  # the middle one of the crossings near 1.5, 3 and 6


def test_two_flips_and_interval_objects():
    from benchmarks.analysis.stats import Interval

    x = [1, 2, 4, 8, 16, 32]
    ratios = [Interval(0.7, 0.68, 0.72, 3), Interval(1.3, 1.28, 1.32, 3), Interval(1.02, 0.9, 1.1, 3),
              Interval(1.3, 1.25, 1.35, 3), Interval(0.8, 0.75, 0.85, 3), Interval(0.7, None, None, 1)]
    out = crossovers(x, ratios)
    assert [(c.left_index, c.right_index, c.before, c.after) for c in out] == [(0, 1, "A", "B"), (3, 4, "B", "A")]
    assert 1 < out[0].x_estimate < 2 and 8 < out[1].x_estimate < 16


def test_verdict_agrees_with_the_report_verdict():
    """The sweep and the report must name the same winner for the same interval."""
    from benchmarks.analysis import stats

    names = {"a": A_FASTER, "b": B_FASTER}
    for value in np.geomspace(0.8, 1.25, 41):
        for half in (0.01, 0.03, 0.1, 0.3):
            for e in (0.0, 0.05, 0.2):
                lo, hi = value - half, value + half
                v = stats.verdict(stats.Interval(value, lo, hi, 3), min_effect=e)
                expected = names.get(v.winner, v.word)
                assert verdict(value, lo, hi, e) == expected, (value, half, e)


def test_exact_one_counts_as_the_crossing_point():
    (c,) = crossovers([1, 2, 4], [r(0.5), (1.0, 0.9, 1.1), r(2.0)])
    assert c.x_estimate == pytest.approx(2.0)


def test_crossovers_rejects_bad_sweeps():
    with pytest.raises(ValueError):
        crossovers([1, 1, 2], [r(0.5)] * 3)
    with pytest.raises(ValueError):
        crossovers([2, 1], [r(0.5)] * 2)
    with pytest.raises(ValueError):
        crossovers([1, 2], [r(0.5)])
    with pytest.raises(ValueError):
        crossovers([1, 2], [r(0.5), (0.0, -1.0, 1.0)])
