"""The findings' checks and verdicts (nst_pipeline.findings) on synthetic metric values whose answers
are known beforehand. The noise scale is replaced by round numbers, so every margin below is written
by hand: 3 x 0.01 = 0.03 for style_distance, 3 x 0.02 = 0.06 for content_ssim, 3 x 0.1 = 0.3 pairwise."""

from __future__ import annotations

import pytest

from nst_pipeline import findings, metric_table
from nst_pipeline.findings import Convergence, FindingError, RunView, evaluate, validate_finding

NOISE = {
    "style_distance": 0.01,
    "content_ssim": 0.02,
    "init_change": 0.01,
    "palette_distance": 0.1,
    "perceptual": 0.1,
}
CONVERGED = Convergence(True, 0.001, 10, False)


@pytest.fixture(autouse=True)
def round_noise(monkeypatch):
    monkeypatch.setattr(metric_table, "NOISE_SCALE", NOISE)


def view(value, over="x", status="ok", random=False, convergence=CONVERGED, **values) -> RunView:
    """A run at `over` = value with the given metric values."""
    measured = values if status == "ok" else None
    parameters = {over: value, "init": "content"}
    return RunView(f"run-{value}", parameters, status, random=random, metrics=measured, convergence=convergence)


def finding(**check) -> dict:
    return {"id": "T", "statement": "s", "source": "test", "check": {"over": "x"} | check}


def verdict_of(views, pairwise=None, **check):
    return evaluate(finding(**check), "exp", "a__b", views, pairwise=pairwise)


# ---------------------------------------------------------------- best


BEST = {"kind": "best", "metric": "style_distance", "goal": "lowest", "expect": 10}


def test_best_agrees_when_expected_leads_by_more_than_the_margin():
    result = verdict_of([view(1, style_distance=0.50), view(10, style_distance=0.40)], **BEST)
    assert (result.verdict, result.numbers["best"]) == ("agrees", "10")


def test_best_differs_when_another_value_leads_by_more_than_the_margin():
    result = verdict_of([view(1, style_distance=0.30), view(10, style_distance=0.40)], **BEST)
    assert (result.verdict, result.numbers["best"]) == ("differs", "1")


def test_best_within_the_margin_is_inconclusive():
    result = verdict_of([view(1, style_distance=0.42), view(10, style_distance=0.40)], **BEST)  # 0.02 < 0.03
    assert result.verdict == "inconclusive"


def test_best_goal_highest():
    views = [view(1, content_ssim=0.5), view(10, content_ssim=0.6)]
    assert verdict_of(views, kind="best", metric="content_ssim", goal="highest", expect=10).verdict == "agrees"


GATED = BEST | {"gate": {"metric": "content_ssim", "min": 0.3}}


def test_best_only_runs_passing_the_gate_compete():
    # value 1 is closer to the painting but has lost the photo (SSIM 0.1): 10 is best among the rest
    views = [view(1, style_distance=0.2, content_ssim=0.1), view(10, style_distance=0.4, content_ssim=0.5)]
    result = verdict_of(views, **GATED)
    assert result.verdict == "agrees" and "only 10 passes" in result.reason


def test_best_expected_failing_the_gate_differs():
    views = [view(1, style_distance=0.5, content_ssim=0.5), view(10, style_distance=0.2, content_ssim=0.1)]
    assert verdict_of(views, **GATED).verdict == "differs"


def test_best_expected_failing_the_gate_within_noise_is_inconclusive():
    views = [view(1, style_distance=0.5, content_ssim=0.5), view(10, style_distance=0.2, content_ssim=0.28)]
    assert verdict_of(views, **GATED).verdict == "inconclusive"  # 0.28 is within 0.06 of 0.3


def test_best_rival_just_below_the_gate_makes_it_inconclusive():
    views = [view(1, style_distance=0.2, content_ssim=0.29), view(10, style_distance=0.4, content_ssim=0.5)]
    assert verdict_of(views, **GATED).verdict == "inconclusive"


# ---------------------------------------------------------------- monotonic


MONO = {"kind": "monotonic", "metric": "style_distance", "direction": "decreasing"}


def test_monotonic_agrees_and_orders_by_value_not_by_grid_order():
    views = [view(100, style_distance=0.2), view(1, style_distance=0.6), view(10, style_distance=0.4)]
    result = verdict_of(views, **MONO)
    assert result.verdict == "agrees"
    assert list(result.numbers["values"]) == ["1", "10", "100"]
    assert result.numbers["total_change"] == pytest.approx(-0.4)


def test_monotonic_tolerates_a_step_back_within_noise():
    views = [view(1, style_distance=0.6), view(10, style_distance=0.62), view(100, style_distance=0.2)]
    assert verdict_of(views, **MONO).verdict == "agrees"  # +0.02 against, < 0.03


def test_monotonic_differs_at_a_step_back_beyond_noise():
    views = [view(1, style_distance=0.6), view(10, style_distance=0.7), view(100, style_distance=0.2)]
    result = verdict_of(views, **MONO)
    assert result.verdict == "differs" and "1 → 10" in result.reason


def test_monotonic_flat_within_noise_is_inconclusive():
    views = [view(1, style_distance=0.50), view(10, style_distance=0.49), view(100, style_distance=0.48)]
    assert verdict_of(views, **MONO).verdict == "inconclusive"


# ---------------------------------------------------------------- biggest step


STEP = {"kind": "biggest_step", "metric": "style_distance", "expect": [3, 4]}


def steps(*values) -> list[RunView]:
    return [view(n, style_distance=v) for n, v in zip(range(1, 7), values)]


def test_biggest_step_agrees():
    assert verdict_of(steps(0.9, 0.88, 0.85, 0.5, 0.48, 0.47), **STEP).verdict == "agrees"


def test_biggest_step_elsewhere_differs():
    result = verdict_of(steps(0.9, 0.5, 0.45, 0.4, 0.38, 0.37), **STEP)
    assert result.verdict == "differs" and result.numbers["biggest"] == "1 → 2"


def test_biggest_step_tie_within_noise_is_inconclusive():
    assert verdict_of(steps(0.9, 0.7, 0.69, 0.48, 0.47, 0.46), **STEP).verdict == "inconclusive"  # 0.20 vs 0.21


def test_biggest_step_all_steps_within_noise_is_inconclusive():
    assert verdict_of(steps(0.5, 0.49, 0.48, 0.46, 0.45, 0.45), **STEP).verdict == "inconclusive"


# ---------------------------------------------------------------- alike


def pairwise(*distances) -> list[dict]:
    """Pairwise rows for runs 1, 2, 3 in order (1-2, 1-3, 2-3)."""
    names = [("run-1", "run-2"), ("run-1", "run-3"), ("run-2", "run-3")]
    return [{"a": a, "b": b, "perceptual": d} for (a, b), d in zip(names, distances)]


THREE = [view(1), view(2), view(3)]


@pytest.mark.parametrize(
    "expect, distances, verdict",
    [
        ("alike", (0.1, 0.2, 0.25), "agrees"),
        ("alike", (0.1, 0.2, 0.5), "differs"),
        ("distinct", (0.8, 0.9, 0.5), "agrees"),
        ("distinct", (0.8, 0.9, 0.2), "differs"),  # two outputs within chance of each other: the same image
    ],
)
def test_alike_pairwise(expect, distances, verdict):
    result = verdict_of(THREE, pairwise(*distances), kind="alike", metric="perceptual", expect=expect)
    assert result.verdict == verdict, result.reason


def test_alike_pairwise_rows_missing_is_inconclusive():
    result = verdict_of(THREE, [], kind="alike", metric="perceptual", expect="distinct")
    assert result.verdict == "inconclusive"


def test_alike_per_run_metric():
    alike = [view(1, content_ssim=0.50), view(2, content_ssim=0.54)]  # 0.04 < 0.06
    apart = [view(1, content_ssim=0.50), view(2, content_ssim=0.60)]
    check = {"kind": "alike", "metric": "content_ssim"}
    assert verdict_of(alike, **check, expect="alike").verdict == "agrees"
    assert verdict_of(apart, **check, expect="alike").verdict == "differs"
    assert verdict_of(apart, **check, expect="distinct").verdict == "agrees"
    # equal values of one metric do not make two images the same: a distinct claim is undecided
    assert verdict_of(alike, **check, expect="distinct").verdict == "inconclusive"


def test_alike_tolerance_replaces_the_margin():
    views = [view(1, palette_distance=10.0), view(2, palette_distance=11.0)]  # 1.0 apart; margin 0.3
    check = {"kind": "alike", "metric": "palette_distance", "expect": "alike"}
    assert verdict_of(views, **check).verdict == "differs"
    assert verdict_of(views, **check, tolerance=2.0).verdict == "agrees"


# ---------------------------------------------------------------- close, across experiments


CLOSE = {
    "kind": "close",
    "metric": "style_distance",
    "a": {"where": {"x": 10}},
    "b": {"experiment": "other", "where": {"init": "content"}},
}


def close_verdict(a_value: float, b_value: float, others=True, **extra):
    reference = [RunView("ref", {"init": "content"}, "ok", metrics={"style_distance": b_value})]
    return evaluate(
        {"id": "T", "statement": "s", "source": "t", "check": CLOSE | extra},
        "exp",
        "a__b",
        [view(1, style_distance=0.9), view(10, style_distance=a_value)],
        others=lambda name: reference if others and name == "other" else None,
    )


def test_close_agrees_within_the_margin_and_differs_beyond():
    assert close_verdict(0.40, 0.42).verdict == "agrees"
    assert close_verdict(0.40, 0.45).verdict == "differs"
    assert close_verdict(0.40, 0.45, tolerance=0.1).verdict == "agrees"


def test_close_with_the_other_experiment_not_run_is_inconclusive():
    result = close_verdict(0.40, 0.40, others=False)
    assert result.verdict == "inconclusive" and "experiment other is not run" in result.reason


# ---------------------------------------------------------------- bound


BOUND = {"kind": "bound", "metric": "init_change", "max": 0.1}


def test_bound():
    assert verdict_of([view(1, init_change=0.02), view(2, init_change=0.05)], **BOUND).verdict == "agrees"
    assert verdict_of([view(1, init_change=0.02), view(2, init_change=0.2)], **BOUND).verdict == "differs"
    assert verdict_of([view(1, init_change=0.02), view(2, init_change=0.09)], **BOUND).verdict == "inconclusive"


def test_bound_reads_only_the_values_at():
    views = [view(1, init_change=0.02), view(2, init_change=0.05), view(6, init_change=0.9)]
    assert verdict_of(views, **BOUND, at=[1, 2]).verdict == "agrees"


# ---------------------------------------------------------------- runs that cannot decide


GOOD = {"style_distance": 0.4}


@pytest.mark.parametrize(
    "bad, reason",
    [
        (view(1, status="missing"), "missing: 1"),
        (view(1, status="failed"), "failed: 1"),
        (RunView("run-1", {"x": 1}, "ok"), "not measured: 1"),
        (view(1, random=True, style_distance=0.9), "used RANDOM weights: 1"),
    ],
)
def test_a_run_that_cannot_decide_makes_it_inconclusive(bad, reason):
    result = verdict_of([bad, view(10, **GOOD)], **BEST)
    assert result.verdict == "inconclusive" and reason in result.reason, result.reason


def test_a_loss_still_falling_decides_nothing():
    # the loss fall is information: the verdicts at the milestones guard against premature verdicts
    unconverged = Convergence(False, 0.08, 10, False)
    result = verdict_of([view(1, convergence=unconverged, style_distance=0.9), view(10, **GOOD)], **BEST)
    assert result.verdict == "agrees" and result.check_says is None


def test_the_numbers_are_kept_when_a_trust_problem_overrides_them():
    result = verdict_of([view(1, random=True, style_distance=0.9), view(10, **GOOD)], **BEST)
    assert result.verdict == "inconclusive" and result.check_says == "agrees"
    assert result.numbers["values"] == {"1": 0.9, "10": 0.4}


# ---------------------------------------------------------------- the loss fall (information)


def record(totals: list[float], final: float, **extra) -> dict:
    return {"loss_history": [{"total": t} for t in totals], "final_losses": {"total": final}, **extra}


def test_converged_when_the_last_tenth_fell_less_than_the_threshold():
    # 20 iterations: the tail is 2; the loss 2 iterations before the end is 100
    falling = record([200.0] * 18 + [100.0, 99.0], 90.0)  # 10% in the tail
    flat = record([200.0] * 18 + [100.0, 99.8], 99.5)  # 0.5%
    assert findings.convergence(falling) == Convergence(False, pytest.approx(0.10), 2, False)
    assert findings.convergence(flat).converged and findings.convergence(flat).fall == pytest.approx(0.005)


def test_stopped_early_counts_as_flat():
    assert findings.convergence(record([200.0, 100.0], 50.0, stopped_early=True)).converged


def test_convergence_reads_only_the_final_stage():
    # 10 iterations at a coarse stage (large losses), then 10 at the final size: tail = 1 iteration
    stages = [{"iterations_done": 10}, {"iterations_done": 10}]
    fit = findings.convergence(record([1e6] * 10 + [100.0] * 9 + [100.0], 99.9, stages=stages))
    assert (fit.tail, fit.converged) == (1, True)


# ---------------------------------------------------------------- refused in the config (planner)


PLANNED = {"exp": {"a__b": [{"x": 1, "init": "content"}, {"x": 2, "init": "content"}, {"x": 3, "init": "content"}]}}


def refused(check: dict, varied=("x",), planned=PLANNED) -> str:
    with pytest.raises(FindingError) as error:
        validate_finding(
            {"id": "T", "statement": "s", "source": "t", "check": check}, list(varied), planned, "exp", {"exp", "other"}
        )
    return str(error.value)


def test_over_defaults_to_the_only_varied_parameter():
    checked = validate_finding(
        {
            "id": "T",
            "statement": "s",
            "source": "t",
            "check": {"kind": "monotonic", "metric": "init_change", "direction": "increasing"},
        },
        ["x"],
        PLANNED,
        "exp",
        {"exp"},
    )
    assert checked["check"]["over"] == "x"


@pytest.mark.parametrize(
    "check, varied, key",
    [
        ({"kind": "monotonic", "metric": "init_change", "direction": "increasing", "over": "y"}, ("x",), "check.over"),
        ({"kind": "monotonic", "metric": "init_change", "direction": "increasing"}, ("x", "y"), "check.over"),
        ({"kind": "best", "metric": "style_distance", "goal": "lowest", "expect": 7}, ("x",), "check.expect"),
        ({"kind": "bound", "metric": "init_change", "max": 0.1, "at": [9]}, ("x",), "check.at"),
        ({"kind": "biggest_step", "metric": "style_distance", "expect": [1, 3]}, ("x",), "check.expect"),
        ({"kind": "monotonic", "metric": "perceptual", "direction": "increasing"}, ("x",), "check.metric"),
        (
            {"kind": "bound", "metric": "init_change", "max": 1, "gate": {"metric": "content_ssim", "min": 0}},
            ("x",),
            "check.gate",
        ),
        (
            {"kind": "best", "metric": "init_change", "goal": "lowest", "expect": 1, "where": {"init": "style"}},
            ("x",),
            "check.where",
        ),
    ],
)
def test_unusable_checks_are_refused_naming_the_key(check, varied, key):
    assert refused(check, varied).startswith(key)


def test_a_value_in_two_different_runs_is_ambiguous():
    planned = {"exp": {"a__b": [{"x": 1, "init": "content"}, {"x": 1, "init": "style"}, {"x": 2, "init": "content"}]}}
    message = refused({"kind": "monotonic", "metric": "init_change", "direction": "increasing"}, planned=planned)
    assert message.startswith("check.over") and "init" in message and "check.where" in message


def test_monotonic_needs_numeric_values():
    planned = {"exp": {"a__b": [{"x": "content"}, {"x": "style"}]}}
    assert refused(
        {"kind": "monotonic", "metric": "init_change", "direction": "increasing"}, planned=planned
    ).startswith("check.over")


def test_close_selectors_must_name_a_known_experiment_and_select_one_run():
    base = {"kind": "close", "metric": "style_distance", "a": {"where": {"x": 1}}}
    assert refused(base | {"b": {"experiment": "nope", "where": {}}}).startswith("check.b.experiment")
    assert refused(base | {"b": {"where": {"init": "content"}}}).startswith("check.b.where")  # selects 3


def test_biggest_step_with_a_direction_counts_only_that_way():
    # the largest change is a rise (3 -> 4, +0.5); the largest fall is 2 -> 3 (-0.3)
    views = steps(0.9, 0.85, 0.55, 1.05, 1.0, 0.98)
    assert verdict_of(views, **STEP).verdict == "agrees"  # by size: 3 -> 4
    falling = verdict_of(views, **(STEP | {"direction": "decreasing", "expect": [2, 3]}))
    assert (falling.verdict, falling.numbers["biggest"]) == ("agrees", "2 → 3")


def test_bound_by_a_reference_run():
    """max: {experiment, where}: every value must stay below that run's value of the metric."""
    check = {"kind": "bound", "metric": "content_ssim", "max": {"experiment": "other", "where": {"init": "content"}}}
    reference = [RunView("ref", {"init": "content"}, "ok", metrics={"content_ssim": 0.40})]

    def bound(*ssims, ref=reference):
        views = [view(n, content_ssim=v) for n, v in enumerate(ssims, start=1)]
        return evaluate(finding(**check), "exp", "a__b", views, others=lambda name: ref)

    assert bound(0.1, 0.2).verdict == "agrees"
    assert bound(0.1, 0.5).verdict == "differs"
    assert bound(0.1, 0.38).verdict == "inconclusive"  # within 0.06 of 0.40
    assert bound(0.1, 0.2).numbers["references"]["max"] == {"run": "ref", "value": 0.40}
    random_ref = [RunView("ref", {"init": "content"}, "ok", random=True, metrics={"content_ssim": 0.4})]
    result = bound(0.1, 0.2, ref=random_ref)
    assert result.verdict == "inconclusive" and "used RANDOM weights: reference (max: other: content)" in result.reason


def test_what_numbers_there_are_are_shown_when_a_run_failed():
    result = verdict_of([view(1, status="failed"), view(10, **GOOD)], **BEST)
    assert result.verdict == "inconclusive" and result.check_says is None
    assert result.numbers["values"] == {"1": None, "10": 0.4}


def test_too_few_runs_is_inconclusive_not_an_error():
    """A config that cuts an experiment down to one value: the finding cannot say anything."""
    result = verdict_of([view(10, **GOOD)], **BEST)
    assert result.verdict == "inconclusive" and "needs 2 runs" in result.reason
    planned = {"exp": {"a__b": [{"x": 1, "init": "content"}]}}
    monotonic = {"kind": "monotonic", "metric": "init_change", "direction": "increasing"}
    checked = validate_finding(
        {"id": "T", "statement": "s", "source": "t", "check": monotonic}, ["x"], planned, "exp", {"exp"}
    )
    assert checked["check"]["over"] == "x"


# ---------------------------------------------------------------- budgets: the verdict along the way


def staged(value, per_budget: dict[float, float], metric="style_distance") -> RunView:
    """A run measured at several fractions of its budget (40 iterations): fraction -> metric value."""
    budgets = {fraction: {metric: v} for fraction, v in per_budget.items()}
    return RunView(
        f"run-{value}",
        {"x": value},
        "ok",
        metrics=budgets[1.0],
        budgets=budgets,
        iterations={fraction: round(40 * fraction) for fraction in budgets},
    )


def test_a_verdict_per_budget_and_the_headline_at_the_final_one():
    # 10 leads only from B/2 on: inconclusive (within 0.03) at B/8 and B/4, agrees at B/2 and B
    views = [
        staged(1, {0.125: 0.50, 0.25: 0.45, 0.5: 0.45, 1.0: 0.45}),
        staged(10, {0.125: 0.51, 0.25: 0.44, 0.5: 0.35, 1.0: 0.30}),
    ]
    result = verdict_of(views, **BEST)
    assert [b.budget for b in result.trajectory] == ["B/8", "B/4", "B/2", "B"]
    assert [b.verdict for b in result.trajectory] == ["inconclusive", "inconclusive", "agrees", "agrees"]
    assert [b.iterations for b in result.trajectory] == [[5], [10], [20], [40]]
    assert result.verdict == "agrees" and result.numbers["gap"] == pytest.approx(0.15)
    assert result.settled is True and result.settled_text.startswith("settled: agrees at B/2 and B")


def test_a_verdict_that_changes_after_half_the_budget_is_unsettled_with_its_sequence():
    views = [staged(1, {0.125: 0.30, 0.5: 0.40, 1.0: 0.45}), staged(10, {0.125: 0.50, 0.5: 0.39, 1.0: 0.30})]
    result = verdict_of(views, **BEST)
    assert [b.verdict for b in result.trajectory] == ["differs", "inconclusive", "agrees"]
    assert result.verdict == "agrees" and result.settled is False
    assert result.settled_text == "unsettled: differs → inconclusive → agrees (B/8 → B)"


def test_within_noise_at_both_halves_is_a_settled_inconclusive_within_noise():
    views = [staged(1, {0.5: 0.40, 1.0: 0.40}), staged(10, {0.5: 0.39, 1.0: 0.39})]
    result = verdict_of(views, **BEST)
    assert (result.verdict, result.cause, result.settled) == ("inconclusive", findings.WITHIN_NOISE, True)


def test_settledness_is_unknown_without_a_half_budget_or_a_judged_headline():
    short = [staged(1, {1.0: 0.45}), staged(10, {1.0: 0.30})]  # runs too short for milestones
    result = verdict_of(short, **BEST)
    assert result.verdict == "agrees" and result.settled is None and "no B/2 milestone" in result.settled_text
    random = [view(1, random=True, style_distance=0.45), view(10, style_distance=0.30)]
    assert verdict_of(random, **BEST).settled is None
    assert verdict_of(random, **BEST).cause == findings.NOT_JUDGED


def test_a_run_without_a_milestone_makes_only_that_budget_inconclusive():
    views = [staged(1, {0.125: 0.45, 0.5: 0.45, 1.0: 0.45}), staged(10, {0.5: 0.30, 1.0: 0.30})]
    result = verdict_of(views, **BEST)
    first = result.trajectory[0]
    assert (first.budget, first.verdict, first.judged) == ("B/8", "inconclusive", False)
    assert "no image at B/8: 10" in first.reason
    assert (result.verdict, result.settled) == ("agrees", True)


def test_pairwise_distances_are_read_per_budget():
    views = [staged(a, {0.5: 0.1, 1.0: 0.1}) for a in (1, 2)]
    rows = {
        0.5: [{"a": "run-1", "b": "run-2", "perceptual": 0.9}],
        1.0: [{"a": "run-1", "b": "run-2", "perceptual": 0.1}],
    }
    result = verdict_of(views, pairwise=rows, kind="alike", metric="perceptual", expect="alike")
    assert [b.verdict for b in result.trajectory] == ["differs", "agrees"]
    assert result.settled is False
    missing = verdict_of(views, pairwise={1.0: rows[1.0]}, kind="alike", metric="perceptual", expect="alike")
    assert (
        missing.trajectory[0].verdict == "inconclusive"
        and "pairwise distances missing at B/2" in missing.trajectory[0].reason
    )


@pytest.mark.parametrize(
    "check, values, name",
    [
        (BEST, {1: 0.45, 10: 0.30}, "lead of 10 over the best rival"),
        (
            {"kind": "monotonic", "metric": "style_distance", "direction": "decreasing"},
            {1: 0.45, 10: 0.30},
            "whole change",
        ),
        ({"kind": "bound", "metric": "style_distance", "max": 0.5}, {1: 0.45, 10: 0.30}, "room inside the bound"),
    ],
)
def test_each_check_names_its_deciding_quantity(check, values, name):
    views = [staged(x, {0.5: v, 1.0: v}) for x, v in values.items()]
    deciding = verdict_of(views, **check).numbers["deciding"]
    assert deciding["name"].startswith(name) and deciding["threshold"] == pytest.approx(0.03)
    assert deciding["value"] == pytest.approx({"best": 0.15, "monotonic": 0.15, "bound": 0.05}[check["kind"]])
