"""Colour and style-target controls from jcjohnson/neural-style, as pure functions.

- `luminance_transfer`: keep the photo's colours (neural-style `-original_colors`).
- `match_color_histogram`: recolour the style image to the content's colour statistics.
- `blend_gram_targets`: several style images blended by weight (`-style_blend_weights`).
- `style_size`: the style image scaled relative to the content (`-style_scale`).

Colour functions take float RGB in [0, 1] as (1, 3, H, W) tensors: the engine's layout, so the
optimised image needs only `to_unit_rgb` (undo the ImageNet normalisation) to be passed in.

Sources: Gatys, Ecker, Bethge, Hertzmann & Shechtman (CVPR 2017), "Controlling Perceptual Factors
in Neural Style Transfer", section "Colour control"; Gatys' reference `match_color`
(github.com/leongatys/NeuralImageSynthesis example notebooks, ported as ProGamerGov/Neural-Tools
linear-color-transfer.py and in neural-style-pt); Johnson, github.com/jcjohnson/neural-style
(neural_style.lua: `-original_colors`, `-style_blend_weights`, `-style_scale`).
"""

from __future__ import annotations

import math

import torch

from nst.backbones import IMAGENET_MEAN, IMAGENET_STD
from nst.errors import NSTInputError
from nst.images import scaled_size

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


# --- colour histogram matching ---------------------------------------------------------------------

COLOR_MATCH_MODES = ("cholesky", "pca", "sym")
# Added to both colour covariances (RGB in [0, 1]); the default of Gatys' reference match_color.
COVARIANCE_EPS = 1e-5


def color_statistics(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (3,) and covariance (3, 3) of the pixel colours, in float64; covariance divides by N."""
    pixels = rgb.detach().reshape(3, -1).double()
    centred = pixels - pixels.mean(dim=1, keepdim=True)
    return pixels.mean(dim=1), centred @ centred.T / pixels.shape[1]


def _sqrt_and_inverse_sqrt(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric square root S^1/2 = U L^1/2 U^T of a positive definite matrix, and its inverse."""
    eigenvalues, eigenvectors = torch.linalg.eigh(cov)
    root = eigenvalues.sqrt()
    return (eigenvectors * root) @ eigenvectors.T, (eigenvectors / root) @ eigenvectors.T


def _color_matrix(style_cov: torch.Tensor, content_cov: torch.Tensor, mode: str) -> torch.Tensor:
    """A with A style_cov A^T = content_cov; the three modes are three choices of that A."""
    if mode == "cholesky":  # A = L_C L_S^-1, lower-triangular factors (depends on the R, G, B order)
        return torch.linalg.cholesky(content_cov) @ torch.linalg.inv(torch.linalg.cholesky(style_cov))
    if mode == "pca":  # Image Analogies (Hertzmann et al. 2001): A = S_C^1/2 S_S^-1/2, symmetric roots
        content_sqrt, _ = _sqrt_and_inverse_sqrt(content_cov)
        _, style_inv_sqrt = _sqrt_and_inverse_sqrt(style_cov)
        return content_sqrt @ style_inv_sqrt
    # "sym": the symmetric A, linear Monge-Kantorovitch (Pitie & Kokaram 2007), the A that moves
    # colours least: A = S_S^-1/2 (S_S^1/2 S_C S_S^1/2)^1/2 S_S^-1/2
    style_sqrt, style_inv_sqrt = _sqrt_and_inverse_sqrt(style_cov)
    middle_sqrt, _ = _sqrt_and_inverse_sqrt(style_sqrt @ content_cov @ style_sqrt)
    return style_inv_sqrt @ middle_sqrt @ style_inv_sqrt


def fit_color_transform(
    style_rgb: torch.Tensor, content_rgb: torch.Tensor, mode: str = "pca", eps: float = COVARIANCE_EPS
) -> tuple[torch.Tensor, torch.Tensor]:
    """The affine colour map p -> A p + b (float64 A (3, 3), b (3,)) taking the style image's colour
    mean and covariance to the content's. See `match_color_histogram`."""
    _check_rgb("style_rgb", style_rgb)
    _check_rgb("content_rgb", content_rgb)
    if mode not in COLOR_MATCH_MODES:
        raise ValueError(f"colour matching mode {mode!r} unknown; choose one of {', '.join(COLOR_MATCH_MODES)}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps <= 0:
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
    style_mean, style_cov = color_statistics(style_rgb)
    content_mean, content_cov = color_statistics(content_rgb)
    # eps I makes both covariances positive definite: a grey or flat style image has a singular
    # covariance, and Cholesky / S^-1/2 would fail or blow up on it
    regulariser = eps * torch.eye(3, dtype=torch.float64)
    matrix = _color_matrix(style_cov + regulariser, content_cov + regulariser, mode)
    return matrix, content_mean - matrix @ style_mean


def apply_color_transform(
    rgb: torch.Tensor, matrix: torch.Tensor, offset: torch.Tensor, clamp: bool = True
) -> torch.Tensor:
    """p -> A p + b on every pixel of a (1, 3, H, W) RGB tensor (computed in float64, returned in rgb's dtype)."""
    _check_rgb("rgb", rgb)
    pixels = matrix.double() @ rgb.detach().reshape(3, -1).double() + offset.double().view(3, 1)
    out = pixels.reshape(rgb.shape).to(rgb.dtype)
    return out.clamp(0.0, 1.0) if clamp else out


def match_color_histogram(
    style_rgb: torch.Tensor,
    content_rgb: torch.Tensor,
    mode: str = "pca",
    eps: float = COVARIANCE_EPS,
    clamp: bool = True,
) -> torch.Tensor:
    """The style image recoloured so its colour mean and covariance (RGB) match the content's.

    Gatys et al. (2017), colour control, "colour histogram matching": before optimisation each style
    pixel p becomes A p + b with A Cov_S A^T = Cov_C and b = mean_C - A mean_S. Such A is unique only
    up to a rotation; the modes are the three choices of Gatys' reference `match_color`:
      "cholesky": A = L_C L_S^-1 from Cholesky factors (reference name "chol");
      "pca":      A = Cov_C^1/2 Cov_S^-1/2 with symmetric (eigen) square roots, the 3-D colour transfer
                  of Image Analogies (Hertzmann et al. 2001), which the paper describes;
      "sym":      the symmetric A, linear Monge-Kantorovitch (Pitie & Kokaram 2007): of all valid A,
                  the one that changes the colours least (mean squared distance).
    Default "pca": the reference implementation's default, and unlike "cholesky" it does not depend on
    the order of the R, G, B channels (Cholesky factors are triangular in that order).

    Both covariances get eps * I (eps 1e-5, the reference's value) so grey or flat images stay
    invertible; the matched covariance is then off by at most eps (1 + |A|^2), far below 8-bit rounding.
    Inputs: (1, 3, H, W) float RGB in [0, 1], any two sizes. With clamp (the default, as in the
    reference) out-of-range results are clipped to [0, 1], which moves the statistics slightly.
    """
    matrix, offset = fit_color_transform(style_rgb, content_rgb, mode, eps)
    return apply_color_transform(style_rgb, matrix, offset, clamp)


# --- blending several styles -----------------------------------------------------------------------


def normalise_blend_weights(weights, style_count: int | None = None) -> list[float]:
    """Blend weights scaled to sum to 1, as neural-style's -style_blend_weights (w_i / sum w).

    Raises ValueError naming the bad value: a count other than `style_count`, a weight that is not a
    finite number >= 0 (NaN, inf, negative, bool, text), or all weights zero.
    """
    weights = list(weights)
    if style_count is not None and len(weights) != style_count:
        raise ValueError(f"got {len(weights)} blend weight(s) {weights} for {style_count} style image(s)")
    if not weights:
        raise ValueError("no blend weights given")
    for index, weight in enumerate(weights):
        ok_type = isinstance(weight, (int, float)) and not isinstance(weight, bool)
        if not ok_type or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"blend weight {index + 1} must be a finite number >= 0, got {weight!r}")
    largest = max(weights)
    if largest == 0:
        raise ValueError(f"blend weights are all zero: {weights}")
    # Divide by the largest first so the sum cannot overflow (1e308 twice); a single non-zero
    # weight then becomes w / w = 1.0 exactly. + 0.0 turns -0.0 into 0.0.
    scaled = [weight / largest for weight in weights]
    total = math.fsum(scaled)
    return [weight / total + 0.0 for weight in scaled]


def blend_gram_targets(grams_per_style: list[dict[int, torch.Tensor]], weights: list[float]) -> dict[int, torch.Tensor]:
    """Style targets for several style images: per layer, sum_i w_i G_i with w normalised to sum 1.

    This is neural-style's -style_blend_weights (neural_style.lua adds blend_weight_i * Gram_i per
    style layer). Grams are size-normalised (nst.losses.gram_matrix divides by C*H*W), so styles of
    different sizes blend on an equal footing. Every style must have the same layers and Gram shapes.

    Styles with weight 0 are left out (their Grams are not read). When one style remains, its own
    tensors are returned unchanged (not copied): no arithmetic at all, so a single style, or 1:0, is
    bit-for-bit today's target, even in a process that flushes denormals (where 1.0 * x != x).
    """
    normalised = normalise_blend_weights(weights, style_count=len(grams_per_style))
    layers = set(grams_per_style[0])
    for index, grams in enumerate(grams_per_style):
        if set(grams) != layers:
            raise ValueError(
                f"style {index + 1} has Gram layers {sorted(grams)}, style 1 has {sorted(layers)}; they must match"
            )
        for layer in layers:
            if grams[layer].shape != grams_per_style[0][layer].shape:
                raise ValueError(
                    f"style {index + 1} layer {layer}: Gram shape {tuple(grams[layer].shape)} differs from "
                    f"style 1's {tuple(grams_per_style[0][layer].shape)}"
                )
    used = [(weight, grams) for weight, grams in zip(normalised, grams_per_style) if weight > 0]
    if len(used) == 1:
        return dict(used[0][1])
    blended = {}
    for layer in sorted(layers):
        total = used[0][0] * used[0][1][layer]
        for weight, grams in used[1:]:
            total = total + weight * grams[layer]
        blended[layer] = total
    return blended


# --- style scale -----------------------------------------------------------------------------------


def style_size(style_size_wh: tuple[int, int], content_height: int, style_scale: float) -> tuple[int, int]:
    """(width, height) of the style image for a run: style_scale x the content's height, aspect kept.

    neural-style's -style_scale scales the style relative to the output size; here the output size is
    the content height, so style_scale 1 is today's behaviour, exactly
    nst.images.scaled_size(style_size_wh, content_height). The height is round(style_scale *
    content_height) (Python's round, as scaled_size), at least 1. Raises ValueError for a style_scale
    that is not a finite number > 0 or for sizes that are not positive integers.
    """
    is_number = isinstance(style_scale, (int, float)) and not isinstance(style_scale, bool)
    if not is_number or not math.isfinite(style_scale) or style_scale <= 0:
        raise ValueError(f"style_scale must be a finite number > 0, got {style_scale!r}")
    sizes = (*style_size_wh, content_height)
    if len(sizes) != 3 or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes):
        raise ValueError(
            f"sizes must be positive integers, got style {style_size_wh!r}, content height {content_height!r}"
        )
    return scaled_size(style_size_wh, max(1, round(style_scale * content_height)))


def check_style_size(
    style_size_wh: tuple[int, int], content_height: int, style_scale: float, min_side: int
) -> tuple[int, int]:
    """style_size(...), or NSTInputError (the engine's one-line, exit-code-2 error) naming the values.

    min_side: the backbone's smallest input, as check_run uses it: max(MIN_HEIGHT, backbone.min_height).
    Both sides are checked, since the deepest feature map must be non-empty in both directions.
    """
    try:
        width, height = style_size(style_size_wh, content_height, style_scale)
    except ValueError as error:
        raise NSTInputError(str(error)) from None
    if min(width, height) < min_side:
        raise NSTInputError(
            f"style_scale {style_scale!r} makes the style image {width}x{height} px (from {style_size_wh[0]}x"
            f"{style_size_wh[1]} at content height {content_height}); the model needs at least {min_side} px per side"
        )
    return width, height
