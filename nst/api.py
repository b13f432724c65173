"""Gatys, Ecker & Bethge (CVPR 2016) neural style transfer: one function, `stylize()`.

Its keyword defaults are the single source of every default (the CLI and the pipeline schema read
them from here). Where each comes from:
- content_weight 1e5, style_weight 3e4, tv_weight 1, height 400, L-BFGS, init "content":
  the classic PyTorch implementation the seed experiments reproduce (its CLI defaults); checked here
  with the bundled VGG19 (see nst.weights for the feature scale that lets them carry over).
- iterations 1000: the seed experiments' reference scale (1000 L-BFGS iterations).
- content_layer 4, style_layers 6: the seed experiments' layer numbering (nst.backbones).
- Adam learning rate 10/(255*0.226): the classic Adam step of 10 grey levels, in our normalised space.
- seed 0: arbitrary, fixed; it only matters for the noise inits.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import resource
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from nst import images
from nst.backbones import DEFAULT_CONTENT_LAYER, DEFAULT_STYLE_LAYERS, FeatureExtractor, get_backbone
from nst.errors import NSTInputError, NSTInterrupted, NSTNumericalError
from nst.losses import ContentLoss, StyleLoss, TVLoss
from nst.provenance import code_fingerprint, package_versions
from nst.weights import TORCHVISION_FEATURE_GAIN, check_weights, file_sha256, load_network

INIT_METHODS = ("content", "style", "gaussian", "uniform")
OPTIMIZERS = ("lbfgs", "adam")
DEFAULT_LEARNING_RATE = {"lbfgs": 1.0, "adam": 10.0 / TORCHVISION_FEATURE_GAIN}
MIN_HEIGHT = 16
# The parameters that determine a result (the rest - device, threads, progress - do not).
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
) -> RunResult:
    """Stylise `content` with `style`; write the image to `out` (.png/.jpg) and a JSON sidecar beside it.

    Every check happens before any optimisation. With checkpoint_every > 0 the state is saved every
    that many iterations (and always on SIGTERM/SIGINT) to `<out>.ckpt`; a later call with the same
    inputs resumes from it and, on CPU, ends with the same bytes as an uninterrupted run.
    """
    params = check_run(**{name: value for name, value in locals().items()})
    out = Path(out)
    backbone = get_backbone(model)
    dev = torch.device(params["device"])
    if threads:
        torch.set_num_threads(threads)
    # CPU kernels are deterministic at a fixed thread count (tests prove byte-identical output);
    # torch.use_deterministic_algorithms would double the CPU time for nothing.
    torch.backends.cudnn.benchmark = False
    return _run(params, Path(content), Path(style), out, backbone, dev, checkpoint_every, progress)


def parameter_defaults() -> dict:
    """stylize()'s keyword defaults: the one place defaults live."""
    return {
        name: p.default
        for name, p in inspect.signature(stylize).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def _number(name: str, value, *, minimum: float, integer: bool = False):
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or not math.isfinite(value) or value < minimum:
        raise NSTInputError(f"{name} must be {kind} >= {minimum:g}, got {value!r}")
    return value


def check_run(content, style, out=None, **kwargs) -> dict:
    """Validate one run's parameters (files, names, ranges) without running it.

    Returns the resolved parameters; raises NSTInputError naming the bad value. The pipeline calls
    this for every run of the experiment matrix before any job starts.
    """
    params = parameter_defaults() | kwargs
    unknown = set(params) - set(parameter_defaults())
    if unknown:
        raise NSTInputError(f"unknown run parameter(s): {', '.join(sorted(unknown))}")
    for what, path in (("content", content), ("style", style)):
        images.open_rgb(Path(path), what)
    backbone = get_backbone(params["model"])
    if not isinstance(params["weights"], str) or not params["weights"]:
        raise NSTInputError(f"weights must be a source name or a file path, got {params['weights']!r}")
    check_weights(backbone, params["weights"])
    if params["init_method"] not in INIT_METHODS:
        raise NSTInputError(f"init_method {params['init_method']!r} unknown; choose one of {', '.join(INIT_METHODS)}")
    if params["optimizer"] not in OPTIMIZERS:
        raise NSTInputError(f"optimizer {params['optimizer']!r} unknown; choose one of {', '.join(OPTIMIZERS)}")
    for name in ("content_weight", "style_weight", "tv_weight"):
        params[name] = float(_number(name, params[name], minimum=0)) + 0.0  # + 0.0: -0.0 becomes 0.0
    for name in ("content_layer", "style_layers"):
        value = _number(name, params[name], minimum=1, integer=True)
        if value > backbone.num_layers:
            raise NSTInputError(
                f"{name} {value} out of range for {backbone.name}: it has feature layers 1..{backbone.num_layers}"
            )
    _number("iterations", params["iterations"], minimum=1, integer=True)
    _number("seed", params["seed"], minimum=0, integer=True)
    _number("checkpoint_every", params["checkpoint_every"], minimum=0, integer=True)
    min_height = max(MIN_HEIGHT, backbone.min_height)
    _number("height", params["height"], minimum=min_height, integer=True)
    if params["learning_rate"] is None:
        params["learning_rate"] = DEFAULT_LEARNING_RATE[params["optimizer"]]
    params["learning_rate"] = float(_number("learning_rate", params["learning_rate"], minimum=0))
    if params["learning_rate"] == 0:
        raise NSTInputError("learning_rate must be > 0, got 0")
    if params["threads"] is not None:
        _number("threads", params["threads"], minimum=1, integer=True)
    params["device"] = _resolve_device(params["device"])
    if out is not None:
        suffix = Path(out).suffix.lower()
        if suffix not in (".png", ".jpg", ".jpeg"):
            raise NSTInputError(f"output {out}: unsupported image format {suffix!r} (use .png or .jpg)")
    return params


def _resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise NSTInputError(f"device {device!r} is not a torch device (cpu, cuda, cuda:1, auto)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise NSTInputError(f"device {device!r}: CUDA is not available on this machine")
    return device


def _fingerprint(params: dict, content: Path, style: Path, weights_sha: str) -> str:
    """Identifies a run's result: a checkpoint is resumed only by the very same run."""
    key = {name: params[name] for name in RESULT_PARAMETERS}
    key |= {"content": file_sha256(content), "style": file_sha256(style), "weights_sha256": weights_sha}
    key |= {"code": code_fingerprint()}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _initial_image(method: str, content: torch.Tensor, style_image, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    if method == "content":
        return content.clone()
    if method == "style":  # the style image resized to the content's size
        return images.to_tensor(style_image, (content.shape[3], content.shape[2]))
    if method == "gaussian":
        return torch.randn(content.shape, generator=generator)
    return torch.rand(content.shape, generator=generator) * 2.0 - 1.0  # uniform [-1, 1]


class _StopSignals:
    """Turns SIGTERM (what SLURM sends on time-out/preemption) and SIGINT into a flag, checked
    between iterations so the state can be checkpointed."""

    def __init__(self):
        self.received: int | None = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.received = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _run(params, content_path, style_path, out, backbone, dev, checkpoint_every, progress) -> RunResult:
    started = time.perf_counter()
    network, weights_id = load_network(backbone, params["weights"])
    layers = list(range(1, params["style_layers"] + 1)) + [params["content_layer"]]
    extractor = FeatureExtractor(backbone, network, layers, gain=weights_id.feature_gain).to(dev)

    content_pil = images.open_rgb(content_path, "content")
    style_pil = images.open_rgb(style_path, "style")
    size = images.scaled_size(content_pil.size, params["height"])
    content = images.to_tensor(content_pil, size)
    style = images.to_tensor(style_pil, images.scaled_size(style_pil.size, params["height"]))

    # targets, once per run
    with torch.no_grad():
        content_loss = ContentLoss(extractor(content.to(dev))[params["content_layer"]])
        style_features = extractor(style.to(dev))
        style_loss = StyleLoss({i: style_features[i] for i in range(1, params["style_layers"] + 1)})
    tv_loss = TVLoss().to(dev)
    content_loss, style_loss = content_loss.to(dev), style_loss.to(dev)

    fingerprint = _fingerprint(params, content_path, style_path, weights_id.sha256)
    ckpt_path = checkpoint_path(out)
    checkpoint = _load_checkpoint(ckpt_path, fingerprint)
    if checkpoint:
        image = checkpoint["image"].to(dev).requires_grad_(True)
    else:
        image = _initial_image(params["init_method"], content, style_pil, params["seed"]).to(dev).requires_grad_(True)

    if params["optimizer"] == "lbfgs":
        # Strong-Wolfe line search, as the classic implementation: without it L-BFGS diverges at
        # these loss scales. One iteration per step() call, so iterations are counted exactly and
        # state can be checkpointed between them.
        # max_eval: torch derives it from max_iter (1*5//4 = 1), which would leave the line search
        # no trials; give it torch's usual 25.
        opt = torch.optim.LBFGS(
            [image],
            lr=params["learning_rate"],
            max_iter=1,
            max_eval=1 + 25,
            history_size=100,
            line_search_fn="strong_wolfe",
        )
    else:
        opt = torch.optim.Adam([image], lr=params["learning_rate"])
    history: list[dict] = []
    start_iteration, elapsed_before = 0, 0.0
    if checkpoint:
        opt.load_state_dict(checkpoint["optimizer"])
        history, start_iteration = checkpoint["history"], checkpoint["iteration"]
        elapsed_before = checkpoint["elapsed_s"]

    weights = (params["content_weight"], params["style_weight"], params["tv_weight"])

    def losses(img: torch.Tensor) -> dict[str, torch.Tensor]:
        features = extractor(img)
        parts = {
            "content": content_loss(features[params["content_layer"]]),
            "style": style_loss(features),
            "tv": tv_loss(img),
        }
        parts["total"] = weights[0] * parts["content"] + weights[1] * parts["style"] + weights[2] * parts["tv"]
        return parts

    # L-BFGS sees the objective divided by its value at the initial image. The method is scale-free
    # but torch's implementation is not: its first step is 1/|g|_1 and its tolerances are absolute,
    # so at these loss scales (~1e15) the first step is ~1e-16 and the curvature estimate useless.
    # Saved in checkpoints: a resumed run continues with the same constant.
    objective_scale = 1.0
    if params["optimizer"] == "lbfgs":
        if checkpoint:
            objective_scale = checkpoint["objective_scale"]
        else:
            with torch.no_grad():
                initial_total = losses(image)["total"].item()
            if math.isfinite(initial_total) and initial_total > 0:
                objective_scale = 1.0 / initial_total

    last: dict[str, torch.Tensor] = {}
    # step() starts by evaluating the point the previous step's line search already evaluated and
    # accepted; replaying that evaluation (same image bits -> same loss and gradient) keeps an
    # iteration at one forward + backward per line-search trial instead of one more.
    recent: list[tuple[torch.Tensor, torch.Tensor, dict]] = []

    def evaluate() -> dict[str, torch.Tensor]:
        for seen_image, seen_grad, seen_parts in recent:
            if torch.equal(seen_image, image.detach()):
                image.grad = seen_grad.clone()
                return seen_parts
        opt.zero_grad(set_to_none=True)
        parts = losses(image)
        parts["total"].backward()
        # scale after backward: scaling the loss first makes the gradients inside the network tiny
        # enough to be float32 denormals, which are 10-100x slower on CPUs
        image.grad.mul_(objective_scale)
        parts = {name: value.detach() for name, value in parts.items()}
        recent.insert(0, (image.detach().clone(), image.grad.clone(), parts))
        del recent[4:]  # the line search returns one of its last few trial points
        return parts

    def closure():
        parts = evaluate()
        if not last:  # the first evaluation of a step is at the current (accepted) image
            last.update(parts)
        if not torch.isfinite(parts["total"]):
            # An overflowing line-search trial: report it as a very bad point with no slope, so
            # the search backs off (torch's strong-Wolfe search cannot recover from inf/NaN).
            # A non-finite loss at an accepted image is still an error (checked below).
            image.grad = torch.zeros_like(image)
            return torch.tensor(torch.finfo(torch.float32).max, dtype=torch.float64)
        return parts["total"] * objective_scale

    def save_checkpoint(iteration: int):
        state = {
            "format": 1,
            "fingerprint": fingerprint,
            "iteration": iteration,
            "image": image.detach().cpu(),
            "optimizer": opt.state_dict(),
            "history": history,
            "objective_scale": objective_scale,
            "elapsed_s": elapsed_before + time.perf_counter() - loop_started,
        }
        buffer = __import__("io").BytesIO()
        torch.save(state, buffer)
        images.atomic_write_bytes(ckpt_path, buffer.getvalue())

    stopped_early = False
    loop_started = time.perf_counter()
    iteration = start_iteration
    bar = tqdm(
        total=params["iterations"],
        initial=start_iteration,
        desc=out.stem[:40],
        disable=not progress,
        mininterval=1.0,
        unit="it",
    )
    with _StopSignals() as stop:
        try:
            while iteration < params["iterations"]:
                n_iter_before = opt.state[image].get("n_iter", 0) if params["optimizer"] == "lbfgs" else None
                last.clear()
                opt.step(closure)
                record = {name: value.item() for name, value in last.items()}
                if not all(math.isfinite(v) for v in record.values()):
                    ckpt_path.unlink(missing_ok=True)
                    raise NSTNumericalError(
                        f"loss became non-finite at iteration {iteration + 1} ({record}); no result written. "
                        "Lower the learning rate or the loss weights."
                    )
                history.append(record)
                iteration += 1
                bar.update(1)
                bar.set_postfix(
                    content=f"{record['content']:.3g}",
                    style=f"{record['style']:.3g}",
                    tv=f"{record['tv']:.3g}",
                    refresh=False,
                )
                if n_iter_before is not None and opt.state[image].get("n_iter", 0) == n_iter_before:
                    stopped_early = True  # L-BFGS converged: the gradient vanished, nothing left to do
                    break
                if stop.received is not None:
                    save_checkpoint(iteration)
                    raise NSTInterrupted(
                        f"stopped by signal {signal.Signals(stop.received).name} after iteration {iteration}; "
                        f"state saved to {ckpt_path}, run again to resume",
                        stop.received,
                    )
                if checkpoint_every and iteration % checkpoint_every == 0 and iteration < params["iterations"]:
                    save_checkpoint(iteration)
        finally:
            bar.close()
    loop_seconds = time.perf_counter() - loop_started
    iterations_here = iteration - start_iteration

    with torch.no_grad():
        final = {name: float(value) for name, value in losses(image).items()}
    if not all(math.isfinite(v) for v in final.values()):
        ckpt_path.unlink(missing_ok=True)
        raise NSTNumericalError(f"final loss is not finite ({final}); no result written")

    if dev.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated(dev) / 2**20
        peak_kind = "cuda max_memory_allocated"
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak_kind = "process peak RSS"
    record = {
        "output": out.name,
        "content_image": str(content_path),
        "style_image": str(style_path),
        "content_sha256": file_sha256(content_path),
        "style_sha256": file_sha256(style_path),
        "parameters": {name: params[name] for name in RESULT_PARAMETERS},
        "layers": {
            "content": backbone.layer_names[params["content_layer"] - 1],
            "style": list(backbone.layer_names[: params["style_layers"]]),
        },
        "weights": weights_id.as_dict(),
        "random_weights": not weights_id.pretrained,
        "size": {"width": size[0], "height": size[1]},
        "device": str(dev),
        "torch_threads": torch.get_num_threads(),
        "versions": package_versions(),
        "code_fingerprint": code_fingerprint(),
        "iterations_done": iteration,
        "stopped_early": stopped_early,
        "resumed_from_iteration": start_iteration if checkpoint else None,
        "wall_time_s": round(elapsed_before + time.perf_counter() - started, 3),
        "time_per_iteration_s": round(loop_seconds / max(iterations_here, 1), 5),
        "peak_memory_mb": round(peak_mb, 1),
        "peak_memory_kind": peak_kind,
        "final_losses": final,
        "loss_history": history,
    }
    description = f"nst stylize; weights: {weights_id.label}; sidecar: {sidecar_path(out).name}"
    image_bytes = images.encode_image(image, out, description)
    images.atomic_write_bytes(sidecar_path(out), (json.dumps(record, indent=1) + "\n").encode())
    images.atomic_write_bytes(out, image_bytes)
    ckpt_path.unlink(missing_ok=True)
    return RunResult(out, sidecar_path(out), record)


def _load_checkpoint(path: Path, fingerprint: str) -> dict | None:
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a torn file cannot happen (atomic writes), a foreign one can
        print(f"nst: ignoring unreadable checkpoint {path}: {error}", flush=True)
        return None
    if state.get("fingerprint") != fingerprint:
        print(f"nst: ignoring checkpoint {path}: it belongs to other inputs, parameters or code", flush=True)
        return None
    print(f"nst: resuming from {path} at iteration {state['iteration']}", flush=True)
    return state
