"""nst.color: known answers from first principles, and the claimed statistics on the demo images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nst import images
from nst.color import (
    BT601_LUMA,
    from_unit_rgb,
    luma,
    luminance_transfer,
    to_unit_rgb,
)

HEIGHT = 64  # small: statistics are stable at this size and the tests stay fast on one core

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
