"""A fixed yardstick for finished runs: numbers that mean the same in every run.

A run's own losses depend on its backbone, layers and loss weights, so they cannot be compared
across runs. Everything here is measured by judges that never change: the bundled VGG19 (and, as
a second opinion, the bundled EfficientNet-Lite0) at a fixed judge height, plus network-free
measures (SSIM, a colour-distribution distance). Pure functions: paths/arrays in, numbers out.

Why the style distance is a *centred* Gram distance averaged over layers (bench/validate_yardstick.py
has the numbers; 128 px, 100 L-BFGS iterations, chelsea x starry night, bundled VGG19): the mean
relative distance of plain (uncentred) Gram matrices ranked the style_layers=3 run (the painting's
palette on the photo) closer to the painting than the style_layers=4..6 runs (its swirls and stars),
0.244 vs 0.343 - the opposite of what the pictures show. The uncentred Gram of relu1_1..relu3_1 is
dominated by the mean activation, i.e. by the average colour, which the 3-layer run matches and the
6-layer run (pink/green) does not. Centring (a covariance) leaves the texture: 0.482 vs 0.435, and
the style-weight and 256 px sweeps rank as seen too. The palette is measured on its own
(palette_distance), so "took the palette, not the texture" shows as low palette, high style distance.

Resolution matters more than any normalisation: Gram statistics are not scale invariant, and a
result enlarged for the judge (blurred) reads as far from the painting at every layer (128 px runs
judged at 256 px invert the ranking). Judge every run of a comparison at one height no larger than
the smallest run's height (`judge_upsampled` says when that was not so). Even downscaled, runs made
at different heights are not comparable to better than ~0.15 (a 256 px run judged at 128 px reads
0.58, its 128 px twin 0.435): compare runs of one height.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage.color import rgb2gray, rgb2lab
from skimage.metrics import structural_similarity

from nst import images
from nst.backbones import FeatureExtractor, get_backbone
from nst.weights import load_network

# The validation scale (bench/validate_yardstick.py) and the smallest height the study's runs use
# outside the 80 px demo; never judge above the smallest run height (module docstring).
JUDGE_HEIGHT = 128
# Gatys et al. (2016): style relu1_1..relu5_1 (our VGG numbering 1, 2, 3, 4, 6), content relu4_2 (5).
VGG_STYLE_LAYERS = (1, 2, 3, 4, 6)
VGG_CONTENT_LAYER = 5
# EfficientNet-Lite0 layers 1..5 have strides 2, 2, 4, 8, 16: the same range of scales as VGG's
# relu1_1..relu5_1 (strides 1..16). Layer 6 (stride 32) has 4x6 positions at 128 px: too few for a
# 320-channel covariance.
EFFNET_STYLE_LAYERS = (1, 2, 3, 4, 5)
# Wang, Bovik, Sheikh & Simoncelli (2004) SSIM: 11x11 Gaussian window, sigma 1.5, population
# statistics - skimage's documented settings to match the paper.
SSIM_SETTINGS = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False, "data_range": 1.0}
# "The photo is still recognisable" (the findings' gate): luminance SSIM to the photo with both shrunk
# to 64 px high (coarse_ssim). Chosen on 190 images labelled blind by eye (bench/labels/: 4 photos,
# 128 and 256 px, finals and milestones): held out by photo, it agrees with the labels on 94% of the
# recognisable / not cases (AUC 0.993), where full-size SSIM (content_ssim) agrees on 88%: at full
# size the style's strokes lower SSIM whether or not the photo shows through; at 64 px they average out.
COARSE_SSIM_HEIGHT = 64
# Sliced Wasserstein: directions spread evenly over the sphere (Fibonacci lattice, deterministic),
# and quantiles at evenly spaced probabilities. With 64 x 256 a pure shift reads |shift|/2 to within
# 1% in every direction tested (tests), at ~10 ms for a 128 px image.
PALETTE_DIRECTIONS = 64
PALETTE_QUANTILES = 256


@dataclass(frozen=True)
class Judge:
    """A frozen network that measures every run alike, whatever network made the run."""

    name: str
    extractor: FeatureExtractor
    style_layers: tuple[int, ...]
    layer_names: tuple[str, ...]  # of style_layers, for the output keys
    content_layer: int | None
    height: int
    weights_label: str


@functools.cache
def load_judge(model: str = "vgg19", height: int = JUDGE_HEIGHT) -> Judge:
    """The bundled (offline, real ImageNet) weights of vgg19 or efficientnet_lite0 as a judge. Loaded
    once per process: the measure jobs of a pipeline share it (read only: frozen, eval mode)."""
    backbone = get_backbone(model)
    network, identity = load_network(backbone, "bundled")
    if model == "vgg19":
        style_layers, content_layer = VGG_STYLE_LAYERS, VGG_CONTENT_LAYER
        names = tuple(backbone.layer_names[i - 1] for i in style_layers)
    else:
        style_layers, content_layer = EFFNET_STYLE_LAYERS, None
        names = tuple(f"layer{i}" for i in style_layers)  # node names hold dots; numbers per nst.backbones
    layers = list(style_layers) + ([content_layer] if content_layer else [])
    extractor = FeatureExtractor(backbone, network, layers, gain=identity.feature_gain)
    return Judge(model, extractor, style_layers, names, content_layer, height, identity.label)


# ---------------------------------------------------------------- images


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) float64 RGB in [0, 1]."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (width, height) as the engine does (PIL bicubic, antialiased when shrinking)."""
    if (rgb.shape[1], rgb.shape[0]) == tuple(size):
        return rgb
    pil = Image.fromarray(_to_uint8(rgb))
    return np.asarray(pil.resize(size, Image.Resampling.BICUBIC), dtype=np.float64) / 255.0


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return (np.clip(rgb, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def judge_size(rgb: np.ndarray, height: int) -> tuple[int, int]:
    return images.scaled_size((rgb.shape[1], rgb.shape[0]), height)


def _features(judge: Judge, rgb: np.ndarray, size: tuple[int, int]) -> dict[int, torch.Tensor]:
    tensor = images.to_tensor(Image.fromarray(_to_uint8(rgb)), size)
    with torch.no_grad():
        return {k: v.double() for k, v in judge.extractor(tensor).items()}


# ---------------------------------------------------------------- style, content, perceptual


def gram(features: torch.Tensor, centred: bool = True) -> torch.Tensor:
    """(1, C, H, W) -> (C, C) second moments per position; centred: the covariance."""
    flat = features[0].reshape(features.shape[1], -1)
    if centred:
        flat = flat - flat.mean(dim=1, keepdim=True)
    return flat @ flat.T / flat.shape[1]


def gram_distance(features: torch.Tensor, target: torch.Tensor, centred: bool = True) -> float:
    """||G(x) - G(style)||_F / ||G(style)||_F: 0 = same statistics; layers weigh alike (each is
    relative to its own style Gram), and the feature scale of any weights cancels."""
    target_gram = gram(target, centred)
    return float(torch.linalg.norm(gram(features, centred) - target_gram) / torch.linalg.norm(target_gram))


def style_distances(judge: Judge, rgb: np.ndarray, style_rgb: np.ndarray, centred: bool = True) -> dict[str, float]:
    """Per-layer Gram distances of an image to the style image, both at the judge height."""
    mine = _features(judge, rgb, judge_size(rgb, judge.height))
    theirs = _features(judge, style_rgb, judge_size(style_rgb, judge.height))
    return _style_distances(judge, mine, theirs, centred)


def _style_distances(judge: Judge, mine: dict, theirs: dict, centred: bool = True) -> dict[str, float]:
    return {
        name: gram_distance(mine[layer], theirs[layer], centred)
        for layer, name in zip(judge.style_layers, judge.layer_names)
    }


def content_distance(judge: Judge, rgb: np.ndarray, content_rgb: np.ndarray) -> float:
    """||F(x) - F(content)|| / ||F(content)|| at the judge's content layer (relu4_2), same size."""
    size = judge_size(rgb, judge.height)
    return _content_distance(judge, _features(judge, rgb, size), _features(judge, content_rgb, size))


def _content_distance(judge: Judge, mine: dict, theirs: dict) -> float:
    mine, theirs = mine[judge.content_layer], theirs[judge.content_layer]
    return float(torch.linalg.norm(mine - theirs) / torch.linalg.norm(theirs))


def perceptual_distance(judge: Judge, rgb_a: np.ndarray, rgb_b: np.ndarray) -> float:
    """LPIPS without learned weights (Zhang et al. 2018, eq. 1 with w = 1): per layer, unit-normalise
    each position's channel vector, squared distance, mean over positions; mean over the style layers.
    Range [0, 2] for ReLU features (non-negative unit vectors are at most sqrt(2) apart); 0 = same.
    Both images are judged at the size of `rgb_a` (an experiment's outputs share one aspect ratio)."""
    size = judge_size(rgb_a, judge.height)
    return _perceptual_distance(judge, _features(judge, rgb_a, size), _features(judge, rgb_b, size))


def _perceptual_distance(judge: Judge, first: dict, second: dict) -> float:
    per_layer = []
    for layer in judge.style_layers:
        # eps as LPIPS: an all-zero channel vector (dead ReLUs) stays zero instead of dividing by 0
        a = first[layer] / (first[layer].norm(dim=1, keepdim=True) + 1e-10)
        b = second[layer] / (second[layer].norm(dim=1, keepdim=True) + 1e-10)
        per_layer.append(float(((a - b) ** 2).sum(dim=1).mean()))
    return sum(per_layer) / len(per_layer)


# ---------------------------------------------------------------- network-free measures


def ssim_luminance(rgb_a: np.ndarray, rgb_b: np.ndarray) -> float:
    """SSIM (Wang et al. 2004 settings) of the luminance (Rec. 709 weights, skimage.rgb2gray).
    Luminance only: taking the painting's colours is the point of style transfer, not a content loss.
    `rgb_b` is resized to `rgb_a`'s size. Range [-1, 1]; 1 = identical."""
    rgb_b = resize_rgb(rgb_b, (rgb_a.shape[1], rgb_a.shape[0]))
    return float(structural_similarity(rgb2gray(rgb_a), rgb2gray(rgb_b), **SSIM_SETTINGS))


def luminances_at(rgb: np.ndarray, photo: np.ndarray, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The luminances (as ssim_luminance) of `rgb` shrunk to `height` px (antialiased bicubic) and of
    `photo` at that same size."""
    mine = rgb2gray(resize_rgb(rgb, judge_size(rgb, height)))
    return mine, rgb2gray(resize_rgb(photo, (mine.shape[1], mine.shape[0])))


def ssim_at(rgb: np.ndarray, photo: np.ndarray, height: int) -> float:
    """Luminance SSIM of both images shrunk to `height` px: the photo's coarse structure, blind to
    the brush strokes and small swirls a style lays over it (they average out when shrinking)."""
    return float(structural_similarity(*luminances_at(rgb, photo, height), **SSIM_SETTINGS))


def edge_correlation(rgb: np.ndarray, photo: np.ndarray, height: int = 64) -> float:
    """Pearson correlation of the gradient magnitudes (Sobel after a 1 px Gaussian blur) of the two
    luminances at `height` px: do the photo's edges stand where the image has its edges?"""
    from scipy import ndimage

    def edges(gray: np.ndarray) -> np.ndarray:
        blurred = ndimage.gaussian_filter(gray, 1.0)
        return np.hypot(ndimage.sobel(blurred, 0), ndimage.sobel(blurred, 1)).ravel()

    mine, theirs = luminances_at(rgb, photo, height)
    return float(np.corrcoef(edges(mine), edges(theirs))[0, 1])


def _sphere_directions(count: int) -> np.ndarray:
    """`count` unit vectors spread evenly over the sphere (Fibonacci lattice): deterministic."""
    k = np.arange(count) + 0.5
    z = 1.0 - 2.0 * k / count
    phi = math.pi * (1.0 + math.sqrt(5.0)) * k
    r = np.sqrt(1.0 - z**2)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def sliced_wasserstein(points_a: np.ndarray, points_b: np.ndarray) -> float:
    """Sliced 1-Wasserstein distance of two 3-D point clouds (any sizes), in their units.
    For clouds that differ by a constant shift v it is |v| * mean|cos| = |v| / 2."""
    directions = _sphere_directions(PALETTE_DIRECTIONS)
    levels = (np.arange(PALETTE_QUANTILES) + 0.5) / PALETTE_QUANTILES
    qa = np.quantile(points_a @ directions.T, levels, axis=0)
    qb = np.quantile(points_b @ directions.T, levels, axis=0)
    return float(np.abs(qa - qb).mean())


def palette_distance(rgb: np.ndarray, style_rgb: np.ndarray, height: int = JUDGE_HEIGHT) -> float:
    """Colour-distribution distance in CIELAB (sliced W1, units of Lab / Delta E 1976), no network:
    blind to where colours are, so a shuffled copy scores 0. Both images at `height` first (a
    distribution barely depends on it; keeps it cheap)."""
    return sliced_wasserstein(_lab_points(rgb, height), _lab_points(style_rgb, height))


def _lab_points(rgb: np.ndarray, height: int) -> np.ndarray:
    return rgb2lab(resize_rgb(rgb, judge_size(rgb, height))).reshape(-1, 3)


# ---------------------------------------------------------------- the run's start and its losses


def initial_image(record: dict, content: Path, style: Path | list[Path]) -> np.ndarray:
    """The image a run started from, as (H, W, 3) RGB clamped to [0, 1] (what the start would look
    like saved), made by the engine itself (nst.setup.load_images) from the sidecar's parameters, at
    the run's first stage's size. No network is loaded."""
    from nst.naming import extra_defaults
    from nst.params import style_paths
    from nst.setup import load_images

    params = extra_defaults() | record["parameters"]  # sidecars from before later parameters existed
    run_images = load_images(params, Path(content), style_paths(style))
    start = run_images.initial_image(run_images.content_at(run_images.first_stage_height()))
    return images.to_rgb_uint8(start).numpy().astype(np.float64) / 255.0


def _rms(difference: np.ndarray) -> float:
    return float(np.sqrt(np.mean(difference**2)))


def change_from_initial(judge: Judge, rgb: np.ndarray, initial: np.ndarray, style_rgb: np.ndarray) -> dict[str, float]:
    """How far a run moved from its start.

    init_change: perceptual distance (perceptual_distance) from the start, divided by the start's
    perceptual distance to the style image (resized to the run's size): 0 = stayed at its
    initialisation, 1 = moved as far as the painting is from the start.
    init_rms: RMS pixel difference, RGB in [0, 1]; exactly 0 only for a run that never moved. Not a
    ranking: a colour cast moves every pixel, so at 128 px style_layers=1 (the photo in blue) has a
    larger init_rms than style_layers=6 (swirls everywhere); init_change orders them as seen.
    """
    size = (rgb.shape[1], rgb.shape[0])
    initial = resize_rgb(np.clip(initial, 0.0, 1.0), size)
    reference = perceptual_distance(judge, resize_rgb(style_rgb, size), initial)
    change = perceptual_distance(judge, rgb, initial) / reference if reference > 0 else math.nan
    return {"init_change": change, "init_rms": _rms(rgb - initial)}


LOSS_TERMS = ("content", "style", "tv")


def loss_shares(record: dict) -> dict[str, float]:
    """Each weighted loss term's share of the weighted total, at the start (loss_history[0], the
    initial image) and at the end (final_losses). Shares sum to 1; NaN where the total is 0."""
    params = record["parameters"]
    weights = {term: params[f"{term}_weight"] for term in LOSS_TERMS}
    shares = {}
    for when, losses in (("start", record["loss_history"][0]), ("end", record["final_losses"])):
        weighted = {term: weights[term] * losses[term] for term in LOSS_TERMS}
        total = sum(weighted.values())
        for term in LOSS_TERMS:
            shares[f"share_{when}_{term}"] = weighted[term] / total if total > 0 else math.nan
    return shares


# ---------------------------------------------------------------- one run, and pairs of runs


def measure(
    result: Path,
    content: Path,
    style: Path,
    initial: np.ndarray | None = None,
    *,
    judge: Judge,
    second_judge: Judge | None = None,
    record: dict | None = None,
) -> dict:
    """Every yardstick number for one finished run: a flat, JSON-able dict (one TSV row).

    `initial`: the run's start as (H, W, 3) RGB in [0, 1] (see initial_image); `record`: its sidecar
    (for the loss shares). Keys (floats unless said; distances are 0 for the reference itself):
      judge_height (int, px), judge_upsampled (bool: the result was smaller than the judge height)
      content_ssim            luminance SSIM to the content image, [-1, 1], 1 = the photo
      coarse_ssim             the same with both shrunk to COARSE_SSIM_HEIGHT: is the photo recognisable
      content_distance        relative relu4_2 distance to the content image, >= 0
      style_distance          centred-Gram distance to the style image, mean of the layers, >= 0
      style_distance.<relu>   the same per layer (relu1_1 ... relu5_1)
      style_distance_effnet[.layerN]   the same by the EfficientNet-Lite0 judge (if given)
      palette_distance        sliced W1 in CIELAB to the style image's colours (Delta E units)
      init_change, init_rms   change from the start (if `initial`; see change_from_initial)
      share_{start,end}_{content,style,tv}   weighted loss shares (if `record`; see loss_shares)
    """
    yardstick = RunYardstick(read_rgb(content), read_rgb(style), initial, judge=judge, second_judge=second_judge)
    return yardstick.measure(read_rgb(result), record)


class RunYardstick:
    """The judges and one run's references - its content, style and start images - whose features
    are computed once and then compared with any number of images of the run (its final image and
    its milestones): the same numbers as measuring each image on its own, at a fraction of the cost.
    """

    def __init__(
        self,
        content_rgb: np.ndarray,
        style_rgb: np.ndarray,
        initial: np.ndarray | None = None,
        *,
        judge: Judge,
        second_judge: Judge | None = None,
    ):
        self.content_rgb, self.style_rgb, self.initial = content_rgb, style_rgb, initial
        self.judge, self.second_judge = judge, second_judge
        self.style_lab = _lab_points(style_rgb, judge.height)
        self._references: dict[tuple, dict[int, torch.Tensor]] = {}

    def _reference(self, judge: Judge, what: str, rgb: np.ndarray, size: tuple[int, int]) -> dict:
        """Features of a reference image (`what` names it), computed once per judge and size."""
        key = (judge.name, what, size)
        if key not in self._references:
            self._references[key] = _features(judge, rgb, size)
        return self._references[key]

    def measure(self, rgb: np.ndarray, record: dict | None = None) -> dict:
        """measure()'s row for one image of the run, (H, W, 3) RGB in [0, 1]; `record`: the sidecar,
        its final_losses being this image's losses (for the loss shares)."""
        judge, size = self.judge, judge_size(rgb, self.judge.height)
        mine = _features(judge, rgb, size)  # one pass serves content, style and change from the start
        row: dict = {"judge_height": judge.height, "judge_upsampled": rgb.shape[0] < judge.height}
        row["content_ssim"] = ssim_luminance(rgb, self.content_rgb)
        row["coarse_ssim"] = ssim_at(rgb, self.content_rgb, COARSE_SSIM_HEIGHT)
        row["content_distance"] = _content_distance(
            judge, mine, self._reference(judge, "content", self.content_rgb, size)
        )
        judges = {"style_distance": judge} | ({"style_distance_effnet": self.second_judge} if self.second_judge else {})
        for key, one_judge in judges.items():
            features = mine if one_judge is judge else _features(one_judge, rgb, judge_size(rgb, one_judge.height))
            style_size = judge_size(self.style_rgb, one_judge.height)
            theirs = self._reference(one_judge, "style", self.style_rgb, style_size)
            per_layer = _style_distances(one_judge, features, theirs)
            row[key] = float(np.mean(list(per_layer.values())))  # layers weigh alike: each is relative
            row |= {f"{key}.{name}": value for name, value in per_layer.items()}
        row["palette_distance"] = sliced_wasserstein(_lab_points(rgb, judge.height), self.style_lab)
        if self.initial is not None:
            row |= self._change_from_initial(rgb, mine, size)
        if record is not None:
            row |= loss_shares(record)
        return row

    def _change_from_initial(self, rgb: np.ndarray, mine: dict, size: tuple[int, int]) -> dict[str, float]:
        """change_from_initial() with the start's and the style's features computed once."""
        judge, image_size = self.judge, (rgb.shape[1], rgb.shape[0])
        initial = resize_rgb(np.clip(self.initial, 0.0, 1.0), image_size)
        start = self._reference(judge, f"initial at {image_size}", initial, size)
        style = self._reference(judge, f"style at {image_size}", resize_rgb(self.style_rgb, image_size), size)
        reference = _perceptual_distance(judge, style, start)
        change = _perceptual_distance(judge, mine, start) / reference if reference > 0 else math.nan
        return {"init_change": change, "init_rms": _rms(rgb - initial)}


def pairwise_distances(results: Sequence[Path], judge: Judge) -> list[dict]:
    """Distances between every two outputs of one experiment and pair: perceptual (see
    perceptual_distance), luminance SSIM, palette (Lab). One row per unordered pair, in input order
    (itertools.combinations). Each image's features and colours are computed once, not once per pair."""
    rgbs = [read_rgb(path) for path in results]
    labs = [_lab_points(rgb, judge.height) for rgb in rgbs]
    features: dict[tuple[int, tuple[int, int]], dict] = {}

    def features_of(index: int, size: tuple[int, int]) -> dict:
        if (index, size) not in features:
            features[index, size] = _features(judge, rgbs[index], size)
        return features[index, size]

    rows = []
    for a, b in itertools.combinations(range(len(rgbs)), 2):
        size = judge_size(rgbs[a], judge.height)  # both at the first one's size, as perceptual_distance
        rows.append(
            {
                "a": Path(results[a]).name,
                "b": Path(results[b]).name,
                "perceptual": _perceptual_distance(judge, features_of(a, size), features_of(b, size)),
                "ssim": ssim_luminance(rgbs[a], rgbs[b]),
                "palette": sliced_wasserstein(labs[a], labs[b]),
            }
        )
    return rows
