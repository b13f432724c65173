"""A finding's verdict: its check at every budget the runs were measured at, the headline at the final
budget B, and whether that headline is settled.

- At each budget (B/8, B/4, B/2, B: the milestones of each run's own trajectory) the check reads the
  runs as they stood there. A budget's verdict is inconclusive, whatever the numbers say, when a run it
  needs is missing or failed, has no metrics there, or used random weights; the numbers are kept.
- The headline is the verdict at B.
- Settled: the verdict at B/2 is the same as at B (both from the numbers, which decide only beyond the
  noise margin). Unsettled: they differ, and the sequence over the budgets says how it moved, e.g.
  "inconclusive → differs → agrees (B/8 → B)": running longer may change it again. This replaces a
  loss-fall threshold as the guard against premature verdicts: it asks the question the verdict
  depends on (does the verdict still move?) instead of how much the loss still falls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nst_pipeline.findings.checks import (
    CHECKS,
    FIXED_TABLE,
    MARGINS,
    RUNS_NEEDED,
    Result,
    fixed_margin,
    metric_values,
)
from nst_pipeline.findings.runs import FINAL, Entry, RunView, budget_label, select, selector_run
from nst_pipeline.metric_table import PAIR_METRICS
from nst_pipeline.outcome import value_text

HALF = 0.5  # the budget whose verdict a settled headline must share

# Why a verdict is inconclusive (Verdict.cause), so the scorecard can say it in words
WITHIN_NOISE = "within noise"  # the check ran: the effect the study claims is not seen beyond chance
NOT_JUDGED = "not judged"  # runs missing, failed, unmeasured or with random weights; too few runs


class Unavailable(Exception):
    """A run the check needs is not in this invocation's plan (its experiment is not run)."""


@dataclass
class BudgetVerdict:
    """The check at one fraction of the runs' budget."""

    fraction: float
    budget: str  # "B/2"
    iterations: list[int]  # the runs' iteration counts there (one value when they share a budget)
    verdict: str
    reason: str
    numbers: dict = field(default_factory=dict)
    judged: bool = False  # the numbers decided (no run problem overrode them)
    check_says: str | None = None  # the numbers' verdict where a run problem overrides it
    # metric -> the margin used here and where it came from: measured at the finding's scale from the
    # noise repeats, or the fixed table (nst_pipeline.noise; checks.fixed_margin)
    margins: dict = field(default_factory=dict)


@dataclass
class Verdict:
    """A finding's verdict for one content/style pair: what the scorecard and findings.json show."""

    id: str
    experiment: str
    pair: str
    statement: str
    source: str
    caveat: str
    check: dict
    verdict: str = "inconclusive"  # the headline, at the final budget B
    reason: str = ""
    numbers: dict = field(default_factory=dict)
    check_says: str | None = None
    runs: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # each run's label in `numbers` (parallel to runs)
    cause: str | None = None  # an inconclusive headline's cause: WITHIN_NOISE or NOT_JUDGED
    settled: bool | None = None  # None: not judged at B or at B/2
    settled_text: str = ""
    trajectory: list[BudgetVerdict] = field(default_factory=list)
    margins: dict = field(default_factory=dict)  # at B: metric -> the margin record (BudgetVerdict.margins)
    margin_source: str = ""  # at B, in words: "margin measured here" / "margin from the fixed table"


def _problem(view: RunView, needs_metrics: bool) -> str | None:
    """What keeps a run from deciding a verdict at its view's budget, or None."""
    if view.status != "ok":
        return view.status
    if view.metrics is None and needs_metrics:
        return "not measured" if view.fraction == FINAL else f"no image at {budget_label(view.fraction)}"
    if view.random:
        return "used RANDOM weights"
    return None


def _trust_problems(entries: list[Entry], needs_metrics: bool) -> list[str]:
    """Why numbers from these runs cannot decide a verdict (empty: they can), one line per kind of
    problem naming the runs, e.g. "failed: style, gaussian"."""
    found: dict[str, list[str]] = {}
    for entry in entries:
        problem = _problem(entry.view, needs_metrics)
        if problem:
            found.setdefault(problem, []).append(entry.label)
    return [f"{kind}: {', '.join(labels)}" for kind, labels in found.items()]


def _pairs_complete(entries: list[Entry], pairwise: list[dict]) -> bool:
    have = {frozenset((row["a"], row["b"])) for row in pairwise}
    runs = [e.view.run for e in entries]
    return all(frozenset((a, b)) in have for i, a in enumerate(runs) for b in runs[i + 1 :] if a != b)


def _computable(check: dict, entries: list[Entry]) -> bool:
    metrics = [check["metric"]] + ([check["gate"]["metric"]] if check.get("gate") else [])
    return all(e.view.metric(m) is not None for e in entries for m in metrics)


def _selected(check: dict, key: str, views: list[RunView], others: Callable[[str], list[RunView] | None]) -> Entry:
    """The one run check[key] selects ({experiment?, where}): a close's a/b, a bound's reference."""
    selector = check[key]
    pool = views if "experiment" not in selector else others(selector["experiment"])
    if pool is None:
        raise Unavailable(f"check.{key}: experiment {selector['experiment']} is not run (run_experiments)")
    view = selector_run(selector, pool)
    if view is None:
        raise Unavailable(f"check.{key} selects no single run")
    where = ", ".join(value_text(v) for v in (selector.get("where") or {}).values())
    label = (f"{selector['experiment']}: " if "experiment" in selector else "") + where
    return Entry(f"{key} ({label})" if check["kind"] == "close" else f"reference ({key}: {label})", view)


def reference_keys(check: dict) -> list[str]:
    """A bound's min/max given as a run (its metric is the bound) rather than a number."""
    return [key for key in ("min", "max") if isinstance(check.get(key), dict)] if check["kind"] == "bound" else []


def _entries(check: dict, views: list[RunView], others: Callable[[str], list[RunView] | None]) -> list[Entry]:
    if check["kind"] == "close":
        return [_selected(check, name, views, others) for name in ("a", "b")]
    return select(check, views)


def runs_read(check: dict, views: list[RunView], others: Callable[[str], list[RunView] | None]) -> list[RunView]:
    """The runs a check reads, as evaluate() reads them: its entries, then a bound's reference runs
    (the planner asks which scale a finding is judged at: nst_pipeline.repeats). Unavailable where a
    run it names is in an experiment that is not run."""
    entries = _entries(check, views, others)
    return [entry.view for entry in entries + [_selected(check, key, views, others) for key in reference_keys(check)]]


def _run_check(check: dict, entries: list[Entry], references: dict[str, Entry], pairwise: list[dict]) -> Result:
    if check["kind"] == "alike":
        return CHECKS["alike"](check, entries, pairwise)
    resolved = check | {key: ref.view.metric(check["metric"]) for key, ref in references.items()}
    result = CHECKS[check["kind"]](resolved, entries)
    if references:
        result.numbers["references"] = {
            key: {"run": ref.view.run, "value": resolved[key]} for key, ref in references.items()
        }
    return result


def check_metrics(check: dict) -> list[str]:
    """The metrics a check compares against a margin: its metric and its gate's."""
    return [check["metric"]] + ([check["gate"]["metric"]] if check.get("gate") else [])


def _with_margins(check: dict, margins: dict[str, dict]) -> tuple[dict, list[str]]:
    """The check with its margins handed in (checks.MARGINS), and the metrics that have none (no
    fixed-table scale and no repeats measured: the check cannot judge them)."""
    values = {metric: record.get("value") for metric, record in margins.items()}
    missing = [
        metric for metric in check_metrics(check) if values.get(metric) is None and not _tolerated(check, metric)
    ]
    return check | {MARGINS: values}, missing


def _tolerated(check: dict, metric: str) -> bool:
    return metric == check["metric"] and "tolerance" in check


def judge_at(
    check: dict,
    entries: list[Entry],
    references: dict[str, Entry],
    pairwise: list[dict],
    fraction: float,
    margins: dict[str, dict] | None = None,
) -> BudgetVerdict:
    """The check on the runs as they stood at `fraction` of their budget, against `margins` (metric ->
    margin record, nst_pipeline.noise; default: the fixed table's)."""
    margins = margins if margins is not None else {metric: fixed_margin(metric) for metric in check_metrics(check)}
    check, no_margin = _with_margins(check, margins)
    entries = [entry.at(fraction) for entry in entries]
    references = {key: entry.at(fraction) for key, entry in references.items()}
    everything = entries + list(references.values())
    pair_metric = check["metric"] in PAIR_METRICS
    problems = _trust_problems(everything, needs_metrics=not pair_metric)
    if pair_metric and not problems and not _pairs_complete(entries, pairwise):
        problems.append(f"pairwise distances missing at {budget_label(fraction)}")
    if no_margin:
        problems.append(f"no noise margin for {', '.join(no_margin)} (no fixed-table scale; its repeats not measured)")
    iterations = sorted({e.view.iteration for e in everything if e.view.iteration is not None})
    result = None
    if not no_margin and (pair_metric or _computable(check, everything)):
        result = _run_check(check, entries, references, pairwise)
    if result:
        numbers = result.numbers
    elif no_margin:
        numbers = {
            "metric": check["metric"],
            "margin": None,
            "values": {e.label: e.view.metric(check["metric"]) for e in everything},
        }
    else:
        numbers = metric_values(check, everything)
    base = {
        "fraction": fraction,
        "budget": budget_label(fraction),
        "iterations": iterations,
        "numbers": numbers,
        "margins": {metric: margins.get(metric) for metric in check_metrics(check)},
    }
    if problems:
        says = result.verdict if result else None
        return BudgetVerdict(**base, verdict="inconclusive", reason="; ".join(problems), check_says=says)
    if result is None:
        return BudgetVerdict(**base, verdict="inconclusive", reason="metrics missing")
    return BudgetVerdict(**base, verdict=result.verdict, reason=result.reason, judged=True)


def margin_source(margins: dict[str, dict | None]) -> str:
    """In words, where the margins of a budget came from: "margin measured here" (every metric's from
    the noise repeats at the finding's scale), "margin from the fixed table", or both, per metric."""
    sources = {metric: (record or {}).get("source") for metric, record in margins.items()}
    kinds = set(sources.values())
    if kinds == {"measured"}:
        return "margin measured here"
    if kinds == {FIXED_TABLE}:
        return "margin from the fixed table"
    words = {"measured": "margin measured here", FIXED_TABLE: "margin from the fixed table"}
    return "; ".join(f"{metric}: {words.get(source, 'no margin')}" for metric, source in sources.items())


def settledness(trajectory: list[BudgetVerdict]) -> tuple[bool | None, str]:
    """(settled?, the words): settled when the verdict at B/2 is the verdict at B, both judged."""
    final = trajectory[-1]
    sequence = " → ".join(b.verdict for b in trajectory)
    span = f"({trajectory[0].budget} → {final.budget})" if len(trajectory) > 1 else f"({final.budget})"
    half = next((b for b in trajectory if b.fraction == HALF), None)
    if not final.judged:
        return None, ""
    if half is None:
        return None, "no B/2 milestone (runs too short): settledness unknown"
    if not half.judged:
        return None, f"not judged at B/2 ({half.reason}): settledness unknown"
    if half.verdict == final.verdict:
        return True, f"settled: {final.verdict} at B/2 and B; {sequence} {span}"
    return False, f"unsettled: {sequence} {span}"


def evaluate(
    finding: dict,
    experiment: str,
    pair: str,
    views: list[RunView],
    others: Callable[[str], list[RunView] | None] = lambda name: None,
    pairwise: dict[float, list[dict]] | list[dict] | None = None,
    margins: Callable[[float], dict[str, dict]] | None = None,
) -> Verdict:
    """One finding's verdict for one pair, at every budget measured. `views`: the experiment's runs for
    the pair; `others(name)`: another experiment's runs for the pair (None: not run); `pairwise`: the
    measure_pairs rows per budget fraction (a plain list: the final budget's); `margins(fraction)`:
    metric -> margin record at that budget (nst_pipeline.noise; default: the fixed table's)."""
    check = finding["check"]
    verdict = Verdict(
        id=finding["id"],
        experiment=experiment,
        pair=pair,
        statement=finding["statement"].strip(),
        source=finding.get("source", ""),
        caveat=(finding.get("caveat") or "").strip(),
        check=check,
        cause=NOT_JUDGED,
    )
    try:
        entries = _entries(check, views, others)
        references = {key: _selected(check, key, views, others) for key in reference_keys(check)}
    except Unavailable as missing:
        verdict.reason = str(missing)
        return verdict
    if len(entries) < RUNS_NEEDED[check["kind"]]:
        verdict.reason = (
            f"kind {check['kind']} needs {RUNS_NEEDED[check['kind']]} runs; this experiment has {len(entries)} here"
        )
        return verdict
    everything = entries + list(references.values())
    verdict.runs = [e.view.run for e in everything]
    verdict.labels = [e.label for e in everything]
    by_fraction = pairwise if isinstance(pairwise, dict) else {FINAL: pairwise or []}
    fractions = sorted(set().union(*(e.view.fractions for e in everything)) | {FINAL})
    verdict.trajectory = [
        judge_at(
            check, entries, references, by_fraction.get(fraction, []), fraction, margins(fraction) if margins else None
        )
        for fraction in fractions
    ]
    final = verdict.trajectory[-1]
    verdict.verdict, verdict.reason, verdict.numbers = final.verdict, final.reason, final.numbers
    verdict.margins, verdict.margin_source = final.margins, margin_source(final.margins)
    verdict.check_says = final.check_says
    verdict.cause = None if final.verdict != "inconclusive" else (WITHIN_NOISE if final.judged else NOT_JUDGED)
    verdict.settled, verdict.settled_text = settledness(verdict.trajectory)
    return verdict
