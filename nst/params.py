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
from nst.errors import NSTInputError
from nst.weights import TORCHVISION_FEATURE_GAIN, check_weights

INIT_METHODS = ("content", "style", "gaussian", "uniform")
OPTIMIZERS = ("lbfgs", "adam")
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


def validate(params: dict, content, style, out=None, *, check_images: bool = True) -> dict:
    """Resolve and check a complete parameter set (defaults already merged in); returns a copy with
    learning_rate and device resolved and the loss weights as floats."""
    params = dict(params)
    if check_images:
        for what, path in (("content", content), ("style", style)):
            images.open_rgb(Path(path), what)
    backbone = get_backbone(params["model"])
    if not isinstance(params["weights"], str) or not params["weights"]:
        raise NSTInputError(f"weights must be a source name or a file path, got {params['weights']!r}")
    check_weights(backbone, params["weights"])
    _choice("init_method", params["init_method"], INIT_METHODS)
    _choice("optimizer", params["optimizer"], OPTIMIZERS)
    for name in ("content_weight", "style_weight", "tv_weight"):
        params[name] = float(number(name, params[name], minimum=0)) + 0.0  # + 0.0: -0.0 becomes 0.0
    for name in ("content_layer", "style_layers"):
        value = number(name, params[name], minimum=1, integer=True)
        if value > backbone.num_layers:
            raise NSTInputError(
                f"{name} {value} out of range for {backbone.name}: it has feature layers 1..{backbone.num_layers}"
            )
    number("iterations", params["iterations"], minimum=1, integer=True)
    number("seed", params["seed"], minimum=0, integer=True)
    number("checkpoint_every", params["checkpoint_every"], minimum=0, integer=True)
    number("height", params["height"], minimum=max(MIN_HEIGHT, backbone.min_height), integer=True)
    if params["learning_rate"] is None:
        params["learning_rate"] = DEFAULT_LEARNING_RATE[params["optimizer"]]
    params["learning_rate"] = float(number("learning_rate", params["learning_rate"], minimum=0))
    if params["learning_rate"] == 0:
        raise NSTInputError("learning_rate must be > 0, got 0")
    if params["threads"] is not None:
        number("threads", params["threads"], minimum=1, integer=True)
    params["device"] = resolve_device(params["device"])
    if out is not None and Path(out).suffix.lower() not in IMAGE_SUFFIXES:
        raise NSTInputError(f"output {out}: unsupported image format {Path(out).suffix!r} (use .png or .jpg)")
    return params


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
