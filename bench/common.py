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
