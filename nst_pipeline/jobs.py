"""What the pipeline's jobs do, as plain functions (workflow/scripts/ only unpack `snakemake` and call these)."""

from __future__ import annotations

import json
import tempfile
import time
import traceback
from pathlib import Path

from nst.api import stylize
from nst.errors import NSTInterrupted
from nst.images import atomic_write_bytes
from nst_pipeline import paths


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


def run_status(run: str) -> dict:
    """Status of one run from what is on disk: ok (image + sidecar), failed (a failure record), missing."""
    image, sidecar = Path(paths.run_image(run)), Path(paths.run_sidecar(run))
    if image.is_file() and sidecar.is_file():
        return {"status": "ok", "image": image, "record": json.loads(sidecar.read_text()), "error": None}
    failure = Path(paths.failure_record(run))
    if failure.is_file():
        return {"status": "failed", "image": None, "record": None, "error": json.loads(failure.read_text())["error"]}
    return {"status": "missing", "image": None, "record": None, "error": "not run (yet)"}


def grid_runs(entries: list[dict]) -> list[dict]:
    """The plan's entries for one experiment and pair, with their on-disk status, in grid order."""
    return [
        {"run_id": entry["run"], "label": entry["label"], "row": entry["row"], "varied_values": entry["varied_values"]}
        | run_status(entry["run"])
        for entry in entries
    ]


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

    make_grid(Path(content), Path(style), grid_runs(entries), grid_title(experiment, pair), Path(out))


def write_report(plan: dict, out: Path, title: str) -> None:
    """The HTML report from whatever is on disk. Grids the pipeline has not made (because a run failed)
    are drawn here into a temporary folder, with the failed runs' tiles marked; the page embeds them."""
    from nst_pipeline.grid import make_grid
    from nst_pipeline.report import build_report

    experiments = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, experiment in plan.items():
            grids, runs = [], []
            for pair in experiment["pairs"]:
                pair_runs = grid_runs(experiment["runs"][pair])
                for run in pair_runs:
                    run |= {"experiment": name, "pair": pair}
                runs += pair_runs
                grid = Path(paths.grid_image(name, pair))
                if not grid.is_file() or any(run["status"] != "ok" for run in pair_runs):
                    grid = Path(scratch) / f"{name}__{pair}.png"
                    ok = next((r for r in pair_runs if r["status"] == "ok"), None)
                    content, style = _pair_images(ok, pair)
                    if content and style:
                        make_grid(content, style, pair_runs, grid_title(name, pair), grid)
                    else:
                        grid = None
                if grid is not None:
                    grids.append(grid)
            experiments.append(
                {
                    "name": name,
                    "claim": experiment["claim"],
                    "varied": experiment["varied"],
                    "grids": grids,
                    "runs": runs,
                }
            )
        build_report(experiments, Path(out), title=title)


def _pair_images(ok_run: dict | None, pair: str) -> tuple[Path | None, Path | None]:
    """Content and style image paths of a pair, from any finished run's sidecar."""
    if ok_run is None:
        for sidecar in sorted(Path(paths.run_image(pair)).with_suffix("").glob("*.json")):
            record = json.loads(sidecar.read_text())
            return Path(record["content_image"]), Path(record["style_image"])
        return None, None
    return Path(ok_run["record"]["content_image"]), Path(ok_run["record"]["style_image"])
