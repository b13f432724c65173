"""What a run optimises: the network and images, loaded once (`build_run`), and per stage of a
coarse-to-fine run the images at that stage's size and the objective with their targets (`Stage`).

A single-scale run is one stage at `height`. Colour control by histogram matching transforms the
style images' colours before any target is computed (Gatys et al. 2017); the transform is fitted
once, at the final size, and applied at every stage and to the "style" initial image. A region map
(nst.regions) gives each style image a region of the content: its masks follow the content's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from nst import color, images, regions
from nst.backbones import Backbone, FeatureExtractor, get_backbone
from nst.objective import TERMS, Objective, build_objective
from nst.weights import WeightsIdentity, load_network


@dataclass
class Stage:
    """One stage of a run: its images (normalised, on the CPU) and objective."""

    height: int
    size: tuple[int, int]  # (width, height)
    content: torch.Tensor
    styles: list[torch.Tensor]  # at style_scale x height, colour-matched where asked
    objective: Objective


@dataclass
class RunImages:
    """A run's content and style images, and what it makes of them at any height (no network)."""

    params: dict
    content_image: Image.Image
    style_images: list[Image.Image]
    color_transforms: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # per style: (A, b)
    region_map: Image.Image | None = None  # same size as content_image (checked by nst.params)

    def content_at(self, height: int) -> torch.Tensor:
        return images.to_tensor(self.content_image, images.scaled_size(self.content_image.size, height))

    def region_masks_at(self, height: int) -> torch.Tensor | None:
        """(R, 1, H, W) masks at the content's size at `height`, one per style; None without a map."""
        if self.region_map is None:
            return None
        colours = regions.labels(self.region_map, self.params["region_map"])
        return regions.masks_at(self.region_map, colours, images.scaled_size(self.content_image.size, height))

    def styles_at(self, height: int) -> list[torch.Tensor]:
        scale = self.params["style_scale"]
        styles = [images.to_tensor(s, color.style_size(s.size, height, scale)) for s in self.style_images]
        return self._matched(styles)

    def _matched(self, styles: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.color_transforms is None:
            return styles
        return [
            color.from_unit_rgb(color.apply_color_transform(color.to_unit_rgb(style), matrix, offset))
            for style, (matrix, offset) in zip(styles, self.color_transforms)
        ]

    def initial_image(self, content: torch.Tensor) -> torch.Tensor:
        """The run's starting image at the size of `content` (the first stage's content image)."""
        height, width = content.shape[2:]
        styles = self._matched([images.to_tensor(s, (width, height)) for s in self.style_images])
        weights, masks = self.params["style_blend_weights"], self.region_masks_at(height)
        if masks is not None:  # each region from its own style
            style = (torch.cat(styles) * masks).sum(dim=0, keepdim=True)
        else:
            style = styles[0] if weights is None else sum(w * s for w, s in zip(weights, styles))
        start = images.initial_image(
            self.params["init_method"], content, style, self.params["seed"], self.params["noise_units"]
        )
        return images.nudge(start, self.params["init_nudge"])

    def first_stage_height(self) -> int:
        return [*self.params["stage_heights"], self.params["height"]][0]


def load_images(params: dict, content_path: Path, style_paths: list[Path]) -> RunImages:
    """Open a run's images; with colour_control "histogram", fit each style's colour transform to
    the content at the final size (`params`: check_run()'s resolved dict)."""
    run_images = RunImages(
        params, images.open_rgb(content_path, "content"), [images.open_rgb(path, "style") for path in style_paths]
    )
    if params["region_map"] is not None:
        run_images.region_map = regions.open_region_map(params["region_map"])
    if params["color_control"] == "histogram":
        content_rgb = color.to_unit_rgb(run_images.content_at(params["height"]))
        run_images.color_transforms = [
            color.fit_color_transform(color.to_unit_rgb(style), content_rgb)
            for style in run_images.styles_at(params["height"])
        ]
    return run_images


@dataclass
class RunSetup:
    """Network, weights and images of a run, loaded once."""

    params: dict
    backbone: Backbone
    weights: WeightsIdentity
    extractor: FeatureExtractor
    images: RunImages
    device: torch.device

    def stage(self, height: int) -> Stage:
        content, styles = self.images.content_at(height), self.images.styles_at(height)
        params = self.params
        objective = build_objective(
            self.extractor,
            content.to(self.device),
            [style.to(self.device) for style in styles],
            params["style_blend_weights"],
            params["content_layer"],
            params["style_layers"],
            {term: params[f"{term}_weight"] for term in TERMS},
            params["style_layer_weights"],
            self.images.region_masks_at(height),
        )
        return Stage(height, (content.shape[3], content.shape[2]), content, styles, objective)

    def initial_image(self, stage: Stage) -> torch.Tensor:
        return self.images.initial_image(stage.content)


@dataclass(frozen=True)
class Network:
    """The cut network of a run, shareable by the runs of a batch (same model, weights, layers, precision,
    pooling)."""

    backbone: Backbone
    weights: WeightsIdentity
    extractor: FeatureExtractor


def build_network(params: dict, device: torch.device) -> Network:
    backbone = get_backbone(params["model"])
    network, weights_id = load_network(backbone, params["weights"])
    layers = list(range(1, params["style_layers"] + 1)) + [params["content_layer"]]
    bf16 = params["precision"] == "bf16"
    extractor = FeatureExtractor(
        backbone, network, layers, gain=weights_id.feature_gain, bf16=bf16, pooling=params["pooling"]
    ).to(device)
    return Network(backbone, weights_id, extractor)


def build_run(
    params: dict, content_path: Path, style_paths: list[Path], device: torch.device, network: Network | None = None
) -> RunSetup:
    """Load the network (unless given) and images of a run (`params`: check_run()'s resolved dict)."""
    network = network or build_network(params, device)
    run_images = load_images(params, content_path, style_paths)
    return RunSetup(params, network.backbone, network.weights, network.extractor, run_images, device)


def upsample(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The previous stage's result at the next stage's (width, height), bicubic."""
    return torch.nn.functional.interpolate(image, size=(size[1], size[0]), mode="bicubic", align_corners=False)
