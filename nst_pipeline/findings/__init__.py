"""Findings of the seed study as data, and a verdict on each from the yardstick.

Each experiment in the config may list `findings`: an id, the statement, where it comes from, and a
`check` read against the yardstick's numbers (nst_pipeline.metrics, one JSON per run from the measure
rule, at the run's final budget and at its milestones; pairwise distances from measure_pairs).
One concern per module:

  runs      what a check reads of a run (RunView at a budget, Entry) and which runs it reads
  checks    the six check kinds, the noise margin, each kind's deciding quantity
  verdict   a check at every budget, the headline at the final budget, settled or unsettled
  config    the planner's validation of a finding (FindingError naming the key)

Pure functions: dicts in, dataclasses out (nst_pipeline.scorecard reads the files and calls these).
"""

from nst_pipeline.findings.checks import (
    CHECK_KINDS,
    CHECKS,
    NOISE_MULTIPLE,
    RUNS_NEEDED,
    VERDICTS,
    Result,
    check_alike,
    check_best,
    check_biggest_step,
    check_bound,
    check_close,
    check_monotonic,
    margin,
    noise_scale,
)
from nst_pipeline.findings.config import FindingError, validate_finding
from nst_pipeline.findings.runs import (
    CONVERGED_FALL,
    CONVERGENCE_TAIL,
    FINAL,
    Convergence,
    Entry,
    RunView,
    budget_label,
    convergence,
    select,
)
from nst_pipeline.findings.verdict import NOT_JUDGED, WITHIN_NOISE, BudgetVerdict, Verdict, evaluate, settledness
from nst_pipeline.metric_table import PAIR_METRICS, RUN_METRICS

__all__ = [
    "CHECKS",
    "CHECK_KINDS",
    "CONVERGED_FALL",
    "CONVERGENCE_TAIL",
    "FINAL",
    "NOISE_MULTIPLE",
    "NOT_JUDGED",
    "PAIR_METRICS",
    "RUNS_NEEDED",
    "RUN_METRICS",
    "VERDICTS",
    "WITHIN_NOISE",
    "BudgetVerdict",
    "Convergence",
    "Entry",
    "FindingError",
    "Result",
    "RunView",
    "Verdict",
    "budget_label",
    "check_alike",
    "check_best",
    "check_biggest_step",
    "check_bound",
    "check_close",
    "check_monotonic",
    "convergence",
    "evaluate",
    "margin",
    "noise_scale",
    "select",
    "settledness",
    "validate_finding",
]
