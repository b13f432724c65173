"""Optimising the image: one call of `ImageOptimizer.step()` is one iteration of L-BFGS or Adam.

`optimize()` runs the iterations and reports each through callbacks (history, progress bar,
checkpoints and benchmarks all hang off them); it knows nothing of files or signals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from nst.errors import NSTNumericalError

# The line search returns one of its last few trial points; remembering 4 covers it.
REPLAY_CACHE_SIZE = 4
# torch's LBFGS derives max_eval from max_iter (1 * 5 // 4 = 1), which would leave the strong-Wolfe
# line search no trials at one iteration per step(); give it torch's usual 25 more.
LBFGS_MAX_EVAL = 1 + 25
# the classic implementation's L-BFGS memory
LBFGS_HISTORY = 100

Losses = dict[str, float]


@dataclass(frozen=True)
class IterationReport:
    """What a callback learns after each iteration."""

    iteration: int  # 1-based, counted over the whole run (a resumed run goes on counting)
    losses: Losses  # the loss terms at the image the iteration started from
    evaluations: int  # forward + backward passes computed so far in this process


IterationCallback = Callable[[IterationReport], None]


class ImageOptimizer:
    """Drives torch's L-BFGS or Adam on `image` (a leaf tensor) to minimise `objective(image)["total"]`.

    L-BFGS: strong-Wolfe line search, as the classic implementation (without it L-BFGS diverges at
    these loss scales), one iteration per step() so iterations are counted exactly and state can be
    checkpointed between them. `evaluations` counts the forward + backward passes really computed.
    """

    def __init__(self, image: torch.Tensor, objective, optimizer: str, learning_rate: float):
        self.image, self.objective, self.kind = image, objective, optimizer
        if optimizer == "lbfgs":
            self.optimizer = torch.optim.LBFGS(
                [image],
                lr=learning_rate,
                max_iter=1,
                max_eval=LBFGS_MAX_EVAL,
                history_size=LBFGS_HISTORY,
                line_search_fn="strong_wolfe",
            )
        else:
            self.optimizer = torch.optim.Adam([image], lr=learning_rate)
        # L-BFGS: set at the first step (or by load_state_dict when resuming); Adam needs no scaling
        self.objective_scale: float | None = None if optimizer == "lbfgs" else 1.0
        self.evaluations = 0
        self._recent: list[tuple[torch.Tensor, torch.Tensor, dict]] = []
        self._first: dict[str, torch.Tensor] = {}
        # computes the loss terms at self.image and their gradient into self.image.grad; a batch
        # (nst.batch) replaces it with a hand-over to the batch's one forward + backward
        self.forward_backward: Callable[[], dict[str, torch.Tensor]] = self._own_forward_backward

    def _own_forward_backward(self) -> dict[str, torch.Tensor]:
        terms = self.objective(self.image)
        terms["total"].backward()
        return terms

    def _initial_scale(self) -> float:
        with torch.no_grad():
            return objective_scale_for(self.objective(self.image)["total"].item())

    def _evaluate(self) -> dict[str, torch.Tensor]:
        """Loss terms at the current image; its gradient (times objective_scale) in image.grad.

        step() starts by evaluating the point the previous step's line search already evaluated and
        accepted; replaying that evaluation (same image bits -> same loss and gradient) keeps an
        iteration at one forward + backward per line-search trial instead of one more."""
        for seen_image, seen_grad, seen_terms in self._recent:
            if torch.equal(seen_image, self.image.detach()):
                self.image.grad = seen_grad.clone()
                return seen_terms
        self.optimizer.zero_grad(set_to_none=True)
        terms = self.forward_backward()
        # scale after backward: scaling the loss first makes the gradients inside the network tiny
        # enough to be float32 denormals, which are 10-100x slower on CPUs
        self.image.grad.mul_(self.objective_scale)
        terms = {name: value.detach() for name, value in terms.items()}
        self.evaluations += 1
        self._recent.insert(0, (self.image.detach().clone(), self.image.grad.clone(), terms))
        del self._recent[REPLAY_CACHE_SIZE:]
        return terms

    def _closure(self) -> torch.Tensor | float:
        terms = self._evaluate()
        if not self._first:  # a step's first evaluation is at its starting (accepted) image
            self._first.update(terms)
        if self.kind != "lbfgs":
            # Adam takes no decision on the loss's value: a non-finite loss is caught when the
            # iteration's losses are read (optimize()), with no synchronisation here
            return terms["total"]
        # L-BFGS reads the loss as a float anyway: one device-to-host copy for the check and the value
        total, scaled = torch.stack([terms["total"], terms["total"] * self.objective_scale]).tolist()
        if not math.isfinite(total):
            # An overflowing line-search trial: report it as a very bad point with no slope, so the
            # search backs off (torch's strong-Wolfe search cannot recover from inf/NaN). A
            # non-finite loss at an accepted image is still an error (optimize() checks).
            self.image.grad = torch.zeros_like(self.image)
            return torch.finfo(torch.float32).max
        return scaled

    def step_on_device(self) -> dict[str, torch.Tensor]:
        """One iteration; returns the loss terms at the image it started from, still on the device."""
        if self.objective_scale is None:
            self.objective_scale = self._initial_scale()
        self._first.clear()
        self.optimizer.step(self._closure)
        return dict(self._first)

    def step(self) -> Losses:
        """One iteration; returns the loss terms at the image it started from."""
        return losses_to_host([self.step_on_device()])[0]

    @property
    def iterations_counted(self) -> int | None:
        """L-BFGS's own iteration counter (it does not advance once the gradient has vanished)."""
        return self.optimizer.state[self.image].get("n_iter", 0) if self.kind == "lbfgs" else None

    def state_dict(self) -> dict:
        # the replay cache too: in a batch an evaluation's float noise depends on how many runs
        # shared it, so a resumed run must replay the accepted point as the uninterrupted run does
        replay = [
            (image.cpu(), grad.cpu(), {name: value.cpu() for name, value in terms.items()})
            for image, grad, terms in self._recent
        ]
        return {"optimizer": self.optimizer.state_dict(), "objective_scale": self.objective_scale, "replay": replay}

    def load_state_dict(self, state: dict) -> None:
        """Resume: the optimiser's memory, replay cache and objective scale of the interrupted run."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.objective_scale = state["objective_scale"]
        device = self.image.device
        self._recent = [
            (image.to(device), grad.to(device), {name: value.to(device) for name, value in terms.items()})
            for image, grad, terms in state["replay"]
        ]


def objective_scale_for(initial_total: float) -> float:
    """L-BFGS sees the objective divided by its value at the initial image. The method is
    scale-free but torch's implementation is not: its first step is 1/|g|_1 and its tolerances
    are absolute, so at these loss scales (~1e15) the first step is ~1e-16 and the curvature
    estimate useless."""
    return 1.0 / initial_total if math.isfinite(initial_total) and initial_total > 0 else 1.0


def losses_to_host(runs_terms: list[dict[str, torch.Tensor]]) -> list[Losses]:
    """Loss terms of one or more runs as floats, in one device-to-host copy (on a GPU each
    .item() is a synchronisation)."""
    values = torch.stack([value.to(torch.float64) for terms in runs_terms for value in terms.values()]).tolist()
    losses, offset = [], 0
    for terms in runs_terms:
        losses.append(dict(zip(terms, values[offset : offset + len(terms)])))
        offset += len(terms)
    return losses


class IterationLoop:
    """One run's iterations start+1..`iterations` around its optimiser's steps: after each step the
    losses are checked and every callback gets an IterationReport. Driven by optimize() for one run
    and by nst.batch for several runs stepped together."""

    def __init__(
        self, optimizer: ImageOptimizer, iterations: int, start: int = 0, callbacks: Iterable[IterationCallback] = ()
    ):
        self.optimizer, self.end, self.start, self.callbacks = optimizer, iterations, start, list(callbacks)
        self.iteration = start
        self.stopped_early = False
        self._counted_before: int | None = None

    @property
    def done(self) -> bool:
        return self.stopped_early or self.iteration >= self.end

    def before_step(self) -> None:
        self._counted_before = self.optimizer.iterations_counted

    def after_step(self, losses: Losses) -> None:
        """Raises NSTNumericalError when a loss turned non-finite; marks an early stop when L-BFGS
        has converged (the gradient vanished: nothing left to do)."""
        self.iteration += 1
        if not all(math.isfinite(value) for value in losses.values()):
            raise NSTNumericalError(
                f"loss became non-finite at iteration {self.iteration} ({losses}); no result written. "
                "Lower the learning rate or the loss weights."
            )
        report = IterationReport(self.iteration, losses, self.optimizer.evaluations)
        for callback in self.callbacks:
            callback(report)
        counted_before = self._counted_before
        if counted_before is not None and self.optimizer.iterations_counted == counted_before:
            self.stopped_early = True

    def result(self) -> tuple[int, bool]:
        """(iterations done, stopped early), as optimize() returns them."""
        return (self.iteration, True) if self.stopped_early else (max(self.end, self.start), False)


def optimize(
    optimizer: ImageOptimizer,
    iterations: int,
    start: int = 0,
    callbacks: Iterable[IterationCallback] = (),
) -> tuple[int, bool]:
    """Iterations start+1..`iterations`; after each, every callback gets an IterationReport.

    Returns (iterations done, stopped early). Stops early when L-BFGS has converged (the gradient
    vanished: nothing left to do); raises NSTNumericalError when a loss turns non-finite."""
    return run_alone(IterationLoop(optimizer, iterations, start, callbacks))


def run_alone(loop: IterationLoop) -> tuple[int, bool]:
    """The loop's iterations, one step of its optimiser after the other; (iterations done, stopped early)."""
    while not loop.done:
        loop.before_step()
        loop.after_step(loop.optimizer.step())
    return loop.result()
