"""The quantity NST minimises, as one module: image -> its loss terms and their weighted sum.

The loss modules (nst.losses) hold their targets, computed once per run from the content and style
images; the feature extractor runs once per evaluation and its features are shared by the terms.
"""

from __future__ import annotations

import torch
from torch import nn

from nst.backbones import FeatureExtractor
from nst.color import blend_gram_targets
from nst.losses import ContentLoss, GuidedStyleLoss, StyleLoss, TVLoss, gram_matrix
from nst.regions import layer_masks

TERMS = ("content", "style", "tv")


class Objective(nn.Module):
    """image -> {"content", "style", "tv": the unweighted terms, "total": their weighted sum}."""

    def __init__(
        self,
        extractor: FeatureExtractor,
        content: ContentLoss,
        style: StyleLoss | GuidedStyleLoss,
        tv: TVLoss,
        weights: dict[str, float],
    ):
        super().__init__()
        self.extractor, self.content, self.style, self.tv = extractor, content, style, tv
        self.weights = {term: float(weights[term]) for term in TERMS}

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.terms(self.extractor(image), image)

    def terms(self, features: dict[int, torch.Tensor], image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The terms from the image's features (computed once for a whole batch by nst.batch)."""
        terms = {"content": self.content(features), "style": self.style(features), "tv": self.tv(image)}
        terms["total"] = (
            self.weights["content"] * terms["content"]
            + self.weights["style"] * terms["style"]
            + self.weights["tv"] * terms["tv"]
        )
        return terms


def build_objective(
    extractor: FeatureExtractor,
    content: torch.Tensor,
    styles: list[torch.Tensor],
    blend_weights: list[float] | None,
    content_layer: int,
    style_layers: int,
    weights: dict[str, float],
    style_layer_weights: list[float] | None = None,
    region_masks: torch.Tensor | None = None,
) -> Objective:
    """The run's objective with its targets: content features at `content_layer`, Gram matrices of
    the style images' features at layers 1..`style_layers`, blended by `blend_weights` (None: one
    style), the layers' errors weighted by `style_layer_weights` (None: equal). With `region_masks`
    ((R, 1, H, W) at the content's size, nst.regions) the i-th style styles region i through guided
    Grams instead (no blend). Images already on the extractor's device."""
    layers = range(1, style_layers + 1)
    with torch.no_grad():
        content_features = extractor(content)
        content_target = content_features[content_layer]
        grams = _style_grams(extractor, styles, blend_weights or [1.0] * len(styles), layers)
    device = content.device
    if region_masks is not None:
        masks = {layer: layer_masks(region_masks, content_features[layer].shape[2:]) for layer in layers}
        style = GuidedStyleLoss(grams, masks, style_layer_weights)
    elif blend_weights is None:
        style = StyleLoss(grams[0], style_layer_weights)
    else:
        used = [(w, g) for w, g in zip(blend_weights, grams) if g is not None]
        style = StyleLoss(blend_gram_targets([g for _, g in used], [w for w, _ in used]), style_layer_weights)
    return Objective(
        extractor,
        ContentLoss(content_layer, content_target).to(device),
        style.to(device),
        TVLoss().to(device),
        weights,
    )


def _style_grams(extractor, styles: list[torch.Tensor], blend_weights: list[float], layers) -> list[dict | None]:
    """Per style image: layer -> Gram matrix of its features; None for a style weighted 0 (left out:
    its features are not computed)."""
    grams = []
    for style, blend_weight in zip(styles, blend_weights):
        if blend_weight > 0:
            features = extractor(style)
            grams.append({layer: gram_matrix(features[layer]) for layer in layers})
        else:
            grams.append(None)
    return grams
