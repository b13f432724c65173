"""Spatial control (nst.regions, Gatys et al. 2017): region maps, guided Gram matrices, their checks,
names and sidecar. CPU, 48 px, 3 iterations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import nst
import nst.setup
from nst import regions
from nst.cli import main as cli_main
from nst.errors import NSTInputError
from nst.losses import GuidedStyleLoss, StyleLoss, gram_matrix, guided_gram
from nst.naming import parse_run_id, run_id
from nst.weights import file_sha256

CONTENT = "data/content/chelsea.jpg"  # 451x300
STYLE = "data/style/starry_night.jpg"
STYLE_B = "data/style/hubble_deep_field.jpg"
SIZE = (451, 300)
H = 48


pytestmark = pytest.mark.usefixtures("one_thread")


def run(out, style=STYLE, **kwargs):
    kwargs = {"weights": "bundled", "height": H, "iterations": 3, "progress": False, "device": "cpu"} | kwargs
    return nst.stylize(CONTENT, style, out, **kwargs)


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def draw_map(path: Path, colours: dict[tuple[int, int, int], tuple[int, int, int, int]], size=SIZE) -> Path:
    """A map of `size`, black, with each (x0, y0, x1, y1) box (end exclusive) painted its colour."""
    array = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    for colour, (x0, y0, x1, y1) in colours.items():
        array[y0:y1, x0:x1] = colour
    Image.fromarray(array).save(path)
    return path


def halves(tmp_path) -> Path:
    """Left half black (label 0), right half white (label 1)."""
    return draw_map(tmp_path / "halves.png", {(255, 255, 255): (SIZE[0] // 2, 0, SIZE[0], SIZE[1])})


# --------------------------------------------------------------------------- one region is today's run


@pytest.mark.parametrize("init_method", ["content", "style"])
def test_one_region_one_style_is_todays_run_byte_for_byte(tmp_path, init_method):
    single = draw_map(tmp_path / "grey.png", {(128, 128, 128): (0, 0, *SIZE)})
    plain = run(tmp_path / "a" / "out.png", init_method=init_method)
    mapped = run(tmp_path / "b" / "out.png", init_method=init_method, region_map=str(single))
    assert mapped.image.read_bytes() == plain.image.read_bytes()
    assert mapped.record["loss_history"] == plain.record["loss_history"]  # every iteration, exactly
    assert mapped.record["regions"] == [{"label": "#808080", "style": STYLE}]
    assert "regions" not in plain.record and plain.record["parameters"]["region_map"] is None


def test_two_regions_differ_from_each_style_alone(tmp_path):
    both = run(tmp_path / "both.png", style=[STYLE, STYLE_B], region_map=str(halves(tmp_path)))
    left_only, right_only = run(tmp_path / "a.png"), run(tmp_path / "b.png", style=STYLE_B)
    result = pixels(both.image).astype(int)
    assert not np.array_equal(result, pixels(left_only.image))
    assert not np.array_equal(result, pixels(right_only.image))
    assert both.record["regions"] == [{"label": "#000000", "style": STYLE}, {"label": "#ffffff", "style": STYLE_B}]
    # each half is nearer to the run styled by its own painting than to the other's (3 iterations:
    # the runs have moved only a little from the photo, but in their own style's direction)
    half = result.shape[1] // 2
    for columns, own, other in (
        (slice(0, half - 4), left_only, right_only),
        (slice(half + 4, None), right_only, left_only),
    ):
        own_diff = np.abs(result[:, columns] - pixels(own.image)[:, columns]).mean()
        other_diff = np.abs(result[:, columns] - pixels(other.image)[:, columns]).mean()
        assert own_diff < other_diff, (columns, own_diff, other_diff)


# --------------------------------------------------------------------------- guided Gram matrices


def test_guided_gram_hand_computed():
    # 2 channels, 1x2 pixels: a = (1, 2), b = (3, 4); the mask keeps the second pixel only
    x = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    mask = torch.tensor([[[[0.0, 1.0]]]])
    # masked rows (0, 2), (0, 4): a.a = 4, a.b = 8, b.b = 16; divided by C * area = 2 * 1
    expected = torch.tensor([[[2.0, 4.0], [4.0, 8.0]]])
    torch.testing.assert_close(guided_gram(x, mask, area=1.0), expected)


def test_guided_gram_of_a_full_mask_is_the_gram_bit_for_bit():
    features = torch.randn(1, 8, 5, 7, generator=torch.Generator().manual_seed(1))
    assert torch.equal(guided_gram(features, torch.ones(1, 1, 5, 7), area=35.0), gram_matrix(features))


@pytest.mark.parametrize("layer_weights", [None, [0.75, 0.25, 0.0]], ids=["equal", "per-layer"])
def test_one_full_region_is_the_style_loss_with_or_without_layer_weights(layer_weights):
    """The guided loss weights its layers as StyleLoss does (style_layer_weights): with one region
    covering the image, the same loss bit for bit, equal weights or not."""
    generator = torch.Generator().manual_seed(2)
    features = {layer: torch.randn(1, 4, 6, 5, generator=generator) for layer in (1, 2, 3)}
    targets = {layer: gram_matrix(torch.randn(1, 4, 6, 5, generator=generator)) for layer in (1, 2, 3)}
    masks = {layer: torch.ones(1, 1, 6, 5) for layer in (1, 2, 3)}
    plain = StyleLoss(targets, layer_weights)(features)
    guided = GuidedStyleLoss([targets], masks, layer_weights)(features)
    assert torch.equal(guided, plain), (guided, plain)
    if layer_weights is not None:  # the weights really changed the loss
        assert not torch.equal(plain, StyleLoss(targets)(features))


def test_masks_follow_label_order_by_nearest_neighbour(tmp_path):
    path = draw_map(tmp_path / "map.png", {(0, 0, 255): (0, 0, 100, 300), (255, 0, 0): (300, 0, 451, 300)})
    image = regions.open_region_map(path)
    colours = regions.labels(image, path)
    assert colours == [(0, 0, 0), (0, 0, 255), (255, 0, 0)]  # sorted: black, blue, red
    masks = regions.masks_at(image, colours, (90, 60))  # 451 -> 90 columns: x0.2
    assert masks.shape == (3, 1, 60, 90)
    assert set(masks.unique().tolist()) == {0.0, 1.0} and torch.equal(masks.sum(0), torch.ones(1, 60, 90))
    assert masks[1, 0, :, :19].eq(1).all() and masks[2, 0, :, 61:].eq(1).all() and masks[0, 0, :, 21:59].eq(1).all()


def test_layer_masks_are_area_averages_that_partition_the_image():
    masks = torch.zeros(2, 1, 8, 8)
    masks[0, :, :, :3], masks[1, :, :, 3:] = 1, 1
    small = regions.layer_masks(masks, (4, 4))
    torch.testing.assert_close(small.sum(0), torch.ones(1, 4, 4))
    assert small[0, 0, 0].tolist() == [1.0, 0.5, 0.0, 0.0]  # the column pair (2, 3) is half region 0


def test_each_region_matches_its_own_style_images_gram(tmp_path):
    params = nst.check_run(
        CONTENT, [STYLE, STYLE_B], weights="bundled", height=H, device="cpu", region_map=str(halves(tmp_path))
    )
    setup = nst.setup.build_run(params, Path(CONTENT), [Path(STYLE), Path(STYLE_B)], torch.device("cpu"))
    stage = setup.stage(H)
    loss = stage.objective.style
    with torch.no_grad():
        for region, style in enumerate(stage.styles):
            features = setup.extractor(style)
            for layer in range(1, 7):
                expected = gram_matrix(features[layer])
                torch.testing.assert_close(getattr(loss, f"gram_{layer}_{region}"), expected)
    # the masks at the first layer (full size): left half region 0, right half region 1
    mask = loss.mask_1
    assert mask.shape[0] == 2 and mask[0, 0, :, 0].eq(1).all() and mask[1, 0, :, -1].eq(1).all()


# --------------------------------------------------------------------------- refused before any work


@pytest.mark.parametrize(
    ("case", "styles", "message"),
    [
        ("small", [STYLE, STYLE_B], r"is 225x150 pixels, the content image .*chelsea.jpg 451x300"),
        (
            "halves",
            [STYLE],
            r"2 label\(s\) \(#000000, #ffffff, in label order\) .* 1 style .*: label #ffffff has no style",
        ),
        ("one", [STYLE, STYLE_B], r"1 label\(s\) .* 2 style .*: style image .*hubble_deep_field.jpg has no label"),
        ("speck", [STYLE, STYLE_B], r"label #ffffff \(style .*hubble_deep_field.jpg\) has no pixels at 72x48"),
        ("many", [STYLE] * 9, r"more than 8 colours"),
        ("missing", [STYLE], r"region map image not found: .*missing.png"),
    ],
)
def test_bad_region_maps_are_refused_naming_the_problem(tmp_path, case, styles, message):
    maps = {
        "small": lambda: draw_map(tmp_path / "m.png", {(255, 255, 255): (0, 0, 100, 150)}, size=(225, 150)),
        "halves": lambda: halves(tmp_path),
        "one": lambda: draw_map(tmp_path / "m.png", {}),
        "speck": lambda: draw_map(tmp_path / "m.png", {(255, 255, 255): (0, 0, 1, 1)}),  # 1 pixel: gone at 48 px
        "many": lambda: draw_map(tmp_path / "m.png", {(i, i, i): (i * 40, 0, i * 40 + 40, 300) for i in range(1, 9)}),
        "missing": lambda: tmp_path / "missing.png",
    }
    path = maps[case]()
    with pytest.raises(NSTInputError, match=message):
        nst.check_run(CONTENT, styles, weights="bundled", height=H, device="cpu", region_map=str(path))


def test_a_region_vanishing_at_an_earlier_stage_is_refused(tmp_path):
    """A 4x4 box survives the final 96 px (sampled every 3.1 px) but not a 24 px stage (every 12.5)."""
    path = draw_map(tmp_path / "m.png", {(255, 255, 255): (200, 100, 204, 104)})
    common = {"weights": "bundled", "height": 96, "device": "cpu", "region_map": str(path)}
    nst.check_run(CONTENT, [STYLE, STYLE_B], **common)
    with pytest.raises(NSTInputError, match=r"no pixels at 36x24"):
        nst.check_run(CONTENT, [STYLE, STYLE_B], stage_heights=[24], **common)


def test_blend_weights_and_a_region_map_do_not_combine(tmp_path):
    with pytest.raises(NSTInputError, match="style_blend_weights and region_map do not combine"):
        nst.check_run(
            CONTENT, [STYLE, STYLE_B], weights="bundled", style_blend_weights=[1, 1], region_map=str(halves(tmp_path))
        )


# --------------------------------------------------------------------------- names, CLI


def test_run_id_names_the_map_by_its_content_only_when_set(tmp_path):
    path = halves(tmp_path)
    copy = tmp_path / "other_name.png"
    copy.write_bytes(path.read_bytes())
    plain = nst.check_run(CONTENT, STYLE, weights="bundled")
    mapped = nst.check_run(CONTENT, [STYLE, STYLE_B], weights="bundled", region_map=str(path))
    assert "_rm_" not in run_id(plain)
    assert run_id(mapped) == run_id(plain) + f"_rm_{file_sha256(path)[:16]}"
    assert run_id(mapped) == run_id(dict(mapped, region_map=str(copy)))  # same pixels, same run
    assert parse_run_id(run_id(mapped))["region_map"] == file_sha256(path)[:16]


def test_cli_region_map_flag(tmp_path, capsys):
    path = halves(tmp_path)
    argv = ["stylize", "--content", CONTENT, "--style", STYLE, STYLE_B, "--out", str(tmp_path / "out")]
    options = ["--weights", "bundled", "--height", "32", "--iterations", "1", "--device", "cpu", "--no-progress"]
    assert cli_main([*argv, *options, "--region-map", str(path)]) == 0
    (written,) = (tmp_path / "out").glob("*.png")
    assert f"_rm_{file_sha256(path)[:16]}" in written.name and "starry_night+hubble_deep_field" in written.name
    assert cli_main([*argv[:4], STYLE, *argv[6:], *options, "--region-map", str(path)]) == 2
    assert "label #ffffff has no style" in capsys.readouterr().err


def test_a_region_run_in_a_batch_is_the_run_alone(tmp_path):
    """nst.batch computes each run's terms from its slice of the features: the masks broadcast over it."""
    options = {"weights": "bundled", "height": H, "iterations": 3, "progress": False, "device": "cpu"}
    options["region_map"] = str(halves(tmp_path))
    alone = nst.stylize(CONTENT, [STYLE, STYLE_B], tmp_path / "alone.png", **options)
    (batched,) = nst.stylize_batch(
        [{"content": CONTENT, "style": [STYLE, STYLE_B], "out": tmp_path / "b.png"} | options]
    )
    assert np.array_equal(pixels(batched.image), pixels(alone.image))


def test_the_checkpoint_fingerprint_follows_the_maps_pixels(tmp_path):
    """Same path, other pixels: a checkpoint of the old map must not resume the new one."""
    from nst.checkpoint import run_fingerprint

    path = halves(tmp_path)
    params = nst.check_run(CONTENT, [STYLE, STYLE_B], weights="bundled", region_map=str(path))
    before = run_fingerprint(params, Path(CONTENT), [Path(STYLE), Path(STYLE_B)], "w")
    draw_map(path, {(255, 255, 255): (0, 0, 100, 300)})
    assert run_fingerprint(params, Path(CONTENT), [Path(STYLE), Path(STYLE_B)], "w") != before


def test_classic_region_map_flag(tmp_path):
    """The classic interface's --region_map (test_cli.py's every-flag run has a blend, which a map refuses)."""
    from nst.cli import classic_main

    path = halves(tmp_path)
    flags = ["--content_img_name", "chelsea.jpg", "--style_img_name", "starry_night.jpg,hubble_deep_field.jpg"]
    flags += ["--output_dir", str(tmp_path / "classic"), "--weights", "bundled", "--height", "32", "--iterations", "1"]
    assert classic_main([*flags, "--device", "cpu", "--no_progress", "--region_map", str(path)]) == 0
    (written,) = (tmp_path / "classic").rglob("*.jpg")
    assert written.name.endswith(f"_rm_{file_sha256(path)[:16]}.jpg")
    assert written.with_suffix(".json").is_file()
