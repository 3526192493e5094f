"""Rate-study plots: builders return plain data, renderers draw it with matplotlib.

:func:`rate_plot_data` turns a study summary (:class:`kdtheory.results.StudySummary`) into series;
:func:`plot_rates` draws log-log mean error against n per method with Monte Carlo error bars
(+- 1.96 SE), the median as open markers, the exact theory curve (docs/theory.md §5.4-5.6) as
a solid line where one exists, the claimed asymptotic slope as a dashed line (anchored at the
curve's last point, else at the first measured point), and the fitted slope with its 95% CI in
the legend. :func:`plot_paired` draws the paired comparisons (mean log error ratio per n with
its CI). Renderers take ``ax=None`` and return the Figure.
matplotlib is imported only inside the renderers.
"""

from __future__ import annotations

import numpy as np

def tick_label_overlaps(fig) -> list:
    """Pairs of tick labels whose drawn boxes overlap: (axes index, "x" or "y", text, text)."""
    import itertools

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = []
    for i, ax in enumerate(fig.axes):
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            boxes = [(t.get_text(), t.get_window_extent(renderer))
                     for t in axis.get_ticklabels(which="both")
                     if t.get_visible() and t.get_text()]
            found += [(i, name, a, b) for (a, box_a), (b, box_b)
                      in itertools.combinations(boxes, 2) if box_a.overlaps(box_b)]
    return found


def layout_faults(fig) -> list:
    """What a reader would see as broken: overlapping tick labels, and axis labels or titles
    cut off at the figure's edge. An empty list means none."""
    faults = [f"axes {i}: {name} tick labels {a!r} and {b!r} overlap"
              for i, name, a, b in tick_label_overlaps(fig)]
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    for i, ax in enumerate(fig.axes):
        for text in (ax.xaxis.label, ax.yaxis.label, ax.title):
            if text.get_visible() and text.get_text():
                box = text.get_window_extent(renderer)
                if (box.x0 < page.x0 - 1 or box.x1 > page.x1 + 1 or box.y0 < page.y0 - 1
                        or box.y1 > page.y1 + 1):
                    faults.append(f"axes {i}: {text.get_text()!r} is cut off")
    return faults


def tidy(fig):
    """Thin out the tick labels of ``fig`` until none overlap (in place).

    On a log axis whose labels collide, minor ticks are first labelled only at 2 and 5 times
    a power of ten, then not at all, then fewer major ticks are labelled; a linear axis gets
    fewer ticks. Call it after the figure's final layout (``tight_layout``).
    """
    from matplotlib.ticker import LogFormatterSciNotation, LogLocator, MaxNLocator, NullFormatter

    steps = {
        "log": [lambda a: (a.set_minor_locator(LogLocator(subs=(2.0, 5.0))),
                           a.set_minor_formatter(LogFormatterSciNotation(labelOnlyBase=False))),
                lambda a: a.set_minor_formatter(NullFormatter()),
                lambda a: a.set_major_locator(LogLocator(numticks=4))],
        "linear": [lambda a: a.set_major_locator(MaxNLocator(5)),
                   lambda a: a.set_major_locator(MaxNLocator(3))],
    }
    for step in range(3):
        crowded = {(i, name) for i, name, _, _ in tick_label_overlaps(fig)}
        if not crowded:
            break
        for i, name in crowded:
            ax = fig.axes[i]
            axis = ax.xaxis if name == "x" else ax.yaxis
            fixes = steps.get(axis.get_scale(), [])
            if step < len(fixes):
                fixes[step](axis)
    return fig


COLORS = {"vanilla": "#d62728", "sample_split": "#7f7f7f", "crossfit": "#1f77b4",
          "enhanced": "#2ca02c", "targeted": "#9467bd"}


def rate_plot_data(summary) -> dict:
    """Series to draw: per method n, mean, error-bar half-widths, median, the theory curve
    (None without one), the claimed slope's line and the legend label."""
    series = {}
    for method, m in summary.methods.items():
        n = np.asarray(m.sample_sizes, dtype=float)
        mean = np.asarray(m.mean_error, dtype=float)
        if n.size == 0:
            continue
        theory = None if not m.theory else np.asarray(m.theory["error"], dtype=float)
        anchor_n, anchor_e = (n[-1], theory[-1]) if theory is not None else (n[0], mean[0])
        anchor = anchor_e / anchor_n ** m.predicted_slope
        label = (f"{method}: slope {m.slope:+.2f} [{m.ci[0]:+.2f}, {m.ci[1]:+.2f}]"
                 f"; claim {m.predicted_slope:+.2f} ({m.kind}) -> {m.verdict}")
        if m.theory:
            label += f"; theory {m.theory['verdict']}"
        series[method] = {
            "n": n, "mean": mean, "yerr": 1.96 * np.asarray(m.se_error, dtype=float),
            "median": np.asarray(m.median_error, dtype=float), "theory": theory,
            "predicted_line": anchor * n ** m.predicted_slope, "label": label,
        }
    params = ", ".join(f"{k}={v}" for k, v in summary.params.items()
                       if k in ("d", "p0", "enhanced_alpha"))
    title = (f"{summary.example} ({params}): {summary.replications} replications, "
             f"seed {summary.seed}")
    return {"series": series, "title": title}


def paired_plot_data(summary) -> dict:
    """Per pair "a vs b": n, mean log(err_a / err_b) and its CI half-widths below/above."""
    out = {}
    for pair in getattr(summary, "paired", []):
        mean = np.asarray(pair["mean_log_ratio"], dtype=float)
        ci = np.asarray(pair["ci"], dtype=float).reshape(-1, 2)
        out[f"{pair['a']} vs {pair['b']}"] = {
            "n": np.asarray(pair["sample_sizes"], dtype=float), "mean": mean,
            "yerr": np.vstack([mean - ci[:, 0], ci[:, 1] - mean]), "a": pair["a"]}
    return out


def plot_paired(summary, ax=None):
    """Mean log(err_a / err_b) per n with 95% CIs (below 0: a is better); returns the Figure."""
    fig, ax = _panel(ax)
    for name, s in paired_plot_data(summary).items():
        ax.errorbar(s["n"], s["mean"], yerr=s["yerr"], fmt="s-", capsize=3, label=name,
                    color=COLORS.get(s["a"]), alpha=0.85)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xscale("log")
    return _finish(fig, ax, "mean log(err_a / err_b), 95% CI",
                   "paired comparisons (same data and teachers)")


def _panel(ax):
    """(Figure, Axes): a new 5 x 5.5 in figure when ``ax`` is None, else ``ax``'s."""
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5, 5.5)) if ax is None else (ax.figure, ax)


def _finish(fig, ax, ylabel, title):
    """Labels, legend and grid of a side panel against n; layout, then :func:`tidy`."""
    ax.set_xlabel("n")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    tidy(fig)
    return fig


def bound_plot_data(summary) -> dict:
    """Per method: n and the ratio mean student error / mean bound (docs/theory.md §8)."""
    return {method: {"n": np.asarray(m.sample_sizes, dtype=float),
                     "ratio": np.asarray(m.bound.ratio, dtype=float)}
            for method, m in summary.methods.items() if m.sample_sizes}


def plot_bound_ratio(summary, ax=None):
    """Student error / bound against n per method (it should stay bounded); returns the Figure."""
    fig, ax = _panel(ax)
    for method, s in bound_plot_data(summary).items():
        ax.plot(s["n"], s["ratio"], "o-", color=COLORS.get(method), label=method)
    ax.set_xscale("log")
    ax.set_yscale("log")
    return _finish(fig, ax, "mean error / mean bound",
                   "error / bound (bounded where the theorem applies)")


def plot_rates(summary, ax=None, *, bound: bool = False, paired: bool = False):
    """Log-log mean student error vs n per method; returns the matplotlib Figure.

    With ``bound=True`` and/or ``paired=True`` (and no ``ax``) further panels show error /
    bound per method and the paired comparisons.
    """
    import matplotlib.pyplot as plt

    data = rate_plot_data(summary)
    extra = [name for name, on in (("bound", bound), ("paired", paired)) if on]
    if ax is None and extra:
        fig, axes = plt.subplots(1, 1 + len(extra), figsize=(8 + 5 * len(extra), 5.5),
                                 gridspec_kw={"width_ratios": [1.6] + [1] * len(extra)})
        ax = axes[0]
        for name, panel in zip(extra, axes[1:]):
            (plot_bound_ratio if name == "bound" else plot_paired)(summary, ax=panel)
    elif ax is None:
        fig, ax = plt.subplots(figsize=(8, 5.5))
    else:
        fig = ax.figure
    for method, s in data["series"].items():
        color = COLORS.get(method)
        ax.errorbar(s["n"], s["mean"], yerr=np.minimum(s["yerr"], 0.999 * s["mean"]),
                    fmt="o", color=color, capsize=3, label=s["label"])
        ax.plot(s["n"], s["median"], "o", mfc="none", color=color, alpha=0.7)
        if s["theory"] is not None:
            ax.plot(s["n"], s["theory"], "-", color=color, lw=1.5, alpha=0.8)
        ax.plot(s["n"], s["predicted_line"], "--", color=color, alpha=0.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n")
    ax.set_ylabel(r"$\|\hat f - f_0\|^2$: mean (95% MC bars), median (open)")
    ax.plot([], [], "-", color="gray", label="solid: exact theory curve (mean)")
    ax.plot([], [], "--", color="gray", label="dashed: claimed asymptotic slope")
    ax.set_title(data["title"], fontsize=10)
    ax.legend(fontsize=7, loc="best")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    tidy(fig)
    return fig
