#!/usr/bin/env python3
"""CPU precision and coarse-to-fine benchmark, printing markdown tables.

    .venv/bin/python bench/bench_precision.py --sizes 128 256 400 --iterations 20
    .venv/bin/python bench/bench_precision.py --skip-precision --c2f-height 256 --c2f-seconds 60

1. Per precision (fp32, bf16) and height: the floor (one forward + backward of the engine's own
   objective), one L-BFGS iteration of nst.stylize (median, timed by an iteration callback), the ratio
   of each to the fp32 floor, and the final total loss after the same iterations relative to fp32's.
2. Coarse-to-fine against single-scale at equal wall time: both get the same time budget at
   --c2f-height (iteration counts from a measured s/iteration per height); compared by the final total
   loss at full size (both objectives are the full-size one in the last stage) and by the fixed
   yardstick (nst_pipeline.metrics: style distance, content SSIM).
Every measurement runs in a fresh process with the same thread count. Check `cat /proc/loadavg`
first: on 2 cores any other process makes the numbers meaningless.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTENT = ROOT / "data/content/chelsea.jpg"
STYLE = ROOT / "data/style/starry_night.jpg"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_model, in_fresh_process, objective_floor, timed_stylize  # bench/common.py


def _stylize(out: Path, threads: int, callbacks=(), **params) -> dict:
    import nst

    params = {"weights": "bundled", "device": "cpu", "threads": threads, "progress": False} | params
    return nst.stylize(CONTENT, STYLE, out, callbacks=list(callbacks), **params).record


def precision_job(precision: str, height: int, iterations: int, threads: int, queue) -> None:
    import torch

    from nst.api import check_run
    from nst.setup import build_run

    torch.set_num_threads(threads)
    params = check_run(CONTENT, STYLE, weights="bundled", height=height, precision=precision, device="cpu")
    stage = build_run(params, CONTENT, [STYLE], torch.device("cpu")).stage(height)
    image = torch.randn(stage.content.shape, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    floor = objective_floor(stage.objective, image, "cpu", max(3, iterations // 4))
    # allow_slow_bf16: on a CPU without bf16 units the point is to measure how slow it is
    params = {"height": height, "iterations": iterations, "precision": precision, "allow_slow_bf16": True}
    record, timer = timed_stylize(CONTENT, STYLE, device="cpu", threads=threads, **params)
    queue.put({"floor": floor, "iteration": statistics.median(timer.times), "final": record["final_losses"]["total"]})


def c2f_job(params: dict, threads: int, queue) -> None:
    """One run for the equal-time comparison: its wall time, final loss and yardstick metrics."""
    import torch

    from nst_pipeline import metrics

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        record = _stylize(Path(tmp) / "x.png", threads, **params)
        seconds = time.perf_counter() - started
        judge = metrics.load_judge("vgg19", height=params["height"])
        measured = metrics.measure(Path(tmp) / "x.png", CONTENT, STYLE, judge=judge, record=record)
    queue.put(
        {
            "seconds": seconds,
            "loop": record["time_per_iteration_s"] * record["iterations_done"],
            "final": record["final_losses"]["total"],
            "style_distance": measured["style_distance"],
            "content_ssim": measured["content_ssim"],
        }
    )


def precision_table(sizes: list[int], iterations: int, threads: int) -> None:
    print(f"\n### Precision ({iterations} L-BFGS iterations per run, {threads} threads)\n")
    print(
        "| height | precision | floor s | L-BFGS s/iteration | floor / fp32 floor | iteration / fp32 floor "
        "| final total / fp32's |"
    )
    print("|---|---|---|---|---|---|---|")
    for height in sizes:
        rows = {p: in_fresh_process(precision_job, p, height, iterations, threads) for p in ("fp32", "bf16")}
        base = rows["fp32"]
        for precision, row in rows.items():
            print(
                f"| {height} | {precision} | {row['floor']:.3f} | {row['iteration']:.3f} "
                f"| {row['floor'] / base['floor']:.2f} | {row['iteration'] / base['floor']:.2f} "
                f"| {row['final'] / base['final']:.4f} |",
                flush=True,
            )


def c2f_table(height: int, seconds: float, threads: int) -> None:
    """Equal optimisation time: iteration counts from each height's measured s/iteration."""
    coarse = height // 2
    per_it = {h: in_fresh_process(precision_job, "fp32", h, 6, threads)["iteration"] for h in (coarse, height)}
    single = max(1, round(seconds / per_it[height]))
    # half the time at the coarse height, half at full size
    staged = [max(1, round(seconds / 2 / per_it[coarse])), max(1, round(seconds / 2 / per_it[height]))]
    runs = {
        f"single scale, {single} iterations at {height}": {"height": height, "iterations": single},
        f"coarse-to-fine {coarse}->{height}, {staged[0]}+{staged[1]} iterations": {
            "height": height,
            "iterations": sum(staged),
            "stage_heights": [coarse],
            "stage_iterations": staged,
        },
    }
    print(f"\n### Coarse-to-fine vs single scale, ~{seconds:.0f} s of optimisation each ({threads} threads)\n")
    print("| run | optimisation s | final total loss (full size) | style distance (judge) | content SSIM |")
    print("|---|---|---|---|---|")
    for name, params in runs.items():
        row = in_fresh_process(c2f_job, params, threads)
        print(
            f"| {name} | {row['loop']:.1f} | {row['final']:.4g} | {row['style_distance']:.3f} "
            f"| {row['content_ssim']:.3f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 400])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-precision", action="store_true")
    parser.add_argument("--c2f-height", type=int, default=256)
    parser.add_argument("--c2f-seconds", type=float, default=60.0)
    args = parser.parse_args()
    import torch

    from nst.api import cpu_has_bf16

    print(
        f"CPU: {cpu_model()}; native bf16: {cpu_has_bf16()}; torch {torch.__version__}; load "
        f"{Path('/proc/loadavg').read_text().split()[:3]}"
    )
    if not args.skip_precision:
        precision_table(args.sizes, args.iterations, args.threads)
    if args.c2f_seconds > 0:
        c2f_table(args.c2f_height, args.c2f_seconds, args.threads)


if __name__ == "__main__":
    main()
