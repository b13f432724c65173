"""Run options beyond the classic ones, end to end through nst.stylize at tiny sizes (CPU): precision,
coarse-to-fine stages, colour control, style blends, style scale, the study's noise units."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

import nst
import nst.setup
from nst import color, images
from nst.errors import NSTInputError
from nst.naming import run_id

CONTENT = "data/content/chelsea.jpg"
STYLE = "data/style/starry_night.jpg"
STYLE_B = "data/style/hubble_deep_field.jpg"
H = 48


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run(out, **kwargs):
    kwargs = {"weights": "bundled", "height": H, "iterations": 3, "progress": False, "device": "cpu"} | kwargs
    style = kwargs.pop("style", STYLE)
    return nst.stylize(CONTENT, style, out, **kwargs)


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


# --------------------------------------------------------------------------- precision


def test_bf16_runs_and_is_recorded(tmp_path):
    fp32 = run(tmp_path / "fp32.png")
    bf16 = run(tmp_path / "bf16.png", precision="bf16", allow_slow_bf16=True)  # slow where emulated, tiny here
    assert bf16.record["parameters"]["precision"] == "bf16"
    assert "_p_bf16" in run_id(bf16.record["parameters"]) and "_p_" not in run_id(fp32.record["parameters"])
    final32, final16 = fp32.record["final_losses"]["total"], bf16.record["final_losses"]["total"]
    assert np.isfinite(final16) and final16 < bf16.record["loss_history"][0]["total"]
    assert abs(final16 - final32) / final32 < 0.2, (final16, final32)  # same optimisation, bf16 rounding
    assert not np.array_equal(pixels(fp32.image), pixels(bf16.image))  # bf16 really ran


def test_bf16_is_deterministic_on_cpu(tmp_path):
    a = run(tmp_path / "a" / "out.png", precision="bf16", init_method="gaussian", allow_slow_bf16=True)
    b = run(tmp_path / "b" / "out.png", precision="bf16", init_method="gaussian", allow_slow_bf16=True)
    assert a.image.read_bytes() == b.image.read_bytes()


def test_tf32_on_cpu_is_fp32(tmp_path):
    """TF32 only exists on CUDA: on the CPU precision tf32 computes exactly what fp32 does."""
    a = run(tmp_path / "fp32.png")
    b = run(tmp_path / "tf32.png", precision="tf32")
    assert np.array_equal(pixels(a.image), pixels(b.image))


# --------------------------------------------------------------------------- coarse-to-fine


def test_coarse_to_fine_stages(tmp_path):
    result = run(tmp_path / "c2f.png", height=64, stage_heights=[32, 48], stage_iterations=[2, 2, 3], iterations=7)
    record = result.record
    assert [(s["height"], s["iterations"]) for s in record["stages"]] == [(32, 2), (48, 2), (64, 3)]
    assert record["iterations_done"] == len(record["loss_history"]) == 7
    assert record["size"]["height"] == 64
    with Image.open(result.image) as image:
        assert image.size[1] == 64
    assert "_st_32+48_si_2+2+3" in run_id(record["parameters"])


def test_even_split_by_default(tmp_path):
    params = nst.check_run(CONTENT, STYLE, weights="bundled", height=64, stage_heights=[32], iterations=7)
    assert params["stage_iterations"] == [3, 4]


def test_stage_checkpoint_resumes_to_identical_bytes(repo_root, tmp_path):
    """Killed with SIGTERM in stage 2 of 3, rerun: the same bytes as an uninterrupted run."""
    command = [
        sys.executable,
        "-m",
        "nst",
        "stylize",
        "--content",
        CONTENT,
        "--style",
        STYLE,
        "--weights",
        "bundled",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--height",
        "64",
        "--stage-heights",
        "32",
        "48",
        "--stage-iterations",
        "4",
        "30",
        "4",
        "--iterations",
        "38",
        "--checkpoint-every",
        "2",
        "--no-progress",
    ]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    whole = tmp_path / "whole"
    done = subprocess.run([*command, "--out", str(whole)], cwd=repo_root, env=env, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    cut = tmp_path / "cut"
    proc = subprocess.Popen([*command, "--out", str(cut)], cwd=repo_root, env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        states = [torch.load(p, weights_only=True) for p in cut.glob("*.ckpt")] if cut.exists() else []
        if states and states[0]["stage"] == 1 and states[0]["iteration"] >= 8:
            break
        assert proc.poll() is None, "the run ended before a stage-2 checkpoint was seen"
        time.sleep(0.05)
    else:  # a SIGTERM now would land anywhere (or nowhere): the mid-stage resume would go untested
        proc.kill()
        pytest.fail(f"no stage-2 checkpoint at iteration >= 8 within 300 s (seen: {states})")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 143
    again = subprocess.run([*command, "--out", str(cut)], cwd=repo_root, env=env, capture_output=True, timeout=600)
    assert again.returncode == 0 and b"resuming" in again.stdout, again.stderr[-2000:]
    [first] = whole.glob("*.png")
    [second] = cut.glob("*.png")
    assert first.name == second.name and first.read_bytes() == second.read_bytes()
    assert json.loads(second.with_suffix(".json").read_text())["resumed_from_iteration"] >= 8


# --------------------------------------------------------------------------- colour control


def test_luminance_keeps_the_contents_colours(tmp_path):
    plain = run(tmp_path / "plain.png", iterations=4)
    kept = run(tmp_path / "kept.png", iterations=4, color_control="luminance")
    content = images.open_rgb(CONTENT, "content").resize(Image.open(kept.image).size, Image.Resampling.BICUBIC)
    as_unit = [
        torch.from_numpy(a.astype(np.float32) / 255).permute(2, 0, 1)[None]
        for a in (pixels(plain.image), pixels(kept.image), np.asarray(content))
    ]
    plain_rgb, kept_rgb, content_rgb = as_unit
    # luminance from the stylised run, chroma (RGB minus luminance) from the content; 8-bit rounding
    # and clamping of out-of-gamut pixels aside
    luma_error = (color.luma(kept_rgb) - color.luma(plain_rgb)).abs()
    chroma_error = ((kept_rgb - color.luma(kept_rgb)) - (content_rgb - color.luma(content_rgb))).abs()
    assert luma_error.median() < 2 / 255 and chroma_error.median() < 2 / 255
    chroma_of_plain = ((plain_rgb - color.luma(plain_rgb)) - (content_rgb - color.luma(content_rgb))).abs()
    assert chroma_of_plain.median() > 4 * chroma_error.median()  # without it the colours are the style's


def test_histogram_matches_the_style_to_the_contents_colours():
    params = nst.check_run(CONTENT, STYLE, weights="bundled", height=H, color_control="histogram")
    from nst.setup import load_images

    run_images = load_images(params, images.Path(CONTENT), [images.Path(STYLE)])
    content_mean, content_cov = color.color_statistics(color.to_unit_rgb(run_images.content_at(H)))
    style_mean, style_cov = color.color_statistics(color.to_unit_rgb(run_images.styles_at(H)[0]))
    assert torch.allclose(style_mean, content_mean, atol=0.02)
    assert torch.allclose(style_cov, content_cov, atol=0.2 * content_cov.abs().max().item())


# --------------------------------------------------------------------------- blends and style scale


def test_single_style_weight_one_is_the_plain_run_byte_for_byte(tmp_path):
    plain = run(tmp_path / "a" / "out.png")
    weighted = run(tmp_path / "b" / "out.png", style=[STYLE], style_blend_weights=[1.0])
    assert weighted.record["parameters"] == plain.record["parameters"]  # the same run...
    assert weighted.image.read_bytes() == plain.image.read_bytes()  # ...and the same bytes


def test_blend_one_to_zero_is_the_first_style(tmp_path):
    plain = run(tmp_path / "plain.png")
    blend = run(tmp_path / "blend.png", style=[STYLE, STYLE_B], style_blend_weights=[1, 0])
    assert blend.record["parameters"]["style_blend_weights"] == [1.0, 0.0]
    assert blend.record["style_images"] == [STYLE, STYLE_B]
    assert np.array_equal(pixels(blend.image), pixels(plain.image))


def test_blend_weights_are_normalised_and_change_the_result(tmp_path):
    params = nst.check_run(CONTENT, [STYLE, STYLE_B], weights="bundled", style_blend_weights=[7, 3])
    assert params["style_blend_weights"] == [0.7, 0.3]
    a = run(tmp_path / "a.png", style=[STYLE, STYLE_B], style_blend_weights=[0.7, 0.3])
    b = run(tmp_path / "b.png", style=[STYLE, STYLE_B], style_blend_weights=[0.3, 0.7])
    assert not np.array_equal(pixels(a.image), pixels(b.image))


def test_style_scale_one_is_todays_run(tmp_path):
    plain = run(tmp_path / "a" / "out.png")
    scaled = run(tmp_path / "b" / "out.png", style_scale=1)
    assert scaled.image.read_bytes() == plain.image.read_bytes()
    half = run(tmp_path / "c" / "out.png", style_scale=2.0)
    assert not np.array_equal(pixels(half.image), pixels(plain.image))


def test_study_noise_units_start_from_grey(tmp_path):
    result = run(tmp_path / "grey.png", init_method="gaussian", noise_units="grey_levels", iterations=1)
    assert result.record["parameters"]["noise_units"] == "grey_levels"
    assert "_nu_grey-levels" in run_id(result.record["parameters"])


# --------------------------------------------------------------------------- bad values, before any work

BAD = [
    ({"precision": "fp8"}, "precision 'fp8'"),
    ({"stage_heights": [8], "height": 48}, "stage_heights"),
    ({"stage_heights": [64], "height": 48}, "stage_heights [64]"),
    ({"stage_heights": [32], "stage_iterations": [1, 1], "iterations": 3}, "stage_iterations [1, 1]"),
    ({"stage_heights": [24, 32], "stage_iterations": [1, 2]}, "stage_iterations"),
    ({"color_control": "sepia"}, "color_control 'sepia'"),
    ({"style": [STYLE, STYLE_B], "style_blend_weights": [1.0]}, "style_blend_weights"),
    ({"style": [STYLE, STYLE_B], "style_blend_weights": [1.0, -1.0]}, "style_blend_weights"),
    ({"style": [STYLE, STYLE_B], "style_blend_weights": [0, 0]}, "all zero"),
    ({"style": [STYLE, "data/style/missing.jpg"]}, "missing.jpg"),
    ({"style_scale": 0}, "style_scale"),
    ({"style_scale": -1.0}, "style_scale"),
    ({"style_scale": 0.1}, "style_scale 0.1"),
    ({"noise_units": "kelvin"}, "noise_units 'kelvin'"),
]


@pytest.mark.parametrize(("options", "expected"), BAD, ids=[str(options) for options, _ in BAD])
def test_bad_values_are_refused_naming_them(tmp_path, monkeypatch, options, expected):
    def no_network(*args):  # refused before any network is loaded, let alone optimised
        raise AssertionError("a network was loaded for a bad parameter set")

    monkeypatch.setattr(nst.setup, "load_network", no_network)
    with pytest.raises(NSTInputError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        run(tmp_path / "out.png", **options)
    assert list(tmp_path.iterdir()) == []
