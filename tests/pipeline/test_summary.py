"""The report's computed sentences (nst_pipeline.summary), on made-up outcomes with known numbers:
every expected sentence is written out here, not derived from the inputs."""

from __future__ import annotations

from nst_pipeline.outcome import RunOutcome
from nst_pipeline.summary import summarize

PRETRAINED = {"source": "bundled", "sha256": "ab" * 32, "pretrained": True, "label": "bundled: test"}
RANDOM = {"source": "random", "sha256": "cd" * 32, "pretrained": False, "label": "RANDOM"}


def _ok(label: str, sw: float, style: float, content: float, pair: str = "a__b", **extra) -> RunOutcome:
    parameters = {
        "model": "vgg19",
        "weights": "bundled",
        "init_method": "content",
        "content_weight": 1e5,
        "style_weight": sw,
        "tv_weight": 1.0,
        "content_layer": 4,
        "style_layers": 6,
        "optimizer": "lbfgs",
        "iterations": 10,
        "learning_rate": 1.0,
        "height": 64,
        "seed": 0,
    }
    record = {
        "parameters": parameters | extra.pop("parameters", {}),
        "weights": PRETRAINED,
        "random_weights": False,
        "iterations_done": 10,
        "stopped_early": False,
        "time_per_iteration_s": 0.1,
        "final_losses": {"content": content, "style": style, "tv": 1.0, "total": 1.0},
    } | extra
    return RunOutcome(f"{pair}/{label}", "e", pair, label, 0, {"style_weight": sw}, "ok", None, record, None)


def _not_ok(label: str, status: str) -> RunOutcome:
    return RunOutcome(f"a__b/{label}", "e", "a__b", label, 0, {}, status, None, None, "boom")


def test_no_runs():
    assert summarize([]) == ["No runs."]


def test_counts_failed_and_missing():
    runs = [_ok("sw = 10", 10, style=5.0, content=1.0), _not_ok("x", "failed"), _not_ok("y", "missing")]
    assert summarize(runs) == [
        "1 of 3 runs finished (1 failed, 1 missing).",
        "Only one finished run (sw = 10): final style loss 5, content loss 1.",
    ]


def test_lowest_highest_not_monotonic_and_stopped_early():
    runs = [
        _ok("sw = 10", 10, style=500.0, content=1.0, time_per_iteration_s=0.2),
        _ok("sw = 100", 100, style=20.0, content=3.0),
        _ok("sw = 1000", 1000, style=50.0, content=9.0, stopped_early=True, iterations_done=7),
    ]
    assert summarize(runs) == [
        "3 of 3 runs finished.",
        "Lowest final style loss: sw = 100 (20); highest: sw = 10 (500), 25× the lowest.",
        "Lowest final content loss: sw = 10 (1); highest: sw = 1000 (9), 9× the lowest.",
        "Final style loss does not fall monotonically as style_weight grows: it goes from 20 at "
        "style_weight = 100 to 50 at style_weight = 1000.",
        "Time per iteration: fastest sw = 100 (0.1 s), slowest sw = 10 (0.2 s).",
        "sw = 1000 stopped early, after iteration 7 of 10: L-BFGS made no further progress.",
    ]


def test_monotonic_fall():
    runs = [
        _ok("sw = 10", 10, style=500.0, content=1.0),
        _ok("sw = 100", 100, style=20.0, content=1.0),
        _ok("sw = 1000", 1000, style=5.0, content=1.0),
    ]
    sentences = summarize(runs)
    assert "Lowest final style loss: sw = 1000 (5); highest: sw = 10 (500), 100× the lowest." in sentences
    assert "All 3 runs ended with the same final content loss (1)." in sentences
    assert (
        "Final style loss falls monotonically as style_weight grows (style_weight 10 → 1000: style loss 500 → 5)."
        in sentences
    )


def test_near_equal_values_get_enough_digits():
    runs = [_ok("sw = 10", 10, style=100.0, content=1.0), _ok("sw = 20", 20, style=100.04, content=1.0)]
    sentences = summarize(runs)
    assert (
        "Lowest final style loss: sw = 10 (100); highest: sw = 20 (100.04), only 0.04% above the lowest." in sentences
    )
    assert (
        "Final style loss does not fall monotonically as style_weight grows: it goes from 100 at "
        "style_weight = 10 to 100.04 at style_weight = 20." in sentences
    )


def test_random_weights_runs_are_left_out_of_comparisons():
    random = _ok("random", 10, style=0.001, content=0.001, random_weights=True, weights=RANDOM)
    runs = [_ok("sw = 10", 10, style=100.0, content=1.0), _ok("sw = 20", 20, style=50.0, content=2.0), random]
    sentences = summarize(runs)
    assert sentences[:3] == [
        "3 of 3 runs finished.",
        "1 of the finished runs used RANDOM (not pretrained) weights: their losses say nothing about style transfer.",
        "The comparisons below leave out the 1 random-weights run(s) and use the 2 with pretrained weights.",
    ]
    # the random run's far lower losses would otherwise be "lowest"
    assert "Lowest final style loss: sw = 20 (50); highest: sw = 10 (100), 2× the lowest." in sentences


def test_not_like_for_like_and_no_trend_across_it():
    a = _ok("layers 2", 10, style=1.0, content=1.0, parameters={"style_layers": 2})
    b = _ok("layers 6", 20, style=9.0, content=1.0)
    sentences = summarize([a, b])
    assert (
        "These runs differ in style_layers, so their losses are measured differently: "
        "the comparison above is not like for like." in sentences
    )
    # different style_layers: not the same bucket, so no sentence on the style-weight trend
    assert not any("as style_weight grows" in s for s in sentences)


def test_pairs_get_a_prefix_when_there_are_several():
    runs = [
        _ok("sw = 10", 10, style=4.0, content=2.0, pair="a__b"),
        _ok("sw = 10", 10, style=8.0, content=2.0, pair="c__d"),
    ]
    assert summarize(runs) == [
        "2 of 2 runs finished.",
        "a__b: Only one finished run (sw = 10): final style loss 4, content loss 2.",
        "c__d: Only one finished run (sw = 10): final style loss 8, content loss 2.",
    ]
