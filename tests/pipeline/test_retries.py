"""Retries: a run that failed deterministically (bad input: the CLI's exit 2; non-finite
loss: exit 3) is not run again by a retry of the same invocation; anything else, and a run stopped by
SIGTERM (checkpointed), is."""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml
from pipeline_helpers import REPO, html_element, snakemake

from nst.errors import NSTInterrupted, NSTNumericalError, NSTWeightsError
from nst_pipeline import jobs

PARAMS = {"model": "vgg19", "weights": "bundled", "height": 32, "seed": 0}
CODE = "engine-fingerprint-1"


@pytest.fixture
def job(tmp_path, monkeypatch):
    """job(attempt, error=None, code=CODE, params=PARAMS): one stylize job whose engine raises `error`
    (or succeeds). job.calls: the engine's calls so far; job.record: the failure record's path."""
    calls, raising = [], []
    record = tmp_path / "failed/run.json"

    def fake_stylize(*args, **kwargs):
        calls.append(kwargs)
        if raising[-1] is not None:
            raise raising[-1]

    monkeypatch.setattr(jobs, "stylize", fake_stylize)

    def run(attempt, error=None, code=CODE, params=PARAMS):
        raising.append(error)
        arguments = dict(device="cpu", threads=1, checkpoint_every=0, failure_record=str(record))
        jobs.run_stylize_job(
            params, "c.jpg", "s.jpg", str(tmp_path / "run.png"), **arguments, code=code, attempt=attempt
        )

    run.calls, run.record = calls, record
    return run


def _record(job) -> dict:
    return json.loads(job.record.read_text())


@pytest.mark.parametrize(
    ("error", "exit_code"),
    [(NSTWeightsError("weights broken.pth: not a state dict"), 2), (NSTNumericalError("nan"), 3)],
)
def test_a_deterministic_failure_is_not_run_again_by_its_retries(job, error, exit_code):
    with pytest.raises(type(error)):
        job(1, error)
    first = _record(job)
    assert first["deterministic"] and first["exit_code"] == exit_code and first["attempt"] == 1
    for attempt in (2, 3):
        with pytest.raises(jobs.RepeatedFailure, match=f"attempt 1 failed deterministically.*{error}"):
            job(attempt, error)
    assert len(job.calls) == 1  # the engine ran once
    last = _record(job)
    assert last["error"] == first["error"] and last["traceback"] == first["traceback"]  # the report shows the cause
    assert last["attempt"] == 3 and last["first_attempt"] == 1


@pytest.mark.parametrize("error", [RuntimeError("CUDA out of memory"), OSError("disk full"), MemoryError()])
def test_other_failures_are_retried(job, error):
    with pytest.raises(type(error)):
        job(1, error)
    assert not _record(job)["deterministic"]
    with pytest.raises(type(error)):
        job(2, error)
    assert len(job.calls) == 2


def test_an_interrupted_run_leaves_no_record_and_its_retry_runs(job):
    with pytest.raises(NSTInterrupted):
        job(1, NSTInterrupted("SIGTERM: checkpointed", 15))
    assert not job.record.exists()
    job(2)  # resumes (the engine finds its checkpoint) and succeeds
    assert len(job.calls) == 2 and not job.record.exists()


def test_a_retry_with_other_code_or_parameters_runs(job):
    error = NSTWeightsError("weights broken.pth: not a state dict")
    with pytest.raises(NSTWeightsError):
        job(1, error)
    job(2, code="engine-fingerprint-2")  # the engine changed: it runs (and succeeds)
    assert len(job.calls) == 2 and not job.record.exists()
    with pytest.raises(NSTWeightsError):
        job(1, error)
    job(2, params=PARAMS | {"seed": 1})
    assert len(job.calls) == 4


def test_a_new_invocation_tries_again(job):
    error = NSTWeightsError("weights broken.pth: not a state dict")
    with pytest.raises(NSTWeightsError):
        job(1, error)
    for attempt in (2, 3):
        with pytest.raises(jobs.RepeatedFailure):
            job(attempt, error)
    assert len(job.calls) == 1
    job(1)  # next invocation, cause fixed: attempt 1 runs whatever the record says
    assert len(job.calls) == 2 and not job.record.exists()
    # a record an earlier invocation left on its last attempt does not stop a later retry either
    job.record.parent.mkdir(exist_ok=True)
    job.record.write_text(json.dumps(jobs._failure("x", error, CODE, PARAMS, attempt=3)))
    job(2)
    assert len(job.calls) == 3


def test_deterministic_failure_reads_the_record(job, tmp_path):
    with pytest.raises(NSTWeightsError):
        job(1, NSTWeightsError("broken"))
    assert jobs.deterministic_failure(job.record, CODE, PARAMS, attempt=1) is None  # a first attempt always runs
    assert jobs.deterministic_failure(job.record, CODE, PARAMS, attempt=2)["exit_code"] == 2
    assert jobs.deterministic_failure(tmp_path / "none.json", CODE, PARAMS, attempt=2) is None


@pytest.mark.slow
def test_pipeline_retries_run_a_bad_weights_run_once(tmp_path):
    """`--retries 2` with a broken weights file: Snakemake starts the job 3 times, the engine loads weights
    once; the retries refuse at once."""
    bad_weights = tmp_path / "broken.pth"
    bad_weights.write_bytes(b"not a state dict")
    config = yaml.safe_load((REPO / "tests/configs/tiny.yaml").read_text())
    config["run_experiments"] = ["init"]
    config["experiments"]["init"]["sweeps"] = [
        {"set": {"weights": str(bad_weights)}, "vary": {"init_method": ["content"]}}
    ]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    work = tmp_path / "work"
    result = snakemake(work, "--configfile", str(path), "--retries", "2", "--resources", "gpu=1", "--keep-going")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert output.count("Trying to restart job") == 2, output[-3000:]
    # one real attempt (the weights loader ran once), then two refusals
    assert output.count('nst/weights.py", line') == 2, output[-5000:]  # load_network -> _load_file
    assert output.count("RepeatedFailure: not run again: attempt 1 failed deterministically (exit class 2)") == 2
    assert re.findall(r"^ +resources: .*attempt=(\d)", output, re.M) == ["1", "2", "3"]
    # Snakemake deletes a job's log before each try; the rule's log still shows all three
    [log] = (work / "results/logs/stylize").rglob("*[0-9].log")
    text = log.read_text()
    assert text.count("---- attempt started") == 3, text[-3000:]
    assert text.count('nst/weights.py", line') == 2, text  # one load: load_network -> _load_file
    assert text.count("RepeatedFailure: not run again") == 2, text
    assert log.with_suffix(".attempts.log").read_text() == text  # kept: the run has not succeeded
    [record] = (work / "results/failed").rglob("*.json")
    error = json.loads(record.read_text())["error"]
    assert error.startswith("NSTWeightsError: ") and "broken.pth" in error  # the cause, not a retry's refusal
    # the report lists the run as failed, with that error (its all-runs table names the weights file
    # of every planned run, failed or not, so "broken.pth" somewhere on the page proves nothing)
    failures = html_element((work / "results/report.html").read_text(), "failures")
    assert failures is not None
    run = record.relative_to(work / "results/failed").with_suffix("").as_posix()
    assert f"failed run id: {run} NSTWeightsError: " in failures.text, failures.text
    assert " ".join(error.split()) in failures.text, failures.text


# --- the stylize job's log keeps earlier attempts (workflow/scripts/_helpers.logged_to) ---


def _logged_to():
    import sys

    sys.path.insert(0, str(REPO / "workflow/scripts"))
    from _helpers import logged_to

    return logged_to


def test_a_log_starts_with_what_earlier_attempts_printed(tmp_path):
    logged_to = _logged_to()
    log, history = tmp_path / "run.log", tmp_path / "run.attempts.log"
    with pytest.raises(NSTInterrupted), logged_to(str(log), earlier_attempts=str(history)):
        print("first try")
        raise NSTInterrupted("stopped by signal SIGTERM after iteration 7", 15)
    assert "first try" in history.read_text() and "after iteration 7" in history.read_text()
    log.unlink()  # what Snakemake does before the next try
    with logged_to(str(log), earlier_attempts=str(history)):
        print("second try")
    text = log.read_text()
    assert text.count("---- attempt started") == 2
    assert text.index("first try") < text.index("after iteration 7") < text.index("second try")
    assert not history.exists()  # the run succeeded: its log has it all


def test_each_try_names_its_attempt_and_slurm_job(tmp_path, monkeypatch):
    """The header line of a try: Snakemake's attempt, the SLURM job as sacct names it, the process; the
    record of starts keeps every try's line, also after a later try replaced the log."""
    logged_to = _logged_to()
    log, history, starts = tmp_path / "run.log", tmp_path / "run.attempts.log", tmp_path / "run.starts"
    for name in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(NSTInterrupted), logged_to(str(log), str(history), attempt=1, starts=str(starts)):
        raise NSTInterrupted("stopped by signal SIGTERM after iteration 7", 15)
    monkeypatch.setenv("SLURM_JOB_ID", "1236")
    with pytest.raises(NSTInterrupted), logged_to(str(log), str(history), attempt=2, starts=str(starts)):
        raise NSTInterrupted("stopped by signal SIGTERM after iteration 9", 15)
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "1234")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    with logged_to(str(log), str(history), attempt=3, starts=str(starts)):
        pass
    header = r"^---- attempt started [0-9-]+ [0-9:]+ \((.*)\) ----$"
    expected = ["attempt 1", "attempt 2, SLURM job 1236", "attempt 3, SLURM job 1234_3"]
    assert [h.split(", pid")[0] for h in re.findall(header, log.read_text(), re.M)] == expected
    log.unlink()  # a retry after a try that succeeded: Snakemake deletes the log, the history is gone
    with logged_to(str(log), str(history), attempt=4, starts=str(starts)):
        pass
    assert [h.split(", pid")[0] for h in re.findall(header, log.read_text(), re.M)] == ["attempt 4, SLURM job 1234_3"]
    recorded = re.findall(header, starts.read_text(), re.M)  # every start
    assert [h.split(", pid")[0] for h in recorded] == [*expected, "attempt 4, SLURM job 1234_3"]
    assert all(f"pid {os.getpid()} on " in h for h in recorded) and len(starts.read_text().splitlines()) == 4


def test_other_logs_hold_only_their_own_try(tmp_path):
    logged_to = _logged_to()
    log = tmp_path / "grid.log"
    log.write_text("old text\n")
    with logged_to(str(log)):
        print("new text")
    assert log.read_text() == "new text\n"
