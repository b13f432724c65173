"""The six check kinds: a finding's statement read against the yardstick's numbers at one budget.

  best          which value of the varied parameter is best by a metric, optionally among the runs
                that pass a gate (e.g. lowest style distance among runs whose content SSIM >= x)
  monotonic     the metric rises (or falls) as the varied value grows
  biggest_step  between which two neighbouring values the metric changes most
  alike         the outputs are within noise of each other (expect: alike) or all apart (distinct)
  close         two runs (they may come from different experiments) are within a tolerance
  bound         the metric stays below `max` (or above `min`) at the listed values

Noise: a difference counts only when it is larger than the margin: measured at the finding's own scale
from the pipeline's noise repeats where it has them (nst_pipeline.noise; handed in as check[MARGINS]),
else NOISE_MULTIPLE x the metric's fixed-table noise scale (nst_pipeline.metric_table). Claims of an
effect (best, monotonic, biggest_step, distinct) whose effect is within the margin are inconclusive;
claims of no effect (alike, close) agree within the margin and differ beyond it. Each result names its
deciding quantity (numbers["deciding"]): the one number that, against its threshold, made the verdict
- the report plots it against the budget.
Pure functions: entries in, a Result out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from nst_pipeline import metric_table
from nst_pipeline.findings.runs import Entry
from nst_pipeline.metric_table import PAIR_METRICS
from nst_pipeline.outcome import value_text

CHECK_KINDS = ("best", "monotonic", "biggest_step", "alike", "close", "bound")
# runs a check needs to say anything (fewer: inconclusive, e.g. a config that runs one init only)
RUNS_NEEDED = {"best": 2, "monotonic": 2, "biggest_step": 3, "alike": 2, "close": 2, "bound": 1}
VERDICTS = ("agrees", "differs", "inconclusive")
# A difference between two runs is real when it exceeds 3 noise scales. Why 3: the noise scale is the
# standard deviation s of one run's metric over chance repeats; the difference of two runs has sd
# sqrt(2) s, and two of those (a two-sided ~95% band) is 2.83 s, rounded up because s itself comes
# from three samples. For a pairwise distance the chance level is a distance, so the same factor
# makes "apart" three times as far as two chance twins are.
NOISE_MULTIPLE = 3.0


# The key under which nst_pipeline.findings.verdict hands a check its margins measured at the
# finding's own scale (nst_pipeline.noise: metric -> margin), overriding the fixed table's; never a
# config key (the schema has no such key), never shown as the finding's check.
MARGINS = "_margins"
FIXED_TABLE = "fixed table"


def noise_scale(metric: str) -> float:
    return metric_table.NOISE_SCALE[metric]


def margin(metric: str, measured: dict[str, float] | None = None) -> float:
    """How far apart two runs' values must be to count as different: the margin measured at the
    finding's scale where given (`measured`: metric -> margin, nst_pipeline.noise), else the fixed
    table's NOISE_MULTIPLE noise scales."""
    if measured and measured.get(metric) is not None:
        return measured[metric]
    return NOISE_MULTIPLE * noise_scale(metric)


def fixed_margin(metric: str) -> dict:
    """The fixed table's margin of `metric` as a margin record (as nst_pipeline.noise writes measured
    ones); value None for a metric the table has no noise scale for."""
    scale = metric_table.NOISE_SCALE.get(metric)
    return {
        "metric": metric,
        "value": None if scale is None else float(f"{NOISE_MULTIPLE * scale:.6g}"),
        "source": FIXED_TABLE,
        "fixed": None if scale is None else float(f"{NOISE_MULTIPLE * scale:.6g}"),
        "text": "margin from the fixed table"
        if scale is not None
        else "no margin: no fixed-table noise scale and no repeats measured",
    }


def _margin(check: dict, metric: str) -> float:
    return margin(metric, check.get(MARGINS))


@dataclass
class Result:
    """A check's answer from the numbers alone."""

    verdict: str
    reason: str
    numbers: dict = field(default_factory=dict)


def _deciding(numbers: dict, name: str, value: float | None, threshold: float) -> None:
    numbers["deciding"] = {"name": name, "value": value, "threshold": threshold}


def metric_values(check: dict, entries: list[Entry]) -> dict:
    """The check's metric at each entry (None where a run has no value), with its noise margin."""
    metric = check["metric"]
    return {
        "metric": metric,
        "margin": _margin(check, metric),
        "values": {e.label: e.view.metric(metric) for e in entries},
    }


def _gate(check: dict, entries: list[Entry]) -> tuple[list[Entry], list[str], dict]:
    """The entries passing check.gate (all of them without a gate), the labels of those failing it by
    no more than the gate metric's margin (near misses: chance could have let them through), and the
    gate's numbers."""
    gate = check.get("gate")
    if not gate:
        return entries, [], {}
    low, high, slack = gate.get("min", -math.inf), gate.get("max", math.inf), _margin(check, gate["metric"])
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
    numbers = metric_values(check, entries)
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
    _deciding(numbers, f"lead of {expected} over the best rival", gap, slack)
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
    numbers = metric_values(check, ordered)
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
    worst = max((-sign * step for _, step in steps), default=0.0)
    if worst > numbers["margin"]:
        _deciding(numbers, f"largest step against the {check['direction']} direction", worst, numbers["margin"])
    else:
        _deciding(numbers, f"whole change in the {check['direction']} direction", total, numbers["margin"])
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
    others = max((size for size, name in sizes if name != expected), default=0.0)
    _deciding(numbers, f"step {expected} minus the largest other step", expected_size - others, numbers["margin"])
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
    metric, slack = check["metric"], check.get("tolerance", _margin(check, check["metric"]))
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
        _deciding(numbers, "largest distance between two runs", largest, slack)
    else:
        _deciding(numbers, "smallest distance between two runs", smallest, slack)
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
    tolerance = check.get("tolerance", _margin(check, metric))
    a, b = (entry.view.metric(metric) for entry in entries)
    values = {entry.label: entry.view.metric(metric) for entry in entries}
    numbers = {"metric": metric, "margin": tolerance, "values": values, "difference": abs(a - b)}
    _deciding(numbers, "difference a - b", abs(a - b), tolerance)
    if abs(a - b) <= tolerance:
        return Result("agrees", f"a {a:.3g}, b {b:.3g}: within {tolerance:.3g}", numbers)
    return Result("differs", f"a {a:.3g}, b {b:.3g}: {abs(a - b):.3g} apart, more than {tolerance:.3g}", numbers)


def check_bound(check: dict, entries: list[Entry]) -> Result:
    """Every value on the right side of the bound by more than the margin (agrees); any on the wrong
    side by more than it (differs); else within noise of the bound (inconclusive)."""
    numbers = metric_values(check, entries)
    slack = numbers["margin"]
    low, high = check.get("min", -math.inf), check.get("max", math.inf)
    outside = {label: v for label, v in numbers["values"].items() if v < low - slack or v > high + slack}
    inside = {label: v for label, v in numbers["values"].items() if low + slack < v < high - slack}
    bound = " and ".join(f"{word} {b:g}" for word, b in (("≥", low), ("≤", high)) if math.isfinite(b))
    # how far inside the bound the worst value lies (negative: outside)
    room = min(min(v - low, high - v) for v in numbers["values"].values())
    _deciding(numbers, f"room inside the bound ({bound}) of the worst value", room, slack)
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
