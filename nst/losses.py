"""Gatys et al. (2016) losses as small modules holding their targets (computed once per run).

Normalisations follow the classic PyTorch implementation whose loss weights we reuse:
content = mean squared error of feature maps; style = summed squared error of Gram matrices
(each Gram divided by C*H*W), averaged over style layers (Gatys et al. 2016's equal layer weights
w_l = 1/N; per-layer weights, the run parameter `style_layer_weights`, replace them; with a region
map: summed over the regions of guided Grams, nst.regions); total variation = summed absolute
differences of neighbouring pixels, measured in 0-255 grey levels.
"""

from __future__ import annotations

import torch
from torch import nn

from nst.backbones import IMAGENET_STD


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C) feature correlations, divided by C*H*W."""
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


class ContentLoss(nn.Module):
    """Mean squared error to the content image's features at one layer."""

    def __init__(self, layer: int, target: torch.Tensor):
        super().__init__()
        self.layer = layer
        self.register_buffer("target", target.detach())

    def forward(self, features: dict[int, torch.Tensor]) -> torch.Tensor:
        return torch.nn.functional.mse_loss(features[self.layer], self.target)


class StyleLoss(nn.Module):
    """Summed squared error to the style image's Gram matrices, averaged over the style layers, or
    weighted per layer."""

    def __init__(self, gram_targets: dict[int, torch.Tensor], layer_weights: list[float] | None = None):
        """`gram_targets`: layer -> gram_matrix() of the style image's features (or a blend of several).
        `layer_weights`: one per layer in layer order, summing to 1 (nst.params checks them); None:
        the plain average."""
        super().__init__()
        self.layers = sorted(gram_targets)
        for layer in self.layers:
            self.register_buffer(f"gram_{layer}", gram_targets[layer].detach())
        self.layer_weights = None if layer_weights is None else dict(zip(self.layers, layer_weights, strict=True))

    def forward(self, features: dict[int, torch.Tensor]) -> torch.Tensor:
        if self.layer_weights is None:  # the equal weights: these exact operations, so the same bytes as ever
            return sum(self._error(features, layer) for layer in self.layers) / len(self.layers)
        # a layer weighted 0 is left out of the graph, not multiplied by 0
        return sum(w * self._error(features, layer) for layer, w in self.layer_weights.items() if w > 0)

    def _error(self, features: dict[int, torch.Tensor], layer: int) -> torch.Tensor:
        target = getattr(self, f"gram_{layer}")
        return torch.nn.functional.mse_loss(gram_matrix(features[layer]), target, reduction="sum")


def guided_gram(features: torch.Tensor, mask: torch.Tensor, area: float) -> torch.Tensor:
    """Gatys et al. 2017's guided Gram of one region: gram_matrix of the masked features, rescaled from
    the layer's H*W to the region's area (`area`: the mask's sum), so it is (F*M)(F*M)^T / (C*area).
    With a mask of ones it is gram_matrix(features) bit for bit (x*1 and x*1.0 are exact)."""
    h, w = features.shape[2:]
    return gram_matrix(features * mask) * (h * w / area)


class GuidedStyleLoss(nn.Module):
    """Per region, summed squared error of its guided Gram matrices to its own style's Gram matrices;
    summed over the regions, averaged over the style layers or weighted per layer, as StyleLoss (nst.regions).
    One region covering the whole image is StyleLoss exactly."""

    def __init__(
        self,
        gram_targets: list[dict[int, torch.Tensor]],
        masks: dict[int, torch.Tensor],
        layer_weights: list[float] | None = None,
    ):
        """`gram_targets`: per region, layer -> gram_matrix() of its style image's features;
        `masks`: layer -> (R, 1, h, w) region masks at that layer's feature size; `layer_weights` as
        StyleLoss's."""
        super().__init__()
        self.layers = sorted(masks)
        self.layer_weights = None if layer_weights is None else dict(zip(self.layers, layer_weights, strict=True))
        self.regions = len(gram_targets)
        # the areas as Python floats, so the rescaling is exactly 1.0 for a full mask
        self.areas = {layer: [float(m.sum()) for m in masks[layer]] for layer in self.layers}
        for layer in self.layers:
            self.register_buffer(f"mask_{layer}", masks[layer].detach())
            for region, targets in enumerate(gram_targets):
                self.register_buffer(f"gram_{layer}_{region}", targets[layer].detach())

    def forward(self, features: dict[int, torch.Tensor]) -> torch.Tensor:
        if self.layer_weights is None:
            return sum(self._layer(features[layer], layer) for layer in self.layers) / len(self.layers)
        return sum(w * self._layer(features[layer], layer) for layer, w in self.layer_weights.items() if w > 0)

    def _layer(self, features: torch.Tensor, layer: int) -> torch.Tensor:
        masks = getattr(self, f"mask_{layer}")
        return sum(
            torch.nn.functional.mse_loss(
                guided_gram(features, masks[region : region + 1], self.areas[layer][region]),
                getattr(self, f"gram_{layer}_{region}"),
                reduction="sum",
            )
            for region in range(self.regions)
        )


class TVLoss(nn.Module):
    """Total variation of the image, in 0-255 grey levels."""

    def __init__(self):
        super().__init__()
        # image is ImageNet-normalised; scale differences back to 0-255 grey levels
        self.register_buffer("to_grey_levels", 255.0 * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        pixels = image * self.to_grey_levels
        return (pixels[..., :, 1:] - pixels[..., :, :-1]).abs().sum() + (
            pixels[..., 1:, :] - pixels[..., :-1, :]
        ).abs().sum()
