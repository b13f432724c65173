"""The result record: everything needed to trust and reproduce a result, written as its JSON sidecar."""

from __future__ import annotations

import resource
from pathlib import Path

import torch

from nst import regions
from nst.backbones import Backbone
from nst.params import result_parameters
from nst.provenance import engine_fingerprint, package_versions
from nst.weights import WeightsIdentity, file_sha256


def peak_memory(device: torch.device) -> tuple[float, str]:
    """(MB, what was measured): the GPU's allocator peak on CUDA, the process's peak RSS on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda max_memory_allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process peak RSS"


def build_record(
    *,
    out: Path,
    params: dict,
    content: Path,
    styles: list[Path],
    backbone: Backbone,
    weights: WeightsIdentity,
    size: tuple[int, int],
    device: torch.device,
    progress: dict,
    final_losses: dict,
    history: list[dict],
    milestones: list[dict] = (),
) -> dict:
    """`progress`: iterations_done, stopped_early, resumed_from_iteration, wall_time_s, time_per_iteration_s,
    stages (per stage: width, height, iterations planned and done, stopped_early).
    `milestones`: the images kept on the way (nst.milestones), each {"iteration", "fraction", "image"
    (path relative to the sidecar's folder), "losses"}; the final image is not among them."""
    peak_mb, peak_kind = peak_memory(device)
    return {
        "output": out.name,
        "content_image": str(content),
        "style_image": str(styles[0]),
        "style_images": [str(style) for style in styles],
        "content_sha256": file_sha256(content),
        "style_sha256": file_sha256(styles[0]),
        "style_sha256s": [file_sha256(style) for style in styles],
        "parameters": result_parameters(params),
        **_region_entries(params, styles),
        "layers": {
            "content": backbone.layer_names[params["content_layer"] - 1],
            "style": list(backbone.layer_names[: params["style_layers"]]),
        },
        "weights": weights.as_dict(),
        "random_weights": not weights.pretrained,
        "size": {"width": size[0], "height": size[1]},
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "versions": package_versions(),
        "engine_fingerprint": engine_fingerprint(),
        **progress,
        "peak_memory_mb": round(peak_mb, 1),
        "peak_memory_kind": peak_kind,
        "final_losses": final_losses,
        "milestones": list(milestones),
        "loss_history": history,
    }


def _region_entries(params: dict, styles: list[Path]) -> dict:
    """With a region map: its sha256 and each label's style (nst.regions); nothing without one, so
    the sidecars of other runs keep their keys."""
    if params["region_map"] is None:
        return {}
    path = Path(params["region_map"])
    return {"region_map_sha256": file_sha256(path), "regions": regions.describe(path, styles)}
