"""The stylize job of the pipeline (workflow/scripts/stylize.py only unpacks `snakemake` and calls it).

The grid and report jobs live with what they draw: nst_pipeline.grid.write_grid and
nst_pipeline.report.write_report, so each rule's code fingerprint covers exactly its own code."""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path

from nst.api import stylize
from nst.errors import NSTInterrupted
from nst.images import atomic_write_bytes


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
