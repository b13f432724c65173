"""Milestone images (nst.milestones): which iterations, and that each is the image a shorter run of
the same parameters ends with (L-BFGS is deterministic), saved as the final image is."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import nst.api as engine
from nst.milestones import MIN_MILESTONE_ITERATIONS, milestone_dir, milestone_image, milestone_iterations

H = 64


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # shared CPUs (see test_engine.one_thread)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("iterations", "expected"),
    [
        (40, {5: 0.125, 10: 0.25, 20: 0.5}),
        (1000, {125: 0.125, 250: 0.25, 500: 0.5}),
        (39, {9: 0.25, 19: 0.5}),  # 39/8 = 4.9: fewer than 5 iterations, dropped; floor elsewhere
        (20, {5: 0.25, 10: 0.5}),
        (10, {5: 0.5}),
        (9, {}),  # 9/2 = 4.5
        (3, {}),  # the tiny test config: no milestones at all
        (1, {}),
    ],
)
def test_milestone_iterations_are_the_halvings_of_the_budget(iterations, expected):
    assert milestone_iterations({"iterations": iterations, "stage_iterations": []}) == expected
    assert all(iteration >= MIN_MILESTONE_ITERATIONS for iteration in expected)


def test_milestones_of_coarse_to_fine_runs_lie_in_the_final_stage():
    # final stage of 30 after 10 + 20: 30/8 = 3.75 (too few), 30/4 -> 7, 30/2 -> 15, offset by 30
    params = {"iterations": 60, "stage_iterations": [10, 20, 30], "stage_heights": [32, 48]}
    assert milestone_iterations(params) == {37: 0.25, 45: 0.5}
    # an even split of 1000 over two stages: the final stage's 500 halved, after the first 500
    assert milestone_iterations({"iterations": 1000, "stage_iterations": [500, 500]}) == {
        562: 0.125,
        625: 0.25,
        750: 0.5,
    }


def test_milestone_paths():
    assert milestone_dir("results/runs/a__b/run1.png").as_posix() == "results/runs/a__b/run1.milestones"
    assert milestone_image("x/out.jpg", 5).as_posix() == "x/out.milestones/it00005.png"


def run(content, style, out, **kwargs):
    kwargs = {"weights": "bundled", "height": H, "progress": False, "device": "cpu"} | kwargs
    return engine.stylize(content, style, out, **kwargs)


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize("color_control", ["none", "luminance"])
def test_a_milestone_is_the_shorter_runs_result(tmp_path, content_image, style_image, color_control):
    """The milestone at B/2 of a B-iteration run = the final image of a B/2-iteration run (pixels,
    losses), post-processed (colour control) as the final image is."""
    options = {"init_method": "gaussian", "seed": 1, "color_control": color_control}
    long = run(content_image, style_image, tmp_path / "long" / "out.png", iterations=10, **options)
    short = run(content_image, style_image, tmp_path / "short" / "out.png", iterations=5, **options)

    listed = long.record["milestones"]
    assert listed == [
        {"iteration": 5, "fraction": 0.5, "image": "out.milestones/it00005.png", "losses": listed[0]["losses"]}
    ]
    assert listed[0]["losses"] == short.record["final_losses"]
    assert json.loads(long.sidecar.read_text())["milestones"] == listed
    image = long.sidecar.parent / listed[0]["image"]
    with Image.open(image) as opened:
        assert opened.format == "PNG" and opened.size == (96, H)
    assert np.array_equal(pixels(image), pixels(short.image))
    assert not np.array_equal(pixels(image), pixels(long.image))  # it is an earlier image, not the final
    assert short.record["milestones"] == [] and list(milestone_dir(short.image).iterdir()) == []


def test_milestones_after_an_early_stop_are_the_final_image(tmp_path, content_image, style_image):
    # loss exactly 0 at the content init: L-BFGS stops before iteration 5, and the image never moves again
    result = run(
        content_image,
        style_image,
        tmp_path / "early.png",
        style_weight=0,
        tv_weight=0,
        init_method="content",
        iterations=10,
    )
    assert result.record["stopped_early"] and result.record["iterations_done"] < 5
    (listed,) = result.record["milestones"]
    assert listed["losses"] == result.record["final_losses"]
    assert np.array_equal(pixels(tmp_path / listed["image"]), pixels(result.image))


def test_a_coarse_to_fine_milestone_is_in_the_final_stage(tmp_path, content_image, style_image):
    """Stages 3 (32 px) + 10 (48 px): the milestone at half the final stage is iteration 3 + 5, at the
    final size, and equals the result of stages 3 + 5."""
    options = {"height": 48, "stage_heights": [32], "init_method": "content"}
    long = run(
        content_image, style_image, tmp_path / "long" / "out.png", iterations=13, stage_iterations=[3, 10], **options
    )
    short = run(
        content_image, style_image, tmp_path / "short" / "out.png", iterations=8, stage_iterations=[3, 5], **options
    )
    (listed,) = long.record["milestones"]
    assert (listed["iteration"], listed["fraction"]) == (8, 0.5)
    assert listed["losses"] == short.record["final_losses"]
    assert np.array_equal(pixels(long.sidecar.parent / listed["image"]), pixels(short.image))
    assert pixels(short.image).shape == (48, 72, 3)
