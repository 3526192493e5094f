"""Figures a reader can read: no overlapping tick labels, no label cut off at the edge."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from kdtheory.montecarlo import run_study  # noqa: E402
from kdtheory.plotting import (  # noqa: E402
    layout_faults, paired_plot_data, plot_bound_ratio, plot_paired, plot_rates,
    rate_plot_data, tick_label_overlaps, tidy,
)


def test_crowded_log_axis_is_detected_and_tidied():
    fig, ax = plt.subplots(figsize=(2.5, 2))
    ax.loglog([250, 4000], [1, 2])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.LogFormatterSciNotation(labelOnlyBase=False,
                                                                           minor_thresholds=(3, 3)))
    assert tick_label_overlaps(fig), "the check must be able to fail"
    tidy(fig)
    assert not tick_label_overlaps(fig)
    plt.close(fig)


def test_crowded_linear_axis_is_tidied():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot(np.arange(100), np.arange(100))
    ax.set_xticks(np.arange(0, 100, 5))
    assert tick_label_overlaps(fig)
    tidy(fig)
    assert not tick_label_overlaps(fig)
    plt.close(fig)


def test_cut_off_label_is_a_fault():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_ylabel("a y label far too long to fit in a figure this small, it runs off the edge")
    assert any("cut off" in f for f in layout_faults(fig))
    plt.close(fig)


@pytest.fixture(scope="module")
def summaries():
    return {name: run_study(name, quick=True, n_replications=4, n_jobs=1, progress=False,
                            **({"params": {"d": 1}} if name == "overfit" else {})).summarize()
            for name in ("underfit", "overfit")}


@pytest.mark.parametrize("name", ["underfit", "overfit"])
@pytest.mark.parametrize("bound, paired", [(False, False), (True, False), (True, True)])
def test_rate_plots_have_no_layout_faults(summaries, name, bound, paired):
    fig = plot_rates(summaries[name], bound=bound, paired=paired)
    assert not layout_faults(fig)
    plt.close(fig)


def test_panels_in_a_user_layout_have_no_layout_faults(summaries):
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    plot_rates(summaries["underfit"], ax=axes[0])
    plot_rates(summaries["overfit"], ax=axes[1])
    plot_bound_ratio(summaries["overfit"], ax=axes[2])
    fig.tight_layout()
    tidy(fig)
    assert not layout_faults(fig)
    plt.close(fig)


def test_plots_carry_the_theory_curve_and_the_pairs(summaries):
    """The exact curve is drawn where a theory exists (all underfit methods; overfit vanilla
    only), and each paired comparison is one series."""
    under = rate_plot_data(summaries["underfit"])["series"]
    assert all(s["theory"] is not None for s in under.values())
    np.testing.assert_array_equal(under["enhanced"]["theory"],
                                  summaries["underfit"].methods["enhanced"].theory["error"])
    over = rate_plot_data(summaries["overfit"])["series"]
    assert over["vanilla"]["theory"] is not None and over["crossfit"]["theory"] is None
    pairs = paired_plot_data(summaries["underfit"])
    assert set(pairs) == {"crossfit vs sample_split", "enhanced vs crossfit",
                          "crossfit vs vanilla", "targeted vs enhanced"}
    fig = plot_paired(summaries["underfit"])
    assert len(fig.axes[0].containers) == 4 and not layout_faults(fig)
    plt.close(fig)
