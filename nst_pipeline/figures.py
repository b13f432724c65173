"""The report's loss-curve figure (matplotlib through Figure: no pyplot, no global state)."""

from __future__ import annotations

import io
import math

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from nst_pipeline.formatting import value_text
from nst_pipeline.grid import sample_runs
from nst_pipeline.metric_table import METRICS
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


# the yardstick's numbers the report plots against the varied value: (metrics key, title)
PLOTTED_METRICS = tuple((m.key, m.words) for m in METRICS if m.plotted)


def metrics_png(
    runs: list[RunOutcome], measured: dict[str, dict], margins: dict[str, float], title: str
) -> bytes | None:
    """Each yardstick metric against the varied value (categories in grid order), one line per grid
    row (sweep); error bars: the noise margin a difference must exceed (nst_pipeline.findings).
    None when no run of `runs` was measured."""
    runs = [run for run in runs if run.run in measured]
    if not runs:
        return None
    labels = _ticks(runs)
    fig = Figure(figsize=(13.6, 3.0), dpi=100)
    axes = fig.subplots(1, len(PLOTTED_METRICS))
    for row_index, row in enumerate(sorted({run.row for run in runs})):
        in_row = [run for run in runs if run.row == row]
        xs = [labels.index(_tick(run)) for run in in_row]
        for ax, (key, _) in zip(axes, PLOTTED_METRICS):
            ys = [measured[run.run]["metrics"].get(key, float("nan")) for run in in_row]
            ys = [float("nan") if y is None else y for y in ys]
            ax.errorbar(
                xs,
                ys,
                yerr=margins.get(key, 0.0),
                marker="o",
                markersize=4,
                capsize=3,
                linewidth=1.3,
                color=matplotlib.colormaps["tab10"](row_index % 10),
                label=f"row {row + 1}",
            )
    for ax, (_, name) in zip(axes, PLOTTED_METRICS):
        ax.set_title(name, fontsize=9.5)
        ax.set_xticks(range(len(labels)), labels, fontsize=8, rotation=30)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(True, alpha=0.3)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _tick(run: RunOutcome) -> str:
    """The varied value(s) of a run, as the x tick."""
    return " / ".join(value_text(v) for v in run.varied_values.values()) or run.display_label


def _ticks(runs: list[RunOutcome]) -> list[str]:
    """The x categories: numerically ordered where the runs vary one number (two sweeps over
    overlapping style weights share one axis), else in grid order."""
    values = list({_tick(run): run.varied_values for run in runs}.items())
    numbers = [next(iter(v.values())) if len(v) == 1 else None for _, v in values]
    if all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers):
        return [tick for _, tick in sorted(zip(numbers, (t for t, _ in values)))]
    return [tick for tick, _ in values]


def deciding_png(verdict) -> bytes | None:
    """A finding's deciding quantity (nst_pipeline.findings.checks) against the budget, one point per
    budget the check could compute, with its threshold: how the verdict moved as the runs went on.
    None where no budget has the quantity (runs missing, or a check without one)."""
    points = [
        (b.budget, b.numbers["deciding"]["value"], b.numbers["deciding"]["threshold"])
        for b in verdict.trajectory
        if (b.numbers or {}).get("deciding", {}).get("value") is not None
    ]
    if not points:
        return None
    name = verdict.trajectory[-1].numbers.get("deciding", {}).get("name") or points[-1][0]
    fig = Figure(figsize=(3.4, 1.9), dpi=100)
    ax = fig.subplots()
    xs = range(len(points))
    ax.plot(xs, [value for _, value, _ in points], marker="o", markersize=4, linewidth=1.3, color="#1f4e79")
    threshold = points[-1][2]
    ax.axhspan(-threshold, threshold, color="#cccccc", alpha=0.5, linewidth=0)  # within noise / tolerance
    ax.axhline(0.0, color="#888888", linewidth=0.6)
    ax.set_xticks(list(xs), [budget for budget, _, _ in points], fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(name, fontsize=7.5)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
