"""bench.rbd_during_joins's summary of a sample: median, 90th percentile and worst."""

from __future__ import annotations

from bench.rbd_during_joins import figures


def test_figures_give_median_p90_and_max() -> None:
    samples = [0.1 * n for n in range(1, 11)]  # 0.1 .. 1.0, unordered below
    assert figures(list(reversed(samples))) == "median  0.55 s, p90  1.00 s, max  1.00 s"


def test_one_sample_is_its_own_median_p90_and_max() -> None:
    assert figures([0.25]) == "median  0.25 s, p90  0.25 s, max  0.25 s"
