"""CPU seconds of one measure job (nst_pipeline.measure.measure_run_job), phase by phase, in one process.

    python bench/bench_measure.py results/runs/<pair>/<run>.json data/content/X.jpg data/style/Y.jpg

Phases: importing the measure code, loading the two judges, the run's start image, then measuring the
final image (its references' features computed then) and each milestone image (references reused).
CPU time (time.process_time) of this process, one thread as the measure rule uses: on a shared machine
wall time says more about the neighbours than about the code. BENCHMARKS.md has the numbers.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

START = time.process_time()
import torch  # noqa: E402

from nst_pipeline import measure, metrics  # noqa: E402

IMPORTED = time.process_time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sidecar", type=Path)
    parser.add_argument("content", type=Path)
    parser.add_argument("style", type=Path)
    parser.add_argument("--height", type=int, default=metrics.JUDGE_HEIGHT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    phases = {"import torch + measure code": IMPORTED - START}
    clock = time.process_time()

    def phase(name: str) -> None:
        nonlocal clock
        now = time.process_time()
        phases[name] = now - clock
        clock = now

    record = json.loads(args.sidecar.read_text())
    judge = metrics.load_judge("vgg19", args.height)
    second = metrics.load_judge("efficientnet_lite0", args.height)
    phase("load judges (VGG19, EfficientNet-Lite0)")
    initial = metrics.initial_image(record, args.content, args.style)
    yardstick = metrics.RunYardstick(
        metrics.read_rgb(args.content), metrics.read_rgb(args.style), initial, judge=judge, second_judge=second
    )
    phase("start image, reference images")
    images = sorted(measure.milestone_images(record, args.sidecar).items(), reverse=True)  # the final one first
    for fraction, (iteration, path) in images:
        yardstick.measure(metrics.read_rgb(path), record)
        phase(f"measure the image at {fraction:g} of the budget (iteration {iteration})")
    total = sum(phases.values())
    for name, seconds in phases.items():
        print(f"{seconds:7.2f} s  {name}")
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"{total:7.2f} s  CPU in all ({len(images)} images); load average {load}")


if __name__ == "__main__":
    main()
