#!/usr/bin/env python3
"""When has a run converged enough for the findings' verdicts (nst_pipeline/findings.py)?

    OMP_NUM_THREADS=2 .venv/bin/python bench/calibrate_convergence.py

The verdict rule calls a run converged when its total loss fell by less than CONVERGED_FALL over the
last 10% of its iterations. This script calibrates that threshold: the same run (chelsea x starry
night, bundled VGG19, 128 px - the yardstick's validation scale) with more and more L-BFGS
iterations (cached in results/calibrate_convergence/), for content init and for the study's
gaussian init (noise in grey levels), and prints for each length the rule's quantity (the fall over
the last tenth) and how far each yardstick metric still is from the longest run, in noise margins
(findings.margin: 3 x NOISE_SCALE). A threshold is safe when every run below it is within one
margin of the longest run on every metric.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's nst, not whichever one the venv has installed

import nst  # noqa: E402
from nst_pipeline import findings, metrics  # noqa: E402

CONTENT = ROOT / "data/content/chelsea.jpg"
STYLE = ROOT / "data/style/starry_night.jpg"
OUT = ROOT / "results/calibrate_convergence"
BASE = {"weights": "bundled", "height": 128}
INITS = {"content": {"init_method": "content"}, "gaussian": {"init_method": "gaussian", "noise_units": "grey_levels"}}
LENGTHS = (50, 100, 200, 400, 800, 1600)
METRICS = ("content_ssim", "style_distance", "style_distance_effnet", "palette_distance", "init_change")


def make_run(init: str, iterations: int, threads: int) -> tuple[Path, dict]:
    out = OUT / f"{init}_it{iterations}.png"
    if not (out.is_file() and out.with_suffix(".json").is_file()):
        arguments = BASE | INITS[init] | {"iterations": iterations, "threads": threads, "device": "cpu"}
        result = nst.stylize(CONTENT, STYLE, out, progress=False, **arguments)
        print(f"made {out.name}: {result.record['wall_time_s']} s", flush=True)
    return out, json.loads(out.with_suffix(".json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    judge, second = metrics.load_judge("vgg19"), metrics.load_judge("efficientnet_lite0")
    margins = {key: findings.margin(key) for key in METRICS}
    print("margins (3 x NOISE_SCALE): " + ", ".join(f"{k} {v:.3g}" for k, v in margins.items()))
    worst_safe = {}
    for init in INITS:
        rows = {}
        for n in LENGTHS:
            path, record = make_run(init, n, args.threads)
            initial = metrics.initial_image(record, CONTENT, STYLE)
            row = metrics.measure(path, CONTENT, STYLE, initial, judge=judge, second_judge=second, record=record)
            rows[n] = (findings.convergence(record), row)
        longest = rows[LENGTHS[-1]][1]
        print(f"\n{init} init: distance to the {LENGTHS[-1]}-iteration run, in margins")
        print(f"{'iterations':>10s} {'tail fall':>10s} " + " ".join(f"{k[:14]:>14s}" for k in METRICS) + "  worst")
        for n, (fit, row) in rows.items():
            far = {k: abs(row[k] - longest[k]) / margins[k] for k in METRICS}
            values = " ".join(f"{row[k]:7.3f} ({far[k]:4.1f})" for k in METRICS)
            print(f"{n:10d} {fit.fall:10.2%} {values}  {max(far.values()):.1f}")
            worst_safe[(init, n)] = (fit.fall, max(far.values()))
    print("\nruns within one margin of the longest run on every metric: tail falls")
    print(", ".join(f"{i} {n}: {f:.2%}" for (i, n), (f, w) in worst_safe.items() if w <= 1 and n != LENGTHS[-1]))
    print("runs farther: tail falls")
    print(", ".join(f"{i} {n}: {f:.2%} ({w:.1f} margins)" for (i, n), (f, w) in worst_safe.items() if w > 1))


if __name__ == "__main__":
    main()
