#!/usr/bin/env python3
"""Which chance does a second machine give a deterministic (content-init) run? (issue 25)

    .venv/bin/python bench/bench_repeat_chance.py [--iterations 60] [--nudges 4] [--seeds 3]

A content-init run draws no random numbers: on one machine, at one thread count, it is the same bytes
every time. On another machine it is not: another float summation order (thread count) or other
kernels (another CPU's instruction set) round every evaluation differently in its last bits, and
L-BFGS amplifies that. The pipeline's noise repeats (nst_pipeline.repeats) need a chance of that size
for content-init runs: the engine's `init_nudge` k > 0 moves every value of the start image by a few
float steps in a pattern seeded by k (nst.images.nudge). How many steps? This script compares, for
chelsea x starry night (bundled VGG19, 128 px, content init, --iterations L-BFGS iterations), each run
in a fresh process:

  nudges     init_nudge 1..N at 1 thread, native kernels (nudge 0 is the base run), each start value
             moved by 1 float step, by 64 and (k = 1, 2 only) by 4096; the script sets the size itself
             (it patches nst.images.nudge to x + n (nextafter(x, the seeded direction) - x))
  threads    the base run at 2 threads (another summation order)
  kernels    ATEN_CPU_CAPABILITY=default + ONEDNN_MAX_CPU_ISA=SSE41, =avx2 + AVX2, and on a machine
             with AVX-512 =avx512 + AVX512_CORE (another machine's kernels, played here)
  seeds      gaussian init (the study's grey-level noise), seeds 0..S-1: the noise inits' chance

and prints each run's final loss and pairwise perceptual distance to the base run, then per metric
the sample SD of each group (the nudges with the base run; the machine variants' distinct images with
it) and each group's mean pairwise perceptual distance. Runs are cached in results/bench_repeat_chance/
(delete it to remake them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's nst, not whichever one the venv has installed

CONTENT = ROOT / "data/content/chelsea.jpg"
STYLE = ROOT / "data/style/starry_night.jpg"
OUT = ROOT / "results/bench_repeat_chance"
BASE = {"weights": "bundled", "height": 128, "init_method": "content", "threads": 1, "device": "cpu"}
METRICS = ("content_ssim", "style_distance", "style_distance_effnet", "palette_distance", "init_change")
STEPS = "NST_BENCH_NUDGE_STEPS"  # the nudge's size in float steps, for the run's process (default 1)
SIZES = (1, 64, 4096)
KERNELS = {  # name -> environment (read once, when torch starts: hence a fresh process per run)
    "default": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
}
# the run's process: this script's nudge of n float steps in the engine's seeded directions
CODE = (
    "import json, os, sys, torch, nst, nst.images as im; p = json.loads(sys.argv[1]); "
    f"n = int(os.environ.get('{STEPS}', '1')); "
    "im.nudge = lambda x, k: x + n * (torch.nextafter(x, im.nudge_towards(x, k)) - x) if k else x; "
    "nst.stylize(sys.argv[2], sys.argv[3], sys.argv[4], progress=False, **p)"
)


def variants(iterations: int, nudges: int, seeds: int) -> dict[str, tuple[str, dict, dict]]:
    """name -> (group, stylize overrides, environment)."""
    found = {"base": ("nudge x1", {}, {})}
    for steps in SIZES:
        suffix, env = ("", {}) if steps == 1 else (f" x{steps}", {STEPS: str(steps)})
        count = nudges if steps < 4096 else 2
        found |= {f"nudge {k}{suffix}": (f"nudge x{steps}", {"init_nudge": k}, env) for k in range(1, count + 1)}
    found["threads 2"] = ("machine", {"threads": 2}, {})
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    for name, environment in KERNELS.items():
        if name != "avx512" or "avx512f" in flags:
            found[f"kernels {name}"] = ("machine", {}, environment)
    seeded = {"init_method": "gaussian", "noise_units": "grey_levels"}
    found |= {f"gaussian seed {s}": ("seeds", seeded | {"seed": s}, {}) for s in range(seeds)}
    return {name: (group, BASE | {"iterations": iterations} | over, env) for name, (group, over, env) in found.items()}


def make(name: str, params: dict, environment: dict) -> Path:
    """The run in a fresh Python (kernel switches are read at start-up), cached by its settings."""
    key = hashlib.sha256(json.dumps([params, environment], sort_keys=True).encode()).hexdigest()[:12]
    out = OUT / f"{name.replace(' ', '_')}_{key}.png"
    if out.is_file() and out.with_suffix(".json").is_file():
        return out
    OUT.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"OMP_NUM_THREADS": str(params["threads"]), "PYTHONPATH": str(ROOT)} | environment
    command = [sys.executable, "-c", CODE, json.dumps(params), str(CONTENT), str(STYLE), str(out)]
    subprocess.run(command, check=True, env=env, cwd=ROOT)
    print(f"made {name}", flush=True)
    return out


def sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--nudges", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    plan = variants(args.iterations, args.nudges, args.seeds)
    made = {name: make(name, params, env) for name, (_, params, env) in plan.items()}

    import numpy as np
    import torch

    from nst_pipeline import metrics

    torch.set_num_threads(1)
    judge, second = metrics.load_judge("vgg19"), metrics.load_judge("efficientnet_lite0")
    rows, records, pixels = {}, {}, {}
    for name, path in made.items():
        records[name] = json.loads(path.with_suffix(".json").read_text())
        initial = metrics.initial_image(records[name], CONTENT, STYLE)
        rows[name] = metrics.measure(
            path, CONTENT, STYLE, initial, judge=judge, second_judge=second, record=records[name]
        )
        pixels[name] = metrics.read_rgb(path)
    groups: dict[str, list[str]] = {}
    for name, (group, _, _) in plan.items():
        groups.setdefault(group, []).append(name)
    # the machine variants' distinct images (a switch that changes nothing here gives the base's pixels)
    same = [n for n in groups["machine"] if np.array_equal(pixels[n], pixels["base"])]
    machine = ["base"] + [n for n in groups["machine"] if n not in same]
    print(f"\n{args.iterations} iterations, 128 px, content init unless named; the base run's pixels: {same or 'none'}")

    compared = [n for n in made if n != "base" and not n.startswith("gaussian")]
    distances = metrics.pairwise_distances([made["base"], *(made[n] for n in compared)], judge)
    to_base = {n: row["perceptual"] for n, row in zip(compared, distances)}  # rows (0, i) come first
    base_final = records["base"]["final_losses"]["total"]
    print(f"\n{'run':<20s} {'final loss vs base':>18s} {'perceptual to base':>18s}")
    for name in compared:
        final_rel = records[name]["final_losses"]["total"] / base_final - 1
        print(f"{name:<20s} {final_rel:18.2e} {to_base[name]:18.4f}")

    columns = {f"nudge x{n}": (["base"] if n > 1 else []) + groups[f"nudge x{n}"] for n in SIZES}
    columns |= {"machine": machine, "seeds": groups["seeds"]}
    print("\nSD per metric; samples: " + ", ".join(f"{k} {len(v)}" for k, v in columns.items()))
    print(f"{'metric':<22s} " + " ".join(f"{k:>12s}" for k in columns))
    for key in METRICS:
        print(f"{key:<22s} " + " ".join(f"{sd([rows[n][key] for n in names]):12.4f}" for names in columns.values()))
    mean_pairs = [
        statistics.fmean(r["perceptual"] for r in metrics.pairwise_distances([made[n] for n in names], judge))
        for name, names in columns.items()
        if name != "seeds"
    ]
    print(f"{'perceptual, mean pair':<22s} " + " ".join(f"{v:12.4f}" for v in mean_pairs))


if __name__ == "__main__":
    main()
