"""What the pipeline's jobs do, as plain functions (workflow/scripts/ only unpack `snakemake` and call these)."""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Iterable
from pathlib import Path

from nst.api import stylize
from nst.errors import NSTInterrupted
from nst.images import atomic_write_bytes
from nst_pipeline import paths
from nst_pipeline.outcome import RunOutcome, load_outcomes


def run_stylize_job(
    params: dict,
    content: str,
    style: str,
    image: str,
    *,
    device: str,
    threads: int,
    checkpoint_every: int,
    failure_record: str,
) -> None:
    """One run of the matrix. A failure is recorded (for the report) and re-raised, so Snakemake marks
    only this job failed and, with keep-going, the others go on; the next invocation retries it."""
    try:
        stylize(content, style, image, **params, device=device, threads=threads, checkpoint_every=checkpoint_every)
    except NSTInterrupted:
        raise  # pre-empted, not failed: the checkpoint resumes it
    except BaseException as error:
        record = {
            "run": image,
            "error": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        atomic_write_bytes(Path(failure_record), json.dumps(record, indent=1).encode())
        raise
    Path(failure_record).unlink(missing_ok=True)


def grid_title(experiment: str, pair: str) -> str:
    content, style = pair.split("__", 1)
    return f"{experiment}: {content} x {style}"


def write_grid(
    experiment: str,
    pair: str,
    entries: list[dict],
    content: str,
    style: str,
    out: Path,
) -> None:
    from nst_pipeline.grid import make_grid

    outcomes = load_outcomes(experiment, pair, entries)
    make_grid(Path(content), Path(style), outcomes, grid_title(experiment, pair), Path(out))


def write_report(plan: dict, out: Path, title: str) -> None:
    """The HTML report from whatever is on disk (each run's files read once). A pair whose grid the
    pipeline has not made (because a run failed) gets one drawn here, with the failed runs' tiles marked."""
    from nst_pipeline.report import ExperimentResults, build_report

    seen: dict[str, RunOutcome] = {}
    outcomes = {
        name: {pair: load_outcomes(name, pair, experiment["runs"][pair], seen) for pair in experiment["pairs"]}
        for name, experiment in plan.items()
    }
    experiments = [
        ExperimentResults(
            name=name,
            claim=experiment["claim"],
            varied=list(experiment["varied"]),
            runs=[run for pair in experiment["pairs"] for run in outcomes[name][pair]],
            grids={pair: _grid_for_report(name, pair, outcomes[name][pair], seen) for pair in experiment["pairs"]},
        )
        for name, experiment in plan.items()
    ]
    build_report(experiments, Path(out), title=title)


def _grid_for_report(experiment: str, pair: str, runs: list[RunOutcome], seen: dict) -> bytes | None:
    """The pipeline's grid PNG where it is complete, else one drawn now; None without the pair's images."""
    from nst_pipeline.grid import grid_png

    grid = Path(paths.grid_image(experiment, pair))
    if grid.is_file() and all(run.status == "ok" for run in runs):
        return grid.read_bytes()
    content, style = _pair_images(pair, seen.values())
    if content is None or style is None:
        return None
    return grid_png(content, style, runs, grid_title(experiment, pair))


def _pair_images(pair: str, known: Iterable[RunOutcome]) -> tuple[Path | None, Path | None]:
    """Content and style image paths of a pair, from any finished run's sidecar (read already, or on disk)."""
    for run in known:
        if run.pair == pair and run.record:
            return Path(run.record["content_image"]), Path(run.record["style_image"])
    for sidecar in sorted(Path(paths.run_image(pair)).with_suffix("").glob("*.json")):
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        return Path(record["content_image"]), Path(record["style_image"])
    return None, None
