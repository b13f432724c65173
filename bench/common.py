"""Helpers shared by the benchmark scripts (run them from the repository root)."""

from __future__ import annotations

import multiprocessing as mp
import platform
import statistics
import time
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def objective_floor(objective, image, device: str, iterations: int) -> float:
    """Median time of one forward + backward of the objective (what an evaluation cannot go below)."""

    def once() -> float:
        sync(device)
        started = time.perf_counter()
        image.grad = None
        objective(image)["total"].backward()
        sync(device)
        return time.perf_counter() - started

    for _ in range(3):  # warm-up: cuDNN/oneDNN kernel choice, allocator
        once()
    return statistics.median(once() for _ in range(iterations))


def in_fresh_process(target, *args):
    """target(*args, queue) in a new process (peak RSS and torch state per measurement); its result."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


class IterationTimer:
    """Iteration callback: loss evaluations of every iteration, and times from iteration 2 on
    (callback to callback = one iteration; iteration 1's start is not seen, its cost is in the
    sidecar's mean). On a GPU the loss history's device-to-host copy has synchronised already."""

    def __init__(self):
        self.times: list[float] = []
        self.evaluations: list[int] = []
        self._last_time: float | None = None
        self._last_evaluations = 0

    def __call__(self, report) -> None:
        now = time.perf_counter()
        self.evaluations.append(report.evaluations - self._last_evaluations)
        if self._last_time is not None:
            self.times.append(now - self._last_time)
        self._last_time, self._last_evaluations = now, report.evaluations


def timed_stylize(content: Path, style: Path, **params) -> tuple[dict, IterationTimer]:
    """nst.stylize with bundled weights into a temporary folder: (its record, the iteration timer)."""
    import tempfile

    import nst

    timer = IterationTimer()
    params = {"weights": "bundled", "progress": False} | params
    with tempfile.TemporaryDirectory() as tmp:
        result = nst.stylize(content, style, Path(tmp) / "bench.png", callbacks=[timer], **params)
    return result.record, timer
