"""The report's loss-curve figure (matplotlib through Figure: no pyplot, no global state)."""

from __future__ import annotations

import io
import math

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from nst_pipeline.grid import sample_runs
from nst_pipeline.outcome import RunOutcome

LOSS_KINDS = ("total", "content", "style", "tv")
MAX_CURVES = 20  # lines per figure: a legend of 250 runs is a page of its own


def loss_curves_png(runs: list[RunOutcome], title: str) -> bytes | None:
    """Loss vs iteration, one panel per loss term, one line per run (dashed: random weights), at most
    MAX_CURVES runs (evenly spaced; the title says so); None when no run has a loss history."""
    runs, note = sample_runs([run for run in runs if run.finished and run.record.get("loss_history")], MAX_CURVES)
    if not runs:
        return None
    title = f"{title} ({note})" if note else title
    ncol = min(len(runs), 4)
    legend_rows = math.ceil(len(runs) / ncol)
    height = 3.1 + 0.22 * legend_rows
    fig = Figure(figsize=(13.6, height), dpi=100)
    axes = fig.subplots(1, len(LOSS_KINDS))
    cmap = matplotlib.colormaps["tab10" if len(runs) <= 10 else "tab20"]
    for index, run in enumerate(runs):
        _plot_run(axes, run, cmap(index % cmap.N))
    for ax, kind in zip(axes, LOSS_KINDS):
        _style_axes(ax, kind)
    fig.suptitle(title, fontsize=11)
    fig.legend(loc="lower center", ncol=ncol, fontsize=8.5, frameon=False)
    bottom = (0.22 * legend_rows + 0.15) / height
    fig.tight_layout(rect=(0, bottom, 1, 0.97))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _plot_run(axes, run: RunOutcome, color) -> None:
    history = run.record["loss_history"]
    iterations = range(1, len(history) + 1)
    label = run.display_label + (" [RANDOM WEIGHTS]" if run.is_random else "")
    style = {
        "color": color,
        "linestyle": "--" if run.is_random else "-",
        "linewidth": 1.4,
        "marker": "o" if len(history) < 3 else None,  # a line of one or two points is hard to see
        "markersize": 3,
    }
    for ax, kind in zip(axes, LOSS_KINDS):
        ys = [step.get(kind, float("nan")) for step in history]
        ax.plot(iterations, ys, label=label if kind == LOSS_KINDS[0] else None, **style)


def _style_axes(ax, kind: str) -> None:
    ax.set_title(f"{kind} loss" + (" (weighted sum)" if kind == "total" else ""), fontsize=10)
    ax.set_xlabel("iteration", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(True, which="major", alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    positive = [y for line in ax.get_lines() for y in line.get_ydata() if y > 0]
    # log scale for the total always; for a term, where it spans more than a decade
    if positive and (kind == "total" or max(positive) > 10 * min(positive)):
        ax.set_yscale("log", nonpositive="mask")
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.3g}"))
