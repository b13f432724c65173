#!/usr/bin/env python3
"""How close is one L-BFGS iteration of nst.stylize() to the bare cost of its network?

    .venv/bin/python bench/bench_lbfgs.py --height 256 --iterations 20 --repeats 3

Measures, each in a fresh process (so peak RSS is per measurement), on CPU with all cores:
  (a) floor: one forward + backward of the same cut VGG19 (FeatureExtractor, layers 1..6) on a leaf
      image tensor, the run's weighted losses summed - what one loss evaluation cannot go below;
  (b) nst.stylize() with L-BFGS: time per iteration (sidecar time_per_iteration_s, and the median of
      the iterations timed by an iteration callback), plus how many loss evaluations (forward +
      backward passes, IterationReport.evaluations) it made;
  (c) the same for Adam.
Prints a markdown table. The CPU may be shared with other jobs: every figure is a median.
"""

from __future__ import annotations

import argparse
import builtins
import functools
import os
import resource
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_model, in_fresh_process, objective_floor, timed_stylize  # bench/common.py

CONTENT = ROOT / "data/content/chelsea.jpg"
STYLE = ROOT / "data/style/starry_night.jpg"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_params(height: int, optimizer: str, iterations: int, threads: int) -> dict:
    from nst.api import check_run

    return check_run(
        CONTENT,
        STYLE,
        weights="bundled",
        height=height,
        optimizer=optimizer,
        iterations=iterations,
        threads=threads,
        progress=False,
        device="cpu",
    )


def floor_job(height: int, iterations: int, threads: int, queue) -> None:
    """(a): the engine's own objective (nst.setup.build_run), one forward + backward per call."""
    import torch

    from nst.setup import build_run

    torch.set_num_threads(threads)
    setup = build_run(_run_params(height, "lbfgs", iterations, threads), CONTENT, [STYLE], torch.device("cpu"))
    stage = setup.stage(height)
    image = torch.randn(stage.content.shape, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    floor = objective_floor(stage.objective, image, "cpu", iterations)
    queue.put({"size": stage.size, "times": [floor], "peak_mb": _peak_rss_mb()})


def stylize_job(height: int, iterations: int, threads: int, optimizer: str, queue) -> None:
    """(b), (c): nst.stylize() itself, timed through its iteration callbacks (no patching)."""
    params = {"height": height, "iterations": iterations, "optimizer": optimizer, "threads": threads}
    record, timer = timed_stylize(CONTENT, STYLE, device="cpu", **params)
    queue.put(
        {
            "size": (record["size"]["width"], record["size"]["height"]),
            "sidecar_per_iteration": record["time_per_iteration_s"],
            "step_times": timer.times,
            "iterations": record["iterations_done"],
            "evaluations": sum(timer.evaluations),
            "step_evaluations": timer.evaluations,
            "peak_mb": record["peak_memory_mb"],
            "torch_threads": record["torch_threads"],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=20, help="iterations per stylize run (>= 20)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh-process repeats of every measurement")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    parser.add_argument("--no-adam", action="store_true", help="skip the Adam runs")
    args = parser.parse_args()

    floors, lbfgs, adam = [], [], []
    for repeat in range(args.repeats):
        floors.append(in_fresh_process(floor_job, args.height, args.iterations, args.threads))
        lbfgs.append(in_fresh_process(stylize_job, args.height, args.iterations, args.threads, "lbfgs"))
        if not args.no_adam:
            adam.append(in_fresh_process(stylize_job, args.height, args.iterations, args.threads, "adam"))
        print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr, flush=True)
        if repeat + 1 < args.repeats:  # partial results, in case the rest never comes
            report(args, floors, lbfgs, adam, file=sys.stderr)
    report(args, floors, lbfgs, adam, file=sys.stdout)


def report(args, floors, lbfgs, adam, file) -> None:
    import torch

    print = functools.partial(builtins.print, file=file, flush=True)
    med = statistics.median
    width, height = floors[0]["size"]
    floor = [med(f["times"]) for f in floors]

    def one_evaluation_steps(run):  # iterations whose line search needed a single evaluation
        return med([t for t, n in zip(run["step_times"], run["step_evaluations"][1:]) if n == 1])

    # (label, value per repeat, loss evaluations per iteration, peak RSS MB)
    rows = [
        (
            "(a) floor: bare forward + backward of the cut VGG19, summed losses",
            floor,
            1.0,
            max(f["peak_mb"] for f in floors),
        )
    ]
    for name, runs in (("L-BFGS", lbfgs), ("Adam", adam)):
        if not runs:
            continue
        evaluations = med(r["evaluations"] / r["iterations"] for r in runs)
        peak = max(r["peak_mb"] for r in runs)
        rows.append(
            (
                f"(b) {name}: sidecar time_per_iteration_s (mean over the run)"
                if name == "L-BFGS"
                else f"{name}: sidecar time_per_iteration_s",
                [r["sidecar_per_iteration"] for r in runs],
                evaluations,
                peak,
            )
        )
        rows.append(
            (
                f"{name}: median of the timed iterations (callback to callback)",
                [med(r["step_times"]) for r in runs],
                evaluations,
                peak,
            )
        )
        if name == "L-BFGS":
            rows.append(
                (
                    "L-BFGS: median of iterations with one loss evaluation",
                    [one_evaluation_steps(r) for r in runs],
                    1.0,
                    peak,
                )
            )

    print(
        f"VGG19 (bundled weights), content {CONTENT.name} at {width}x{height} (WxH), style {STYLE.name} at "
        f"height {height}; CPU, {args.threads} torch threads; {cpu_model()}; torch {torch.__version__}; "
        f"{args.iterations} iterations per run, {args.repeats} fresh-process repeats.\n"
    )
    print(
        "| measurement | s/iteration, median of repeats | ratio to (a) | best of repeats | ratio to (a), best "
        "| loss evaluations / iteration | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, values, evaluations, peak in rows:
        print(
            f"| {name} | {med(values):.3f} | {med(values) / med(floor):.2f} | {min(values):.3f} "
            f"| {min(values) / min(floor):.2f} | {evaluations:.2f} | {peak:.0f} |"
        )
    if lbfgs:
        counts = lbfgs[0]["step_evaluations"]
        print(
            f"\nL-BFGS loss evaluations per iteration (first run): first {counts[0]}, then mean "
            f"{statistics.mean(counts[1:]):.2f} ({counts})"
        )
    for name, values, _, _ in rows:
        print(f"per repeat, {name}: {[round(v, 3) for v in values]}")


if __name__ == "__main__":
    main()
