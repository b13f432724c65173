"""Findings of the seed study as data, and a verdict on each from the yardstick (issue #8).

Each experiment in the config may list `findings`: an id, the statement, where it comes from, and a
`check` of one of six kinds (CHECK_KINDS), read against the yardstick's numbers (nst_pipeline.metrics,
one JSON per run from the measure rule; pairwise distances from the measure_pairs rule):

  best          which value of the varied parameter is best by a metric, optionally among the runs
                that pass a gate (e.g. lowest style distance among runs whose content SSIM >= x)
  monotonic     the metric rises (or falls) as the varied value grows
  biggest_step  between which two neighbouring values the metric changes most
  alike         the outputs are within noise of each other (expect: alike) or all apart (distinct)
  close         two runs (they may come from different experiments) are within a tolerance
  bound         the metric stays below `max` (or above `min`) at the listed values

Noise: a difference counts only when it is larger than the margin NOISE_MULTIPLE x NOISE_SCALE[metric]
(the chance spread measured by bench/validate_yardstick.py). Claims of an effect (best, monotonic,
biggest_step, distinct) whose effect is within the margin are inconclusive; claims of no effect
(alike, close) agree within the margin and differ beyond it.

A verdict is inconclusive, whatever the numbers say, when a run it needs is missing or failed, has no
metrics, used random weights, or had not converged (converged()); the numbers are still reported.
Pure functions: dicts in, dicts out (nst_pipeline.scorecard reads the files and calls these).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from nst_pipeline.outcome import value_text

CHECK_KINDS = ("best", "monotonic", "biggest_step", "alike", "close", "bound")
# runs a check needs to say anything (fewer: inconclusive, e.g. a config that runs one init only)
RUNS_NEEDED = {"best": 2, "monotonic": 2, "biggest_step": 3, "alike": 2, "close": 2, "bound": 1}
VERDICTS = ("agrees", "differs", "inconclusive")
# Per-run metrics a check may read: those with a measured noise scale (metrics.NOISE_SCALE).
RUN_METRICS = (
    "content_ssim",
    "content_distance",
    "style_distance",
    "style_distance_effnet",
    "palette_distance",
    "init_change",
)
# Pairwise metrics (measure_pairs rule) and the chance level each is compared with: the perceptual
# distance between two content-init runs that differ only in float summation order.
PAIR_METRICS = {"perceptual": "pairwise_perceptual_content_init"}
# A difference between two runs is real when it exceeds 3 noise scales. Why 3: NOISE_SCALE is the
# standard deviation s of one run's metric over chance repeats; the difference of two runs has sd
# sqrt(2) s, and two of those (a two-sided ~95% band) is 2.83 s, rounded up because s itself comes
# from three samples. For a pairwise distance the chance level is a distance, so the same factor
# makes "apart" three times as far as two chance twins are.
NOISE_MULTIPLE = 3.0
# Convergence: a run counts as converged when its total loss fell by less than CONVERGED_FALL over
# the last CONVERGENCE_TAIL of its final stage's iterations, or L-BFGS stopped early (no progress).
# Calibrated with bench/calibrate_convergence.py (README, "Convergence, measured"): at 128 px the
# default run still moves 3 noise margins between 800 and 1600 iterations while its tail falls 4.8%
# and 3.7%, so the threshold sits below every fall measured.
CONVERGENCE_TAIL = 0.10
CONVERGED_FALL = 0.02


class FindingError(ValueError):
    """A finding in the config is unusable; the message starts with the key that is wrong."""


# ---------------------------------------------------------------- what a check reads of a run


@dataclass(frozen=True)
class Convergence:
    converged: bool
    fall: float | None  # relative fall of the total loss over the tail (0.03 = 3%)
    tail: int  # iterations in the tail
    stopped_early: bool


def convergence(record: dict) -> Convergence:
    """Did the run's total loss still fall by CONVERGED_FALL or more over the last CONVERGENCE_TAIL of
    the iterations of its final stage? (Earlier stages run at other sizes, so other loss scales.)"""
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


@dataclass(frozen=True)
class RunView:
    """One run as the checks see it."""

    run: str
    parameters: dict
    status: str  # ok | failed | missing (nst_pipeline.outcome)
    random: bool = False
    metrics: dict | None = None  # measure()'s row; None: not measured
    convergence: Convergence | None = None

    def metric(self, name: str) -> float | None:
        value = (self.metrics or {}).get(name)
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


@dataclass(frozen=True)
class Entry:
    """A run in a check: the value of the parameter the check reads it at, and the run."""

    value: object
    view: RunView

    @property
    def label(self) -> str:
        return value_text(self.value)


@dataclass
class Result:
    """A check's answer from the numbers alone."""

    verdict: str
    reason: str
    numbers: dict = field(default_factory=dict)


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
    verdict: str
    reason: str
    numbers: dict
    check_says: str | None = None  # the numbers' verdict where a trust problem overrides it
    runs: list[str] = field(default_factory=list)


def noise_scale(metric: str) -> float:
    """metrics.NOISE_SCALE of a check's metric (imported here: the planner imports this module at
    Snakemake's parse time and need not load torch's image stack for it)."""
    from nst_pipeline.metrics import NOISE_SCALE

    return NOISE_SCALE[PAIR_METRICS.get(metric, metric)]


def margin(metric: str) -> float:
    """How far apart two runs' values must be to count as different (NOISE_MULTIPLE noise scales)."""
    return NOISE_MULTIPLE * noise_scale(metric)


# ---------------------------------------------------------------- the check kinds


def _metric_values(check: dict, entries: list[Entry]) -> dict:
    metric = check["metric"]
    return {"metric": metric, "margin": margin(metric), "values": {e.label: e.view.metric(metric) for e in entries}}


def _gate(check: dict, entries: list[Entry]) -> tuple[list[Entry], list[str], dict]:
    """The entries passing check.gate (all of them without a gate), the labels of those failing it by
    no more than the gate metric's margin (near misses: chance could have let them through), and the
    gate's numbers."""
    gate = check.get("gate")
    if not gate:
        return entries, [], {}
    low, high, slack = gate.get("min", -math.inf), gate.get("max", math.inf), margin(gate["metric"])
    values = {e.label: e.view.metric(gate["metric"]) for e in entries}
    passing = [e for e in entries if values[e.label] is not None and low <= values[e.label] <= high]
    near = [
        label
        for label, v in values.items()
        if v is not None and not low <= v <= high and (low - slack <= v <= high + slack)
    ]
    return passing, near, {"gate": gate | {"margin": slack, "values": values}}


def check_best(check: dict, entries: list[Entry]) -> Result:
    """The expected value is best among the runs passing the gate, by more than the margin; a run
    that misses the gate within noise and would beat the expected one makes it inconclusive."""
    numbers = _metric_values(check, entries)
    values, slack = numbers["values"], numbers["margin"]
    sign = 1.0 if check["goal"] == "lowest" else -1.0
    passing, near, gate_numbers = _gate(check, entries)
    numbers |= gate_numbers
    expected = value_text(check["expect"])
    if expected not in {e.label for e in passing}:
        verdict = "inconclusive" if expected in near else "differs"
        return Result(
            verdict, f"{expected} does not pass the gate" + (" (within noise)" if expected in near else ""), numbers
        )
    mine = sign * values[expected]
    threats = [label for label in near if sign * values[label] < mine + slack]
    scored = sorted((sign * values[e.label], e.label) for e in passing if e.label != expected)
    best = min([(mine, expected), *scored])[1]
    numbers["best"] = best
    if not scored:
        if threats:
            return Result(
                "inconclusive", f"only {expected} passes the gate; {', '.join(threats)} miss it within noise", numbers
            )
        return Result("agrees", f"only {expected} passes the gate", numbers)
    gap, runner_up = scored[0][0] - mine, scored[0][1]  # gap > 0: expected is ahead
    numbers |= {"gap": gap, "runner_up": runner_up}
    if gap > slack and not threats:
        return Result("agrees", f"{expected} is best, {gap:.3g} ahead of {runner_up}", numbers)
    if -gap > slack:
        return Result("differs", f"{best} is best, {-gap:.3g} ahead of {expected}", numbers)
    if gap > slack:
        near_text = f"{', '.join(threats)} miss the gate within noise and would be as good"
        return Result("inconclusive", f"{expected} is best of those passing, but {near_text}", numbers)
    rival = runner_up if best == expected else best
    return Result("inconclusive", f"{expected} and {rival} within noise ({abs(gap):.3g} apart)", numbers)


def _ordered(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: float(e.value))


def _steps(check: dict, entries: list[Entry]) -> tuple[dict, list[tuple[str, float]]]:
    """Numbers with the values in the varied parameter's order, and each neighbouring step."""
    ordered = _ordered(entries)
    numbers = _metric_values(check, ordered)
    values = [numbers["values"][e.label] for e in ordered]
    steps = [(f"{a.label} → {b.label}", y - x) for a, b, x, y in zip(ordered, ordered[1:], values, values[1:])]
    return numbers | {"steps": dict(steps)}, steps


def check_monotonic(check: dict, entries: list[Entry]) -> Result:
    """No step against the expected direction by more than the margin, and the whole change along it
    larger than the margin."""
    numbers, steps = _steps(check, entries)
    sign = 1.0 if check["direction"] == "increasing" else -1.0
    against = [(name, step) for name, step in steps if -sign * step > numbers["margin"]]
    total = sign * sum(step for _, step in steps)
    numbers["total_change"] = sign * total
    if against:
        name, step = against[0]
        return Result("differs", f"goes the other way at {name} ({step:+.3g})", numbers)
    if total <= numbers["margin"]:
        return Result("inconclusive", f"whole change {sign * total:+.3g} is within noise", numbers)
    return Result("agrees", f"{check['direction']} overall ({sign * total:+.3g}), no step against it", numbers)


def check_biggest_step(check: dict, entries: list[Entry]) -> Result:
    """The largest neighbouring step is between the two expected values, by the margin. Step size:
    |change|; with check.direction only rises (increasing) or only falls (decreasing) count."""
    numbers, steps = _steps(check, entries)
    expected = " → ".join(value_text(v) for v in sorted(check["expect"], key=float))
    sign = {"increasing": 1.0, "decreasing": -1.0}.get(check.get("direction"))
    sizes = sorted(((abs(step) if sign is None else max(sign * step, 0.0), name) for name, step in steps), reverse=True)
    (largest, where), rest = sizes[0], sizes[1:]
    numbers["biggest"] = where
    if largest <= numbers["margin"]:
        return Result("inconclusive", f"no step is larger than noise (largest {largest:.3g} at {where})", numbers)
    expected_size = next(size for size, name in sizes if name == expected)
    if where == expected:
        runner_up = rest[0][0] if rest else 0.0
        if largest - runner_up > numbers["margin"]:
            return Result("agrees", f"biggest step at {where} ({largest:.3g})", numbers)
        return Result("inconclusive", f"biggest at {where}, but within noise of the next ({runner_up:.3g})", numbers)
    if largest - expected_size > numbers["margin"]:
        return Result(
            "differs", f"biggest step at {where} ({largest:.3g}), not {expected} ({expected_size:.3g})", numbers
        )
    return Result("inconclusive", f"{where} ({largest:.3g}) and {expected} ({expected_size:.3g}) within noise", numbers)


def _pair_values(check: dict, entries: list[Entry], pairwise: list[dict]) -> dict[str, float | None]:
    """label pair -> the pairwise metric (None where the pairwise job has no row for them)."""
    by_runs = {frozenset((row["a"], row["b"])): row.get(check["metric"]) for row in pairwise}
    values = {}
    for i, a in enumerate(entries):
        for b in entries[i + 1 :]:
            values[f"{a.label} vs {b.label}"] = by_runs.get(frozenset((a.view.run, b.view.run)))
    return values


def check_alike(check: dict, entries: list[Entry], pairwise: list[dict]) -> Result:
    """Pairwise metric: every pair within the margin (or check.tolerance): alike; every pair beyond it:
    distinct. A per-run metric: the same on the differences of its values - but equal values of one
    metric do not make two images the same, so a distinct claim that fails on one is inconclusive."""
    metric, slack = check["metric"], check.get("tolerance", margin(check["metric"]))
    if metric in PAIR_METRICS:
        values = _pair_values(check, entries, pairwise)
    else:
        per_run = {e.label: e.view.metric(metric) for e in entries}
        values = {f"{a} vs {b}": abs(per_run[a] - per_run[b]) for a, b in _label_pairs(per_run)}
    numbers = {"metric": metric, "margin": slack, "values": values}
    if any(v is None for v in values.values()):
        return Result("inconclusive", "pairwise distances missing", numbers)
    within = [name for name, v in values.items() if v <= slack]
    apart = [name for name, v in values.items() if v > slack]
    largest, smallest = max(values.values()), min(values.values())
    if check["expect"] == "alike":
        if apart:
            return Result("differs", f"{len(apart)} of {len(values)} pairs apart (largest {largest:.3g})", numbers)
        return Result("agrees", f"all {len(values)} pairs within noise (largest {largest:.3g})", numbers)
    if not within:
        return Result("agrees", f"all {len(values)} pairs apart (smallest {smallest:.3g})", numbers)
    verdict = "differs" if metric in PAIR_METRICS else "inconclusive"
    return Result(verdict, f"{len(within)} of {len(values)} pairs within noise (smallest {smallest:.3g})", numbers)


def _label_pairs(values: dict) -> list[tuple[str, str]]:
    labels = list(values)
    return [(a, b) for i, a in enumerate(labels) for b in labels[i + 1 :]]


def check_close(check: dict, entries: list[Entry]) -> Result:
    """Runs a and b (entries[0], entries[1]) within the tolerance (default: the margin)."""
    metric = check["metric"]
    tolerance = check.get("tolerance", margin(metric))
    a, b = (entry.view.metric(metric) for entry in entries)
    values = {entry.label: entry.view.metric(metric) for entry in entries}
    numbers = {"metric": metric, "margin": tolerance, "values": values, "difference": abs(a - b)}
    if abs(a - b) <= tolerance:
        return Result("agrees", f"a {a:.3g}, b {b:.3g}: within {tolerance:.3g}", numbers)
    return Result("differs", f"a {a:.3g}, b {b:.3g}: {abs(a - b):.3g} apart, more than {tolerance:.3g}", numbers)


def check_bound(check: dict, entries: list[Entry]) -> Result:
    """Every value on the right side of the bound by more than the margin (agrees); any on the wrong
    side by more than it (differs); else within noise of the bound (inconclusive)."""
    numbers = _metric_values(check, entries)
    slack = numbers["margin"]
    low, high = check.get("min", -math.inf), check.get("max", math.inf)
    outside = {label: v for label, v in numbers["values"].items() if v < low - slack or v > high + slack}
    inside = {label: v for label, v in numbers["values"].items() if low + slack < v < high - slack}
    bound = " and ".join(f"{word} {b:g}" for word, b in (("≥", low), ("≤", high)) if math.isfinite(b))
    if outside:
        label, value = next(iter(outside.items()))
        return Result("differs", f"{label} {value:.3g} is not {bound} (beyond noise)", numbers)
    if len(inside) == len(numbers["values"]):
        return Result("agrees", f"all {bound} by more than noise ({slack:.3g})", numbers)
    return Result("inconclusive", f"some values within noise ({slack:.3g}) of the bound {bound}", numbers)


CHECKS: dict[str, Callable[..., Result]] = {
    "best": check_best,
    "monotonic": check_monotonic,
    "biggest_step": check_biggest_step,
    "alike": check_alike,
    "close": check_close,
    "bound": check_bound,
}


# ---------------------------------------------------------------- which runs a check reads


def matches(parameters: dict, where: dict | None) -> bool:
    return all(parameters.get(key) == value for key, value in (where or {}).items())


def _label_in(value, values) -> bool:
    return value_text(value) in {value_text(v) for v in values}


def select(check: dict, views: list[RunView]) -> list[Entry]:
    """The runs of one experiment and pair a check reads (its `where`, and `at` if given), each at its
    value of `over`, in grid order, each value once."""
    entries: dict[str, Entry] = {}
    for view in views:
        if matches(view.parameters, check.get("where")):
            entry = Entry(view.parameters.get(check["over"]), view)
            if "at" not in check or _label_in(entry.value, check["at"]):
                entries.setdefault(entry.label, entry)
    return list(entries.values())


def _selector_run(selector: dict, views: list[RunView]) -> RunView | None:
    found = [view for view in views if matches(view.parameters, selector.get("where"))]
    return found[0] if len({view.run for view in found}) == 1 else None


# ---------------------------------------------------------------- verdicts


class Unavailable(Exception):
    """A run the check needs is not in this invocation's plan (its experiment is not run)."""


def _problem(view: RunView, needs_metrics: bool) -> tuple[str, str] | None:
    """(kind of problem, detail) that keeps a run from deciding a verdict, or None."""
    if view.status != "ok":
        return view.status, ""
    if view.metrics is None and needs_metrics:
        return "not measured", ""
    if view.random:
        return "used RANDOM weights", ""
    if view.convergence is not None and not view.convergence.converged:
        fall = view.convergence.fall
        return "had not converged", "" if fall is None else f" {fall:.1%}"
    return None


def _trust_problems(entries: list[Entry], needs_metrics: bool = True) -> list[str]:
    """Why numbers from these runs cannot decide a verdict (empty: they can), one line per kind of
    problem naming the runs, e.g. "had not converged: content 12.2%, style 7.4% (...)"."""
    found: dict[str, list[str]] = {}
    for entry in entries:
        problem = _problem(entry.view, needs_metrics)
        if problem:
            found.setdefault(problem[0], []).append(entry.label + problem[1])
    lines = []
    for kind, labels in found.items():
        why = (
            f" (total loss fall over the last {CONVERGENCE_TAIL:.0%} of the iterations)"
            if kind == "had not converged"
            else ""
        )
        lines.append(f"{kind}: {', '.join(labels)}{why}")
    return lines


def _computable(check: dict, entries: list[Entry]) -> bool:
    if check["metric"] in PAIR_METRICS:
        return all(e.view.status == "ok" for e in entries)
    metrics = [check["metric"]] + ([check["gate"]["metric"]] if check.get("gate") else [])
    return all(e.view.metric(m) is not None for e in entries for m in metrics)


def _selected(check: dict, key: str, views: list[RunView], others: Callable[[str], list[RunView] | None]) -> Entry:
    """The one run check[key] selects ({experiment?, where}): a close's a/b, a bound's reference."""
    selector = check[key]
    pool = views if "experiment" not in selector else others(selector["experiment"])
    if pool is None:
        raise Unavailable(f"check.{key}: experiment {selector['experiment']} is not run (run_experiments)")
    view = _selector_run(selector, pool)
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


def _run_check(check: dict, entries: list[Entry], references: dict[str, Entry], pairwise: list[dict]) -> Result:
    if check["kind"] == "alike":
        return check_alike(check, entries, pairwise)
    resolved = check | {key: ref.view.metric(check["metric"]) for key, ref in references.items()}
    result = CHECKS[check["kind"]](resolved, entries)
    if references:
        result.numbers["references"] = {
            key: {"run": ref.view.run, "value": resolved[key]} for key, ref in references.items()
        }
    return result


def evaluate(
    finding: dict,
    experiment: str,
    pair: str,
    views: list[RunView],
    others: Callable[[str], list[RunView] | None] = lambda name: None,
    pairwise: list[dict] | None = None,
) -> Verdict:
    """One finding's verdict for one pair. `views`: the experiment's runs for the pair; `others(name)`:
    another experiment's runs for the pair (None: not run); `pairwise`: the measure_pairs rows."""
    check = finding["check"]
    verdict = Verdict(
        finding["id"],
        experiment,
        pair,
        finding["statement"].strip(),
        finding.get("source", ""),
        (finding.get("caveat") or "").strip(),
        check,
        "inconclusive",
        "",
        {},
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
    problems = _trust_problems(everything, needs_metrics=check["metric"] not in PAIR_METRICS)
    result = None
    if _computable(check, everything):
        result = _run_check(check, entries, references, pairwise or [])
        verdict.numbers = result.numbers
    elif check["metric"] not in PAIR_METRICS:  # what there is, None where a run has no value
        verdict.numbers = _metric_values(check, everything)
    if problems:
        verdict.reason = "; ".join(problems)
        verdict.check_says = result.verdict if result else None
    elif result is None:
        verdict.reason = "metrics missing"
    else:
        verdict.verdict, verdict.reason = result.verdict, result.reason
    return verdict


# ---------------------------------------------------------------- checking the config (planner)


def _values_text_list(values: list) -> str:
    return ", ".join(value_text(v) for v in values)


def _check_metric(check: dict) -> None:
    if check["metric"] in PAIR_METRICS and check["kind"] != "alike":
        raise FindingError(f"check.metric: {check['metric']!r} is a pairwise distance; only kind 'alike' reads it")
    if check.get("gate") and check["kind"] != "best":
        raise FindingError("check.gate: only kind 'best' takes a gate")
    if "tolerance" in check and check["kind"] not in ("alike", "close"):
        raise FindingError("check.tolerance: only kinds 'alike' and 'close' take a tolerance")
    if "direction" in check and check["kind"] not in ("monotonic", "biggest_step"):
        raise FindingError("check.direction: only kinds 'monotonic' and 'biggest_step' take a direction")
    if "at" in check and check["kind"] == "close":
        raise FindingError("check.at: kind 'close' compares the two runs it selects (a, b); no 'at'")


def _over(check: dict, varied: list[str]) -> str:
    over = check.get("over")
    if over is None:
        if len(varied) != 1:
            raise FindingError(f"check.over: this experiment varies {', '.join(varied)}; say which the check reads")
        return varied[0]
    if over not in varied:
        raise FindingError(f"check.over: {over!r} is not varied by this experiment (it varies {', '.join(varied)})")
    return over


def _values_per_pair(check: dict, runs: dict[str, list[dict]]) -> dict[str, list]:
    """pair -> the values of `over` among the runs `where` selects, each once; refuses a value that
    two different runs share (the check could not tell which one it means)."""
    found = {}
    for pair, params_list in runs.items():
        selected = {}
        for params in params_list:
            if not matches(params, check.get("where")):
                continue
            label = value_text(params.get(check["over"]))
            if label in selected and selected[label] != params:
                differ = sorted(k for k in params if params[k] != selected[label].get(k))
                raise FindingError(
                    f"check.over: {check['over']} = {label} is in two runs of pair {pair} (they differ in "
                    f"{', '.join(differ)}); narrow them with check.where"
                )
            selected[label] = params
        found[pair] = [params[check["over"]] for params in selected.values()]
    return found


def _check_values(check: dict, values: list, pair: str) -> None:
    """The values a check names must be values the experiment runs (after `where`)."""
    kind = check["kind"]
    if not values:  # too few (but some) is the verdict's business: an experiment cut down to one value
        raise FindingError(f"check.where: selects no run for pair {pair}")
    named = {"best": [check.get("expect")], "biggest_step": check.get("expect") or []}.get(kind, [])
    for key, listed in (("expect", named), ("at", check.get("at") or [])):
        for value in listed:
            if not _label_in(value, values):
                raise FindingError(
                    f"check.{key}: {check['over']} = {value_text(value)} is not a value this experiment runs "
                    f"(pair {pair}, after check.where: {_values_text_list(values) or 'none'})"
                )
    if kind in ("monotonic", "biggest_step"):
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise FindingError(f"check.over: kind {kind} needs numeric values; {check['over']} has {values}")
    if kind == "biggest_step":
        order = [value_text(v) for v in sorted(values)]
        a, b = sorted(value_text(v) for v in check["expect"])
        positions = sorted(order.index(value_text(v)) for v in check["expect"])
        if positions[1] - positions[0] != 1:
            raise FindingError(f"check.expect: {a} and {b} are not neighbouring values of {check['over']} ({order})")


def _check_selectors(check: dict, keys: list[str], runs: dict, planned: dict, configured: set) -> None:
    """Each selector (close's a and b, a bound's run reference) must name a known experiment and, where
    that experiment is run, select exactly one run for every pair of this one."""
    for name in keys:
        selector = check[name]
        other = selector.get("experiment")
        if other is not None and other not in configured:
            raise FindingError(f"check.{name}.experiment: no experiment named {other!r}")
        pool = runs if other is None else planned.get(other)
        if pool is None:
            continue  # configured but not run: the verdict says so
        for pair in runs:
            found = {repr(sorted(p.items())) for p in pool.get(pair, []) if matches(p, selector.get("where"))}
            if len(found) != 1:
                raise FindingError(f"check.{name}.where: selects {len(found)} runs for pair {pair}; it must select one")


def validate_finding(finding: dict, varied: list[str], planned: dict, experiment: str, configured: set) -> dict:
    """A finding as the report evaluates it (check.over filled in); FindingError (message starting with
    the bad key) where the check cannot be evaluated on this experiment's runs. `planned`: experiment ->
    pair -> the parameters of its runs, for every experiment this invocation runs."""
    check = dict(finding["check"])
    _check_metric(check)
    runs = planned[experiment]
    if check["kind"] == "close":
        _check_selectors(check, ["a", "b"], runs, planned, configured)
        return finding | {"check": check}
    _check_selectors(check, reference_keys(check), runs, planned, configured)
    check["over"] = _over(check, varied)
    for pair, values in _values_per_pair(check, runs).items():
        _check_values(check, values, pair)
    return finding | {"check": check}
