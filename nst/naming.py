"""Output names derived from a run's parameters: the pipeline's run id and the CLI's file names.

A run id spells out every result-determining parameter with its exact value, so two parameter sets
share an id if and only if they are equal (`parse_run_id` inverts it; tests/engine/test_naming.py
proves the round trip on generated parameter sets). Numbers are written exactly: integers as digits,
floats as the shortest string that reads back as the same float (Python's repr), so 100000 and
100000.1, or an explicit learning rate and a default that differs in the 7th digit, never share a
name. Examples:

    m_vgg19_w_bundled_i_content_o_lbfgs_it_1000_lr_1_h_400_cw_100000_sw_30000_tv_1_cl_4_sl_6_s_0
    m_inception-v3_w_file-3f2a9c0d1e4b5a69_..._sw_0.5_..._s_7

A weights file is named by the first 16 hex digits of its content's sha256 (the sidecar has all 64):
two files with the same bytes give the same result. A region map (nst.regions) likewise, as
`rm_<16 hex>`: the same pixels in another file (or under another name) are the same run.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

from nst.api import parameter_defaults
from nst.params import PARAMETERS, RUN_PARAMETERS
from nst.weights import WEIGHT_SOURCES, file_sha256

# The fields of the first run ids, in their order: always written. A new parameter never joins
# them but becomes an extra, so ids made before it existed still name the same results.
ALWAYS_WRITTEN = (
    "model",
    "weights",
    "init_method",
    "optimizer",
    "iterations",
    "learning_rate",
    "height",
    "content_weight",
    "style_weight",
    "tv_weight",
    "content_layer",
    "style_layers",
    "seed",
)
# (parameter, key) in id order
RUN_ID_FIELDS = tuple((name, PARAMETERS[name].id_key) for name in ALWAYS_WRITTEN)
# written only where they differ from stylize()'s default
RUN_ID_EXTRAS = tuple((p.name, p.id_key) for p in RUN_PARAMETERS if p.id_key and p.name not in ALWAYS_WRITTEN)
_IN_IDS = [p for p in RUN_PARAMETERS if p.id_key]
FLOAT_PARAMETERS = frozenset(p.name for p in _IN_IDS if p.kind is float and not p.is_list)
INT_PARAMETERS = frozenset(p.name for p in _IN_IDS if p.kind is int and not p.is_list)
INT_LISTS = frozenset(p.name for p in _IN_IDS if p.kind is int and p.is_list)
FLOAT_LISTS = frozenset(p.name for p in _IN_IDS if p.kind is float and p.is_list)
LIST_SEPARATOR = "+"  # never inside an encoded number ('e+' is written 'e')
_WEIGHTS_FILE_PREFIX = "file-"


def weights_tag(weights: str) -> str:
    """A weights source as it appears in names: the keyword, or file-<16 hex of the content sha256>."""
    if weights in WEIGHT_SOURCES:
        return weights
    return f"{_WEIGHTS_FILE_PREFIX}{file_sha256(Path(weights))[:16]}"


def encode_number(value: float | int, is_float: bool) -> str:
    """Exact and filesystem-safe: 100000.0 -> '100000', 0.1735207 -> '0.1735207', 1e-05 -> '1e-05',
    1e+16 -> '1e16'. Integral floats below 1e16 are written as integers (the parameter's type says
    it is a float); every other float by repr, which round-trips exactly."""
    if not is_float:
        return str(int(value))
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"no name for a non-finite number: {value!r}")
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value).replace("e+", "e")


def _decode_number(text: str, is_float: bool) -> float | int:
    return float(text) if is_float else int(text)


def _encode(name: str, value) -> str:
    if name in FLOAT_PARAMETERS or name in INT_PARAMETERS:
        return encode_number(value, name in FLOAT_PARAMETERS)
    if name in INT_LISTS or name in FLOAT_LISTS:
        return LIST_SEPARATOR.join(encode_number(item, name in FLOAT_LISTS) for item in value)
    if name == "region_map":
        return file_sha256(Path(value))[:16]
    text = weights_tag(value) if name == "weights" else str(value)
    # '_' separates fields: names that contain one (inception_v3) are written with '-'
    return text.replace("_", "-")


def run_id(params: dict) -> str:
    """Every result-determining parameter, exact: two runs share an id iff their parameters are equal.

    `params` is check_run()'s resolved dict (learning_rate filled in)."""
    defaults = _extra_defaults()
    fields = [(name, key) for name, key in RUN_ID_FIELDS]
    fields += [(name, key) for name, key in RUN_ID_EXTRAS if params[name] != defaults[name]]
    return "_".join(f"{key}_{_encode(name, params[name])}" for name, key in fields)


def extra_defaults() -> dict:
    """The extras' values when left at stylize()'s defaults, in canonical (check_run) form."""
    defaults = parameter_defaults()
    return {name: _canonical(name, defaults[name]) for name, _ in RUN_ID_EXTRAS}


@functools.cache
def _extra_defaults() -> dict:
    """extra_defaults() made once, for this module's comparisons only (run_id runs for every planned
    run): never handed out, so no caller can change it."""
    return extra_defaults()


def _canonical(name: str, value):
    """A default as check_run() resolves it: lists as lists, numbers of their parameter's type."""
    kind = PARAMETERS[name].kind
    if value is None or kind is str:
        return value
    return [kind(item) for item in value] if PARAMETERS[name].is_list else kind(value)


def _choices() -> dict[str, dict[str, str]]:
    """For each parameter with choices: its values as written in ids ('_' -> '-') -> the value."""
    return {p.name: {value.replace("_", "-"): value for value in p.choices} for p in RUN_PARAMETERS if p.choices}


def parse_run_id(text: str) -> dict:
    """The parameters a run id spells out (a weights file comes back as its file-<hash> tag), with the
    extras it leaves out at their defaults. Raises ValueError for a string that is not a run id."""
    tokens = text.split("_")
    if len(tokens) % 2:
        raise ValueError(f"not a run id: {text!r}")
    pairs = list(zip(tokens[0::2], tokens[1::2]))
    order = RUN_ID_FIELDS + RUN_ID_EXTRAS
    names = {key: name for name, key in order}
    position, params = 0, {}
    for key, value in pairs:
        index = next((i for i in range(position, len(order)) if order[i][1] == key), None)
        if index is None or any(order[i] in RUN_ID_FIELDS for i in range(position, index)):
            raise ValueError(f"not a run id: {text!r} (field {key!r} missing, unknown or out of order)")
        position = index + 1
        params[names[key]] = _decode(names[key], value)
    if position < len(RUN_ID_FIELDS):
        raise ValueError(f"not a run id: {text!r} (too short)")
    return {name: params.get(name, extra_defaults().get(name)) for name, _ in order}


def _decode(name: str, text: str):
    if name in FLOAT_PARAMETERS or name in INT_PARAMETERS:
        return _decode_number(text, name in FLOAT_PARAMETERS)
    if name in INT_LISTS or name in FLOAT_LISTS:
        return [_decode_number(item, name in FLOAT_LISTS) for item in text.split(LIST_SEPARATOR)]
    return _choices().get(name, {}).get(text, text)


def classic_output_name(
    content: str | Path,
    style: str | Path,
    params: dict,
    defaults: dict,
    suffix: str = ".jpg",
    content_layer_flag: int = -1,
    style_layers_flag: int = -1,
) -> str:
    """The classic implementation's name, e.g.
    chelsea_starry_night_o_lbfgs_i_content_h_400_m_vgg19_cw_100000.0_sw_30000.0_tv_1.0_cl_-1_sl_-1.jpg
    (cl/sl are the flags as given, -1 = default), followed by what it lacks: weights other than
    torchvision's 'imagenet' (the classic's only kind) as _w_<tag>, and the iteration count, learning
    rate, seed and every run-id extra (RUN_ID_EXTRAS: precision, stages, colour control, ...) where
    they differ from `defaults` (stylize()'s, with the learning rate resolved for the run's
    optimizer), each exact. So two runs that differ anywhere never share a name, and a classic run at
    the defaults keeps its classic name."""
    name = (
        f"{Path(content).stem}_{styles_stem(style)}_o_{params['optimizer']}_i_{params['init_method']}"
        f"_h_{params['height']}_m_{params['model']}_cw_{float(params['content_weight'])!r}"
        f"_sw_{float(params['style_weight'])!r}_tv_{float(params['tv_weight'])!r}"
        f"_cl_{content_layer_flag}_sl_{style_layers_flag}"
    )
    if params["weights"] != "imagenet":
        name += f"_w_{weights_tag(params['weights'])}"
    for parameter, key in (("iterations", "it"), ("learning_rate", "lr"), ("seed", "s")):
        if params[parameter] != defaults[parameter]:
            name += f"_{key}_{_encode(parameter, params[parameter])}"
    for parameter, key in RUN_ID_EXTRAS:
        if params[parameter] != _extra_defaults()[parameter]:
            name += f"_{key}_{_encode(parameter, params[parameter])}"
    return name + suffix


def cli_output_name(content: str | Path, style, params: dict, suffix: str = ".png") -> str:
    """`nst stylize`'s file name: the images' names and the run id."""
    return f"{Path(content).stem}_{styles_stem(style)}_{run_id(params)}{suffix}"


def styles_stem(style) -> str:
    """A style image's name, or a blend's names joined by '+' (a+b)."""
    paths = [style] if isinstance(style, str | Path) else list(style)
    return LIST_SEPARATOR.join(Path(path).stem for path in paths)
