"""What a check reads of a run (RunView, Entry), and which runs a check reads (select, matches).

A run is measured at its final budget B and at milestones of its own trajectory (B/8, B/4, B/2: the
engine's halvings of the final stage); `RunView.at(fraction)` is the run as it stood there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from nst_pipeline.outcome import value_text

FINAL = 1.0  # the fraction of the budget of a run's final image

# The loss fall over the last tenth of a run's final stage: shown beside the verdicts as information
# (how far from settled the optimisation still is). It no longer decides anything: whether a verdict
# would change with a longer run is read off the verdicts at the milestones (verdict.settledness).
# 2%: bench/calibrate_convergence.py - at 128 px the default run still moves 3 noise margins between
# 800 and 1600 iterations while its tail falls 4.8% and 3.7%.
CONVERGENCE_TAIL = 0.10
CONVERGED_FALL = 0.02


@dataclass(frozen=True)
class Convergence:
    converged: bool  # fell by less than CONVERGED_FALL over the tail, or L-BFGS stopped early
    fall: float | None  # relative fall of the total loss over the tail (0.03 = 3%)
    tail: int  # iterations in the tail
    stopped_early: bool


def convergence(record: dict) -> Convergence:
    """How much the run's total loss still fell over the last CONVERGENCE_TAIL of the iterations of its
    final stage (earlier stages run at other sizes, so other loss scales)."""
    history = record.get("loss_history") or []
    stopped = bool(record.get("stopped_early"))
    stages = record.get("stages") or []
    final_stage = stages[-1].get("iterations_done", len(history)) if stages else len(history)
    final_stage = min(final_stage, len(history))
    tail = max(1, round(CONVERGENCE_TAIL * final_stage))
    end = (record.get("final_losses") or {}).get("total")
    if final_stage < 1 or end is None:
        return Convergence(stopped, None, tail, stopped)
    before = history[len(history) - min(tail, final_stage)]["total"]
    fall = (before - end) / before if before > 0 else 0.0
    return Convergence(stopped or fall < CONVERGED_FALL, fall, tail, stopped)


def budget_label(fraction: float) -> str:
    """1.0 -> "B", 0.5 -> "B/2", 0.125 -> "B/8"."""
    if fraction == FINAL:
        return "B"
    inverse = 1.0 / fraction
    return f"B/{inverse:.0f}" if abs(inverse - round(inverse)) < 1e-9 else f"{fraction:g}·B"


@dataclass(frozen=True)
class RunView:
    """One run as the checks see it, at one fraction of its budget."""

    run: str
    parameters: dict
    status: str  # ok | failed | missing (nst_pipeline.outcome)
    random: bool = False
    metrics: dict | None = None  # measure()'s row at `fraction`; None: not measured (there)
    budgets: dict[float, dict] = field(default_factory=dict)  # fraction -> measure()'s row, final included
    iterations: dict[float, int] = field(default_factory=dict)  # fraction -> the run's iteration there
    fraction: float = FINAL
    convergence: Convergence | None = None  # information only

    def metric(self, name: str) -> float | None:
        value = (self.metrics or {}).get(name)
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    @property
    def iteration(self) -> int | None:
        return self.iterations.get(self.fraction)

    def at(self, fraction: float) -> RunView:
        """This run as measured at `fraction` of its budget (metrics None where it has no milestone there)."""
        if fraction == self.fraction:
            return self
        return replace(self, metrics=self.budgets.get(fraction), fraction=fraction)

    @property
    def fractions(self) -> set[float]:
        return set(self.budgets) | ({FINAL} if self.metrics is not None else set())


@dataclass(frozen=True)
class Entry:
    """A run in a check: the value of the parameter the check reads it at, and the run."""

    value: object
    view: RunView

    @property
    def label(self) -> str:
        return value_text(self.value)

    def at(self, fraction: float) -> Entry:
        return Entry(self.value, self.view.at(fraction))


def matches(parameters: dict, where: dict | None) -> bool:
    return all(parameters.get(key) == value for key, value in (where or {}).items())


def label_in(value, values) -> bool:
    return value_text(value) in {value_text(v) for v in values}


def select(check: dict, views: list[RunView]) -> list[Entry]:
    """The runs of one experiment and pair a check reads (its `where`, and `at` if given), each at its
    value of `over`, in grid order, each value once."""
    entries: dict[str, Entry] = {}
    for view in views:
        if matches(view.parameters, check.get("where")):
            entry = Entry(view.parameters.get(check["over"]), view)
            if "at" not in check or label_in(entry.value, check["at"]):
                entries.setdefault(entry.label, entry)
    return list(entries.values())


def selector_run(selector: dict, views: list[RunView]) -> RunView | None:
    """The one run a selector's `where` picks among `views` (None: none, or several)."""
    found = [view for view in views if matches(view.parameters, selector.get("where"))]
    return found[0] if len({view.run for view in found}) == 1 else None
