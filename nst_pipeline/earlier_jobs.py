"""Refuse to start while SLURM jobs of an earlier Snakemake in the same directory are still queued or running.

Snakemake marks the outputs of every job it submits as incomplete until the job has ended, and records
the job's SLURM id with the mark (`.snakemake/incomplete/`, one small JSON file per output:
`{"external_jobid": "<id>"}`; Snakemake 9's file persistence). A Snakemake that ends normally, or is
stopped with Ctrl-C or SIGTERM, leaves none of its jobs behind. One killed hard (SIGKILL, a lost login
node) leaves the marks and its jobs: they run on, queued ones start later, and each records its run as
finished when it ends. Snakemake 9 does not adopt such jobs: started again (after `--unlock`), it takes
their runs for incomplete (`rerun-incomplete`) and submits them a second time, beside the old jobs -
two copies of a run writing the same files. The pipeline's onstart hook (workflow/rules/stylize.smk)
refuses that start, naming the jobs to wait for or cancel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path


def recorded_job_ids(incomplete: Path) -> set[str]:
    """The SLURM ids that Snakemake's incomplete marks name (none for local jobs: their id is null)."""
    ids = set()
    if not incomplete.is_dir():
        return ids
    for mark in incomplete.rglob("*"):
        try:
            job_id = json.loads(mark.read_text()).get("external_jobid") if mark.is_file() else None
        except (OSError, ValueError, AttributeError):
            continue
        if job_id:
            ids.add(str(job_id))
    return ids


def queued_job_ids(squeue: str = "squeue") -> set[str] | None:
    """The ids of this user's jobs that SLURM still lists (array tasks one by one, as `<array>_<task>`);
    None where squeue is missing or fails."""
    if shutil.which(squeue) is None:
        return None
    try:
        listed = subprocess.run([squeue, "--me", "-h", "-r", "-o", "%i"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(listed.stdout.split()) if listed.returncode == 0 else None


def earlier_jobs_still_queued(incomplete: Path, squeue: str = "squeue") -> list[str]:
    """The SLURM jobs recorded in `incomplete` (Snakemake's incomplete marks) that SLURM still lists."""
    recorded = recorded_job_ids(incomplete)
    if not recorded:
        return []  # the common case: no squeue call at all
    queued = queued_job_ids(squeue)
    return sorted(recorded & queued, key=lambda i: (len(i), i)) if queued else []


def refusal(job_ids: list[str]) -> str:
    ids = ",".join(job_ids)
    return (
        f"{len(job_ids)} SLURM job(s) of an earlier Snakemake in this directory are still queued or running "
        f"({ids}); their runs are marked incomplete, and this Snakemake would submit them a second time, "
        f"beside them. Wait until `squeue -j {ids}` lists none of them (they record their runs when they "
        f"finish), or cancel them (`scancel {' '.join(job_ids)}`), then start again."
    )
