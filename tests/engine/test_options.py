"""Run options beyond the classic ones, end to end through nst.stylize at tiny sizes (CPU): precision,
coarse-to-fine stages, colour control, style blends, style scale, the study's noise units, pooling and
per-layer style weights."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import nst
import nst.losses
import nst.params
import nst.setup
from nst import color, images
from nst.backbones import IMAGENET_MEAN, FeatureExtractor, get_backbone
from nst.errors import NSTInputError
from nst.losses import gram_matrix
from nst.naming import run_id
from nst.optimize import ImageOptimizer
from nst.weights import load_network

CONTENT = "data/content/chelsea.jpg"
STYLE = "data/style/starry_night.jpg"
STYLE_B = "data/style/hubble_deep_field.jpg"
H = 48


pytestmark = pytest.mark.usefixtures("one_thread")


def run(out, **kwargs):
    kwargs = {"weights": "bundled", "height": H, "iterations": 3, "progress": False, "device": "cpu"} | kwargs
    style = kwargs.pop("style", STYLE)
    return nst.stylize(CONTENT, style, out, **kwargs)


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def setup_of(**kwargs) -> nst.setup.RunSetup:
    """What nst.stylize builds for a run (network, images) before optimising: the engine's own set-up."""
    params = nst.check_run(CONTENT, STYLE, **({"weights": "bundled", "height": H, "device": "cpu"} | kwargs))
    return nst.setup.build_run(params, Path(CONTENT), [Path(STYLE)], torch.device(params["device"]))


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


def bf16_dtypes(monkeypatch, device: str = "cpu") -> dict:
    """The dtypes one evaluation of a bf16 run's objective computes in (its set-up as nst.stylize builds
    it on `device`): the backbone's convolutions, the style targets' and the image's Gram matrices and
    what they are computed from, the loss terms, the image's gradient."""
    grams = []

    def recording_gram(features):
        gram = gram_of(features)
        grams.append((features.dtype, gram.dtype))
        return gram

    gram_of = nst.losses.gram_matrix
    monkeypatch.setattr(nst.losses, "gram_matrix", recording_gram)
    setup = setup_of(precision="bf16", device=device, height=32)  # bf16 is slow on CPUs without bf16 units
    convolutions = set()
    for module in setup.extractor.modules():
        if isinstance(module, nn.Conv2d):
            module.register_forward_hook(lambda module, inputs, output: convolutions.add(output.dtype))
    stage = setup.stage(32)
    image = setup.initial_image(stage).to(setup.device).requires_grad_(True)
    terms = stage.objective(image)
    terms["total"].backward()
    assert len(grams) == 6 and all(torch.isfinite(value) for value in terms.values())
    return {
        "convolutions": convolutions,
        "targets": {gram.dtype for gram in stage.objective.style.buffers()},
        "image grams": {dtype for _, dtype in grams},
        "features": {dtype for dtype, _ in grams},
        "losses": {value.dtype for value in terms.values()},
        "gradient": {image.grad.dtype},
    }


def test_bf16_runs_the_network_in_bf16_and_keeps_grams_and_losses_fp32(monkeypatch):
    dtypes = bf16_dtypes(monkeypatch)
    assert dtypes.pop("convolutions") == {torch.bfloat16}  # bf16 really ran
    assert dtypes == dict.fromkeys(dtypes, {torch.float32})  # a bf16 Gram overflows or loses the small terms


def test_bf16_is_deterministic_on_cpu(tmp_path):
    """Two Adam steps (one evaluation each) at 32 px: bf16 is emulated on a CPU without bf16 units
    (~20x slower), and determinism is the network's, not the optimiser's (its state stays fp32)."""
    bf16 = {"precision": "bf16", "init_method": "gaussian", "allow_slow_bf16": True, "optimizer": "adam"}
    a = run(tmp_path / "a" / "out.png", height=32, iterations=2, **bf16)
    b = run(tmp_path / "b" / "out.png", height=32, iterations=2, **bf16)
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


def test_each_stage_starts_from_the_previous_result_enlarged(tmp_path):
    """A stage's first loss is the objective at its start image. Replayed here with the engine's parts:
    stage 1 (32 px) optimised for its 2 iterations, enlarged bicubically to 72x48, is where stage 2 starts."""
    stages = {"height": H, "stage_heights": [32], "stage_iterations": [2, 2], "iterations": 4}
    history = run(tmp_path / "c2f.png", **stages).record["loss_history"]
    setup = setup_of(**stages)
    first, second = setup.stage(32), setup.stage(H)
    image = setup.initial_image(first).requires_grad_(True)
    optimizer = ImageOptimizer(image, first.objective, "lbfgs", setup.params["learning_rate"])
    assert [optimizer.step() for _ in range(2)] == history[:2]  # stage 1 is replayed exactly
    assert second.size == (72, 48)
    enlarged = torch.nn.functional.interpolate(image.detach(), size=(48, 72), mode="bicubic", align_corners=False)
    with torch.no_grad():
        at_enlarged = {name: value.item() for name, value in second.objective(enlarged).items()}
        at_fresh_start = second.objective(setup.initial_image(second))["total"].item()
    assert history[2] == pytest.approx(at_enlarged, rel=1e-5)
    assert history[2]["total"] != pytest.approx(at_fresh_start, rel=1e-3)  # not a new start at 48 px


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


@pytest.mark.parametrize(
    ("weights", "sole", "init_method"),
    [([1, 0], STYLE, "content"), ([0, 1], STYLE_B, "style"), ([0, 2.5, 0], STYLE_B, "style")],
)
def test_a_blend_of_one_is_the_single_style_run(tmp_path, weights, sole, init_method):
    """A blend whose weights leave one style non-zero is that style's run: its parameters, run id,
    record and bytes (a style init starts from the blend of the style images: that style too)."""
    blend_styles = [STYLE, STYLE_B, STYLE][: len(weights)]
    plain = run(tmp_path / "plain" / "out.png", style=sole, init_method=init_method)
    blend = run(
        tmp_path / "blend" / "out.png", style=blend_styles, style_blend_weights=weights, init_method=init_method
    )
    assert blend.record["parameters"] == plain.record["parameters"]
    assert blend.record["parameters"]["style_blend_weights"] is None
    assert blend.record["style_images"] == [sole]
    params = nst.check_run(CONTENT, blend_styles, weights="bundled", height=H, style_blend_weights=weights)
    assert run_id(params) == run_id(nst.check_run(CONTENT, sole, weights="bundled", height=H))
    assert blend.image.read_bytes() == plain.image.read_bytes()
    assert nst.params.used_styles(blend_styles, weights) == [Path(sole)]


def test_a_true_blend_keeps_its_styles_and_weights():
    assert nst.params.sole_style([STYLE, STYLE_B], [1, 1e-300]) is None  # tiny but not zero: a blend
    params = nst.check_run(CONTENT, [STYLE, STYLE_B, STYLE], weights="bundled", style_blend_weights=[1, 0, 1])
    assert params["style_blend_weights"] == [0.5, 0.0, 0.5]
    assert nst.params.sole_style([STYLE], [1.0]) is None and nst.params.sole_style([STYLE, STYLE_B], None) is None


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


# starry_night.jpg is 728x576; the content is 48 rows: x2 -> 96 rows, 728 * 96 / 576 = 121.3 -> 121
# columns; x0.5 -> 24 rows, 30.3 -> 30 columns
@pytest.mark.parametrize(("scale", "size"), [(2.0, (121, 96)), (0.5, (30, 24))])
def test_style_scale_sets_the_size_the_style_targets_come_from(scale, size):
    setup = setup_of(style_scale=scale)
    stage = setup.stage(H)
    assert stage.styles[0].shape == (1, 3, size[1], size[0])
    with torch.no_grad():
        features = setup.extractor(images.to_tensor(images.open_rgb(STYLE, "style"), size))
    for layer in range(1, 7):  # the objective's targets: that image's Gram matrices, by hand
        flat = features[layer][0].flatten(1)
        expected = flat @ flat.T / flat.numel()
        torch.testing.assert_close(getattr(stage.objective.style, f"gram_{layer}")[0], expected)


def test_study_noise_units_start_from_grey(tmp_path):
    result = run(tmp_path / "grey.png", init_method="gaussian", noise_units="grey_levels", iterations=1)
    assert result.record["parameters"]["noise_units"] == "grey_levels"
    assert "_nu_grey-levels" in run_id(result.record["parameters"])
    # the start image: the ImageNet mean grey, plus N(0, 1) noise in 0-255 grey levels
    setup = setup_of(init_method="gaussian", noise_units="grey_levels")
    start = color.to_unit_rgb(setup.initial_image(setup.stage(H)))[0] * 255
    assert start.shape == (3, 48, 72)
    torch.testing.assert_close(start.mean(dim=(1, 2)), 255 * torch.tensor(IMAGENET_MEAN), atol=0.1, rtol=0)
    assert all(0.95 < std < 1.05 for std in start.std(dim=(1, 2)))
    # the run started there: its first TV loss (grey levels) is that of N(0, 1) noise, whose
    # neighbour differences are N(0, 2) with mean |d| = 2 / sqrt(pi); 3 x (48 x 71 + 47 x 72) pairs
    tv_per_pair = result.record["loss_history"][0]["tv"] / (3 * (48 * 71 + 47 * 72))
    assert tv_per_pair == pytest.approx(2 / np.sqrt(np.pi), rel=0.05)


# --------------------------------------------------------------------------- init_nudge


def test_init_nudge_moves_every_start_value_by_exactly_nudge_steps_float_steps():
    """k > 0: each value of the start image NUDGE_STEPS (64) float steps up or down (torch.nextafter),
    in a pattern seeded by k: both directions used, another k another pattern; 0: the start itself."""
    start = setup_of().initial_image(setup_of().stage(H))
    up, down = start.clone(), start.clone()
    for _ in range(images.NUDGE_STEPS):
        up = torch.nextafter(up, torch.full_like(up, float("inf")))
        down = torch.nextafter(down, torch.full_like(down, float("-inf")))
    nudged = {k: setup_of(init_nudge=k).initial_image(setup_of(init_nudge=k).stage(H)) for k in (0, 1, 2)}
    assert torch.equal(nudged[0], start) and images.NUDGE_STEPS == 64
    for k in (1, 2):
        assert bool(((nudged[k] == up) | (nudged[k] == down)).all()) and bool((nudged[k] != start).all())
        assert 0.4 < float((nudged[k] == up).float().mean()) < 0.6
    assert not torch.equal(nudged[1], nudged[2])
    assert torch.equal(images.nudge(start, 1), nudged[1])  # the same pattern every time


def test_a_nudged_run_is_deterministic_and_named_apart(tmp_path):
    first = run(tmp_path / "a" / "out.png", init_nudge=1, iterations=2)
    again = run(tmp_path / "b" / "out.png", init_nudge=1, iterations=2)
    assert first.image.read_bytes() == again.image.read_bytes()
    assert first.record["loss_history"] == again.record["loss_history"]
    assert first.record["parameters"]["init_nudge"] == 1 and run_id(first.record["parameters"]).endswith("_nd_1")
    plain = run(tmp_path / "c" / "out.png", iterations=2)  # init_nudge 0: the id of every run before it existed
    assert "_nd_" not in run_id(plain.record["parameters"])
    assert plain.record["loss_history"][0] != first.record["loss_history"][0]  # a start 64 float steps off


# --------------------------------------------------------------------------- pooling and style layer weights


def test_max_pooling_is_todays_run_and_avg_changes_the_image(tmp_path):
    plain = run(tmp_path / "a" / "out.png")
    explicit = run(tmp_path / "b" / "out.png", pooling="max")
    assert explicit.record["parameters"] == plain.record["parameters"]
    assert explicit.image.read_bytes() == plain.image.read_bytes()
    assert "_pl_" not in run_id(plain.record["parameters"])  # default: ids as before
    avg = run(tmp_path / "c" / "out.png", pooling="avg")
    assert avg.record["parameters"]["pooling"] == "avg"
    assert run_id(avg.record["parameters"]) == run_id(plain.record["parameters"]) + "_pl_avg"
    assert not np.array_equal(pixels(avg.image), pixels(plain.image))


def test_avg_pooling_is_the_vgg_with_average_pools_and_leaves_the_network_alone():
    backbone = get_backbone("vgg19")
    network, _ = load_network(backbone, "random")
    image = torch.randn(1, 3, 32, 48, generator=torch.Generator().manual_seed(0))
    extractor = FeatureExtractor(backbone, network, [1, 2, 3], pooling="avg")
    expected, x = {}, image
    for index, layer in enumerate(network.features[:12]):  # by hand: relu3_1 is features.11
        x = nn.functional.avg_pool2d(x, kernel_size=2, stride=2) if isinstance(layer, nn.MaxPool2d) else layer(x)
        expected[index] = x
    with torch.no_grad():
        features = extractor(image)
    for number, index in ((1, 1), (2, 6), (3, 11)):
        torch.testing.assert_close(features[number], expected[index], rtol=0, atol=0)
    assert sum(isinstance(m, nn.MaxPool2d) for m in network.features) == 5  # the network keeps max pooling
    with torch.no_grad():
        max_features = FeatureExtractor(backbone, network, [2])(image)
    assert not torch.equal(max_features[2], features[2])


def test_equal_style_layer_weights_are_the_default_run_byte_for_byte(tmp_path):
    assert nst.check_run(CONTENT, STYLE, weights="bundled", style_layer_weights=[1] * 6)["style_layer_weights"] is None
    plain = run(tmp_path / "a" / "out.png")
    equal = run(tmp_path / "b" / "out.png", style_layer_weights=[2.5] * 6)
    assert equal.record["parameters"] == plain.record["parameters"]  # the same run (same id)...
    assert equal.image.read_bytes() == plain.image.read_bytes()  # ...and the same bytes


def test_style_layer_weights_are_normalised_and_weight_each_layers_error():
    params = nst.check_run(CONTENT, STYLE, weights="bundled", style_layers=3, style_layer_weights=[3, 1, 0])
    assert params["style_layer_weights"] == [0.75, 0.25, 0.0]
    assert run_id(params).endswith("_sl_3_s_0_lw_0.75+0.25+0")
    weighted, plain = setup_of(style_layers=3, style_layer_weights=[3, 1, 0]), setup_of(style_layers=3)
    stage, plain_stage = weighted.stage(H), plain.stage(H)
    with torch.no_grad():
        features = weighted.extractor(stage.content)
        targets = [getattr(stage.objective.style, f"gram_{layer}") for layer in (1, 2, 3)]
        errors = [
            nn.functional.mse_loss(gram_matrix(features[layer]), target, reduction="sum")
            for layer, target in zip((1, 2, 3), targets)
        ]
        assert min(errors) > 0
        torch.testing.assert_close(stage.objective.style(features), 0.75 * errors[0] + 0.25 * errors[1])
        torch.testing.assert_close(plain_stage.objective.style(features), sum(errors) / 3)


def test_style_layer_weights_change_the_result(tmp_path):
    plain = run(tmp_path / "a" / "out.png")
    weighted = run(tmp_path / "b" / "out.png", style_layer_weights=[1, 1, 1, 1, 1, 5])
    assert weighted.record["parameters"]["style_layer_weights"] == [0.1, 0.1, 0.1, 0.1, 0.1, 0.5]
    assert not np.array_equal(pixels(weighted.image), pixels(plain.image))


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
    # a blend of one is its single style's run, but every image it names is checked
    ({"style": [STYLE, "data/style/missing.jpg"], "style_blend_weights": [1, 0]}, "missing.jpg"),
    ({"save_every": -1}, "save_every"),
    ({"iterations": 1000, "save_every": 1}, "save_every 1 asks for 999 images"),
    ({"style_scale": 0}, "style_scale"),
    ({"style_scale": -1.0}, "style_scale"),
    ({"style_scale": 0.1}, "style_scale 0.1"),
    ({"noise_units": "kelvin"}, "noise_units 'kelvin'"),
    ({"pooling": "min"}, "pooling 'min' unknown"),
    (
        {"model": "resnet50", "weights": "random", "pooling": "avg"},
        "pooling 'avg' is for VGG backbones (vgg19, vgg16); model 'resnet50'",
    ),
    ({"model": "efficientnet_lite0", "pooling": "avg"}, "pooling 'avg' is for VGG backbones (vgg19, vgg16); model"),
    (
        {"style_layers": 5, "style_layer_weights": [1, 2, 3]},
        "style_layer_weights: 3 weights [1, 2, 3] for 5 style layers",
    ),
    ({"style_layer_weights": [1, -1, 1, 1, 1, 1]}, "style_layer_weights: weight 2 must be a finite number >= 0"),
    ({"style_layer_weights": [1, 1, 1, 1, 1, float("nan")]}, "style_layer_weights: weight 6"),
    ({"style_layer_weights": [0] * 6}, "style_layer_weights: weights are all zero"),
    ({"style_layer_weights": 1.0}, "style_layer_weights must be a list"),
]


@pytest.mark.parametrize(("options", "expected"), BAD, ids=[str(options) for options, _ in BAD])
def test_bad_values_are_refused_naming_them(tmp_path, monkeypatch, options, expected):
    def no_network(*args):  # refused before any network is loaded, let alone optimised
        raise AssertionError("a network was loaded for a bad parameter set")

    monkeypatch.setattr(nst.setup, "load_network", no_network)
    with pytest.raises(NSTInputError, match=re.escape(expected)):
        run(tmp_path / "out.png", **options)
    assert list(tmp_path.iterdir()) == []
