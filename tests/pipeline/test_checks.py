"""Every behaviour of the six check kinds (nst_pipeline.findings), case by case, on hand-made values
whose verdict is known beforehand: each kind reaches agrees, differs and inconclusive, in both
directions (or with min and max).

The values are built from the real noise margin of their metric, margin(metric): far() is three
margins (beyond noise, whatever the margins become), near() a third of one (within noise). Runs carry no
convergence record: these verdicts come from the numbers alone."""

from __future__ import annotations

import pytest

from nst_pipeline.findings import (
    RUNS_NEEDED,
    Entry,
    RunView,
    check_alike,
    check_best,
    check_biggest_step,
    check_bound,
    check_close,
    check_monotonic,
    evaluate,
    margin,
    noise_scale,
)

STYLE = "style_distance"
SSIM = "content_ssim"
CHANGE = "init_change"
PERCEPTUAL = "perceptual"


def far(metric: str) -> float:
    """Beyond noise: three margins."""
    return 3 * margin(metric)


def near(metric: str) -> float:
    """Within noise: a third of the margin."""
    return margin(metric) / 3


def run(value, status: str = "ok", random: bool = False, measured: bool = True, **metrics) -> RunView:
    """A run at x = value with the given metric values. A failed or missing run may still come with
    values (a metrics file left from an earlier attempt): its status alone must stop it deciding."""
    return RunView(
        run=f"run-{value}",
        parameters={"x": value},
        status=status,
        random=random,
        metrics=metrics if measured else None,
    )


def entries(metric: str, values: dict, **other_metrics: dict) -> list[Entry]:
    """Entries at x = each key of `values`, reading `metric` = its value (and other metrics by value)."""
    return [
        Entry(x, run(x, **{metric: v}, **{name: by_x[x] for name, by_x in other_metrics.items()}))
        for x, v in values.items()
    ]


def finding(**check) -> dict:
    return {"id": "T", "statement": "s", "source": "test", "check": {"over": "x"} | check}


def test_margins_are_wider_than_the_noise():
    """The values below rely on it: a nonzero margin, wider than the metric's chance spread."""
    for metric in (STYLE, SSIM, CHANGE, PERCEPTUAL, "palette_distance"):
        assert margin(metric) > noise_scale(metric) > 0, metric


# ---------------------------------------------------------------- best


GOAL_SIGN = {"lowest": 1.0, "highest": -1.0}  # "better" is lower, or higher


def better(goal: str, value: float, by: float) -> float:
    return value - GOAL_SIGN[goal] * by


@pytest.mark.parametrize("goal", ["lowest", "highest"])
@pytest.mark.parametrize(
    "rival_by, verdict, best",
    [  # how much better the rival is than the expected value, in margins
        pytest.param(-3, "agrees", 10, id="ahead-beyond-noise"),
        pytest.param(3, "differs", 1, id="behind-beyond-noise"),
        pytest.param(-1 / 3, "inconclusive", 10, id="ahead-within-noise"),
        pytest.param(1 / 3, "inconclusive", 1, id="behind-within-noise"),
    ],
)
def test_best_every_verdict_for_either_goal(goal, rival_by, verdict, best):
    values = {1: better(goal, 0.5, rival_by * margin(STYLE)), 10: 0.5}
    check = {"metric": STYLE, "goal": goal, "expect": 10}
    result = check_best(check, entries(STYLE, values))
    assert (result.verdict, result.numbers["best"]) == (verdict, str(best)), result.reason


@pytest.mark.parametrize("goal", ["lowest", "highest"])
def test_best_is_judged_against_the_closest_rival(goal):
    # far ahead of 1, but within noise of 100: undecided
    values = {1: better(goal, 0.5, -far(STYLE)), 10: 0.5, 100: better(goal, 0.5, -near(STYLE))}
    result = check_best({"metric": STYLE, "goal": goal, "expect": 10}, entries(STYLE, values))
    assert (result.verdict, result.numbers["runner_up"]) == ("inconclusive", "100"), result.reason


GATE_MIN = 0.2


def gated(values: dict, ssims: dict, **gate) -> str:
    """check_best's verdict, lowest style distance, expecting 10, among runs passing the SSIM gate."""
    check = {"metric": STYLE, "goal": "lowest", "expect": 10, "gate": {"metric": SSIM} | gate}
    return check_best(check, entries(STYLE, values, **{SSIM: ssims})).verdict


PASS = 0.5  # well above GATE_MIN


def test_best_a_run_failing_the_gate_beyond_noise_does_not_compete():
    # 1 is closest to the painting but has lost the photo; among the rest 10 leads by far
    values = {1: 0.1, 10: 0.5, 100: 0.5 + far(STYLE)}
    ssims = {1: GATE_MIN - far(SSIM), 10: PASS, 100: PASS}
    assert gated(values, ssims, min=GATE_MIN) == "agrees"


def test_best_expected_failing_the_gate_differs_beyond_noise_and_is_inconclusive_within():
    values = {1: 0.5 + far(STYLE), 10: 0.5}
    assert gated(values, {1: PASS, 10: GATE_MIN - far(SSIM)}, min=GATE_MIN) == "differs"
    assert gated(values, {1: PASS, 10: GATE_MIN - near(SSIM)}, min=GATE_MIN) == "inconclusive"


def test_best_expected_leads_but_a_rival_just_misses_the_gate_is_inconclusive():
    """10 leads 100 by far among the runs passing, but 1 misses the gate within noise and would be
    better: chance could have let 1 through."""
    values = {1: 0.5 - far(STYLE), 10: 0.5, 100: 0.5 + far(STYLE)}
    ssims = {1: GATE_MIN - near(SSIM), 10: PASS, 100: PASS}
    assert gated(values, ssims, min=GATE_MIN) == "inconclusive"
    # the same rival, as good as 10 within noise: still a threat
    assert gated(values | {1: 0.5 + near(STYLE)}, ssims, min=GATE_MIN) == "inconclusive"
    # the same rival, worse than 10 by far: no threat
    assert gated(values | {1: 0.5 + far(STYLE)}, ssims, min=GATE_MIN) == "agrees"


def test_best_only_the_expected_passes_and_a_near_miss_would_beat_it():
    values = {1: 0.5 - far(STYLE), 10: 0.5}
    assert gated(values, {1: GATE_MIN - far(SSIM), 10: PASS}, min=GATE_MIN) == "agrees"
    assert gated(values, {1: GATE_MIN - near(SSIM), 10: PASS}, min=GATE_MIN) == "inconclusive"


GATE_MAX = 0.5  # e.g. "the photo not too far gone": SSIM at most 0.5 (the gate's max side)
BELOW = 0.2  # well under GATE_MAX


def test_best_a_gates_max_is_honoured():
    values = {1: 0.5 - far(STYLE), 10: 0.5, 100: 0.5 + far(STYLE)}
    # 1 would be best but lies above the gate's max by far: it does not compete
    assert gated(values, {1: GATE_MAX + far(SSIM), 10: BELOW, 100: BELOW}, max=GATE_MAX) == "agrees"
    # above the max within noise: a threat
    assert gated(values, {1: GATE_MAX + near(SSIM), 10: BELOW, 100: BELOW}, max=GATE_MAX) == "inconclusive"
    # the expected value above the max by far
    assert gated(values, {1: BELOW, 10: GATE_MAX + far(SSIM), 100: BELOW}, max=GATE_MAX) == "differs"


def test_best_a_gate_with_min_and_max():
    values = {1: 0.5 - far(STYLE), 10: 0.5, 100: 0.5 + far(STYLE)}
    ssims = {1: 0.9, 10: 0.4, 100: 0.4}  # 1 above the max
    assert gated(values, ssims, min=0.2, max=0.6) == "agrees"
    assert gated(values, ssims | {1: 0.05}, min=0.2, max=0.6) == "agrees"  # 1 below the min
    assert gated(values, ssims | {1: 0.4}, min=0.2, max=0.6) == "differs"  # 1 passes and wins


# ---------------------------------------------------------------- monotonic


DIRECTION_SIGN = {"increasing": 1.0, "decreasing": -1.0}


def along(direction: str, *steps: float, start: float = 0.5) -> dict:
    """Values at x = 1, 2, ... whose steps are `steps` along `direction` (negative: against it)."""
    values, value = {1: start}, start
    for x, step in enumerate(steps, start=2):
        value += DIRECTION_SIGN[direction] * step
        values[x] = value
    return values


@pytest.mark.parametrize("direction", ["increasing", "decreasing"])
def test_monotonic_every_verdict_in_either_direction(direction):
    m = margin(STYLE)
    cases = [
        ((m, m, m), "agrees"),
        ((3 * m, -m / 3, 3 * m), "agrees"),  # a step back within noise is tolerated
        ((0.0, 0.0, 3 * m), "agrees"),  # flat steps are no step back
        ((3 * m, -3 * m, 3 * m), "differs"),  # a step back beyond noise
        ((-3 * m, 3 * m, 3 * m), "differs"),  # ... even where the whole change goes the expected way
        ((m / 3, m / 3, -m / 3), "inconclusive"),  # the whole change within noise
    ]
    for steps, verdict in cases:
        values = along(direction, *steps)
        result = check_monotonic({"metric": STYLE, "direction": direction}, entries(STYLE, values))
        assert result.verdict == verdict, (steps, result.reason)
        assert result.numbers["total_change"] == pytest.approx(values[4] - values[1])


@pytest.mark.parametrize("direction", ["increasing", "decreasing"])
def test_monotonic_reads_the_values_in_their_order_not_the_grids(direction):
    values = along(direction, far(STYLE), far(STYLE))
    shuffled = {x: values[x] for x in (3, 1, 2)}
    result = check_monotonic({"metric": STYLE, "direction": direction}, entries(STYLE, shuffled))
    assert result.verdict == "agrees" and list(result.numbers["values"]) == ["1", "2", "3"], result.reason


# ---------------------------------------------------------------- biggest step


def biggest(values: dict, expect=(2, 3), direction: str | None = None):
    check = {"metric": STYLE, "expect": list(expect)} | ({"direction": direction} if direction else {})
    return check_biggest_step(check, entries(STYLE, values))


STEP_CASES = [  # steps 1→2, 2→3, 3→4, 4→5 along the direction (in margins); expected: 2 → 3
    pytest.param((1 / 3, 3, 1 / 3, 0), "agrees", "2 → 3", id="expected-largest"),
    pytest.param((4, 1, 1 / 3, 0), "differs", "1 → 2", id="elsewhere-beyond-noise"),
    pytest.param((2, 2 - 1 / 3, 0, 0), "inconclusive", "1 → 2", id="elsewhere-within-noise"),
    pytest.param((2 - 1 / 3, 2, 0, 0), "inconclusive", "2 → 3", id="expected-within-noise-of-next"),
    pytest.param((1 / 3, 1 / 4, 1 / 5, 0), "inconclusive", "1 → 2", id="all-within-noise"),
]


@pytest.mark.parametrize("direction", ["increasing", "decreasing"])
@pytest.mark.parametrize("steps, verdict, where", STEP_CASES)
def test_biggest_step_every_verdict_in_either_direction(direction, steps, verdict, where):
    # a last step against the direction, larger than any: it does not count
    values = along(direction, *(s * margin(STYLE) for s in steps[:-1]), -5 * margin(STYLE))
    result = biggest(values, direction=direction)
    assert (result.verdict, result.numbers["biggest"]) == (verdict, where), result.reason


@pytest.mark.parametrize("sign", [pytest.param(1.0, id="rise-first"), pytest.param(-1.0, id="fall-first")])
@pytest.mark.parametrize("steps, verdict, where", STEP_CASES)
def test_biggest_step_without_a_direction_counts_rises_and_falls_alike(sign, steps, verdict, where):
    # steps alternate rise and fall: only their sizes count
    signed = [sign * s * margin(STYLE) * (-1) ** i for i, s in enumerate(steps)]
    values = along("increasing", *signed)
    result = biggest(values)
    assert (result.verdict, result.numbers["biggest"]) == (verdict, where), result.reason


def test_biggest_step_with_a_direction_ignores_a_larger_step_the_other_way():
    m = margin(STYLE)
    values = along("decreasing", 0, 3 * m, -6 * m)  # falls 2 → 3 by 3m, rises 3 → 4 by 6m
    assert biggest(values, direction="decreasing").verdict == "agrees"
    assert biggest(values).numbers["biggest"] == "3 → 4"  # without: the rise is largest
    assert biggest(values).verdict == "differs"


# ---------------------------------------------------------------- alike


def pair_rows(distances: dict) -> list[dict]:
    """measure_pairs rows from {(x, y): distance} for the runs run-x and run-y."""
    return [{"a": f"run-{x}", "b": f"run-{y}", PERCEPTUAL: d} for (x, y), d in distances.items()]


THREE = [Entry(x, run(x)) for x in (1, 2, 3)]


def pairwise(distances: tuple, expect: str, **extra) -> str:
    rows = pair_rows(dict(zip([(1, 2), (1, 3), (2, 3)], distances)))
    return check_alike({"metric": PERCEPTUAL, "expect": expect} | extra, THREE, rows).verdict


def test_alike_by_pairwise_distance_every_verdict():
    n, f = near(PERCEPTUAL), far(PERCEPTUAL)
    assert pairwise((n, n, n), "alike") == "agrees"
    assert pairwise((n, n, f), "alike") == "differs"
    assert pairwise((f, f, f), "distinct") == "agrees"
    # two outputs within chance of each other are the same image: a distinct claim fails
    assert pairwise((f, f, n), "distinct") == "differs"


def test_alike_missing_pairwise_distances_are_inconclusive():
    f = far(PERCEPTUAL)
    for expect in ("alike", "distinct"):
        assert check_alike({"metric": PERCEPTUAL, "expect": expect}, THREE, []).verdict == "inconclusive"
        one_missing = pair_rows({(1, 2): f, (2, 3): f})  # no row for 1 vs 3
        assert check_alike({"metric": PERCEPTUAL, "expect": expect}, THREE, one_missing).verdict == "inconclusive"


def test_alike_finds_a_pairwise_row_whichever_run_it_names_first():
    f = far(PERCEPTUAL)
    rows = pair_rows({(2, 1): f, (3, 1): f, (3, 2): f})
    assert check_alike({"metric": PERCEPTUAL, "expect": "distinct"}, THREE, rows).verdict == "agrees"


def test_alike_a_tolerance_replaces_the_margin():
    distances = (2 * margin(PERCEPTUAL),) * 3
    assert pairwise(distances, "alike") == "differs"
    assert pairwise(distances, "alike", tolerance=3 * margin(PERCEPTUAL)) == "agrees"
    assert pairwise(distances, "distinct", tolerance=3 * margin(PERCEPTUAL)) == "differs"


def test_alike_by_a_per_run_metric_every_verdict():
    def alike(expect: str, *values: float) -> str:
        return check_alike({"metric": SSIM, "expect": expect}, entries(SSIM, dict(enumerate(values))), []).verdict

    n, f = near(SSIM), far(SSIM)
    assert alike("alike", 0.5, 0.5 + n, 0.5 - n / 2) == "agrees"
    assert alike("alike", 0.5, 0.5 + n, 0.5 + f) == "differs"
    assert alike("distinct", 0.5, 0.5 + f, 0.5 + 2 * f) == "agrees"
    # equal values of one metric do not make two images the same: undecided, not differs
    assert alike("distinct", 0.5, 0.5 + n, 0.5 + 2 * f) == "inconclusive"


# ---------------------------------------------------------------- close


CLOSE = {
    "kind": "close",
    "metric": STYLE,
    "a": {"where": {"x": 10}},
    "b": {"experiment": "other", "where": {"x": "reference"}},
}


def close(a_run: RunView, b_run: RunView | None, **extra):
    """A close finding comparing a_run (this experiment, x = 10) with b_run (experiment other; None:
    that experiment is not run)."""
    views = [run(1, **{STYLE: 0.9}), a_run]
    others = None if b_run is None else [b_run]
    return evaluate(finding(**(CLOSE | extra)), "exp", "p", views, others=lambda name: others)


def at_10(value: float, **kwargs) -> RunView:
    return run(10, **kwargs, **{STYLE: value})


def reference(value: float, **kwargs) -> RunView:
    return run("reference", **kwargs, **{STYLE: value})


def test_close_check_agrees_within_the_tolerance_and_differs_beyond_either_way():
    def verdict(a, b, **extra):
        pair = [Entry("a", at_10(a)), Entry("b", reference(b))]
        return check_close({"metric": STYLE} | extra, pair).verdict

    assert verdict(0.5, 0.5 + near(STYLE)) == "agrees"
    assert verdict(0.5, 0.5 - near(STYLE)) == "agrees"
    assert verdict(0.5, 0.5 + far(STYLE)) == "differs"
    assert verdict(0.5, 0.5 - far(STYLE)) == "differs"
    assert verdict(0.5, 0.5 + far(STYLE), tolerance=2 * far(STYLE)) == "agrees"
    assert verdict(0.5, 0.5 + near(STYLE), tolerance=near(STYLE) / 2) == "differs"


def test_close_evaluated_across_experiments():
    assert close(at_10(0.5), reference(0.5 + near(STYLE))).verdict == "agrees"
    result = close(at_10(0.5), reference(0.5 + far(STYLE)))
    assert result.verdict == "differs" and result.runs == ["run-10", "run-reference"]


def test_close_with_the_other_experiment_not_run_is_inconclusive():
    result = close(at_10(0.5), None)
    assert result.verdict == "inconclusive" and "experiment other is not run" in result.reason


@pytest.mark.parametrize("status", ["missing", "failed"])
@pytest.mark.parametrize("side", ["a", "b"])
def test_close_with_a_missing_or_failed_run_is_inconclusive(side, status):
    """Even where the run's values are on disk (a metrics file from an earlier attempt) and would agree."""
    a, b = at_10(0.5), reference(0.5)
    a, b = (at_10(0.5, status=status), b) if side == "a" else (a, reference(0.5, status=status))
    result = close(a, b)
    assert result.verdict == "inconclusive" and f"{status}: {side} (" in result.reason, result.reason


def test_close_with_a_run_not_measured_or_random_is_inconclusive():
    unmeasured = close(at_10(0.5), RunView("run-reference", {"x": "reference"}, "ok", metrics=None))
    assert unmeasured.verdict == "inconclusive" and "not measured: b (" in unmeasured.reason
    random = close(at_10(0.5), reference(0.5, random=True))
    assert random.verdict == "inconclusive" and "RANDOM" in random.reason


def test_close_whose_selector_finds_no_single_run_is_inconclusive():
    result = close(at_10(0.5), reference(0.5), b={"experiment": "other", "where": {"x": "elsewhere"}})
    assert result.verdict == "inconclusive" and "check.b selects no single run" in result.reason


# ---------------------------------------------------------------- bound


def bound(values: dict, **limits) -> str:
    result = check_bound({"metric": CHANGE} | limits, entries(CHANGE, values))
    return result.verdict


LIMIT = 0.15


def test_bound_with_max_every_verdict():
    f, n = far(CHANGE), near(CHANGE)
    assert bound({1: LIMIT - f, 2: LIMIT - 2 * f}, max=LIMIT) == "agrees"
    assert bound({1: LIMIT - f, 2: LIMIT + f}, max=LIMIT) == "differs"
    assert bound({1: LIMIT - f, 2: LIMIT - n}, max=LIMIT) == "inconclusive"  # just below, within noise
    assert bound({1: LIMIT - f, 2: LIMIT + n}, max=LIMIT) == "inconclusive"  # just above, within noise


def test_bound_with_min_every_verdict():
    f, n = far(CHANGE), near(CHANGE)
    assert bound({1: LIMIT + f, 2: LIMIT + 2 * f}, min=LIMIT) == "agrees"
    assert bound({1: LIMIT + f, 2: LIMIT - f}, min=LIMIT) == "differs"  # below the minimum
    assert bound({1: LIMIT + f, 2: LIMIT + n}, min=LIMIT) == "inconclusive"
    assert bound({1: LIMIT + f, 2: LIMIT - n}, min=LIMIT) == "inconclusive"


def test_bound_with_min_and_max():
    f = far(CHANGE)
    assert bound({1: 0.3, 2: 0.4}, min=0.3 - f, max=0.4 + f) == "agrees"
    assert bound({1: 0.3, 2: 0.4}, min=0.3 + f, max=0.4 + f) == "differs"
    assert bound({1: 0.3, 2: 0.4}, min=0.3 - f, max=0.4 - f) == "differs"


def test_bound_by_a_reference_run_as_min():
    """min: {experiment, where}: every value must stay above that run's value of the metric."""
    check = {"kind": "bound", "metric": CHANGE, "min": {"experiment": "other", "where": {"x": "reference"}}}

    def verdict(*values: float) -> str:
        views = [run(x, **{CHANGE: v}) for x, v in enumerate(values, start=1)]
        others = [run("reference", **{CHANGE: LIMIT})]
        return evaluate(finding(**check), "exp", "p", views, others=lambda name: others).verdict

    f, n = far(CHANGE), near(CHANGE)
    assert verdict(LIMIT + f, LIMIT + 2 * f) == "agrees"
    assert verdict(LIMIT + f, LIMIT - f) == "differs"
    assert verdict(LIMIT + f, LIMIT - n) == "inconclusive"


# ---------------------------------------------------------------- through evaluate: runs needed


def test_biggest_step_needs_three_values():
    """One step alone is trivially the biggest: a check of steps needs at least two of them."""
    assert RUNS_NEEDED["biggest_step"] == 3
    check = {"kind": "biggest_step", "metric": STYLE, "expect": [1, 2]}
    two = [run(1, **{STYLE: 0.5}), run(2, **{STYLE: 0.5 + far(STYLE)})]
    result = evaluate(finding(**check), "exp", "p", two)
    assert result.verdict == "inconclusive" and "needs 3 runs" in result.reason, result.reason
    three = [*two, run(3, **{STYLE: 0.5 + far(STYLE)})]
    assert evaluate(finding(**check), "exp", "p", three).verdict == "agrees"


DECISIVE = {  # kind -> a check and values at x = 1, 2, 3 that decide it
    "best": ({"metric": STYLE, "goal": "lowest", "expect": 1}, (0.5, 0.5 + 3 * margin(STYLE), 0.9)),
    "monotonic": ({"metric": STYLE, "direction": "increasing"}, (0.5, 0.5 + 3 * margin(STYLE), 0.9)),
    "alike": ({"metric": STYLE, "expect": "distinct"}, (0.5, 0.5 + 3 * margin(STYLE), 0.9)),
    "bound": ({"metric": STYLE, "max": 1.0}, (0.5, 0.6, 0.7)),
}


@pytest.mark.parametrize("kind", sorted(DECISIVE))
def test_each_kind_needs_its_runs(kind):
    check, values = DECISIVE[kind]
    views = [run(x, **{STYLE: v}) for x, v in enumerate(values, start=1)]
    needed = RUNS_NEEDED[kind]
    enough = evaluate(finding(kind=kind, **check), "exp", "p", views[:needed])
    assert enough.verdict == "agrees", enough.reason
    if needed > 1:
        too_few = evaluate(finding(kind=kind, **check), "exp", "p", views[: needed - 1])
        assert too_few.verdict == "inconclusive" and f"needs {needed} runs" in too_few.reason


# ---------------------------------------------------------------- through evaluate: runs that cannot decide


EVERY_KIND = {
    "best": {"metric": STYLE, "goal": "lowest", "expect": 1},
    "monotonic": {"metric": STYLE, "direction": "increasing"},
    "biggest_step": {"metric": STYLE, "expect": [1, 2]},
    "alike": {"metric": STYLE, "expect": "distinct"},
    "bound": {"metric": STYLE, "max": 1.0},
}


@pytest.mark.parametrize("kind", sorted(EVERY_KIND))
@pytest.mark.parametrize(
    "bad, problem",
    [
        pytest.param({"status": "missing"}, "missing: 2", id="missing"),
        pytest.param({"status": "failed"}, "failed: 2", id="failed"),
        pytest.param({"random": True}, "used RANDOM weights: 2", id="random"),
        pytest.param({"measured": False}, "not measured: 2", id="not-measured"),
    ],
)
def test_every_kind_is_inconclusive_when_a_run_cannot_decide(kind, bad, problem):
    """Values that decide the check (agrees with every run sound), and the same with run 2 unsound."""
    values = {1: 0.5, 2: 0.5 + 6 * margin(STYLE), 3: 0.5 + 8 * margin(STYLE)}  # steps 6 and 2 margins
    check = finding(kind=kind, **EVERY_KIND[kind])
    sound = [run(x, **{STYLE: v}) for x, v in values.items()]
    assert evaluate(check, "exp", "p", sound).verdict == "agrees"
    unsound = [run(x, **({STYLE: v} | (bad if x == 2 else {}))) for x, v in values.items()]
    result = evaluate(check, "exp", "p", unsound)
    assert result.verdict == "inconclusive" and problem in result.reason, result.reason
