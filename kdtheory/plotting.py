"""Rate-study plots: builders return plain data, renderers draw it with matplotlib.

:func:`rate_plot_data` turns a study summary (:class:`kdtheory.results.StudySummary`) into series;
:func:`plot_rates` draws log-log mean error against n per method with Monte Carlo error bars
(+- 1.96 SE), the predicted slope as a dashed line anchored at the first point, and the fitted
slope with its 95% CI in the legend. Renderers take ``ax=None`` and return the Figure.
matplotlib is imported only inside the renderers.
"""

from __future__ import annotations

import numpy as np

COLORS = {"vanilla": "#d62728", "sample_split": "#7f7f7f", "crossfit": "#1f77b4",
          "enhanced": "#2ca02c"}


def rate_plot_data(summary) -> dict:
    """Series to draw: per method n, mean, error-bar half-widths, fitted and predicted lines."""
    series = {}
    for method, m in summary.methods.items():
        n = np.asarray(m.sample_sizes, dtype=float)
        mean = np.asarray(m.mean_error, dtype=float)
        if n.size == 0:
            continue
        anchor = mean[0] / n[0] ** m.predicted_slope
        series[method] = {
            "n": n, "mean": mean, "yerr": 1.96 * np.asarray(m.se_error, dtype=float),
            "median": np.asarray(m.median_error, dtype=float),
            "predicted_line": anchor * n ** m.predicted_slope,
            "label": (f"{method}: slope {m.slope:+.2f} [{m.ci[0]:+.2f}, {m.ci[1]:+.2f}]"
                      f"; predicted {m.predicted_slope:+.2f} ({m.kind}) -> {m.verdict}"),
        }
    params = ", ".join(f"{k}={v}" for k, v in summary.params.items()
                       if k in ("d", "p0", "enhanced_alpha"))
    title = (f"{summary.example} ({params}): {summary.replications} replications, "
             f"seed {summary.seed}")
    return {"series": series, "title": title}


def bound_plot_data(summary) -> dict:
    """Per method: n and the ratio mean student error / mean bound (docs/theory.md §8)."""
    return {method: {"n": np.asarray(m.sample_sizes, dtype=float),
                     "ratio": np.asarray(m.bound.ratio, dtype=float)}
            for method, m in summary.methods.items() if m.sample_sizes}


def plot_bound_ratio(summary, ax=None):
    """Student error / bound against n per method (it should stay bounded); returns the Figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 5.5))
    else:
        fig = ax.figure
    for method, s in bound_plot_data(summary).items():
        ax.plot(s["n"], s["ratio"], "o-", color=COLORS.get(method), label=method)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n")
    ax.set_ylabel("mean error / mean bound (bounded in n if the theorem applies)")
    ax.set_title("bound decomposition", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_rates(summary, ax=None, *, bound: bool = False):
    """Log-log mean student error vs n per method; returns the matplotlib Figure.

    With ``bound=True`` (and no ``ax``) a second panel shows error / bound per method.
    """
    import matplotlib.pyplot as plt

    data = rate_plot_data(summary)
    if ax is None and bound:
        fig, (ax, ax_bound) = plt.subplots(1, 2, figsize=(13, 5.5),
                                           gridspec_kw={"width_ratios": [1.6, 1]})
        plot_bound_ratio(summary, ax=ax_bound)
    elif ax is None:
        fig, ax = plt.subplots(figsize=(8, 5.5))
    else:
        fig = ax.figure
    for method, s in data["series"].items():
        color = COLORS.get(method)
        ax.errorbar(s["n"], s["mean"], yerr=np.minimum(s["yerr"], 0.999 * s["mean"]),
                    fmt="o-", color=color, capsize=3, label=s["label"])
        ax.plot(s["n"], s["predicted_line"], "--", color=color, alpha=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n")
    ax.set_ylabel(r"mean $\|\hat f - f_0\|^2$  (bars: 95% MC; dashed: predicted slope)")
    ax.set_title(data["title"], fontsize=10)
    ax.legend(fontsize=7.5, loc="best")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig
