"""The measure jobs: the fixed yardstick (nst_pipeline.metrics) on finished runs.

- measure_run_job: one run -> results/metrics/<run>.json (rule measure, one job per run);
- measure_pairs_job: perceptual/SSIM/palette distances between every two runs of one experiment and
  pair -> results/metrics/pairs/<experiment>/<pair>.json (rule measure_pairs).

Each measures the final images and the milestone images (nst.milestones: the run's image after B/8,
B/4, B/2 of its B iterations) alike, as "budgets" ordered by fraction of the budget, the final (1.0)
included. Both are CPU jobs (no GPU: a judge at 128 px is a few forward passes) that load their judges
once and compute each reference image's features once.
The rules (workflow/rules/measure.smk) call these in Snakemake's own process (`run:`): the judges are
loaded once per process (metrics.load_judge), not once per run. The rules' code fingerprint is this
module's import closure and the rule file (nst_pipeline.fingerprints.measure).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from nst.images import atomic_write_bytes
from nst_pipeline import metrics
from nst_pipeline.formatting import plural
from nst_pipeline.job_log import job_log


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


FINAL_FRACTION = 1.0


def milestone_images(record: dict, sidecar: str | Path) -> dict[float, tuple[int, Path]]:
    """{fraction: (iteration, image)} of a run from its sidecar: its milestones (paths relative to the
    sidecar's folder) and the final image at fraction 1.0 (the output beside the sidecar)."""
    folder = Path(sidecar).parent
    budgets = {m["fraction"]: (m["iteration"], folder / m["image"]) for m in record.get("milestones", [])}
    return budgets | {FINAL_FRACTION: (record["parameters"]["iterations"], folder / record["output"])}


def measure_run_job(
    run: str,
    image: str,
    sidecar: str,
    content: str,
    style: str | list[str],
    out: str,
    *,
    height: int,
    threads: int = 1,
    say: Callable[[str], None] = print,
) -> dict:
    """Every yardstick number of one finished run, written to `out` as
    {"run", "judge": {...}, "style_reference", "metrics": metrics.measure()'s row of the final image,
    "budgets": [{"fraction", "iteration", "metrics": row}, ...]} - one entry per milestone and the
    final image (fraction 1.0, its row equal to "metrics"), ordered by fraction. A milestone's
    init_change is that image's change from the run's start; its loss shares end at its own losses.
    A blend's distances are to its first style image (metrics compare with one image)."""
    started = time.perf_counter()
    torch.set_num_threads(threads)  # 1 by default: float sums in one order, so metrics repeat exactly
    record = json.loads(Path(sidecar).read_text(encoding="utf-8"))
    styles = _style_list(style)
    judge = metrics.load_judge("vgg19", height)
    second = metrics.load_judge("efficientnet_lite0", height)
    initial = metrics.initial_image(record, Path(content), styles if len(styles) > 1 else styles[0])
    yardstick = metrics.RunYardstick(
        metrics.read_rgb(Path(content)), metrics.read_rgb(styles[0]), initial, judge=judge, second_judge=second
    )
    row = yardstick.measure(metrics.read_rgb(Path(image)), record)
    losses = {m["iteration"]: m["losses"] for m in record.get("milestones", [])}
    budgets = []
    for fraction, (iteration, path) in sorted(milestone_images(record, sidecar).items()):
        if fraction == FINAL_FRACTION:
            here = row
        else:  # the sidecar as if this image were the result: its loss shares end at its own losses
            here = yardstick.measure(metrics.read_rgb(path), record | {"final_losses": losses[iteration]})
        budgets.append({"fraction": fraction, "iteration": iteration, "metrics": here})
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
        "budgets": budgets,
    }
    _write_json(out, payload)
    images = f"{len(budgets)} image{plural(len(budgets))}"
    say(f"measured {run} ({images}) at judge height {height} px in {time.perf_counter() - started:.1f} s")
    return payload


def measure_pairs_job(
    runs: list[str],
    images: list[str],
    sidecars: list[str],
    out: str,
    *,
    height: int,
    threads: int = 1,
    say: Callable[[str], None] = print,
) -> list[dict]:
    """Distances between every two distinct runs (metrics.pairwise_distances), rows naming the runs:
    [{"a": run, "b": run, "perceptual", "ssim", "palette"}], at every fraction of the budget that all
    the runs have (their milestones, and 1.0: the final images). Written to `out` as {"judge_height",
    "pairs": the final rows, "budgets": [{"fraction", "pairs": rows}, ...] ordered by fraction}."""
    torch.set_num_threads(threads)
    # a run listed twice (two sweeps, same parameters) counts once
    distinct = {run: (image, sidecar) for run, image, sidecar in zip(runs, images, sidecars)}
    judge = metrics.load_judge("vgg19", height)
    by_run = {
        run: milestone_images(json.loads(Path(sidecar).read_text(encoding="utf-8")), sidecar)
        | {FINAL_FRACTION: (None, Path(image))}
        for run, (image, sidecar) in distinct.items()
    }
    shared = set.intersection(*(set(fractions) for fractions in by_run.values()))
    budgets = []
    for fraction in sorted(shared):
        rows = metrics.pairwise_distances([by_run[run][fraction][1] for run in distinct], judge)
        named = [row | {"a": a, "b": b} for row, (a, b) in zip(rows, itertools.combinations(distinct, 2))]
        budgets.append({"fraction": fraction, "pairs": named})
    final = budgets[-1]["pairs"]
    _write_json(out, {"judge_height": height, "pairs": final, "budgets": budgets})
    say(f"{len(final)} pairs of {len(distinct)} runs at {len(budgets)} budgets, judge height {height} px")
    return final


# ---- the `run:` blocks of workflow/rules/measure.smk: the rule's input, output and log as Snakemake
# gives them (short blocks: Snakemake's linter asks for a handful of lines)


def measure_rule(run: str, inputs, out: str, log: str, *, height: int, threads: int) -> None:
    """Rule measure: measure_run_job on the rule's input (image, sidecar, content, style); its message,
    or its traceback, in `log`."""
    with job_log(log) as say:
        image, sidecar, content, style = inputs.image, inputs.sidecar, inputs.content, inputs.style
        measure_run_job(run, image, sidecar, content, style, out, height=height, threads=threads, say=say)


def measure_pairs_rule(runs: list[str], inputs, out: str, log: str, *, height: int, threads: int) -> None:
    """Rule measure_pairs: measure_pairs_job on the rule's input (images, sidecars); its message, or
    its traceback, in `log`."""
    with job_log(log) as say:
        images, sidecars = list(inputs.images), list(inputs.sidecars)
        measure_pairs_job(list(runs), images, sidecars, out, height=height, threads=threads, say=say)
