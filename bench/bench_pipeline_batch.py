#!/usr/bin/env python3
"""The pipeline's stylize jobs with batch_size 1, 2 and 4 (config batch_size, nst_pipeline.batches):
wall time of `snakemake --until stylize` on one core for the same sweep of runs.

    python bench/bench_pipeline_batch.py            # 4 runs (a style-weight sweep), 128 px, 20 L-BFGS iterations
    python bench/bench_pipeline_batch.py --quick    # a smoke test: 32 px, 3 iterations

One core (`--cores 1`, 1 torch thread), so the batch sizes get the same CPU: what differs is only
that a batch evaluates its runs in one forward + backward. Each batch size runs in a fresh working
folder (nothing cached); the table says how many runs were computed in batches (their sidecars).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_model  # bench/common.py

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
STYLE_WEIGHTS = [1e4, 3e4, 1e5, 3e5]  # around config.yaml's default 3e4


def sweep_config(folder: Path, height: int, iterations: int) -> Path:
    config = {
        "run_experiments": ["batch_sweep"],
        "defaults": {"weights": "bundled", "height": height, "iterations": iterations},
        "device": "cpu",
        "threads": 1,
        "checkpoint_every": 0,
        "experiments": {"batch_sweep": {"sweeps": [{"vary": {"style_weight": STYLE_WEIGHTS}}]}},
    }
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def timed_run(folder: Path, config: Path, batch_size: int) -> dict:
    work = folder / f"batch{batch_size}"
    work.mkdir()
    command = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--directory", str(work), "--cores", "1"]
    command += ["--configfile", str(config), "--config", f"batch_size={batch_size}", "--until", "stylize"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=os.environ | {"NST_OFFLINE": "1"})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"batch_size {batch_size}: snakemake failed\n{result.stderr[-3000:]}")
    sidecars = [json.loads(path.read_text()) for path in (work / "results/runs").glob("*/*.json")]
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "batch_size": batch_size,
        "wall": wall,
        "cpu": cpu,
        "runs": len(sidecars),
        "batched": sum(record["batch"]["size"] > 1 for record in sidecars),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    height, iterations = (32, 3) if args.quick else (128, 20)
    print(f"CPU: {cpu_model()}; load average before: {os.getloadavg()[0]:.2f}")
    print(f"{len(STYLE_WEIGHTS)} runs (style weight sweep), {height} px, {iterations} L-BFGS iterations, --cores 1\n")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        config = sweep_config(Path(tmp), height, iterations)
        for batch_size in (1, 2, 4):
            rows.append(timed_run(Path(tmp), config, batch_size))
    first = rows[0]
    print("| batch_size | runs (in batches) | Snakemake wall s | CPU s (all processes) | wall vs batch 1 |")
    print("|---|---|---|---|---|")
    for row in rows:
        cells = [row["batch_size"], f"{row['runs']} ({row['batched']})", f"{row['wall']:.1f}", f"{row['cpu']:.1f}"]
        print("| " + " | ".join(map(str, cells)) + f" | {first['wall'] / row['wall']:.2f}x |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
