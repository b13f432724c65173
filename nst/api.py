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
- pooling "max": VGG as trained, and as the seed study's code base and torchvision keep it (Gatys et
  al. 2016 prefer "avg": an option, nst.params.POOLINGS).
- style_layer_weights None: equal weights, w_l = 1/N (Gatys et al. 2016; nst.losses.StyleLoss).
- region_map None: no spatial control (one style, or a blend, over the whole image).
- init_nudge 0: the start image exactly as the init method makes it. k > 0 moves each of its values
  by 64 float steps (nst.images.nudge, NUDGE_STEPS): a chance repeat of a deterministic init (content,
  style) of the size another machine's float order and kernels give (bench/bench_repeat_chance.py,
  BENCHMARKS.md); the pipeline's noise repeats use it (nst_pipeline.repeats).

A run is composed of small parts: nst.objective (targets + weighted losses), nst.optimize (the
L-BFGS/Adam driver, reporting each iteration through callbacks), nst.checkpoint (fingerprint,
save/resume, stop signals) and nst.record (the sidecar). This module wires them and writes the files.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from nst import color, images
from nst.backbones import DEFAULT_CONTENT_LAYER, DEFAULT_STYLE_LAYERS
from nst.batch import optimize_together
from nst.checkpoint import Checkpoint, Checkpointer, StopSignals, run_fingerprint
from nst.errors import NSTInputError, NSTNumericalError
from nst.hardware import check_bf16, cpu_has_bf16
from nst.milestones import milestone_dir, milestone_image, milestone_iterations
from nst.objective import TERMS
from nst.optimize import ImageOptimizer, IterationCallback, IterationLoop, IterationReport, run_alone
from nst.params import RESULT_PARAMETERS, result_parameters, used_styles, validate
from nst.record import build_record
from nst.setup import RunSetup, Stage, build_network, build_run, upsample

__all__ = [
    "RESULT_PARAMETERS",
    "RunResult",
    "check_run",
    "cpu_has_bf16",
    "parameter_defaults",
    "stylize",
    "stylize_batch",
]

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
    style: str | Path | Sequence[str | Path],
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
    stage_heights: Sequence[int] = (),
    stage_iterations: Sequence[int] = (),
    precision: str = "fp32",
    color_control: str = "none",
    style_blend_weights: Sequence[float] | None = None,
    style_scale: float = 1.0,
    pooling: str = "max",
    style_layer_weights: Sequence[float] | None = None,
    region_map: str | Path | None = None,
    init_nudge: int = 0,
    noise_units: str = "normalised",
    seed: int = 0,
    device: str = "auto",
    threads: int | None = None,
    cudnn_benchmark: bool = False,
    checkpoint_every: int = 0,
    progress: bool = True,
    save_every: int = 0,
    allow_slow_bf16: bool = False,
    callbacks: Sequence[IterationCallback] = (),
) -> RunResult:
    """Stylise `content` with `style` (one image, or several blended by `style_blend_weights`); write
    the image to `out` (.png/.jpg) and a JSON sidecar beside it.

    Every check happens before any optimisation. With checkpoint_every > 0 the state is saved every
    that many iterations (and always on SIGTERM/SIGINT) to `<out>.ckpt`; a later call with the same
    inputs resumes from it and, on CPU, ends with the same bytes as an uninterrupted run.
    The image after B/8, B/4 and B/2 of the `iterations` B (nst.milestones) is written too, to
    `<out without suffix>.milestones/`, and listed in the sidecar; with save_every N > 0 also the
    image after every N-th iteration (0: none; an output option, not part of the result or its id).
    A blend whose weights leave one style non-zero is that style's single-style run (nst.params.sole_style).
    `callbacks` are called with an nst.optimize.IterationReport after every iteration.
    Precision bf16 on a device without bf16 units is refused (nst.hardware) unless `allow_slow_bf16`.
    """
    params = check_run(**{name: value for name, value in locals().items() if name != "callbacks"})
    check_bf16(params["precision"], params["device"], allow_slow_bf16)
    if threads:
        torch.set_num_threads(threads)
    _set_backend_flags(params)
    styles = used_styles(style, style_blend_weights)
    return _run(params, Path(content), styles, Path(out), list(callbacks))


# What the runs of one batch must share: one network on one device, one image size at every stage,
# one set of process-wide settings.
BATCH_SHARED = (
    "model",
    "weights",
    "content_layer",
    "style_layers",
    "precision",
    "pooling",
    "height",
    "stage_heights",
    "device",
    "threads",
    "cudnn_benchmark",
)


def stylize_batch(runs: Sequence[dict]) -> list[RunResult | NSTNumericalError]:
    """Several runs computed together, each written exactly as stylize() writes it (image, sidecar
    recording the batch, checkpoint and resume), its result independent of its batch-mates up to
    float noise. Each entry of `runs` holds stylize()'s arguments: content, style, out, options and
    optionally callbacks. The runs must agree on BATCH_SHARED and have content images of one size.
    Each run writes its milestone images as stylize() does; bf16 is checked per run before loading.

    One forward + backward of the network per evaluation for all runs (nst.batch); each run keeps its
    own optimiser. Returns per run its RunResult, or the NSTNumericalError that failed it alone (its
    batch-mates go on). A stop signal checkpoints every unfinished run and raises NSTInterrupted.
    """
    checked = []
    for run in runs:
        arguments = dict(run)
        callbacks = list(arguments.pop("callbacks", ()))
        params = check_run(**arguments)
        check_bf16(params["precision"], params["device"], params["allow_slow_bf16"])  # per run: not shared
        styles = used_styles(arguments["style"], arguments.get("style_blend_weights"))
        checked.append((params, Path(arguments["content"]), styles, Path(arguments["out"]), callbacks))
    _check_batch([params for params, *_ in checked], [out for *_, out, _ in checked])
    first = checked[0][0]
    if first["threads"]:
        torch.set_num_threads(first["threads"])
    _set_backend_flags(first)
    network = build_network(first, torch.device(first["device"]))
    names = [out.name for *_, out, _ in checked]
    members = [_Run(*run, network=network, batch=names) for run in checked]
    _check_batch_sizes(members)
    return _Batch(members).run()


def _check_batch(params: list[dict], outs: list[Path]) -> None:
    if not params:
        raise NSTInputError("a batch needs at least one run")
    for key in BATCH_SHARED:
        values = {json.dumps(p[key]) for p in params}
        if len(values) > 1:
            raise NSTInputError(f"runs in one batch must share {key}; got {', '.join(sorted(values))}")
    repeated = {out.name for out in outs if outs.count(out) > 1}
    if repeated:
        raise NSTInputError(f"runs in one batch must write different outputs; repeated: {', '.join(sorted(repeated))}")


def _check_batch_sizes(members: list[_Run]) -> None:
    """The runs' images at every stage: one size (content images of one aspect ratio)."""
    for height, _ in _stages(members[0].params):
        sizes = {m.out.name: tuple(m.setup.images.content_at(height).shape[2:]) for m in members}
        if len(set(sizes.values())) > 1:
            listed = ", ".join(f"{name} {w}x{h}" for name, (h, w) in sizes.items())
            raise NSTInputError(f"runs in one batch must have one image size at height {height}; got {listed}")


class _RoundStop:
    """The batch's stop signal as its runs' checkpointers see it: frozen for a round of iterations,
    so that a signal arriving mid-round is seen by every run of the next round (each then saves)."""

    def __init__(self, signals: StopSignals):
        self.signals, self.received = signals, None

    def freeze(self) -> None:
        self.received = self.signals.received


class _Batch:
    """Runs a batch stage by stage: the runs at the same stage optimised together (runs resumed in a
    later stage wait for the others to reach it); each result is written as soon as its run ends."""

    def __init__(self, members: list[_Run]):
        self.members = members
        self.outcomes: dict[int, RunResult | NSTNumericalError] = {}

    def run(self) -> list[RunResult | NSTNumericalError]:
        with StopSignals() as stop:
            try:
                while pending := [i for i, m in enumerate(self.members) if not m.stages.finished and self._open(i)]:
                    stage = min(self.members[i].stages.next_stage for i in pending)
                    self._one_stage([i for i in pending if self.members[i].stages.next_stage == stage], stop)
            finally:
                for member in self.members:
                    member.stages.bar.bar.close()
        return [self.outcomes[i] for i in range(len(self.members))]

    def _open(self, index: int) -> bool:
        return index not in self.outcomes

    def _one_stage(self, group: list[int], signals: StopSignals) -> None:
        stop = _RoundStop(signals)
        loops = [self.members[i].stages.begin_stage(stop) for i in group]
        done = lambda position: self._stage_done(group[position], loops[position])  # noqa: E731
        failed = optimize_together(loops, done, stop.freeze)
        for position, error in failed.items():
            self._fail(group[position], error)
        for index, loop in zip(group, loops):  # a loop with nothing to do from the start (resumed at its end)
            if self._open(index) and loop.done and not loop.iteration > loop.start:
                self._stage_done(index, loop)

    def _stage_done(self, index: int, loop: IterationLoop) -> None:
        member = self.members[index]
        member.stages.end_stage(loop)
        if member.stages.finished:
            try:
                self.outcomes[index] = member.write_result()
            except NSTNumericalError as error:
                self._fail(index, error)

    def _fail(self, index: int, error: NSTNumericalError) -> None:
        self.outcomes[index] = error
        self.members[index].checkpoint.remove()


def parameter_defaults() -> dict:
    """stylize()'s keyword defaults: the one place defaults live (run options only). A new dict per
    call; the defaults themselves are immutable (tuples, None, numbers, strings)."""
    return dict(_signature_defaults())


@functools.cache
def _signature_defaults() -> tuple[tuple[str, object], ...]:
    # read from the signature once: inspect.signature of stylize() takes ~0.1 ms, and planning calls
    # this for every run (check_run, nst.naming.run_id)
    return tuple(
        (name, p.default)
        for name, p in inspect.signature(stylize).parameters.items()
        if p.default is not inspect.Parameter.empty and name not in API_ONLY
    )


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


def _set_backend_flags(params: dict) -> None:
    """CPU kernels are deterministic at a fixed thread count (tests prove byte-identical output), so
    torch.use_deterministic_algorithms (double the CPU time) is not needed. On CUDA, cuDNN's autotuner
    (cudnn_benchmark) may pick other kernels from run to run: off unless asked for. TF32 only with
    precision "tf32" (torch enables it for cuDNN convolutions by default)."""
    torch.backends.cudnn.benchmark = params["cudnn_benchmark"]
    tf32 = params["precision"] == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


class _ProgressBar:
    """Iteration callback drawing a tqdm bar with the latest loss terms."""

    def __init__(self, total: int, start: int, name: str, enabled: bool):
        self.bar = tqdm(total=total, initial=start, desc=name[:40], disable=not enabled, mininterval=1.0, unit="it")

    def __call__(self, report: IterationReport) -> None:
        self.bar.update(1)
        postfix = {term: f"{report.losses[term]:.3g}" for term in TERMS}
        self.bar.set_postfix(postfix, refresh=False)


def _stages(params: dict) -> list[tuple[int, int]]:
    """(height, iterations) of each stage; one stage for a single-scale run."""
    heights = [*params["stage_heights"], params["height"]]
    return list(zip(heights, params["stage_iterations"] or [params["iterations"]]))


def _run(params: dict, content_path: Path, style_paths: list[Path], out: Path, callbacks: list) -> RunResult:
    run = _Run(params, content_path, style_paths, out, callbacks)
    with StopSignals() as stop:
        try:
            run.stages.all_stages(stop)
        except NSTNumericalError:
            run.checkpoint.remove()
            raise
        finally:
            run.stages.bar.bar.close()
    return run.write_result()


class _Run:
    """One run: its setup, checkpoint and stage runner, and writing its result."""

    def __init__(self, params, content_path, style_paths, out, callbacks, network=None, batch=None):
        self.started = time.perf_counter()
        self.params, self.content_path, self.style_paths, self.out = params, content_path, style_paths, out
        device = torch.device(params["device"])
        self.setup = build_run(params, content_path, style_paths, device, network)
        # save_every's images before the checkpoint are in it only if it was written with the same value
        keyed = result_parameters(params) | ({"save_every": params["save_every"]} if params["save_every"] else {})
        fingerprint = run_fingerprint(keyed, content_path, style_paths, self.setup.weights.sha256)
        self.checkpoint = Checkpoint(checkpoint_path(out), fingerprint)
        self.saved = self.checkpoint.load() or {}
        self.stages = _StageRunner(params, self.setup, self.checkpoint, self.saved, out, callbacks)
        self.batch = batch or [out.name]  # the outputs of the runs computed together with this one

    def write_result(self) -> RunResult:
        run, saved = self.stages, self.saved
        progress = {
            "iterations_done": len(run.history),
            "stopped_early": any(s["stopped_early"] for s in run.stage_log),
            "resumed_from_iteration": saved["iteration"] if saved else None,
            "wall_time_s": round(run.elapsed_before + time.perf_counter() - self.started, 3),
            "time_per_iteration_s": round(run.loop_seconds() / max(run.iterations_here, 1), 5),
            "stages": run.stage_log,
            "batch": {"size": len(self.batch), "runs": self.batch},
        }
        paths = (self.content_path, self.style_paths, self.out)
        result = _Result(self.params, *paths, self.setup, run.stage, run.image, run.history, progress, run.milestones)
        return _write_result(result, self.checkpoint)


class _StageRunner:
    """Runs the stages of one run in order, resuming from a checkpoint's stage and iteration.

    A stage is begun (its optimiser and iteration loop), iterated (alone by all_stages(), or
    together with other runs by nst.batch) and ended (its log entry)."""

    def __init__(self, params, setup, checkpoint, saved: dict, out: Path, callbacks: list):
        self.params, self.setup, self.checkpoint, self.saved = params, setup, checkpoint, saved
        self.callbacks = callbacks
        self.history: list[dict] = saved.get("history", [])
        # milestone iteration -> the image after it (CPU); kept in every checkpoint, because Snakemake
        # deletes a job's outputs before a retry, and written only with the final result
        self.milestones: dict[int, torch.Tensor] = dict(saved.get("milestones", {}))
        self.milestone_iterations = milestone_iterations(params)
        self.stage_log: list[dict] = saved.get("stages", [])
        self.elapsed_before = saved.get("elapsed_s", 0.0)
        self.started = time.perf_counter()
        self.iterations_here = 0
        self.bar = _ProgressBar(params["iterations"], saved.get("iteration", 0), out.stem, params["progress"])
        self.plan = _stages(params)
        self.first = self.saved.get("stage", 0)
        self.next_stage = self.first
        self.offset = sum(count for _, count in self.plan[: self.first])  # iterations before the next stage
        self.image: torch.Tensor | None = None
        self.stage: Stage | None = None
        self._history_before = 0

    def loop_seconds(self) -> float:
        return time.perf_counter() - self.started

    @property
    def finished(self) -> bool:
        return self.next_stage == len(self.plan)

    def all_stages(self, stop: StopSignals) -> tuple[torch.Tensor, Stage]:
        while not self.finished:
            loop = self.begin_stage(stop)
            run_alone(loop)
            self.end_stage(loop)
        return self.image, self.stage

    def begin_stage(self, stop: StopSignals | _RoundStop) -> IterationLoop:
        """The next stage's image, optimiser (resumed where the checkpoint left it) and iteration loop."""
        index, params = self.next_stage, self.params
        height, count = self.plan[index]
        self.stage = self.setup.stage(height)
        resume = self.saved if self.saved and index == self.first else None
        image = self.image = self._start_image(self.stage, index, self.image, resume)
        optimizer = ImageOptimizer(image, self.stage.objective, params["optimizer"], params["learning_rate"])
        if resume is not None:
            optimizer.load_state_dict(resume)
        start = resume["iteration"] if resume is not None else self.offset

        def state_at(iteration: int) -> dict:
            elapsed = self.elapsed_before + self.loop_seconds()
            state = {"stage": index, "iteration": iteration, "image": image.detach().cpu(), "elapsed_s": elapsed}
            kept = {"history": self.history, "stages": self.stage_log, "milestones": self.milestones}
            return state | kept | optimizer.state_dict()

        def keep_milestone(report: IterationReport) -> None:
            if report.iteration in self.milestone_iterations:
                self.milestones[report.iteration] = image.detach().cpu().clone()

        checkpointer = Checkpointer(self.checkpoint, params["checkpoint_every"], params["iterations"], stop, state_at)
        self._history_before = len(self.history)
        # keep_milestone before checkpointer: a checkpoint at a milestone iteration holds its image
        callbacks = [_append_to(self.history), self.bar, keep_milestone, checkpointer, *self.callbacks]
        return IterationLoop(optimizer, self.offset + count, start, callbacks)

    def end_stage(self, loop: IterationLoop) -> None:
        self.iterations_here += len(self.history) - self._history_before
        size = {"width": self.stage.size[0], "height": self.stage.size[1]}
        done = len(self.history) - sum(s["iterations_done"] for s in self.stage_log)
        count = self.plan[self.next_stage][1]
        log = {"iterations": count, "iterations_done": done, "stopped_early": loop.stopped_early}
        self.stage_log.append(size | log)
        self.offset += count
        self.next_stage += 1

    def _start_image(self, stage: Stage, index: int, previous, resume) -> torch.Tensor:
        if resume is not None:
            start = resume["image"]
        elif index == 0:
            start = self.setup.initial_image(stage)
        else:
            start = upsample(previous.detach().cpu(), stage.size)
        return start.to(self.setup.device).requires_grad_(True)


def _append_to(history: list[dict]) -> IterationCallback:
    return lambda report: history.append(report.losses)


@dataclass
class _Result:
    params: dict
    content_path: Path
    style_paths: list[Path]
    out: Path
    setup: RunSetup
    stage: Stage  # the last stage
    image: torch.Tensor
    history: list[dict]
    progress: dict
    milestones: dict[int, torch.Tensor]  # iteration -> image after it


def _losses(stage: Stage, image: torch.Tensor) -> dict[str, float]:
    with torch.no_grad():
        return {name: float(value) for name, value in stage.objective(image).items()}


def _write_result(result: _Result, checkpoint: Checkpoint) -> RunResult:
    """Final losses, the record, then milestone images, sidecar and image (each atomically; the image
    last, so its presence means all is written); the checkpoint goes."""
    final = _losses(result.stage, result.image)
    if not all(math.isfinite(value) for value in final.values()):
        checkpoint.remove()
        raise NSTNumericalError(f"final loss is not finite ({final}); no result written")
    out, setup = result.out, result.setup
    description = f"nst stylize; weights: {setup.weights.label}; sidecar: {sidecar_path(out).name}"
    milestones = _write_milestones(result, description)
    record = build_record(
        out=out,
        params=result.params,
        content=result.content_path,
        styles=result.style_paths,
        backbone=setup.backbone,
        weights=setup.weights,
        size=result.stage.size,
        device=setup.device,
        progress=result.progress,
        final_losses=final,
        history=result.history,
        milestones=milestones,
    )
    image_bytes = images.encode_image(_output_image(result.image, result), out, description)
    images.atomic_write_bytes(sidecar_path(out), (json.dumps(record, indent=1) + "\n").encode())
    images.atomic_write_bytes(out, image_bytes)
    checkpoint.remove()
    return RunResult(out, sidecar_path(out), record)


def _output_image(image: torch.Tensor, result: _Result) -> torch.Tensor:
    """What is saved of an optimised image (the final one and every milestone alike)."""
    image = image.detach()
    if result.params["color_control"] == "luminance":  # the content's colours, the result's luminance
        rgb = color.luminance_transfer(
            color.to_unit_rgb(image.cpu()).clamp(0, 1), color.to_unit_rgb(result.stage.content)
        )
        image = color.from_unit_rgb(rgb)
    return image


def _write_milestones(result: _Result, description: str) -> list[dict]:
    """Write each milestone image as PNG (always the folder, even with none: the pipeline declares it)
    and return the sidecar's list of them. A milestone after an early stop (L-BFGS converged: the image
    no longer changes) is the final image."""
    folder = milestone_dir(result.out)
    folder.mkdir(parents=True, exist_ok=True)
    listed = []
    for iteration, fraction in milestone_iterations(result.params).items():
        image = result.milestones.get(iteration, result.image.detach().cpu())
        path = milestone_image(result.out, iteration)
        images.atomic_write_bytes(path, images.encode_image(_output_image(image, result), path, description))
        losses = _losses(result.stage, image.to(result.setup.device))
        image_name = path.relative_to(sidecar_path(result.out).parent).as_posix()
        listed.append({"iteration": iteration, "fraction": fraction, "image": image_name, "losses": losses})
    return listed
