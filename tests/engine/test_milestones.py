"""Milestone images (nst.milestones): which iterations, and that each is the image a shorter run of
the same parameters ends with (L-BFGS is deterministic), saved as the final image is."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
import torch
from PIL import Image

import nst.api as engine
from nst.errors import NSTInputError, NSTInterrupted
from nst.milestones import (
    MAX_SAVE_POINTS,
    MIN_MILESTONE_ITERATIONS,
    milestone_dir,
    milestone_image,
    milestone_iterations,
    save_points,
)

H = 64


pytestmark = pytest.mark.usefixtures("one_thread")


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


# --------------------------------------------------------------------------- save_every (--save-every)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # the halvings (5, 10) and every 3rd iteration, the last (20, the output) excluded
        ({"iterations": 20, "save_every": 3}, {3: 0.15, 5: 0.25, 6: 0.3, 9: 0.45, 10: 0.5, 12: 0.6, 15: 0.75, 18: 0.9}),
        ({"iterations": 20, "save_every": 10}, {5: 0.25, 10: 0.5}),  # 10 is a halving too; 20 is the output
        ({"iterations": 20, "save_every": 0}, {5: 0.25, 10: 0.5}),  # 0: the halvings alone
        ({"iterations": 3, "save_every": 1}, {1: 1 / 3, 2: 2 / 3}),  # below MIN_MILESTONE_ITERATIONS: asked for
        # coarse-to-fine: multiples of 25 over the whole run, only in the final stage (30 + 1..30)
        ({"iterations": 60, "stage_iterations": [10, 20, 30], "save_every": 25}, {37: 0.25, 45: 0.5, 50: 20 / 30}),
    ],
)
def test_save_every_adds_save_points_to_the_halvings(params, expected):
    assert milestone_iterations(params) == expected
    assert list(milestone_iterations(params)) == sorted(expected)


def test_too_many_save_points_are_refused_before_any_work(content_image, style_image):
    options = {"weights": "bundled", "height": H, "device": "cpu"}
    limit = engine.check_run(content_image, style_image, iterations=MAX_SAVE_POINTS + 1, save_every=1, **options)
    assert len(save_points(limit)) == MAX_SAVE_POINTS
    with pytest.raises(NSTInputError, match=f"save_every 1 asks for {MAX_SAVE_POINTS + 1} images"):
        engine.check_run(content_image, style_image, iterations=MAX_SAVE_POINTS + 2, save_every=1, **options)


def files(folder) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def saved_every_2(tmp_path_factory, content_image, style_image):
    """A 10-iteration run with save_every 2, and the same run without it."""
    folder = tmp_path_factory.mktemp("save_every")
    options = {"iterations": 10, "init_method": "gaussian", "seed": 1}
    plain = run(content_image, style_image, folder / "plain" / "out.png", **options)
    saved = run(content_image, style_image, folder / "saved" / "out.png", save_every=2, **options)
    return plain, saved, options


def test_save_every_writes_the_images_and_changes_nothing_else(tmp_path, content_image, style_image, saved_every_2):
    plain, saved, options = saved_every_2
    assert sorted(files(milestone_dir(saved.image))) == [f"it{i:05d}.png" for i in (2, 4, 5, 6, 8)]  # 5: B/2
    assert [m["iteration"] for m in saved.record["milestones"]] == [2, 4, 5, 6, 8]
    # an output option: the same run (parameters, so id and checkpoint), the same final bytes and losses,
    # and the halvings' images and entries unchanged
    assert saved.record["parameters"] == plain.record["parameters"]
    assert saved.image.read_bytes() == plain.image.read_bytes()
    assert saved.record["loss_history"] == plain.record["loss_history"]
    assert files(milestone_dir(plain.image)) == {"it00005.png": files(milestone_dir(saved.image))["it00005.png"]}
    assert [m for m in saved.record["milestones"] if m["iteration"] == 5] == plain.record["milestones"]
    # each save point is the image a run of that many iterations ends with
    short = run(content_image, style_image, tmp_path / "short" / "out.png", **(options | {"iterations": 4}))
    assert np.array_equal(pixels(milestone_image(saved.image, 4)), pixels(short.image))
    (at_4,) = [m for m in saved.record["milestones"] if m["iteration"] == 4]
    assert at_4["losses"] == short.record["final_losses"] and at_4["fraction"] == 0.4


def test_save_every_survives_sigterm_and_resume(tmp_path, content_image, style_image, saved_every_2):
    """SIGTERM after iteration 5 (the engine's own handler: checkpoint, NSTInterrupted); the same call
    again resumes and writes the uninterrupted run's bytes, save points before the stop included."""
    _, saved, options = saved_every_2
    out = tmp_path / "out.png"

    def sigterm_at_5(report):
        if report.iteration == 5:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(NSTInterrupted):
        run(content_image, style_image, out, save_every=2, callbacks=[sigterm_at_5], **options)
    left = torch.load(out.with_suffix(".ckpt"), map_location="cpu", weights_only=True)
    assert 5 < left["iteration"] < 10 and {2, 4, 5} <= set(left["milestones"])
    resumed = run(content_image, style_image, out, save_every=2, **options)
    assert resumed.record["resumed_from_iteration"] == left["iteration"]
    assert out.read_bytes() == saved.image.read_bytes()
    assert files(milestone_dir(out)) == files(milestone_dir(saved.image))
    assert resumed.record["milestones"] == saved.record["milestones"]


def test_a_checkpoint_without_the_save_points_is_not_resumed(tmp_path, content_image, style_image, capsys):
    """Its images before the stop would be missing: the run with save_every starts afresh."""
    out = tmp_path / "out.png"
    options = {"iterations": 6, "checkpoint_every": 3}

    class Crash(Exception):
        pass

    def crash_at_4(report):
        if report.iteration == 4:
            raise Crash  # not a stop signal: the iteration-3 checkpoint stays as it was

    with pytest.raises(Crash):
        run(content_image, style_image, out, callbacks=[crash_at_4], **options)
    assert out.with_suffix(".ckpt").is_file()
    capsys.readouterr()
    resumed = run(content_image, style_image, out, save_every=2, **options)
    assert "ignoring checkpoint" in capsys.readouterr().out and resumed.record["resumed_from_iteration"] is None
    assert [m["iteration"] for m in resumed.record["milestones"]] == [2, 4]
