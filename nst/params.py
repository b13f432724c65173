"""Run parameters: which ones determine a result, their allowed values, and the checks.

The defaults themselves live in one place only: the keyword arguments of nst.api.stylize().
`validate()` resolves and checks a full parameter set before anything runs, raising NSTInputError
with one line that names the bad parameter and value.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from nst import images
from nst.backbones import get_backbone
from nst.color import check_style_size, normalise_blend_weights
from nst.errors import NSTInputError
from nst.weights import TORCHVISION_FEATURE_GAIN, check_weights

INIT_METHODS = ("content", "style", "gaussian", "uniform")
# Units of the noise inits (nst.images.initial_image): "normalised" draws N(0,1) / U[-1,1] in the
# ImageNet-normalised space the image is optimised in (std ~58 grey levels); "grey_levels" draws them
# in 0-255 units around the ImageNet mean, as the study's code base (gordicaleksa's) does: a mean-grey
# image with about one grey level of noise.
NOISE_UNITS = ("normalised", "grey_levels")
OPTIMIZERS = ("lbfgs", "adam")
# fp32: the exact reference (TF32 off on CUDA). tf32: CUDA matmuls/convolutions in TF32 (10-bit
# mantissa; on the CPU the same as fp32). bf16: the backbone under bf16 autocast in channels_last;
# Gram matrices, losses, the image and the optimiser state stay fp32.
PRECISIONS = ("fp32", "tf32", "bf16")
# Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer": keep the photo's
# colours by luminance-only transfer, or by matching the style's colour statistics to the content's.
COLOR_CONTROLS = ("none", "luminance", "histogram")
# L-BFGS: the classic implementation's 1 (its line search scales the step). Adam: the classic
# implementation's step of 10 grey levels (0-255 input), in our ImageNet-normalised image space.
DEFAULT_LEARNING_RATE = {"lbfgs": 1.0, "adam": 10.0 / TORCHVISION_FEATURE_GAIN}
MIN_HEIGHT = 16
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# The parameters that determine a result (the rest - device, threads, progress, ... - do not).
RESULT_PARAMETERS = (
    "model",
    "weights",
    "init_method",
    "content_weight",
    "style_weight",
    "tv_weight",
    "content_layer",
    "style_layers",
    "optimizer",
    "iterations",
    "learning_rate",
    "height",
    "seed",
    "noise_units",
    "stage_heights",
    "stage_iterations",
    "precision",
    "color_control",
    "style_blend_weights",
    "style_scale",
)


def number(name: str, value, *, minimum: float, integer: bool = False):
    """`value` if it is a finite number (an integer where asked) >= minimum, else NSTInputError."""
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type or not math.isfinite(value) or value < minimum:
        raise NSTInputError(f"{name} must be {kind} >= {minimum:g}, got {value!r}")
    return value


def _choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise NSTInputError(f"{name} {value!r} unknown; choose one of {', '.join(choices)}")


def validate(params: dict, content, style, out=None) -> dict:
    """Resolve and check a complete parameter set (defaults already merged in); returns a copy with
    learning_rate, device, stages and blend weights resolved and numbers in canonical form.

    `style` is one image path or a list of them (a blend)."""
    params = dict(params)
    styles = style_paths(style)
    images.open_rgb(Path(content), "content")
    style_images = [images.open_rgb(path, "style") for path in styles]
    backbone = get_backbone(params["model"])
    min_side = max(MIN_HEIGHT, backbone.min_height)
    _check_names(params, backbone)
    if params["init_method"] not in ("gaussian", "uniform"):
        params["noise_units"] = "normalised"  # no noise to scale: one result, so one id, whatever was set
    _check_numbers(params, backbone, min_side)
    _resolve_stages(params, min_side)
    _resolve_styles(params, style_images, min_side)
    params["device"] = resolve_device(params["device"])
    if out is not None and Path(out).suffix.lower() not in IMAGE_SUFFIXES:
        raise NSTInputError(f"output {out}: unsupported image format {Path(out).suffix!r} (use .png or .jpg)")
    return params


def style_paths(style) -> list[Path]:
    """One style image path or several (a blend) as a list."""
    paths = [style] if isinstance(style, str | Path) else list(style)
    if not paths:
        raise NSTInputError("style: no style image given")
    return [Path(path) for path in paths]


def _check_names(params: dict, backbone) -> None:
    if not isinstance(params["weights"], str) or not params["weights"]:
        raise NSTInputError(f"weights must be a source name or a file path, got {params['weights']!r}")
    check_weights(backbone, params["weights"])
    _choice("init_method", params["init_method"], INIT_METHODS)
    _choice("noise_units", params["noise_units"], NOISE_UNITS)
    _choice("optimizer", params["optimizer"], OPTIMIZERS)
    _choice("precision", params["precision"], PRECISIONS)
    _choice("color_control", params["color_control"], COLOR_CONTROLS)


def _check_numbers(params: dict, backbone, min_side: int) -> None:
    for name in ("content_weight", "style_weight", "tv_weight"):
        params[name] = float(number(name, params[name], minimum=0)) + 0.0  # + 0.0: -0.0 becomes 0.0
    for name in ("content_layer", "style_layers"):
        value = number(name, params[name], minimum=1, integer=True)
        if value > backbone.num_layers:
            raise NSTInputError(
                f"{name} {value} out of range for {backbone.name}: it has feature layers 1..{backbone.num_layers}"
            )
    for name, minimum in (("iterations", 1), ("seed", 0), ("checkpoint_every", 0), ("height", min_side)):
        number(name, params[name], minimum=minimum, integer=True)
    if params["learning_rate"] is None:
        params["learning_rate"] = DEFAULT_LEARNING_RATE[params["optimizer"]]
    params["learning_rate"] = float(number("learning_rate", params["learning_rate"], minimum=0))
    if params["learning_rate"] == 0:
        raise NSTInputError("learning_rate must be > 0, got 0")
    if params["threads"] is not None:
        number("threads", params["threads"], minimum=1, integer=True)
    params["style_scale"] = float(number("style_scale", params["style_scale"], minimum=0))
    if params["style_scale"] == 0:
        raise NSTInputError("style_scale must be > 0, got 0")


def _resolve_stages(params: dict, min_side: int) -> None:
    """Coarse-to-fine: stage_heights (increasing, below height) run before the final stage at height;
    stage_iterations splits `iterations` over all stages (default: evenly, the rest to the last)."""
    heights = [number("stage_heights", h, minimum=min_side, integer=True) for h in _as_list(params, "stage_heights")]
    if any(b <= a for a, b in zip(heights, heights[1:])) or (heights and heights[-1] >= params["height"]):
        raise NSTInputError(
            f"stage_heights {heights} must increase and stay below height {params['height']} (the last stage)"
        )
    split = [number("stage_iterations", n, minimum=1, integer=True) for n in _as_list(params, "stage_iterations")]
    stages = len(heights) + 1
    if heights and not split:
        share = params["iterations"] // stages
        if share < 1:
            raise NSTInputError(f"iterations {params['iterations']} cannot be split over {stages} stages")
        split = [share] * (stages - 1) + [params["iterations"] - share * (stages - 1)]
    if split and (len(split) != stages or sum(split) != params["iterations"]):
        raise NSTInputError(
            f"stage_iterations {split} must give one count per stage ({stages}: stage_heights {heights} and "
            f"height {params['height']}) summing to iterations {params['iterations']}"
        )
    params["stage_heights"], params["stage_iterations"] = heights, split if heights else []


def _resolve_styles(params: dict, style_images: list, min_side: int) -> None:
    """Blend weights normalised to sum 1 (None for a single style); style_scale checked at every stage."""
    weights = params["style_blend_weights"]
    if weights is None:
        weights = [1.0] * len(style_images)
    try:
        weights = normalise_blend_weights(list(weights), style_count=len(style_images))
    except (TypeError, ValueError) as error:
        raise NSTInputError(f"style_blend_weights: {error}") from None
    params["style_blend_weights"] = weights if len(style_images) > 1 else None
    for stage_height in [*params["stage_heights"], params["height"]]:
        for style_image in style_images:
            check_style_size(style_image.size, stage_height, params["style_scale"], min_side)


def _as_list(params: dict, name: str) -> list:
    value = params[name]
    if value is None:
        return []
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise NSTInputError(f"{name} must be a list, got {value!r}")
    return list(value)


def resolve_device(device: str) -> str:
    """'auto' -> cuda where available, else cpu; anything else must be a usable torch device."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise NSTInputError(f"device {device!r} is not a torch device (cpu, cuda, cuda:1, auto)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise NSTInputError(f"device {device!r}: CUDA is not available on this machine")
    return device


def result_parameters(params: dict) -> dict:
    """The result-determining subset of a resolved parameter set."""
    return {name: params[name] for name in RESULT_PARAMETERS}
