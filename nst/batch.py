"""Several runs optimised together: one forward + backward of the network per evaluation for all
the runs that need one, each run keeping its own optimiser.

Runs that share the network (weights, layers, precision) and the image size are stacked on the batch
dimension; each run's loss terms are computed from its own slice of the features (its own Gram
matrices, targets and weights), and the backward pass of all the runs' totals gives each image the
gradient of its own total only (the samples of a batch do not interact in the network).

Each run keeps its ImageOptimizer - torch's own L-BFGS (history, step, strong-Wolfe line search,
stopping) or Adam (moments) - stepping in a thread of its own. torch's L-BFGS calls the objective
itself, several times per iteration; its thread pauses at each call and hands the evaluation to the
driver, which evaluates all waiting runs at their own trial points at once and hands each its result.
The threads take turns (each waits for the driver's answer, the driver for theirs), so nothing runs
concurrently and a run's own float operations are those of the run alone; only the network's kernels
see a larger batch, which changes their results by float noise (oneDNN and cuDNN choose their
algorithms by batch size).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence

import torch

from nst.errors import NSTInputError, NSTInterrupted, NSTNumericalError
from nst.optimize import ImageOptimizer, IterationLoop, losses_to_host


class _Abandoned(BaseException):
    """Unwinds a run's thread when the batch stops while the run waits for an evaluation."""


class _SteppedInThread:
    """One run's optimiser, stepping in its own thread; each evaluation it needs goes to the driver.

    Messages to the driver: ("evaluate", None), ("stepped", loss terms on the device), ("failed", error).
    """

    def __init__(self, optimizer: ImageOptimizer):
        self.optimizer = optimizer
        optimizer.forward_backward = self._hand_over
        self._to_run: queue.SimpleQueue = queue.SimpleQueue()
        self._to_driver: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self._to_run.get() is not None:
            try:
                self._to_driver.put(("stepped", self.optimizer.step_on_device()))
            except _Abandoned:
                return
            except BaseException as error:  # handed to the driver, which decides
                self._to_driver.put(("failed", error))

    def _hand_over(self) -> dict[str, torch.Tensor]:
        """In the run's thread: wait until the driver has evaluated this run's image."""
        self._to_driver.put(("evaluate", None))
        terms = self._to_run.get()
        if terms is None:
            raise _Abandoned
        return terms

    def start_step(self) -> tuple[str, object]:
        self._to_run.put("step")
        return self._to_driver.get()

    def answer(self, terms: dict[str, torch.Tensor]) -> tuple[str, object]:
        self._to_run.put(terms)
        return self._to_driver.get()

    def close(self) -> None:
        self._to_run.put(None)
        self._thread.join()


def evaluate_together(optimizers: Sequence[ImageOptimizer]) -> list[dict[str, torch.Tensor]]:
    """One forward + backward for the runs' images stacked on the batch dimension: each run's loss
    terms from its own slice of the features, each image's gradient (unscaled) in its .grad."""
    extractor = optimizers[0].objective.extractor
    with torch.enable_grad():
        features = extractor(torch.cat([optimizer.image for optimizer in optimizers]))
        terms = [
            optimizer.objective.terms({layer: f[i : i + 1] for layer, f in features.items()}, optimizer.image)
            for i, optimizer in enumerate(optimizers)
        ]
        torch.autograd.backward([run_terms["total"] for run_terms in terms])
    return terms


def check_batchable(optimizers: Sequence[ImageOptimizer]) -> None:
    """One network and one image size: what stacking on the batch dimension needs."""
    extractors = {id(optimizer.objective.extractor) for optimizer in optimizers}
    if len(extractors) != 1:
        raise NSTInputError("runs in one batch must share one network (feature extractor)")
    shapes = {tuple(optimizer.image.shape[1:]) for optimizer in optimizers}
    if len(shapes) != 1:
        raise NSTInputError(f"runs in one batch must have one image size; got {sorted(shapes)}")


class LockstepBatch:
    """Steps several ImageOptimizers one iteration at a time, evaluating together."""

    def __init__(self, optimizers: Sequence[ImageOptimizer]):
        check_batchable(optimizers)
        self._runs = {id(optimizer): _SteppedInThread(optimizer) for optimizer in optimizers}

    def step(self, optimizers: Sequence[ImageOptimizer]) -> list[dict[str, torch.Tensor] | BaseException]:
        """One iteration of each of `optimizers`: its loss terms at the image it started from (on the
        device), or the error its step raised."""
        runs = [self._runs[id(optimizer)] for optimizer in optimizers]
        messages = [run.start_step() for run in runs]
        while waiting := [i for i, (kind, _) in enumerate(messages) if kind == "evaluate"]:
            terms = evaluate_together([runs[i].optimizer for i in waiting])
            for i, run_terms in zip(waiting, terms):
                messages[i] = runs[i].answer(run_terms)
        return [payload for _, payload in messages]

    def close(self) -> None:
        for run in self._runs.values():
            run.close()


def optimize_together(
    loops: Sequence[IterationLoop],
    when_done: Callable[[int], None] = lambda index: None,
    before_reports: Callable[[], None] = lambda: None,
) -> dict[int, NSTNumericalError]:
    """Runs each loop's iterations to its end, all together: one step of every unfinished run per
    round; `when_done(index in loops)` as soon as a loop has ended (a run that converged early need
    not wait for its batch-mates). A run whose loss turns non-finite fails alone: {index: its error};
    the others go on. A stop (a callback raising NSTInterrupted) is raised after the round, once every
    run's callbacks have had the round's report; `before_reports()` is called before them (the
    caller freezes its stop flag there, so that every run of the round sees a signal, or none)."""
    failed: dict[int, NSTNumericalError] = {}
    batch = LockstepBatch([loop.optimizer for loop in loops])
    try:
        while active := [i for i, loop in enumerate(loops) if not loop.done and i not in failed]:
            for i in active:
                loops[i].before_step()
            outcomes = batch.step([loops[i].optimizer for i in active])
            for i, outcome in zip(active, outcomes):
                if isinstance(outcome, NSTNumericalError):
                    failed[i] = outcome
                elif isinstance(outcome, BaseException):
                    raise outcome
            stepped = [(i, outcome) for i, outcome in zip(active, outcomes) if i not in failed]
            losses = losses_to_host([outcome for _, outcome in stepped])
            interrupted = None
            before_reports()
            for (i, _), run_losses in zip(stepped, losses):
                try:
                    loops[i].after_step(run_losses)
                except NSTNumericalError as error:
                    failed[i] = error
                except NSTInterrupted as stop:
                    interrupted = stop
                else:
                    if loops[i].done:
                        when_done(i)
            if interrupted is not None:
                raise interrupted
    finally:
        batch.close()
    return failed
