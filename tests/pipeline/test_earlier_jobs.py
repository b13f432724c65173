"""nst_pipeline.earlier_jobs: the onstart check that refuses to start beside an earlier Snakemake's jobs
(the real thing, a SIGKILLed Snakemake on the test cluster: bench/bench_slurm_sweep.py)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from nst_pipeline.earlier_jobs import earlier_jobs_still_queued, recorded_job_ids, refusal


def _marks(incomplete: Path, ids: dict[str, str | None]) -> None:
    """Snakemake's incomplete marks: one file per output, named by the base64 of its path."""
    incomplete.mkdir(parents=True)
    for output, job_id in ids.items():
        name = base64.b64encode(output.encode()).decode()
        (incomplete / name).write_text(json.dumps({"external_jobid": job_id}))


def _squeue(tmp_path: Path, listed: list[str]) -> str:
    """A fake squeue that lists `listed` and notes that it was asked."""
    script = tmp_path / "squeue"
    script.write_text(f"#!/bin/sh\ntouch {tmp_path / 'asked'}\nprintf '%s\\n' {' '.join(listed)}\n")
    script.chmod(0o755)
    return str(script)


def test_jobs_recorded_and_still_listed_are_named(tmp_path):
    incomplete = tmp_path / ".snakemake/incomplete"
    _marks(incomplete, {"a.png": "41", "a.json": "41", "b.png": "42_3", "c.png": "7", "d.png": None})
    (incomplete / "migration_underway").write_text("")  # not JSON: skipped
    assert recorded_job_ids(incomplete) == {"41", "42_3", "7"}
    squeue = _squeue(tmp_path, ["41", "42_3", "99"])  # 7 has ended; 99 is someone else's
    assert earlier_jobs_still_queued(incomplete, squeue) == ["41", "42_3"]
    message = refusal(["41", "42_3"])
    assert "squeue -j 41,42_3" in message and "scancel 41 42_3" in message


def test_no_recorded_job_asks_slurm_nothing(tmp_path):
    incomplete = tmp_path / ".snakemake/incomplete"
    _marks(incomplete, {"a.png": None})  # a local job's mark
    squeue = _squeue(tmp_path, ["41"])
    assert earlier_jobs_still_queued(incomplete, squeue) == []
    assert earlier_jobs_still_queued(tmp_path / "none", squeue) == []
    assert not (tmp_path / "asked").exists()


def test_without_squeue_nothing_is_refused(tmp_path):
    incomplete = tmp_path / ".snakemake/incomplete"
    _marks(incomplete, {"a.png": "41"})
    assert earlier_jobs_still_queued(incomplete, str(tmp_path / "no-squeue-here")) == []
