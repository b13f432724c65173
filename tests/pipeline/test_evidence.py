"""The runs shown beside a verdict (nst_pipeline.evidence): each kind's per-run test marks and deciding
runs, read off verdicts that nst_pipeline.findings.evaluate makes from hand-made values (pure: no
files, no images but one). Values are in noise margins of their metric, as in test_checks.py."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from nst_pipeline import evidence
from nst_pipeline.findings import RunView, evaluate, margin

STYLE = "style_distance"
GATE = "palette_distance"  # any metric can gate: the marks read the gate's metric from the check
PERCEPTUAL = "perceptual"


def view(x, status: str = "ok", **metrics) -> RunView:
    return RunView(run=f"run-{x}", parameters={"x": x}, status=status, metrics=metrics or None)


def verdict_of(views, pairwise=None, others=None, **check):
    finding = {"id": "T", "statement": "s", "source": "test", "check": {"over": "x"} | check}
    return evaluate(finding, "e", "p", views, others=others or (lambda name: None), pairwise=pairwise)


def shown(verdict, measured=None) -> dict[str, evidence.Shown]:
    items, note = evidence.runs_beside(verdict, measured)
    assert note is None
    return {item.label: item for item in items}


def test_best_gate_marks_pass_near_miss_and_miss_from_the_gates_own_metric():
    slack = margin(GATE)
    views = [
        view(1, **{STYLE: 0.5, GATE: 5.0}),  # expected, passes, best
        view(2, **{STYLE: 0.9, GATE: 10 + slack / 3}),  # misses within noise (worse: no threat)
        view(3, **{STYLE: 0.1, GATE: 10 + 3 * slack}),  # the lowest, but misses the gate beyond noise
        view(4, **{STYLE: 0.5 + 3 * margin(STYLE), GATE: 9.0}),  # passes: the runner-up
    ]
    verdict = verdict_of(views, kind="best", metric=STYLE, goal="lowest", expect=1, gate={"metric": GATE, "max": 10})
    assert verdict.verdict == "agrees", verdict.reason
    runs = shown(verdict)
    assert list(runs) == ["1", "2", "3", "4"]
    assert [runs[x].value for x in runs] == [v.metrics[STYLE] for v in views]
    assert {x: (runs[x].test.state, runs[x].test.symbol) for x in runs} == {
        "1": ("pass", "✓"),
        "2": ("near", "✗"),
        "3": ("fail", "✗"),
        "4": ("pass", "✓"),
    }
    assert runs["1"].test.text == f"gate: {GATE} 5 ≤ 10: passes"
    assert runs["2"].test.text.startswith(f"gate: {GATE} 10.1, not ≤ 10: fails by 0.096")
    assert "within its noise margin" in runs["2"].test.text and "beyond its noise margin" in runs["3"].test.text
    assert {x: runs[x].tags for x in runs} == {"1": ["expected", "best"], "2": [], "3": [], "4": ["runner-up"]}
    assert "lead of 1 over the best rival" in runs["4"].why[0]


def test_best_another_value_best_and_expected_failing_the_gate():
    far = 3 * margin(STYLE)
    views = [view(1, **{STYLE: 0.5, GATE: 5.0}), view(2, **{STYLE: 0.5 - far, GATE: 5.0})]
    beaten = verdict_of(views, kind="best", metric=STYLE, goal="lowest", expect=1, gate={"metric": GATE, "max": 10})
    assert beaten.verdict == "differs"
    assert {x: item.tags for x, item in shown(beaten).items()} == {"1": ["expected"], "2": ["best"]}
    failing = verdict_of(views, kind="best", metric=STYLE, goal="lowest", expect=1, gate={"metric": GATE, "min": 6})
    assert failing.verdict == "differs" and "does not pass the gate" in failing.reason
    runs = shown(failing)
    assert {x: item.tags for x, item in runs.items()} == {"1": ["expected"], "2": []}  # the failure decides
    assert [item.test.state for item in runs.values()] == ["fail", "fail"]


def test_best_without_a_gate_marks_no_run_pass_or_fail():
    views = [view(1, **{STYLE: 0.2}), view(2, **{STYLE: 0.8})]
    runs = shown(verdict_of(views, kind="best", metric=STYLE, goal="lowest", expect=1))
    assert all(item.test is None for item in runs.values())
    assert {x: item.tags for x, item in runs.items()} == {"1": ["expected", "best"], "2": ["runner-up"]}


def test_close_marks_a_and_b_as_deciding_and_no_run_pass_or_fail():
    views = [view(10, **{STYLE: 0.5}), view(100, **{STYLE: 0.6})]
    verdict = verdict_of(
        views, kind="close", metric=STYLE, a={"where": {"x": 10}}, b={"where": {"x": 100}}, tolerance=0.2
    )
    runs = shown(verdict)
    assert [(x, item.value, item.tags, item.test) for x, item in runs.items()] == [
        ("a (10)", 0.5, ["a"], None),
        ("b (100)", 0.6, ["b"], None),
    ]
    assert runs["a (10)"].why == ["difference a - b 0.1 (threshold 0.2)"]


def test_bound_marks_each_run_against_the_bound_and_the_nearest_as_deciding():
    slack = margin(STYLE)
    views = [
        view(1, **{STYLE: 0.5}),  # inside by more than the margin
        view(2, **{STYLE: 0.7 - slack / 3}),  # within noise of the bound: the least room
        view(3, **{STYLE: 0.7 + 3 * slack}),  # outside
    ]
    verdict = verdict_of(views, kind="bound", metric=STYLE, max=0.7)
    assert verdict.verdict == "differs"
    runs = shown(verdict)
    assert [(item.test.state, item.test.symbol) for item in runs.values()] == [
        ("pass", "✓"),
        ("near", "≈"),
        ("fail", "✗"),
    ]
    assert {x: item.tags for x, item in runs.items()} == {"1": [], "2": [], "3": ["nearest the bound"]}


def test_bound_from_a_reference_run_marks_that_run_as_the_bound():
    views = [view(1, **{STYLE: 0.2}), view(2, **{STYLE: 0.3}), view(9, **{STYLE: 0.8})]
    verdict = verdict_of(views, kind="bound", metric=STYLE, at=[1, 2], max={"where": {"x": 9}})
    assert verdict.verdict == "agrees"
    runs = shown(verdict)
    assert list(runs) == ["1", "2", "reference (max: 9)"]  # the reference last
    assert runs["reference (max: 9)"].value == 0.8 and runs["reference (max: 9)"].test is None
    assert {x: item.tags for x, item in runs.items()} == {
        "1": [],
        "2": ["nearest the bound"],
        "reference (max: 9)": ["the bound"],
    }
    assert runs["2"].test.text.startswith(f"{STYLE} 0.3: inside the bound ≤ 0.8 by more than the margin")


def test_monotonic_marks_the_step_against_or_else_the_first_and_last_value_in_value_order():
    far = 3 * margin(STYLE)
    grid_order = [view(3, **{STYLE: 0.5 + 2 * far}), view(1, **{STYLE: 0.5}), view(2, **{STYLE: 0.5 + far})]
    rising = verdict_of(grid_order, kind="monotonic", metric=STYLE, direction="increasing")
    assert rising.verdict == "agrees"
    runs = shown(rising)
    assert list(runs) == ["1", "2", "3"]  # the varied value's order, as the check reads them
    assert {x: item.tags for x, item in runs.items()} == {"1": ["first"], "2": [], "3": ["last"]}
    back = [view(1, **{STYLE: 0.5}), view(2, **{STYLE: 0.5 + 2 * far}), view(3, **{STYLE: 0.5 + far})]
    stepping = verdict_of(back, kind="monotonic", metric=STYLE, direction="increasing")
    assert stepping.verdict == "differs"
    tags = {x: item.tags for x, item in shown(stepping).items()}
    assert tags == {"1": [], "2": ["step against"], "3": ["step against"]}


def test_biggest_step_marks_the_biggest_and_the_expected_step():
    far = 3 * margin(STYLE)
    views = [view(x, **{STYLE: v}) for x, v in ((1, 0.1), (2, 0.1 + far), (3, 0.1 + 4 * far), (4, 0.1 + 4.5 * far))]
    verdict = verdict_of(views, kind="biggest_step", metric=STYLE, expect=[1, 2])
    assert verdict.verdict == "differs"
    assert {x: item.tags for x, item in shown(verdict).items()} == {
        "1": ["expected step"],
        "2": ["expected step", "biggest step"],
        "3": ["biggest step"],
        "4": [],
    }


@pytest.mark.parametrize("expect, pair", [("alike", ("1", "3")), ("distinct", ("1", "2"))])
def test_alike_marks_the_deciding_pair_and_a_pairwise_metric_has_no_number_per_run(expect, pair):
    views = [view(1), view(2), view(3)]
    rows = [
        {"a": "run-1", "b": "run-2", PERCEPTUAL: 0.5},
        {"a": "run-1", "b": "run-3", PERCEPTUAL: 0.9},
        {"a": "run-2", "b": "run-3", PERCEPTUAL: 0.7},
    ]
    verdict = verdict_of(views, pairwise=rows, kind="alike", metric=PERCEPTUAL, expect=expect)
    runs = shown(verdict)
    tag = "farthest pair" if expect == "alike" else "nearest pair"
    assert {x for x, item in runs.items() if item.tags == [tag]} == set(pair)
    assert all(not item.numbered and item.test is None for item in runs.values())


def test_alike_of_a_per_run_metric_shows_each_runs_own_value():
    views = [view(1, **{GATE: 4.0}), view(2, **{GATE: 5.0})]
    verdict = verdict_of(views, kind="alike", metric=GATE, expect="alike", tolerance=2.3)
    measured = {f"run-{x}": {"metrics": {GATE: v}} for x, v in ((1, 4.0), (2, 5.0))}
    runs = shown(verdict, measured)
    assert [(item.value, item.numbered, item.tags) for item in runs.values()] == [
        (4.0, True, ["farthest pair"]),
        (5.0, True, ["farthest pair"]),
    ]


def test_runs_not_judged_are_shown_with_the_expected_value_only():
    views = [view(1, **{STYLE: 0.5, GATE: 5.0}), view(2, status="failed")]
    verdict = verdict_of(views, kind="best", metric=STYLE, goal="lowest", expect=1, gate={"metric": GATE, "max": 10})
    assert verdict.verdict == "inconclusive"
    runs = shown(verdict)
    assert [(x, item.value) for x, item in runs.items()] == [("1", 0.5), ("2", None)]
    assert all(item.test is None for item in runs.values())  # the gate was not computed
    assert {x: item.tags for x, item in runs.items()} == {"1": ["expected"], "2": []}


def test_a_long_sweep_shows_the_deciding_runs_and_others_evenly_spaced():
    views = [view(x, **{STYLE: 0.01 * x}) for x in range(30)]
    verdict = verdict_of(views, kind="monotonic", metric=STYLE, direction="increasing")
    items, note = evidence.runs_beside(verdict)
    labels = [item.label for item in items]
    assert len(items) == evidence.MAX_SHOWN and labels[0] == "0" and labels[-1] == "29"
    assert labels == sorted(labels, key=int)  # in the check's order
    assert note.startswith(f"showing {evidence.MAX_SHOWN} of 30 runs: the deciding ones and others evenly spaced")


def test_a_thumbnail_is_a_small_jpeg_at_the_thumbnail_height(tmp_path):
    wide, tall = tmp_path / "wide.png", tmp_path / "tall.png"
    Image.new("RGB", (900, 100), (10, 200, 30)).save(wide)
    Image.new("RGB", (300, 450), (10, 200, 30)).save(tall)
    with Image.open(io.BytesIO(evidence.thumbnail_jpeg(tall))) as picture:
        assert picture.format == "JPEG" and picture.size == (43, evidence.THUMBNAIL_HEIGHT)
    with Image.open(io.BytesIO(evidence.thumbnail_jpeg(wide))) as picture:  # a panorama: capped in width
        assert picture.size == (evidence.THUMBNAIL_MAX_WIDTH, 21)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    assert evidence.thumbnail_jpeg(tmp_path / "broken.png") is None
