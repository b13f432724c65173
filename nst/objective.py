"""The quantity NST minimises, as one module: image -> its loss terms and their weighted sum.

The loss modules (nst.losses) hold their targets, computed once per run from the content and style
images; the feature extractor runs once per evaluation and its features are shared by the terms.
"""

from __future__ import annotations

import torch
from torch import nn

from nst.backbones import FeatureExtractor
from nst.losses import ContentLoss, StyleLoss, TVLoss, gram_matrix

TERMS = ("content", "style", "tv")


class Objective(nn.Module):
    """image -> {"content", "style", "tv": the unweighted terms, "total": their weighted sum}."""

    def __init__(
        self,
        extractor: FeatureExtractor,
        content: ContentLoss,
        style: StyleLoss,
        tv: TVLoss,
        weights: dict[str, float],
    ):
        super().__init__()
        self.extractor, self.content, self.style, self.tv = extractor, content, style, tv
        self.weights = {term: float(weights[term]) for term in TERMS}

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.extractor(image)
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
    style: torch.Tensor,
    content_layer: int,
    style_layers: int,
    weights: dict[str, float],
) -> Objective:
    """The run's objective with its targets: content features at `content_layer`, Gram matrices of
    the style image's features at layers 1..`style_layers` (images already on the extractor's device)."""
    with torch.no_grad():
        content_target = extractor(content)[content_layer]
        style_features = extractor(style)
    style_targets = {layer: gram_matrix(style_features[layer]) for layer in range(1, style_layers + 1)}
    device = content.device
    return Objective(
        extractor,
        ContentLoss(content_layer, content_target).to(device),
        StyleLoss(style_targets).to(device),
        TVLoss().to(device),
        weights,
    )
