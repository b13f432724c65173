"""Output names derived from a run's parameters: the classic file name and the pipeline's run id."""

from __future__ import annotations

from pathlib import Path

from nst.weights import WEIGHT_SOURCES, file_sha256


def weights_tag(weights: str) -> str:
    """Short, filesystem-safe name of a weights source; a file is named by its content hash."""
    if weights in WEIGHT_SOURCES:
        return weights
    path = Path(weights)
    return f"file-{path.stem}-{file_sha256(path)[:10]}"


def classic_output_name(
    content: str | Path,
    style: str | Path,
    params: dict,
    suffix: str = ".jpg",
    content_layer_flag: int = -1,
    style_layers_flag: int = -1,
) -> str:
    """The classic implementation's name, e.g.
    chelsea_starry_night_o_lbfgs_i_content_h_400_m_vgg19_cw_100000.0_sw_30000.0_tv_1.0_cl_-1_sl_-1.jpg
    (cl/sl are the flags as given, -1 = default). Weights other than torchvision's 'imagenet' (the
    classic's only kind) are appended as _w_<tag>, so they never collide with classic results."""
    name = (
        f"{Path(content).stem}_{Path(style).stem}_o_{params['optimizer']}_i_{params['init_method']}"
        f"_h_{params['height']}_m_{params['model']}_cw_{float(params['content_weight'])}"
        f"_sw_{float(params['style_weight'])}_tv_{float(params['tv_weight'])}"
        f"_cl_{content_layer_flag}_sl_{style_layers_flag}"
    )
    if params["weights"] != "imagenet":
        name += f"_w_{weights_tag(params['weights'])}"
    return name + suffix


def run_id(params: dict) -> str:
    """Every result-determining parameter, readable: two runs share an id iff they share a result.

    `params` is check_run()'s resolved dict (learning_rate filled in)."""
    return (
        f"m_{params['model']}_w_{weights_tag(params['weights'])}_i_{params['init_method']}"
        f"_o_{params['optimizer']}_it_{params['iterations']}_lr_{params['learning_rate']:g}"
        f"_h_{params['height']}_cw_{params['content_weight']:g}_sw_{params['style_weight']:g}"
        f"_tv_{params['tv_weight']:g}_cl_{params['content_layer']}_sl_{params['style_layers']}_s_{params['seed']}"
    )
