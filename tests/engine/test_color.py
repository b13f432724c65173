"""nst.color: known answers from first principles, and the claimed statistics on the demo images."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from PIL import Image

from nst import images
from nst.color import (
    BT601_LUMA,
    COLOR_MATCH_MODES,
    COVARIANCE_EPS,
    apply_color_transform,
    blend_gram_targets,
    check_style_size,
    color_statistics,
    fit_color_transform,
    from_unit_rgb,
    luma,
    luminance_transfer,
    match_color_histogram,
    normalise_blend_weights,
    style_size,
    to_unit_rgb,
)
from nst.errors import NSTInputError
from nst.losses import gram_matrix

HEIGHT = 64  # small: statistics are stable at this size and the tests stay fast on one core
RUN_HEIGHT = 400  # the engine's default height: where clamping in histogram matching actually happens

# Textbook NTSC YIQ rows (Y: BT.601); the paper's colour space. I and Q rows sum to 0 exactly.
YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], dtype=torch.float64)
# torch7 image.rgb2yuv, which neural-style's -original_colors uses (U row sums to 1e-5, not 0).
YUV = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.14713, -0.28886, 0.436], [0.615, -0.51499, -0.10001]], dtype=torch.float64
)


def _rgb(path, size) -> torch.Tensor:
    """A demo image as float64 RGB (1, 3, H, W) in [0, 1], through the engine's own loader."""
    return to_unit_rgb(images.to_tensor(images.open_rgb(path, "test"), size)).double().clamp(0, 1)


@pytest.fixture(scope="module")
def content_rgb(content_image) -> torch.Tensor:
    with Image.open(content_image) as pil:
        size = images.scaled_size(pil.size, HEIGHT)
    return _rgb(content_image, size)


@pytest.fixture(scope="module")
def painting_rgb(style_image, content_rgb) -> torch.Tensor:
    """The style image at the content's size: a stand-in for a stylised result (strong luminance changes)."""
    return _rgb(style_image, (content_rgb.shape[3], content_rgb.shape[2]))


@pytest.fixture(scope="module")
def run_size_pair(content_image, style_image) -> tuple[torch.Tensor, torch.Tensor]:
    """(style, content) as the engine sizes them by default: each at RUN_HEIGHT rows."""
    pair = []
    for path in (style_image, content_image):
        with Image.open(path) as pil:
            pair.append(_rgb(path, images.scaled_size(pil.size, RUN_HEIGHT)))
    return tuple(pair)


def _convert(matrix: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix, rgb)


def _swap_luma_explicitly(matrix, stylised, content):
    """The textbook recipe: to the luma-chroma space, Y from stylised, chroma from content, back (no clamp)."""
    mixed = torch.cat([_convert(matrix, stylised)[:, :1], _convert(matrix, content)[:, 1:]], dim=1)
    return _convert(torch.linalg.inv(matrix), mixed)


# --- conversions ------------------------------------------------------------------------------------


def test_unit_rgb_round_trip_and_known_values():
    rgb = torch.tensor([0.0, 0.5, 1.0]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    x = from_unit_rgb(rgb)
    # (rgb - mean) / std with torchvision's ImageNet mean/std
    assert torch.allclose(x[0, :, 0, 0], torch.tensor([-0.485 / 0.229, (0.5 - 0.456) / 0.224, (1 - 0.406) / 0.225]))
    assert torch.allclose(to_unit_rgb(x), rgb, atol=1e-6)


def test_luma_known_values():
    primaries = torch.eye(3).view(3, 3, 1, 1).permute(1, 0, 2, 3).reshape(1, 3, 1, 3)  # red, green, blue pixels
    assert torch.allclose(luma(primaries).flatten(), torch.tensor(BT601_LUMA))
    assert torch.allclose(luma(torch.full((1, 3, 1, 1), 0.25)), torch.tensor(0.25))  # grey: Y = the grey level


# --- luminance transfer -----------------------------------------------------------------------------


def test_luminance_transfer_known_answers():
    grey = torch.full((1, 3, 1, 1), 0.5)
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    # grey content has no chroma: the result is grey at the stylised image's luminance (Y(red) = 0.299)
    assert torch.allclose(luminance_transfer(red, grey), torch.full((1, 3, 1, 1), 0.299))
    # dull red content (Y = 0.3196), mid-grey stylised: shifted by 0.5 - 0.3196 on every channel (in gamut)
    dull_red = torch.tensor([0.6, 0.2, 0.2]).view(1, 3, 1, 1)
    assert torch.allclose(luminance_transfer(grey, dull_red).flatten(), torch.tensor([0.7804, 0.3804, 0.3804]))
    # identical images: unchanged
    assert torch.allclose(luminance_transfer(dull_red, dull_red), dull_red)


def test_luminance_transfer_clamps_out_of_gamut():
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    white = torch.ones(1, 3, 1, 1)
    # unclamped: red + (1 - 0.299) = (1.701, 0.701, 0.701); the red channel is clamped to 1
    out = luminance_transfer(white, red)
    assert torch.allclose(out.flatten(), torch.tensor([1.0, 0.701, 0.701]))
    black = torch.zeros(1, 3, 1, 1)
    assert torch.equal(luminance_transfer(black, white), black)  # white content, black stylised: Y 0 -> black


@pytest.mark.parametrize("space", ["YIQ", "YUV"])
def test_luminance_transfer_equals_the_explicit_colour_space_swap(space, painting_rgb, content_rgb):
    matrix = {"YIQ": YIQ, "YUV": YUV}[space]
    explicit = _swap_luma_explicitly(matrix, painting_rgb, content_rgb)
    clamped = ((explicit < 0) | (explicit > 1)).any(dim=1)
    assert 0 < clamped.float().mean() < 0.2  # both regimes occur; most pixels need no clamping
    # YIQ's chroma rows sum to exactly 0 (float rounding only); torch7's YUV U row sums to 1e-5
    atol = {"YIQ": 1e-12, "YUV": 1e-4}[space]
    assert torch.allclose(luminance_transfer(painting_rgb, content_rgb), explicit.clamp(0, 1), atol=atol, rtol=0)


def test_luminance_transfer_keeps_content_chroma_and_stylised_luminance(painting_rgb, content_rgb):
    out = luminance_transfer(painting_rgb, content_rgb)
    unclamped = ((out > 0) & (out < 1)).all(dim=1)[0]
    yiq_out, yiq_content, yiq_painting = (_convert(YIQ, x)[0] for x in (out, content_rgb, painting_rgb))
    assert torch.allclose(yiq_out[0][unclamped], yiq_painting[0][unclamped], atol=1e-12, rtol=0)
    assert torch.allclose(yiq_out[1:, unclamped], yiq_content[1:, unclamped], atol=1e-12, rtol=0)
    # and, after saving as 8-bit, within rounding: 1/2 grey level per channel moves Y, I, Q by at most
    # sum(|row|)/2 grey levels (<= 0.6 for these rows)
    out8 = (out * 255).round() / 255
    yiq_out8 = _convert(YIQ, out8)[0]
    limit = YIQ.abs().sum(dim=1).max() / 2 / 255 + 1e-12
    assert (yiq_out8[0][unclamped] - yiq_painting[0][unclamped]).abs().max() <= limit
    assert (yiq_out8[1:, unclamped] - yiq_content[1:, unclamped]).abs().max() <= limit


def test_luminance_transfer_matches_pil_ycbcr_swap(painting_rgb, content_rgb):
    """neural-style-pt's original_colors swaps Y in PIL's 8-bit YCbCr; same result within 8-bit rounding."""

    def pil(rgb):
        return Image.fromarray((rgb[0].permute(1, 2, 0) * 255).round().byte().numpy())

    content_channels = list(pil(content_rgb).convert("YCbCr").split())
    content_channels[0] = pil(painting_rgb).convert("YCbCr").split()[0]
    reference = np.asarray(Image.merge("YCbCr", content_channels).convert("RGB"), dtype=np.int16)
    ours = (luminance_transfer(painting_rgb, content_rgb)[0].permute(1, 2, 0) * 255).round().short().numpy()
    difference = np.abs(ours - reference)
    # PIL truncates (fixed-point shifts) to 8-bit Y, Cb, Cr and back: worst case in blue, B = Y + 1.772 Cb',
    # 1 (Y) + 1.772 (Cb) + 1 (B) grey levels, plus 0.5 for rounding ours: 4.27
    assert difference.max() <= 4, difference.max()
    assert difference.mean() < 2.0


def test_luminance_transfer_rejects_bad_inputs():
    rgb = torch.rand(1, 3, 4, 5)
    with pytest.raises(ValueError, match=r"\(1, 3, 4, 6\) differ in size"):
        luminance_transfer(rgb, torch.rand(1, 3, 4, 6))
    with pytest.raises(ValueError, match=r"stylised_rgb must be .*got \(3, 4, 5\)"):
        luminance_transfer(rgb[0], rgb)
    with pytest.raises(ValueError, match=r"content_rgb must be .*torch.uint8"):
        luminance_transfer(rgb, (rgb * 255).byte())


# --- colour histogram matching ----------------------------------------------------------------------


def _sign_cube(centre, half_widths) -> torch.Tensor:
    """The 8 pixels centre +- half_widths: mean = centre, covariance = diag(half_widths^2), exactly."""
    signs = torch.tensor([[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)], dtype=torch.float64) * 2 - 1
    pixels = torch.tensor(centre, dtype=torch.float64) + signs * torch.tensor(half_widths, dtype=torch.float64)
    return pixels.T.reshape(1, 3, 2, 4)


@pytest.mark.parametrize("mode", COLOR_MATCH_MODES)
def test_histogram_known_answer_for_independent_channels(mode):
    """Diagonal covariances: every mode must scale each channel by its std ratio (eps included)."""
    style_mean, style_std = (0.5, 0.5, 0.5), (0.1, 0.2, 0.3)
    content_mean, content_std = (0.2, 0.4, 0.6), (0.05, 0.3, 0.15)
    matrix, offset = fit_color_transform(_sign_cube(style_mean, style_std), _sign_cube(content_mean, content_std), mode)
    f64 = dict(dtype=torch.float64)
    variance_ratio = (torch.tensor(content_std, **f64) ** 2 + COVARIANCE_EPS) / (
        torch.tensor(style_std, **f64) ** 2 + COVARIANCE_EPS
    )
    expected = torch.diag(variance_ratio.sqrt())
    assert torch.allclose(matrix, expected, atol=1e-12, rtol=0)
    # b = mean_C - A mean_S
    assert torch.allclose(offset, torch.tensor(content_mean, **f64) - expected @ torch.tensor(style_mean, **f64))


@pytest.mark.parametrize("mode", COLOR_MATCH_MODES)
def test_histogram_matches_content_statistics_unclamped(mode, run_size_pair):
    style, content = run_size_pair
    content_mean, content_cov = color_statistics(content)
    style_mean, style_cov = color_statistics(style)
    assert (style_mean - content_mean).abs().max() > 0.05  # the images differ to begin with
    assert (style_cov - content_cov).abs().max() > 0.005

    matrix, offset = fit_color_transform(style, content, mode)
    matched_mean, matched_cov = color_statistics(apply_color_transform(style, matrix, offset, clamp=False))
    assert torch.allclose(matched_mean, content_mean, atol=1e-12, rtol=0)
    # A (S + eps I) A^T = C + eps I exactly, so A S A^T - C = eps (I - A A^T): at most eps (1 + |A|^2)
    bound = COVARIANCE_EPS * (1 + torch.linalg.matrix_norm(matrix, 2) ** 2)
    assert (matched_cov - content_cov).abs().max() <= bound
    # and with a tiny eps the match is exact up to float64 rounding
    matrix, offset = fit_color_transform(style, content, mode, eps=1e-12)
    matched_cov = color_statistics(apply_color_transform(style, matrix, offset, clamp=False))[1]
    assert torch.allclose(matched_cov, content_cov, atol=1e-10, rtol=0)


@pytest.mark.parametrize("mode", COLOR_MATCH_MODES)
def test_histogram_matches_content_statistics_clamped(mode, run_size_pair):
    """The default (clamped to [0, 1]): clipping the few out-of-range pixels barely moves the statistics."""
    style, content = run_size_pair
    matched = match_color_histogram(style, content, mode=mode)
    assert matched.min() >= 0 and matched.max() <= 1 and matched.dtype == style.dtype
    content_mean, content_cov = color_statistics(content)
    matched_mean, matched_cov = color_statistics(matched)
    assert (matched_mean - content_mean).abs().max() < 0.5 / 255  # within half an 8-bit grey level
    assert (matched_cov - content_cov).abs().max() < 0.02 * content_cov.abs().max()  # within 2 %


def test_histogram_modes_are_the_three_named_matrices(run_size_pair):
    style, content = run_size_pair
    cholesky, pca, sym = (fit_color_transform(style, content, mode)[0] for mode in COLOR_MATCH_MODES)
    assert torch.equal(cholesky, cholesky.tril())  # L_C L_S^-1: a product of lower-triangular factors
    assert torch.allclose(sym, sym.T, atol=1e-12)  # Monge-Kantorovitch: symmetric
    assert not torch.allclose(pca, pca.T, atol=1e-3)  # Image Analogies: a product of two symmetric roots
    assert not torch.allclose(pca, cholesky, atol=1e-3) and not torch.allclose(pca, sym, atol=1e-3)
    # Monge-Kantorovitch moves the colours least of the three (Pitie & Kokaram 2007)
    moves = [
        ((apply_color_transform(style, a, b, clamp=False) - style) ** 2).sum(dim=1).mean()
        for a, b in (fit_color_transform(style, content, mode) for mode in COLOR_MATCH_MODES)
    ]
    assert moves[2] < moves[1] and moves[2] < moves[0]


def test_histogram_channel_order_matters_only_for_cholesky(run_size_pair):
    """Why "pca" is the default: relabelling the channels (BGR) must only relabel the result."""
    style, content = run_size_pair
    bgr = [2, 1, 0]
    for mode in COLOR_MATCH_MODES:
        direct = match_color_histogram(style, content, mode=mode, clamp=False)
        via_bgr = match_color_histogram(style[:, bgr], content[:, bgr], mode=mode, clamp=False)[:, bgr]
        assert torch.allclose(direct, via_bgr, atol=1e-9) == (mode != "cholesky"), mode


@pytest.mark.parametrize("mode", COLOR_MATCH_MODES)
def test_histogram_degenerate_style_stays_finite(mode, content_rgb):
    """A grey painting (rank-1 colour covariance) and a flat one (rank 0) need the eps regulariser."""
    grey = luma(content_rgb.flip(-1)).expand(1, 3, -1, -1)
    flat = torch.full((1, 3, 5, 7), 0.3, dtype=torch.float64)
    for style in (grey, flat):
        matched = match_color_histogram(style, content_rgb, mode=mode, clamp=False)
        assert torch.isfinite(matched).all()
        assert torch.allclose(color_statistics(matched)[0], color_statistics(content_rgb)[0], atol=1e-9)


def test_histogram_rejects_bad_arguments(content_rgb):
    with pytest.raises(ValueError, match="mode 'chol' unknown; choose one of cholesky, pca, sym"):
        match_color_histogram(content_rgb, content_rgb, mode="chol")
    for eps in (0, -1e-5, float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match=f"eps must be a finite number > 0, got {eps!r}"):
            match_color_histogram(content_rgb, content_rgb, eps=eps)
    with pytest.raises(ValueError, match=r"style_rgb must be .*got \(2, 3, 4\)"):
        match_color_histogram(torch.rand(2, 3, 4), content_rgb)


# --- blending several styles ------------------------------------------------------------------------


def test_normalise_blend_weights_known_answers():
    assert normalise_blend_weights([1, 3]) == [0.25, 0.75]
    assert normalise_blend_weights([2.0, 0, 2.0], style_count=3) == [0.5, 0.0, 0.5]
    assert normalise_blend_weights([7.5]) == [1.0]
    assert normalise_blend_weights([0.3, 0.0]) == [1.0, 0.0]  # 0.3 / 0.3 is exactly 1
    assert normalise_blend_weights([1e308, 1e308]) == [0.5, 0.5]  # no overflow in the sum
    assert str(normalise_blend_weights([-0.0, 1])[0]) == "0.0"


def test_normalise_blend_weights_sum_to_one_and_keep_ratios():
    weights = [0.1, 0.7, 2.9, 1e-3]
    normalised = normalise_blend_weights(weights)
    assert math.isclose(math.fsum(normalised), 1.0, rel_tol=1e-15)
    for weight, share in zip(weights, normalised):
        assert math.isclose(share / normalised[0], weight / weights[0], rel_tol=1e-14)


@pytest.mark.parametrize(
    ("weights", "style_count", "message"),
    [
        ([1.0], 2, r"got 1 blend weight\(s\) \[1.0\] for 2 style image\(s\)"),
        ([1, 2, 3], 2, r"got 3 blend weight\(s\) \[1, 2, 3\] for 2"),
        ([], None, "no blend weights given"),
        ([1.0, -0.5], None, r"blend weight 2 must be a finite number >= 0, got -0.5"),
        ([float("nan"), 1.0], None, r"blend weight 1 must be .*, got nan"),
        ([1.0, float("inf")], None, r"blend weight 2 must be .*, got inf"),
        ([True, 1.0], None, r"blend weight 1 must be .*, got True"),
        (["1", 1.0], None, r"blend weight 1 must be .*, got '1'"),
        ([0, 0.0], None, r"blend weights are all zero: \[0, 0.0\]"),
    ],
)
def test_normalise_blend_weights_rejects_bad_values(weights, style_count, message):
    with pytest.raises(ValueError, match=message):
        normalise_blend_weights(weights, style_count=style_count)


def _grams(seed: int) -> dict[int, torch.Tensor]:
    """Real Gram targets (float32, size-normalised) of random feature maps, layers 1 and 3."""
    generator = torch.Generator().manual_seed(seed)
    return {layer: gram_matrix(torch.rand(1, 4 * layer, 5, 7, generator=generator)) for layer in (1, 3)}


def test_blend_known_answer():
    a = {1: torch.tensor([[1.0, 2.0], [3.0, 4.0]])}
    b = {1: torch.tensor([[5.0, 6.0], [7.0, 8.0]])}
    # 0.25 a + 0.75 b, every term exact in binary floating point
    assert torch.equal(blend_gram_targets([a, b], [1, 3])[1], torch.tensor([[4.0, 5.0], [6.0, 7.0]]))
    c = {1: torch.full((2, 2), float("nan"))}  # weight 0: never read, so it cannot leak into the target
    assert torch.equal(blend_gram_targets([a, c, b], [1, 0, 1])[1], torch.tensor([[3.0, 4.0], [5.0, 6.0]]))


@pytest.mark.parametrize("weights", [[1.0], [0.7], [1.0, 0.0], [0.0, 2.5], [0.3, 0.0, 0.0]])
def test_blend_single_style_is_bit_for_bit(weights):
    styles = [_grams(seed) for seed in range(len(weights))]
    chosen = styles[next(i for i, weight in enumerate(weights) if weight > 0)]
    blended = blend_gram_targets(styles, weights)
    assert sorted(blended) == [1, 3]
    for layer in (1, 3):
        assert torch.equal(blended[layer], chosen[layer])
        assert torch.equal(blended[layer].view(torch.int32), chosen[layer].view(torch.int32))  # bits, -0.0 too


def test_blend_single_style_is_bit_for_bit_even_when_denormals_are_flushed():
    """Why one style skips the arithmetic: 1.0 * x == x fails for float32 denormals when the process
    flushes them (torch.set_flush_denormal, an x86 speed setting); returning the tensor itself cannot."""
    gram = {1: torch.tensor([[1e-40, 0.5], [0.5, 1.0]])}  # 1e-40: a float32 denormal
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormals")
    try:
        assert (1.0 * gram[1]).view(torch.int32)[0, 0] == 0  # what a multiply would give
        blended = blend_gram_targets([gram, {1: torch.eye(2)}], [1.0, 0.0])
    finally:
        torch.set_flush_denormal(False)
    assert torch.equal(blended[1].view(torch.int32), gram[1].view(torch.int32))


def test_blend_is_the_weighted_mean_of_real_grams():
    styles = [_grams(seed) for seed in range(3)]
    blended = blend_gram_targets(styles, [1.0, 2.0, 1.0])
    for layer in (1, 3):
        expected = (styles[0][layer].double() + 2 * styles[1][layer].double() + styles[2][layer].double()) / 4
        assert blended[layer].dtype == torch.float32
        assert torch.allclose(blended[layer].double(), expected, rtol=1e-6, atol=0)


def test_blend_rejects_mismatched_styles():
    a, b = _grams(0), _grams(1)
    with pytest.raises(ValueError, match=r"style 2 has Gram layers \[1\], style 1 has \[1, 3\]"):
        blend_gram_targets([a, {1: b[1]}], [1, 1])
    with pytest.raises(
        ValueError, match=r"style 2 layer 3: Gram shape \(1, 4, 4\) differs from style 1's \(1, 12, 12\)"
    ):
        blend_gram_targets([a, {1: b[1], 3: b[1]}], [1, 1])
    with pytest.raises(ValueError, match=r"got 1 blend weight\(s\) \[1\] for 2 style image\(s\)"):
        blend_gram_targets([a, b], [1])


# --- style scale ------------------------------------------------------------------------------------

STARRY_NIGHT = (728, 576)  # data/style/starry_night.jpg


def test_style_size_at_half_and_double():
    """Rows: scale x the content's rows (Python's round: halves to even); columns: 728/576 of the rows."""
    assert style_size(STARRY_NIGHT, 48, 0.5) == (30, 24)  # 728 * 24 / 576 = 30.3
    assert style_size(STARRY_NIGHT, 48, 2) == (121, 96)  # 121.3
    assert style_size(STARRY_NIGHT, 400, 0.5) == (253, 200)  # 252.8
    assert style_size(STARRY_NIGHT, 400, 2.0) == (1011, 800)  # 1011.1
    assert style_size(STARRY_NIGHT, 75, 0.5) == (48, 38)  # 37.5 rows -> 38; 48.03 columns
    assert style_size(STARRY_NIGHT, 45, 0.5) == (28, 22)  # 22.5 rows -> 22; 27.8 columns


def test_style_size_at_scale_one_for_the_demo_style(style_image):
    with Image.open(style_image) as pil:
        size = pil.size
    for content_height in (16, 64, 400, 1080):
        assert style_size(size, content_height, 1.0) == images.scaled_size(size, content_height)
    assert size == STARRY_NIGHT and style_size(size, 48, 1) == (61, 48)  # 728 * 48 / 576 = 60.7


def test_style_size_known_answers():
    # 800x600 at content height 400: x0.5 -> 200 rows, 800 * 200 / 600 = 266.7 -> 267 columns
    assert style_size((800, 600), 400, 0.5) == (267, 200)
    assert style_size((800, 600), 400, 2) == (1067, 800)
    assert style_size((800, 600), 100, 0.29) == (39, 29)  # 0.29 * 100 is 28.999999999999996 in floats
    assert style_size((800, 600), 401, 1 / 3) == (179, 134)  # 133.67 rows round up
    assert style_size((800, 600), 400, 1e-9) == (1, 1)  # never an empty image


@pytest.mark.parametrize("scale", [0, -0.5, float("nan"), float("inf"), True, "1", None])
def test_style_size_rejects_bad_scales(scale):
    with pytest.raises(ValueError, match=f"style_scale must be a finite number > 0, got {re.escape(repr(scale))}$"):
        style_size((800, 600), 400, scale)
    with pytest.raises(NSTInputError, match=f"style_scale must be a finite number > 0, got {re.escape(repr(scale))}$"):
        check_style_size((800, 600), 400, scale, min_side=16)


def test_style_size_rejects_bad_sizes():
    for style_wh, content_height in (((0, 600), 400), ((800, 600), 0), ((800.0, 600), 400), ((800, 600, 3), 400)):
        with pytest.raises(ValueError, match="sizes must be positive integers"):
            style_size(style_wh, content_height, 1.0)


def test_check_style_size_minimum_side():
    assert check_style_size((800, 600), 400, 0.04, min_side=16) == (21, 16)  # exactly the minimum is fine
    message = (
        r"style_scale 0.03 makes the style image 16x12 px \(from 800x600 at content height 400\); .* 16 px per side"
    )
    with pytest.raises(NSTInputError, match=message):
        check_style_size((800, 600), 400, 0.03, min_side=16)
    # a tall, narrow style: tall enough but only 4 px wide at scale 1
    with pytest.raises(NSTInputError, match=r"makes the style image 4x400 px"):
        check_style_size((10, 1000), 400, 1.0, min_side=16)
