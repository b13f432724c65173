#!/usr/bin/env python3
"""Per-run cost of an L-BFGS iteration when N runs are computed together (nst.stylize_batch).

    python bench/bench_batch.py            # CUDA: 400 px, batch 1..16, fp32 and tf32; CPU: 128 px, batch 1, 2, 4
    python bench/bench_batch.py --quick    # a smoke test of the same code (CPU, 64 px, batch 1 and 2)

The N runs of a batch are the reference run (VGG19, bundled weights, chelsea x starry night) with
style weights 3e4 * 1.5^k, k = 0..N-1 (a sweep). Each measurement is one fresh process (peak memory
per batch). Timed by an iteration callback on the batch's first run (one callback per round of the
batch): wall time and process CPU time per round, divided by N = per run and iteration. On a shared
CPU read the CPU-time column (wall time counts other jobs); on a GPU the wall time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_model, in_fresh_process  # bench/common.py

CONTENT = ROOT / "data/content/chelsea.jpg"
STYLE = ROOT / "data/style/starry_night.jpg"


class RoundTimer:
    """Iteration callback: wall and CPU seconds between consecutive calls (iteration 2 on), and the
    run's loss evaluations per iteration."""

    def __init__(self):
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.evaluations = 0
        self.iterations = 0
        self._last: tuple[float, float] | None = None

    def __call__(self, report) -> None:
        now = (time.perf_counter(), time.process_time())
        if self._last is not None:
            self.wall.append(now[0] - self._last[0])
            self.cpu.append(now[1] - self._last[1])
        self._last = now
        self.evaluations, self.iterations = report.evaluations, report.iteration


def batch_job(size: int, precision: str, height: int, iterations: int, device: str, threads: int, queue) -> None:
    try:
        queue.put(_measure_batch(size, precision, height, iterations, device, threads))
    except Exception:  # the parent waits for an answer: hand it the error
        queue.put({"error": traceback.format_exc()})


def _measure_batch(size: int, precision: str, height: int, iterations: int, device: str, threads: int) -> dict:
    import torch

    import nst

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    timer = RoundTimer()
    base = {"content": CONTENT, "style": STYLE, "weights": "bundled", "height": height, "iterations": iterations}
    base |= {"precision": precision, "device": device, "threads": threads, "progress": False}
    with tempfile.TemporaryDirectory() as tmp:
        runs = [base | {"out": Path(tmp) / f"run{k}.png", "style_weight": 3e4 * 1.5**k} for k in range(size)]
        runs[0]["callbacks"] = [timer]
        outcomes = nst.stylize_batch(runs)
    failed = [str(o) for o in outcomes if isinstance(o, Exception)]
    records = [o.record for o in outcomes if not isinstance(o, Exception)]
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else records[0]["peak_memory_mb"]
    return {
        "size": size,
        "precision": precision,
        "wall": statistics.median(timer.wall),
        "cpu": statistics.median(timer.cpu),
        "evaluations": timer.evaluations / max(timer.iterations, 1),
        "peak_mb": peak,
        "image": records[0]["size"],
        "failed": failed,
    }


def main() -> None:
    import torch

    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CPU smoke test: 64 px, batch 1 and 2, 4 iterations")
    parser.add_argument("--device", default="cuda" if cuda else "cpu")
    parser.add_argument("--height", type=int, default=400 if cuda else 128)
    parser.add_argument("--iterations", type=int, default=20 if cuda else 8)
    parser.add_argument("--sizes", default="1,2,4,8,16" if cuda else "1,2,4", help="batch sizes, comma-separated")
    parser.add_argument("--precisions", default="fp32,tf32" if cuda else "fp32")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on the CPU (default 1: a shared CPU)")
    args = parser.parse_args()
    if args.quick:
        args.device, args.height, args.iterations, args.sizes, args.precisions = "cpu", 64, 4, "1,2", "fp32"
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = []
    for precision in args.precisions.split(","):
        for size in sizes:
            job = (size, precision, args.height, args.iterations, args.device, args.threads)
            row = in_fresh_process(batch_job, *job)
            if "error" in row:
                sys.exit(f"batch {size}, {precision} failed:\n{row['error']}")
            rows.append(row)
            print(f"done: batch {size}, {precision}", file=sys.stderr, flush=True)
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"{cpu_model()}, {args.threads} torch threads"
    image = rows[0]["image"]
    print(
        f"nst.stylize_batch, L-BFGS, VGG19 (bundled weights), chelsea x starry night at {image['width']}x"
        f"{image['height']}, {args.iterations} iterations; {where}; torch {torch.__version__}\n"
    )
    memory = "peak GPU memory MB" if args.device == "cuda" else "peak RSS MB"
    print(
        "| precision | batch | ms per run-iteration (wall) | CPU ms per run-iteration "
        f"| per-run speed-up vs batch {sizes[0]} (wall / CPU) "
        f"| loss evaluations per iteration (run 1) | {memory} |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        alone = next(r for r in rows if r["precision"] == row["precision"] and r["size"] == sizes[0])
        wall, cpu = row["wall"] / row["size"], row["cpu"] / row["size"]
        ratio = f"{alone['wall'] / alone['size'] / wall:.2f}x / {alone['cpu'] / alone['size'] / cpu:.2f}x"
        print(
            f"| {row['precision']} | {row['size']} | {1000 * wall:.1f} | {1000 * cpu:.1f} | {ratio} "
            f"| {row['evaluations']:.2f} | {row['peak_mb']:.0f} |"
        )
        if row["failed"]:
            print(f"batch {row['size']} {row['precision']}: failed runs: {row['failed']}")


if __name__ == "__main__":
    main()
