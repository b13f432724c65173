"""The measure jobs: the fixed yardstick (nst_pipeline.metrics) on finished runs.

- measure_run_job: one run -> results/metrics/<run>.json (rule measure, one job per run);
- measure_pairs_job: perceptual/SSIM/palette distances between every two runs of one experiment and
  pair -> results/metrics/pairs/<experiment>/<pair>.json (rule measure_pairs).

Both are CPU jobs (no GPU: a judge at 128 px is a few forward passes) that load their judges once.
workflow/scripts/measure.py and measure_pairs.py only unpack `snakemake` and call these; the rules'
code fingerprint is this module's import closure (nst_pipeline.fingerprints.measure).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path

import torch

from nst.images import atomic_write_bytes
from nst_pipeline import metrics


def judge_height(configured: int | None, run_heights: Iterable[int]) -> int:
    """The one height every run of the config is judged at: `judge_height` from the config, else the
    validation height metrics.JUDGE_HEIGHT (the noise scales were measured there), lowered to the smallest
    run's height so that no run is enlarged for the judge (metrics' resolution rule)."""
    if configured is not None:
        return int(configured)
    return min([metrics.JUDGE_HEIGHT, *run_heights])


def _write_json(path: str | Path, payload) -> None:
    atomic_write_bytes(Path(path), (json.dumps(payload, indent=1, allow_nan=True) + "\n").encode())


def _style_list(style: str | list[str]) -> list[Path]:
    return [Path(s) for s in ([style] if isinstance(style, str) else style)]


def measure_run_job(
    run: str, image: str, sidecar: str, content: str, style: str | list[str], out: str, *, height: int, threads: int = 1
) -> dict:
    """Every yardstick number of one finished run, written to `out` as
    {"run", "judge": {...}, "style_reference", "metrics": metrics.measure()'s row}.
    A blend's distances are to its first style image (metrics compare with one image)."""
    started = time.perf_counter()
    torch.set_num_threads(threads)  # 1 by default: float sums in one order, so metrics repeat exactly
    record = json.loads(Path(sidecar).read_text(encoding="utf-8"))
    styles = _style_list(style)
    judge = metrics.load_judge("vgg19", height)
    second = metrics.load_judge("efficientnet_lite0", height)
    initial = metrics.initial_image(record, Path(content), styles if len(styles) > 1 else styles[0])
    row = metrics.measure(
        Path(image), Path(content), styles[0], initial, judge=judge, second_judge=second, record=record
    )
    payload = {
        "run": run,
        "judge": {
            "height": height,
            "weights": judge.weights_label,
            "style_layers": list(judge.layer_names),
            "second_judge_weights": second.weights_label,
        },
        "style_reference": str(styles[0]),
        "metrics": row,
    }
    _write_json(out, payload)
    print(f"measured {run} at judge height {height} px in {time.perf_counter() - started:.1f} s")
    return payload


def measure_pairs_job(runs: list[str], images: list[str], out: str, *, height: int, threads: int = 1) -> list[dict]:
    """Distances between every two distinct runs (metrics.pairwise_distances), rows naming the runs:
    [{"a": run, "b": run, "perceptual", "ssim", "palette"}]; written to `out` with the judge height."""
    torch.set_num_threads(threads)
    distinct = dict(zip(runs, images))  # a run listed twice (two sweeps, same parameters) counts once
    judge = metrics.load_judge("vgg19", height)
    by_file = {Path(image).name: run for run, image in distinct.items()}
    rows = metrics.pairwise_distances([Path(image) for image in distinct.values()], judge)
    rows = [row | {"a": by_file[row["a"]], "b": by_file[row["b"]]} for row in rows]
    _write_json(out, {"judge_height": height, "pairs": rows})
    print(f"{len(rows)} pairs of {len(distinct)} runs at judge height {height} px")
    return rows
