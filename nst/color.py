"""Colour and style-target controls from jcjohnson/neural-style, as pure functions (issue #10).

- `luminance_transfer`: keep the photo's colours (neural-style `-original_colors`).
- `match_color_histogram`: recolour the style image to the content's colour statistics.
- `blend_gram_targets`: several style images blended by weight (`-style_blend_weights`).
- `style_size`: the style image scaled relative to the content (`-style_scale`).

Colour functions take float RGB in [0, 1] as (1, 3, H, W) tensors: the engine's layout, so the
optimised image needs only `to_unit_rgb` (undo the ImageNet normalisation) to be passed in.

Sources: Gatys, Ecker, Bethge, Hertzmann & Shechtman (CVPR 2017), "Controlling Perceptual Factors
in Neural Style Transfer", section "Colour control"; Gatys' reference code
(github.com/leongatys/NeuralImageSynthesis, `match_color`); Johnson, github.com/jcjohnson/neural-style
(neural_style.lua: `-original_colors`, `-style_blend_weights`, `-style_scale`).
"""

from __future__ import annotations

import torch

from nst.backbones import IMAGENET_MEAN, IMAGENET_STD

# ITU-R BT.601 luma weights. The same Y row is used by YIQ (the paper's choice), by YUV (torch
# image.rgb2yuv, which neural-style's -original_colors calls) and by JPEG YCbCr (PIL, neural-style-pt).
BT601_LUMA = (0.299, 0.587, 0.114)


def to_unit_rgb(image: torch.Tensor) -> torch.Tensor:
    """ImageNet-normalised (1, 3, H, W) tensor (the engine's space) -> RGB, nominally in [0, 1]. Not clamped."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    return image * std + mean


def from_unit_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """RGB (1, 3, H, W) -> the engine's ImageNet-normalised space; inverse of `to_unit_rgb`."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb - mean) / std


def _check_rgb(name: str, rgb: torch.Tensor) -> None:
    if not isinstance(rgb, torch.Tensor) or rgb.dim() != 4 or rgb.shape[:2] != (1, 3) or not rgb.is_floating_point():
        got = tuple(rgb.shape) if isinstance(rgb, torch.Tensor) else type(rgb).__name__
        dtype = f" {rgb.dtype}" if isinstance(rgb, torch.Tensor) else ""
        raise ValueError(f"{name} must be a float RGB tensor of shape (1, 3, H, W), got {got}{dtype}")
    if rgb.shape[2] == 0 or rgb.shape[3] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(rgb.shape)}")


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 luminance Y of a (1, 3, H, W) RGB tensor, as (1, 1, H, W)."""
    weights = torch.tensor(BT601_LUMA, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * weights).sum(dim=1, keepdim=True)


def luminance_transfer(stylised_rgb: torch.Tensor, content_rgb: torch.Tensor) -> torch.Tensor:
    """The stylised image's luminance with the content image's chroma (neural-style `-original_colors`).

    Both are float RGB (1, 3, H, W) of the same size, nominally in [0, 1]; returns the same layout.

    Colour space: Y from BT.601 with two chroma channels, as YIQ in Gatys et al. (2017) and YUV in
    neural-style. The choice among YIQ, YUV and YCbCr does not change the result: in all three the
    chroma rows are combinations of (B - Y) and (R - Y), so they sum to zero, grey has no chroma, and
    "replace Y, keep chroma" is the same operation, adding the luminance difference to all three
    channels equally:  out = content + (Y(stylised) - Y(content)) * (1, 1, 1).
    That closed form is what is computed here (exact, no matrix inverse; the tests check it against
    explicit YIQ, YUV and PIL YCbCr round trips).

    Out of gamut: a bright stylised Y on a saturated content colour can push a channel past 1 (or a
    dark one below 0). Each channel is clamped to [0, 1], as neural-style's save step and PIL's
    YCbCr->RGB conversion do; those pixels keep their hue direction only approximately.

    This is the paper's final recombination step (and all of neural-style's -original_colors); the
    paper's full "luminance-only transfer" also runs the optimisation on luminance images.
    """
    _check_rgb("stylised_rgb", stylised_rgb)
    _check_rgb("content_rgb", content_rgb)
    if stylised_rgb.shape != content_rgb.shape:
        raise ValueError(
            f"stylised_rgb {tuple(stylised_rgb.shape)} and content_rgb {tuple(content_rgb.shape)} differ in size; "
            "resize the content to the stylised image first"
        )
    luminance_change = luma(stylised_rgb) - luma(content_rgb)  # (1, 1, H, W) broadcasts to all channels
    return (content_rgb + luminance_change).clamp(0.0, 1.0)
