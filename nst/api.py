"""Gatys, Ecker & Bethge (CVPR 2016) neural style transfer: one function, `stylize()`.

Its keyword defaults are the single source of every default (the CLI and the pipeline read them from
here). Where each comes from:
- content_weight 1e5, style_weight 3e4, tv_weight 1, height 400, L-BFGS, init "content":
  the classic PyTorch implementation the seed experiments reproduce (its CLI defaults); checked here
  with the bundled VGG19 (see nst.weights for the feature scale that lets them carry over).
- iterations 1000: the seed experiments' reference scale (1000 L-BFGS iterations).
- content_layer 4, style_layers 6: the seed experiments' layer numbering (nst.backbones).
- learning_rate None: per optimiser, nst.params.DEFAULT_LEARNING_RATE (L-BFGS 1, Adam 10 grey levels).
- seed 0: arbitrary, fixed; it only matters for the noise inits.

A run is composed of small parts: nst.objective (targets + weighted losses), nst.optimize (the
L-BFGS/Adam driver, reporting each iteration through callbacks), nst.checkpoint (fingerprint,
save/resume, stop signals) and nst.record (the sidecar). This module wires them and writes the files.
"""

from __future__ import annotations

import inspect
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from nst import images
from nst.backbones import DEFAULT_CONTENT_LAYER, DEFAULT_STYLE_LAYERS, Backbone, FeatureExtractor, get_backbone
from nst.checkpoint import Checkpoint, Checkpointer, StopSignals, run_fingerprint
from nst.errors import NSTInputError, NSTNumericalError
from nst.objective import TERMS, Objective, build_objective
from nst.optimize import ImageOptimizer, IterationCallback, IterationReport, optimize
from nst.params import RESULT_PARAMETERS, result_parameters, validate
from nst.record import build_record
from nst.weights import WeightsIdentity, load_network

__all__ = ["RESULT_PARAMETERS", "RunResult", "check_run", "parameter_defaults", "stylize"]

# stylize() keywords that are not run options (the CLI makes no flag for them)
API_ONLY = ("callbacks",)


@dataclass(frozen=True)
class RunResult:
    image: Path
    sidecar: Path
    record: dict


def sidecar_path(out: Path) -> Path:
    return Path(out).with_suffix(".json")


def checkpoint_path(out: Path) -> Path:
    return Path(out).with_suffix(".ckpt")


def stylize(
    content: str | Path,
    style: str | Path,
    out: str | Path,
    *,
    model: str = "vgg19",
    weights: str = "imagenet",
    init_method: str = "content",
    content_weight: float = 1e5,
    style_weight: float = 3e4,
    tv_weight: float = 1.0,
    content_layer: int = DEFAULT_CONTENT_LAYER,
    style_layers: int = DEFAULT_STYLE_LAYERS,
    optimizer: str = "lbfgs",
    iterations: int = 1000,
    learning_rate: float | None = None,
    height: int = 400,
    seed: int = 0,
    device: str = "auto",
    threads: int | None = None,
    checkpoint_every: int = 0,
    progress: bool = True,
    callbacks: Sequence[IterationCallback] = (),
) -> RunResult:
    """Stylise `content` with `style`; write the image to `out` (.png/.jpg) and a JSON sidecar beside it.

    Every check happens before any optimisation. With checkpoint_every > 0 the state is saved every
    that many iterations (and always on SIGTERM/SIGINT) to `<out>.ckpt`; a later call with the same
    inputs resumes from it and, on CPU, ends with the same bytes as an uninterrupted run.
    `callbacks` are called with an nst.optimize.IterationReport after every iteration.
    """
    params = check_run(**{name: value for name, value in locals().items() if name != "callbacks"})
    if threads:
        torch.set_num_threads(threads)
    # CPU kernels are deterministic at a fixed thread count (tests prove byte-identical output);
    # torch.use_deterministic_algorithms would double the CPU time for nothing.
    torch.backends.cudnn.benchmark = False
    return _run(params, Path(content), Path(style), Path(out), list(callbacks))


def parameter_defaults() -> dict:
    """stylize()'s keyword defaults: the one place defaults live (run options only)."""
    return {
        name: p.default
        for name, p in inspect.signature(stylize).parameters.items()
        if p.default is not inspect.Parameter.empty and name not in API_ONLY
    }


def check_run(content, style, out=None, **kwargs) -> dict:
    """Validate one run's parameters (files, names, ranges) without running it.

    Returns the resolved parameters; raises NSTInputError naming the bad value. The pipeline calls
    this for every run of the experiment matrix before any job starts.
    """
    defaults = parameter_defaults()
    unknown = set(kwargs) - set(defaults)
    if unknown:
        raise NSTInputError(f"unknown run parameter(s): {', '.join(sorted(unknown))}")
    return validate(defaults | kwargs, content, style, out)


@dataclass
class RunSetup:
    """What a run optimises, built from its parameters and images."""

    backbone: Backbone
    weights: WeightsIdentity
    objective: Objective
    content: torch.Tensor  # normalised, on the CPU
    style_image: object  # PIL image
    size: tuple[int, int]


def build_run(params: dict, content_path: Path, style_path: Path, device: torch.device) -> RunSetup:
    """Network, weights, images and objective of a run (`params`: check_run()'s resolved dict)."""
    backbone = get_backbone(params["model"])
    network, weights_id = load_network(backbone, params["weights"])
    layers = list(range(1, params["style_layers"] + 1)) + [params["content_layer"]]
    extractor = FeatureExtractor(backbone, network, layers, gain=weights_id.feature_gain).to(device)
    content_pil = images.open_rgb(content_path, "content")
    style_pil = images.open_rgb(style_path, "style")
    size = images.scaled_size(content_pil.size, params["height"])
    content = images.to_tensor(content_pil, size)
    style = images.to_tensor(style_pil, images.scaled_size(style_pil.size, params["height"]))
    loss_weights = {term: params[f"{term}_weight"] for term in TERMS}
    objective = build_objective(
        extractor, content.to(device), style.to(device), params["content_layer"], params["style_layers"], loss_weights
    )
    return RunSetup(backbone, weights_id, objective, content, style_pil, size)


class _ProgressBar:
    """Iteration callback drawing a tqdm bar with the latest loss terms."""

    def __init__(self, total: int, start: int, name: str, enabled: bool):
        self.bar = tqdm(total=total, initial=start, desc=name[:40], disable=not enabled, mininterval=1.0, unit="it")

    def __call__(self, report: IterationReport) -> None:
        self.bar.update(1)
        postfix = {term: f"{report.losses[term]:.3g}" for term in TERMS}
        self.bar.set_postfix(postfix, refresh=False)


def _run(params: dict, content_path: Path, style_path: Path, out: Path, callbacks: list) -> RunResult:
    started = time.perf_counter()
    device = torch.device(params["device"])
    setup = build_run(params, content_path, style_path, device)
    checkpoint = Checkpoint(
        checkpoint_path(out),
        run_fingerprint(result_parameters(params), content_path, style_path, setup.weights.sha256),
    )
    saved = checkpoint.load() or {}
    initial = saved.get("image")
    if initial is None:
        initial = images.initial_image(params["init_method"], setup.content, setup.style_image, params["seed"])
    image = initial.to(device).requires_grad_(True)
    optimizer = ImageOptimizer(image, setup.objective, params["optimizer"], params["learning_rate"])
    if saved:
        optimizer.load_state_dict(saved)
    history: list[dict] = saved.get("history", [])
    start, elapsed_before = saved.get("iteration", 0), saved.get("elapsed_s", 0.0)
    loop_started = time.perf_counter()

    def state_at(iteration: int) -> dict:
        elapsed = elapsed_before + time.perf_counter() - loop_started
        state = {"iteration": iteration, "image": image.detach().cpu(), "history": history, "elapsed_s": elapsed}
        return state | optimizer.state_dict()

    bar = _ProgressBar(params["iterations"], start, out.stem, params["progress"])
    with StopSignals() as stop:
        checkpointer = Checkpointer(checkpoint, params["checkpoint_every"], params["iterations"], stop, state_at)
        try:
            done, stopped_early = optimize(
                optimizer, params["iterations"], start, [_append_to(history), bar, checkpointer, *callbacks]
            )
        except NSTNumericalError:
            checkpoint.remove()
            raise
        finally:
            bar.bar.close()
    progress = {
        "iterations_done": done,
        "stopped_early": stopped_early,
        "resumed_from_iteration": start if saved else None,
        "wall_time_s": round(elapsed_before + time.perf_counter() - started, 3),
        "time_per_iteration_s": round((time.perf_counter() - loop_started) / max(done - start, 1), 5),
    }
    return _write_result(params, content_path, style_path, out, setup, image, history, progress, checkpoint)


def _append_to(history: list[dict]) -> IterationCallback:
    return lambda report: history.append(report.losses)


def _write_result(params, content_path, style_path, out, setup, image, history, progress, checkpoint) -> RunResult:
    """Final losses, the record, then sidecar and image (each atomically); the checkpoint goes."""
    with torch.no_grad():
        final = {name: float(value) for name, value in setup.objective(image).items()}
    if not all(math.isfinite(value) for value in final.values()):
        checkpoint.remove()
        raise NSTNumericalError(f"final loss is not finite ({final}); no result written")
    record = build_record(
        out=out,
        params=params,
        content=content_path,
        style=style_path,
        backbone=setup.backbone,
        weights=setup.weights,
        size=setup.size,
        device=torch.device(params["device"]),
        progress=progress,
        final_losses=final,
        history=history,
    )
    description = f"nst stylize; weights: {setup.weights.label}; sidecar: {sidecar_path(out).name}"
    image_bytes = images.encode_image(image, out, description)
    images.atomic_write_bytes(sidecar_path(out), (json.dumps(record, indent=1) + "\n").encode())
    images.atomic_write_bytes(out, image_bytes)
    checkpoint.remove()
    return RunResult(out, sidecar_path(out), record)
