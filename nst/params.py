"""Run parameters: which ones determine a result, their allowed values, and the checks.

The defaults themselves live in one place only: the keyword arguments of nst.api.stylize().
`validate()` resolves and checks a full parameter set before anything runs, raising NSTInputError
with one line that names the bad parameter and value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from nst import images, regions
from nst.backbones import BACKBONES, VGG_MODELS, get_backbone
from nst.color import check_style_size, normalise_blend_weights
from nst.errors import NSTInputError
from nst.milestones import MAX_SAVE_POINTS, save_points
from nst.weights import TORCHVISION_FEATURE_GAIN, WEIGHT_SOURCES, check_weights

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
# VGG's pooling: "max" as trained and as the seed study's code base (and torchvision) keep it; "avg":
# Gatys et al. 2016, Sec. 2: average instead of max pooling "yields slightly more appealing results".
# Only for nst.backbones.VGG_MODELS.
POOLINGS = ("max", "avg")
# L-BFGS: the classic implementation's 1 (its line search scales the step). Adam: the classic
# implementation's step of 10 grey levels (0-255 input), in our ImageNet-normalised image space.
DEFAULT_LEARNING_RATE = {"lbfgs": 1.0, "adam": 10.0 / TORCHVISION_FEATURE_GAIN}
MIN_HEIGHT = 16
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class RunParameter:
    """One run option (a keyword of nst.api.stylize(), whose signature holds its default)."""

    name: str
    kind: type  # str, int, float or bool; a list's item type where is_list
    help: str
    id_key: str | None = None  # its field in run ids; None: it does not change the result
    choices: tuple[str, ...] = ()
    is_list: bool = False
    minimum: float | None = None  # single numbers: the smallest value allowed ...
    above_minimum: bool = False  # ... or, where set, the bound values must stay above
    # (lists are checked as a whole: nst.params._resolve_stages, nst.color.normalise_blend_weights)


# Every run option, once. Result-determining ones (with an id key) come first, in the order of
# sidecars and runs.tsv; the rest change how a run is executed, never its result. Adding a
# parameter: a row here, its default in stylize()'s signature, the code that uses it, and for a
# result-determining one its two lines in workflow/schemas/config.schema.yaml (tests/pipeline/
# test_schema.py holds the schema to this table). Run ids, the CLI and the checks follow the row.
RUN_PARAMETERS = (
    RunParameter("model", str, "backbone (layers: `nst layers`)", id_key="m", choices=tuple(BACKBONES)),
    RunParameter(
        "weights", str, f"{', '.join(WEIGHT_SOURCES)} or a state-dict file ('random' is for tests only)", id_key="w"
    ),
    RunParameter("init_method", str, "initial image", id_key="i", choices=INIT_METHODS),
    RunParameter("content_weight", float, "weight of the content loss", id_key="cw", minimum=0),
    RunParameter("style_weight", float, "weight of the style loss", id_key="sw", minimum=0),
    RunParameter("tv_weight", float, "weight of the total-variation loss", id_key="tv", minimum=0),
    RunParameter("content_layer", int, "feature layer 1..6 for content (see `nst layers`)", id_key="cl", minimum=1),
    RunParameter("style_layers", int, "use feature layers 1..N for style", id_key="sl", minimum=1),
    RunParameter("optimizer", str, "optimiser", id_key="o", choices=OPTIMIZERS),
    RunParameter("iterations", int, "optimisation steps, all stages together", id_key="it", minimum=1),
    RunParameter(
        "learning_rate",
        float,
        "step size (default: 1 for lbfgs, 10 grey levels for adam)",
        id_key="lr",
        minimum=0,
        above_minimum=True,
    ),
    RunParameter(
        "height", int, "output height in pixels (width keeps the content's aspect)", id_key="h", minimum=MIN_HEIGHT
    ),
    RunParameter("seed", int, "random seed of the noise inits", id_key="s", minimum=0),
    RunParameter(
        "noise_units",
        str,
        "units of the gaussian/uniform inits: normalised (ImageNet-normalised space, std ~58 grey levels) "
        "or grey_levels (the study's: ~1 grey level around the mean image)",
        id_key="nu",
        choices=NOISE_UNITS,
    ),
    RunParameter(
        "stage_heights",
        int,
        "coarse-to-fine: heights of the stages before the final one at --height, increasing",
        id_key="st",
        is_list=True,
    ),
    RunParameter(
        "stage_iterations",
        int,
        "iterations of each stage, the final one included, summing to --iterations (default: an even split)",
        id_key="si",
        is_list=True,
    ),
    RunParameter(
        "precision",
        str,
        "fp32 (exact reference), tf32 (CUDA only differs), bf16 (backbone in bf16 autocast)",
        id_key="p",
        choices=PRECISIONS,
    ),
    RunParameter(
        "color_control",
        str,
        "none, luminance (keep the content's colours), histogram (match the style's colours to the content's first)",
        id_key="cc",
        choices=COLOR_CONTROLS,
    ),
    RunParameter(
        "style_blend_weights",
        float,
        "one weight per style image (normalised to sum 1; default: equal)",
        id_key="sb",
        is_list=True,
    ),
    RunParameter(
        "style_scale",
        float,
        "style image height as a multiple of the content's height",
        id_key="ss",
        minimum=0,
        above_minimum=True,
    ),
    RunParameter(
        "pooling",
        str,
        f"VGG's pooling ({', '.join(VGG_MODELS)} only): max (as trained) or avg (Gatys et al. 2016)",
        id_key="pl",
        choices=POOLINGS,
    ),
    RunParameter(
        "style_layer_weights",
        float,
        "one weight per style layer 1..style_layers (normalised to sum 1; default: equal, as Gatys et al. 2016)",
        id_key="lw",
        is_list=True,
    ),
    RunParameter(
        "region_map",
        str,
        "spatial control: an image of the content's size whose colours label regions; the style images "
        "style the regions one each, in the colours' sorted order (darkest first, nst.regions)",
        id_key="rm",
    ),
    RunParameter(
        "init_nudge",
        int,
        "0: the start image as the init method makes it; k > 0: every value of it moved by 64 float steps, "
        "up or down in a pattern seeded by k (a chance repeat of a deterministic init: nst.images.nudge)",
        id_key="nd",
        minimum=0,
    ),
    RunParameter("device", str, "auto, cpu, cuda, cuda:N"),
    RunParameter("threads", int, "torch's CPU threads (default: torch's choice)", minimum=1),
    RunParameter(
        "cudnn_benchmark", bool, "let cuDNN autotune kernels (faster on GPUs, results may differ between runs)"
    ),
    RunParameter(
        "checkpoint_every", int, "save resumable state every N iterations (0: only on SIGTERM/SIGINT)", minimum=0
    ),
    RunParameter("progress", bool, "progress bar on stderr"),
    RunParameter(
        "save_every",
        int,
        "also write the image after every N-th iteration to <output>.milestones/ (0: only the B/8, B/4, B/2 "
        f"milestones); at most {MAX_SAVE_POINTS} images, in the final stage of coarse-to-fine runs",
        minimum=0,
    ),
    RunParameter("allow_slow_bf16", bool, "run precision bf16 even on a device without bf16 units (emulated: slow)"),
)
PARAMETERS = {parameter.name: parameter for parameter in RUN_PARAMETERS}
# The parameters that determine a result, in sidecar order.
RESULT_PARAMETERS = tuple(parameter.name for parameter in RUN_PARAMETERS if parameter.id_key)


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
    content_size = images.image_size(Path(content), "content")
    style_sizes = [images.image_size(path, "style") for path in styles]
    backbone = get_backbone(params["model"])
    min_side = max(MIN_HEIGHT, backbone.min_height)
    _check_names(params, backbone)
    if params["init_method"] not in ("gaussian", "uniform"):
        params["noise_units"] = "normalised"  # no noise to scale: one result, so one id, whatever was set
    _check_numbers(params, backbone, min_side)
    _resolve_stages(params, min_side)
    _check_save_points(params)
    _check_regions(params, content_size, Path(content), styles)
    _resolve_styles(params, style_sizes, min_side)
    _resolve_layer_weights(params)
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
    for parameter in RUN_PARAMETERS:
        if parameter.choices:
            _choice(parameter.name, params[parameter.name], parameter.choices)
    if params["pooling"] != "max" and backbone.name not in VGG_MODELS:
        raise NSTInputError(
            f"pooling {params['pooling']!r} is for VGG backbones ({', '.join(VGG_MODELS)}); "
            f"model {backbone.name!r} keeps its own pooling (use pooling 'max')"
        )


def _check_numbers(params: dict, backbone, min_side: int) -> None:
    """Every single number against its table bounds, floats made canonical; then the bounds the
    backbone sets (its smallest input, its layer count)."""
    if params["learning_rate"] is None:
        params["learning_rate"] = DEFAULT_LEARNING_RATE[params["optimizer"]]
    number("height", params["height"], minimum=min_side, integer=True)
    for parameter in RUN_PARAMETERS:
        if parameter.kind in (int, float) and not parameter.is_list and params[parameter.name] is not None:
            params[parameter.name] = _checked_number(parameter, params[parameter.name])
    for name in ("content_layer", "style_layers"):
        if params[name] > backbone.num_layers:
            layers = f"it has feature layers 1..{backbone.num_layers}"
            raise NSTInputError(f"{name} {params[name]} out of range for {backbone.name}: {layers}")


def _checked_number(parameter: RunParameter, value):
    value = number(parameter.name, value, minimum=parameter.minimum, integer=parameter.kind is int)
    if parameter.above_minimum and value == parameter.minimum:
        raise NSTInputError(f"{parameter.name} must be > {parameter.minimum:g}, got {value:g}")
    return float(value) + 0.0 if parameter.kind is float else value  # + 0.0: -0.0 becomes 0.0


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


def _check_save_points(params: dict) -> None:
    """save_every's images are kept in memory and in every checkpoint until the run ends: capped."""
    count = len(save_points(params))
    if count > MAX_SAVE_POINTS:
        raise NSTInputError(
            f"save_every {params['save_every']} asks for {count} images; at most {MAX_SAVE_POINTS} are kept "
            "(each stays in memory and in every checkpoint until the run ends): use a larger save_every"
        )


def _resolve_styles(params: dict, style_sizes: list[tuple[int, int]], min_side: int) -> None:
    """Blend weights normalised to sum 1; None for a single style, for a blend whose weights leave
    one style alone (sole_style: that style's run), and for one style per region of a region map (no
    blend). style_scale checked at every stage, every style."""
    weights = params["style_blend_weights"]
    if weights is None:
        weights = [1.0] * len(style_sizes)
    try:
        weights = normalise_blend_weights(list(weights), style_count=len(style_sizes))
    except (TypeError, ValueError) as error:
        raise NSTInputError(f"style_blend_weights: {error}") from None
    blended = sum(1 for weight in weights if weight) > 1 and params["region_map"] is None
    params["style_blend_weights"] = weights if blended else None
    for stage_height in [*params["stage_heights"], params["height"]]:
        for style_size in style_sizes:
            check_style_size(style_size, stage_height, params["style_scale"], min_side)


def sole_style(style, blend_weights) -> int | None:
    """The index of the one style a blend uses where its normalised weights leave exactly one style
    non-zero (1:0, 0:1:0): that run is the single-style run of that image - the same pixels, as a style
    weighted 0 is never computed (nst.objective), so it gets the same id, outputs and cache entry.
    None for a single style or a true blend. Call with values validate() accepted."""
    styles = style_paths(style)
    if blend_weights is None or len(styles) < 2:
        return None
    weights = normalise_blend_weights(list(blend_weights), style_count=len(styles))
    used = [index for index, weight in enumerate(weights) if weight]
    return used[0] if len(used) == 1 else None


def used_styles(style, blend_weights) -> list[Path]:
    """The style images a run uses: all of `style`, or the sole style of a blend of one (sole_style)."""
    styles = style_paths(style)
    index = sole_style(styles, blend_weights)
    return styles if index is None else [styles[index]]


def _resolve_layer_weights(params: dict) -> None:
    """Per-layer style weights: one per style layer, normalised to sum 1 (as blend weights are). Equal
    weights are the default (None), so they name the same run and take the same code path."""
    weights = params["style_layer_weights"]
    if weights is None:
        return
    weights, count = _as_list(params, "style_layer_weights"), params["style_layers"]
    if len(weights) != count:
        raise NSTInputError(
            f"style_layer_weights: {len(weights)} weights {weights} for {count} style layers (one per layer 1..{count})"
        )
    try:
        weights = normalise_blend_weights(weights)
    except ValueError as error:
        raise NSTInputError(f"style_layer_weights: {str(error).replace('blend weight', 'weight')}") from None
    params["style_layer_weights"] = None if len(set(weights)) == 1 else weights


def _check_regions(params: dict, content_size: tuple[int, int], content: Path, styles: list[Path]) -> None:
    """A region map gives each style image a region (nst.regions): no blend weights then, and the map
    must fit the content, the style count and every stage's size."""
    path = params["region_map"]
    if path is None:
        return
    if not isinstance(path, str | Path) or not str(path):
        raise NSTInputError(f"region_map must be an image file, got {path!r}")
    if params["style_blend_weights"] is not None:
        raise NSTInputError(
            "style_blend_weights and region_map do not combine: with a region map each style image "
            "styles its own region"
        )
    heights = [*params["stage_heights"], params["height"]]
    sizes = [images.scaled_size(content_size, height) for height in heights]
    regions.check_region_map(path, content_size, content, styles, sizes)
    params["region_map"] = str(path)


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
