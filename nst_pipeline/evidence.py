"""The runs beside a verdict: the scorecard shows the runs each finding read, at the final budget B, as
small thumbnails, so that a reader checks the verdict against the images at a glance instead of
opening the grid.

Each run (Verdict.runs, with Verdict.labels: its label in the verdict's numbers) is captioned with that
label and its number, the check's metric at B. The marks are read off the verdict's numbers at B
(nst_pipeline.findings.checks); no metric is named here: a gate's is the one in the check's `gate`.

The run's own test (a ✓ / ≈ / ✗ badge and a green / amber / red border; its title gives the value
against the threshold), for the kinds that test runs one by one:
  best          the gate: passes ✓ green; misses it by no more than the gate metric's noise margin
                ✗ amber (chance could have let it through: check_best counts it as a threat); misses
                it by more ✗ red
  bound         the bound (a number, or a reference run's metric): inside it by more than the margin
                ✓ green; within the margin of it ≈ amber; outside it by more ✗ red (check_bound's
                agrees / inconclusive / differs, run by run)
  other kinds   no mark: monotonic, biggest_step, alike and close judge runs only against each other.

The deciding runs (a blue outline and a tag naming their part; its title says why), those the
verdict's deciding quantity (numbers["deciding"]) is computed from:
  best          the expected value ("expected"), the best run among those passing the gate ("best")
                and, where the expected one is the best, the runner-up ("runner-up"): the lead of the
                expected value over the best rival decides. An expected value failing the gate is the
                only one marked (that failure decides).
  close         runs a and b ("a", "b"): their difference against the tolerance decides.
  bound         the run(s) with the least room inside the bound ("nearest the bound": that room
                decides) and any run whose metric is the bound ("the bound").
  monotonic     the two ends of the largest step against the direction where it is beyond noise (it
                makes the verdict differs: "step against"); else the first and the last value
                ("first", "last": the whole change decides).
  biggest_step  the ends of the biggest step ("biggest step") and of the expected one ("expected step").
  alike         the two runs of the deciding pair: the farthest apart for expect alike ("farthest
                pair"), the nearest for expect distinct ("nearest pair").

A finding that reads more than MAX_SHOWN runs shows its deciding runs and others evenly spaced in the
check's order, and says so: the page stays light at 1,000 runs (the grids and tables have every run).
A thumbnail is made once per run (thumbnails(), in the report job) and shared by every finding that
shows it.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from nst_pipeline.findings.verdict import reference_keys
from nst_pipeline.formatting import format_g, format_g_apart, value_text
from nst_pipeline.grid import sample_runs
from nst_pipeline.metric_table import PAIR_METRICS

THUMBNAIL_HEIGHT = 64  # px, as shown: ~2-3 kB as a JPEG
THUMBNAIL_MAX_WIDTH = 3 * THUMBNAIL_HEIGHT  # a panorama does not take a whole line
JPEG_QUALITY = 80
MAX_SHOWN = 12  # runs shown beside one finding


@dataclass(frozen=True)
class Test:
    """A run against the check's own threshold for it (the gate, the bound)."""

    state: str  # pass | near | fail | none (no value)
    symbol: str
    text: str


@dataclass
class Shown:
    """One run beside a verdict."""

    run: str
    label: str  # as the verdict's numbers name it, e.g. "1000", "a (gaussian, 10)"
    value: float | None  # the check's metric at B (None: no value)
    numbered: bool = True  # False: the check's metric is pairwise, a run has no number of its own
    test: Test | None = None
    tags: list[str] = field(default_factory=list)  # its part in the deciding quantity
    why: list[str] = field(default_factory=list)  # one line per tag


def thumbnail_jpeg(path: Path) -> bytes | None:
    """A JPEG THUMBNAIL_HEIGHT px high (at most THUMBNAIL_MAX_WIDTH wide) of an image file; None where
    the file is not a readable image."""
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except (OSError, ValueError):
        return None
    scale = min(THUMBNAIL_HEIGHT / rgb.height, THUMBNAIL_MAX_WIDTH / rgb.width)
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    buffer = io.BytesIO()
    rgb.resize(size, Image.Resampling.LANCZOS).save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


def thumbnails(verdicts: list, outcomes: dict) -> dict[str, bytes | None]:
    """run -> its thumbnail, made once, for every run some verdict shows (None: no image - a failed or
    missing run). `outcomes`: run -> its nst_pipeline.outcome.RunOutcome."""
    made: dict[str, bytes | None] = {}
    for verdict in verdicts:
        for item in runs_beside(verdict)[0]:
            if item.run not in made:
                outcome = outcomes.get(item.run)
                ok = outcome is not None and outcome.status == "ok" and outcome.image is not None
                made[item.run] = thumbnail_jpeg(outcome.image) if ok else None
    return made


def runs_beside(verdict, measured: dict | None = None) -> tuple[list[Shown], str | None]:
    """The runs a verdict read, marked, in the check's order (at most MAX_SHOWN), and a note where
    some are left out. `measured`: run -> its measure JSON, for an alike check of a per-run metric
    (its numbers are differences, not the runs' values)."""
    check, numbers = verdict.check, verdict.numbers or {}
    n_references = len(reference_keys(check))
    pairs = list(zip(verdict.runs, verdict.labels, strict=True))
    entries, references = pairs[: len(pairs) - n_references], pairs[len(pairs) - n_references :]
    numbered = check["metric"] not in PAIR_METRICS
    items = [Shown(run, label, _value(check, numbers, run, label, measured), numbered) for run, label in entries]
    references_numbers = numbers.get("references") or {}
    for (run, label), key in zip(references, reference_keys(check), strict=True):
        value = (numbers.get("values") or {}).get(label, (references_numbers.get(key) or {}).get("value"))
        items.append(Shown(run, label, value))
    values = numbers.get("values") or {}
    order = {label: i for i, label in enumerate(values)}
    items.sort(key=lambda item: order.get(item.label, len(order)))  # stable: references stay last
    if numbers:
        _mark(check, numbers, items, [label for _, label in references])
    return _capped(items)


def _value(check: dict, numbers: dict, run: str, label: str, measured: dict | None) -> float | None:
    if check["kind"] != "alike":
        value = (numbers.get("values") or {}).get(label)
        return value if isinstance(value, (int, float)) and math.isfinite(value) else None
    value = (((measured or {}).get(run) or {}).get("metrics") or {}).get(check["metric"])
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _capped(items: list[Shown]) -> tuple[list[Shown], str | None]:
    if len(items) <= MAX_SHOWN:
        return items, None
    deciding = [i for i, item in enumerate(items) if item.tags]
    others = [i for i, item in enumerate(items) if not item.tags]
    room = max(MAX_SHOWN - len(deciding), 0)
    picks = others[:room] if room < 2 else sample_runs(others, room)[0]
    shown = sorted(deciding + picks)
    note = (
        f"showing {len(shown)} of {len(items)} runs: the deciding ones and others evenly spaced "
        "(the experiment's grid and tables have them all)"
    )
    return [items[i] for i in shown], note


# ---------------------------------------------------------------- marks, per check kind


def _mark(check: dict, numbers: dict, items: list[Shown], reference_labels: list[str]) -> None:
    by_label = {item.label: item for item in items}

    def tag(label: str, name: str, why: str) -> None:
        item = by_label.get(label)
        if item is not None and name not in item.tags:
            item.tags.append(name)
            item.why.append(why)

    kind = check["kind"]
    if kind == "best":
        _mark_best(check, numbers, by_label, tag)
    elif kind == "close":
        for item, name in zip(items, ("a", "b"), strict=False):
            tag(item.label, name, _deciding_text(numbers))
    elif kind == "bound":
        _mark_bound(check, numbers, items, reference_labels, tag)
    elif kind == "monotonic":
        _mark_monotonic(check, numbers, tag)
    elif kind == "biggest_step":
        _mark_biggest_step(check, numbers, tag)
    elif kind == "alike":
        _mark_alike(check, numbers, [item.label for item in items], tag)


def _deciding_text(numbers: dict) -> str:
    """numbers["deciding"] in words, e.g. "difference a - b 0.15 (threshold 0.2)"."""
    deciding = numbers.get("deciding") or {}
    if not deciding:
        return ""
    return f"{deciding['name']} {format_g(deciding['value'])} (threshold {format_g(deciding['threshold'])})"


def _bounds_text(low: float, high: float) -> str:
    return " and ".join(f"{word} {format_g(b)}" for word, b in (("≥", low), ("≤", high)) if math.isfinite(b))


def _against(value: float, low: float, high: float) -> str:
    """The value with enough digits to read unequal to the bound nearest it (10.001, not 10, against ≤ 10)."""
    nearest = min((b for b in (low, high) if math.isfinite(b)), key=lambda b: abs(value - b), default=None)
    return format_g(value) if nearest is None else format_g_apart(value, nearest)[0]


def _miss(value: float, low: float, high: float) -> float:
    """How far outside [low, high] a value lies (0 inside)."""
    return max(low - value, value - high, 0.0)


def _gate_test(value: float | None, gate: dict) -> Test:
    """A run against check_best's gate: passes, misses within the gate metric's margin, or beyond it."""
    low, high, slack, metric = gate.get("min", -math.inf), gate.get("max", math.inf), gate["margin"], gate["metric"]
    bounds = _bounds_text(low, high)
    if value is None:
        return Test("none", "?", f"gate: {metric} not measured")
    if low <= value <= high:
        return Test("pass", "✓", f"gate: {metric} {_against(value, low, high)} {bounds}: passes")
    miss = _miss(value, low, high)
    text = f"gate: {metric} {_against(value, low, high)}, not {bounds}: fails by {format_g(miss)}"
    if miss <= slack:
        return Test("near", "✗", f"{text}, within its noise margin {format_g(slack)} (chance could let it through)")
    return Test("fail", "✗", f"{text}, beyond its noise margin {format_g(slack)}")


def _mark_best(check: dict, numbers: dict, by_label: dict, tag) -> None:
    gate = numbers.get("gate")
    for label, value in (gate or {}).get("values", {}).items():
        if label in by_label:
            by_label[label].test = _gate_test(value, gate)
    metric, deciding = numbers.get("metric", check["metric"]), _deciding_text(numbers)
    among = "among the runs passing the gate" if gate else "of the runs"
    expected, best, runner_up = value_text(check["expect"]), numbers.get("best"), numbers.get("runner_up")
    tag(expected, "expected", f"the value the study says is {check['goal']} by {metric}")
    if best is not None:
        tag(best, "best", f"{check['goal']} {metric} {among}" + (f"; {deciding}" if best != expected else ""))
    if runner_up is not None and runner_up != best:
        tag(runner_up, "runner-up", deciding)


def _bound_test(value: float | None, low: float, high: float, slack: float, metric: str) -> Test:
    """A run against check_bound's bound: inside it beyond the margin, within the margin of it, outside."""
    if value is None:
        return Test("none", "?", f"{metric} not measured")
    text, bounds, margin_text = f"{metric} {_against(value, low, high)}", _bounds_text(low, high), format_g(slack)
    if value < low - slack or value > high + slack:
        return Test("fail", "✗", f"{text}: outside the bound {bounds} by more than the margin {margin_text}")
    if low + slack < value < high - slack:
        return Test("pass", "✓", f"{text}: inside the bound {bounds} by more than the margin {margin_text}")
    return Test("near", "≈", f"{text}: within the margin {margin_text} of the bound {bounds}")


def _mark_bound(check: dict, numbers: dict, items: list[Shown], reference_labels: list[str], tag) -> None:
    references = numbers.get("references") or {}
    low, high = (
        (references.get(key) or {}).get("value") if isinstance(check.get(key), dict) else check.get(key, default)
        for key, default in (("min", -math.inf), ("max", math.inf))
    )
    if low is None or high is None:
        return  # the reference run has no value
    slack, metric = numbers["margin"], numbers.get("metric", check["metric"])
    entries = [item for item in items if item.label not in reference_labels]
    for item in entries:
        item.test = _bound_test(item.value, low, high, slack, metric)
    rooms = {item.label: min(item.value - low, high - item.value) for item in entries if item.value is not None}
    if rooms:
        least = min(rooms.values())
        for label, room in rooms.items():
            if room == least:
                tag(label, "nearest the bound", _deciding_text(numbers))
    for label, key in zip(reference_labels, reference_keys(check), strict=True):
        tag(
            label, "the bound", f"its {metric} is the {key} bound: {format_g((references.get(key) or {}).get('value'))}"
        )


def _neighbours(numbers: dict) -> dict[str, tuple[str, str]]:
    """Step name ("10 → 100", as numbers["steps"] names it) -> the labels at its two ends."""
    labels = list(numbers.get("values") or {})
    return {f"{a} → {b}": (a, b) for a, b in zip(labels, labels[1:])}


def _mark_monotonic(check: dict, numbers: dict, tag) -> None:
    steps, ends = numbers.get("steps") or {}, _neighbours(numbers)
    if not steps or any(name not in ends or step is None for name, step in steps.items()):
        return
    sign, direction = (1.0 if check["direction"] == "increasing" else -1.0), check["direction"]
    worst_name = max(steps, key=lambda name: -sign * steps[name])
    if -sign * steps[worst_name] > numbers["margin"]:
        a, b = ends[worst_name]
        why = (
            f"the largest step against the {direction} direction ({steps[worst_name]:+.3g}): {_deciding_text(numbers)}"
        )
        tag(a, "step against", why)
        tag(b, "step against", why)
        return
    labels = list(numbers["values"])
    why = f"the whole change, first to last value: {_deciding_text(numbers)}"
    tag(labels[0], "first", why)
    tag(labels[-1], "last", why)


def _mark_biggest_step(check: dict, numbers: dict, tag) -> None:
    ends = _neighbours(numbers)
    biggest = numbers.get("biggest")
    expected = " → ".join(value_text(v) for v in sorted(check["expect"], key=float))
    if expected in ends:
        for label in ends[expected]:
            tag(label, "expected step", f"the study's biggest step, {expected}: {_deciding_text(numbers)}")
    if biggest in ends:
        for label in ends[biggest]:
            tag(label, "biggest step", f"the biggest step is {biggest}")


def _mark_alike(check: dict, numbers: dict, labels: list[str], tag) -> None:
    values = numbers.get("values") or {}
    pairs = {f"{a} vs {b}": (a, b) for i, a in enumerate(labels) for b in labels[i + 1 :]}
    found = {name: value for name, value in values.items() if name in pairs and value is not None}
    if not found or len(found) != len(values):
        return
    alike = check["expect"] == "alike"
    name = (max if alike else min)(found, key=found.get)
    for label in pairs[name]:
        tag(label, "farthest pair" if alike else "nearest pair", f"{name}: {_deciding_text(numbers)}")
