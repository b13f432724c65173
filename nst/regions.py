"""Spatial control (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer",
Sec. 4.1): a region map labels the content image's regions, each region takes its own style image.

- Labels: the map's distinct RGB colours (a grey map's levels are colours too), sorted as (R, G, B)
  tuples, darkest first: black (0, 0, 0) < (0, 0, 255) < white. The i-th style image (the run's style
  list, in its order) styles the i-th label. So a black-and-white map with styles [a, b] puts a where
  the map is black and b where it is white.
- Size: the map must have the content image's pixel size (refused otherwise: a map of another shape
  would put the regions elsewhere than drawn). It follows the content to each stage's size by NEAREST
  neighbour, never blending two labels into a third colour.
- Per feature layer: each region's binary mask area-averaged to the layer's size (adaptive average
  pooling; the paper's guidance channels propagated by down-sampling), soft at region borders.
- Style loss (nst.losses.GuidedStyleLoss): per region r and layer, the guided Gram
  (F*M_r)(F*M_r)^T / (C * sum(M_r)), i.e. the region's feature correlations averaged over its area,
  matched to the Gram of region r's whole style image. Content loss and total variation stay global.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from nst import images
from nst.errors import NSTInputError

# More labels than this are refused: a map drawn with flat colours has a few; one with more is almost
# always anti-aliased or JPEG-compressed, whose blended edge colours would each become a sliver of a
# region with no style of its own. Each region also costs one more Gram per style layer and evaluation.
MAX_REGIONS = 8

Colour = tuple[int, int, int]


def open_region_map(path: str | Path) -> Image.Image:
    return images.open_rgb(Path(path), "region map")


def labels(region_map: Image.Image, path: str | Path) -> list[Colour]:
    """The map's colours in label order (sorted); NSTInputError if there are more than MAX_REGIONS."""
    counted = region_map.getcolors(maxcolors=MAX_REGIONS)
    if counted is None:
        raise NSTInputError(
            f"region_map {path} has more than {MAX_REGIONS} colours: each colour is a region; draw it with "
            f"flat colours and save it as PNG (anti-aliased or JPEG edges add colours)"
        )
    return sorted(colour for _, colour in counted)


def colour_name(colour: Colour) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def masks_at(region_map: Image.Image, colours: list[Colour], size: tuple[int, int]) -> torch.Tensor:
    """(R, 1, H, W) binary float masks at `size` (width, height), one per label: the map resized by
    nearest neighbour, so every pixel keeps one of the map's own colours."""
    resized = region_map.resize(size, Image.Resampling.NEAREST)
    rgb = torch.frombuffer(bytearray(resized.tobytes()), dtype=torch.uint8).view(size[1], size[0], 3)
    return (
        torch.stack([(rgb == torch.tensor(colour, dtype=torch.uint8)).all(dim=2) for colour in colours])
        .unsqueeze(1)
        .float()
    )


def layer_masks(masks: torch.Tensor, feature_size: tuple[int, int]) -> torch.Tensor:
    """The masks at a feature layer's (height, width): area averages of the image-size masks."""
    return torch.nn.functional.adaptive_avg_pool2d(masks, feature_size)


def check_region_map(
    path: str | Path,
    content_size: tuple[int, int],
    content_path: Path,
    styles: list[Path],
    sizes: list[tuple[int, int]],
) -> None:
    """Refuse, naming the file and label, a map that does not fit the run: another size than the
    content image (`content_size`, width and height), a label without a style (or a style without a
    label), a label with no pixel at one of the run's image `sizes` (width, height; every stage's)."""
    region_map = open_region_map(path)
    if region_map.size != content_size:
        raise NSTInputError(
            f"region_map {path} is {region_map.size[0]}x{region_map.size[1]} pixels, the content image "
            f"{content_path} {content_size[0]}x{content_size[1]}: draw the map at the content's size "
            f"(it is then resized with the content by nearest neighbour)"
        )
    colours = labels(region_map, path)
    if len(colours) != len(styles):
        names = ", ".join(colour_name(c) for c in colours)
        missing = (
            f"label {colour_name(colours[len(styles)])} has no style"
            if len(colours) > len(styles)
            else f"style image {styles[len(colours)]} has no label"
        )
        raise NSTInputError(
            f"region_map {path} has {len(colours)} label(s) ({names}, in label order) and the run "
            f"{len(styles)} style image(s), one per label: {missing}"
        )
    for size in sizes:
        pixels = masks_at(region_map, colours, size).sum(dim=(1, 2, 3))
        for colour, style, count in zip(colours, styles, pixels.tolist()):
            if count == 0:
                raise NSTInputError(
                    f"region_map {path}: label {colour_name(colour)} (style {style}) has no pixels at "
                    f"{size[0]}x{size[1]}, a size the run optimises at: enlarge the region or the height"
                )


def describe(path: str | Path, styles: list[Path]) -> list[dict]:
    """The sidecar's list of regions: each label's colour and style image, in label order."""
    colours = labels(open_region_map(path), path)
    return [{"label": colour_name(colour), "style": str(style)} for colour, style in zip(colours, styles)]
