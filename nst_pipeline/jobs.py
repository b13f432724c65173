"""The stylize job of the pipeline (workflow/scripts/stylize.py only unpacks `snakemake` and calls it).

The grid and report jobs live with what they draw: nst_pipeline.grid.write_grid and
nst_pipeline.report_job.run_report_job, so each rule's code fingerprint covers exactly its own code.

Retries. A profile's `retries` resubmits any failed job, but only some failures can go differently
the next time: a pre-empted or timed-out run (SIGTERM: checkpointed, not a failure here), a lost node,
CUDA running out of memory next to another process. A run refused for bad input (the CLI's exit 2) or
stopped by a non-finite loss (exit 3) fails again with the same code and parameters, so its failure
record says so, and a retry of it in the same Snakemake invocation fails at once from that record,
before any network or image is loaded (deterministic_failure()). A new invocation always tries again:
the cause may have been fixed. (Snakemake 9 cannot skip the resubmission itself: `retries` is one
number per rule. The retry still asks for the rule's GPU: a job array takes every task's resources
from its first job, so a retry asking for none could take the GPU from a retry that needs it.)
"""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path

import torch

from nst.api import stylize
from nst.errors import NSTInputError, NSTInterrupted, NSTNumericalError
from nst.images import atomic_write_bytes
from nst_pipeline import paths
from nst_pipeline.batches import adopt_staged_checkpoint, collect_staged, find_batch, stylize_in_batch

# error class -> the CLI's exit code for it (nst.cli): the failures a retry would only repeat
DETERMINISTIC = ((NSTInputError, 2), (NSTNumericalError, 3))


class RepeatedFailure(Exception):
    """A retry of a run whose previous attempt failed deterministically: not run again."""


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
    code: str = "",
    attempt: int = 1,
    allow_slow_bf16: bool = False,
    torch_hub: str | None = None,
    run: str | None = None,
) -> None:
    """One run of the matrix. A failure is recorded (for the report and for retries) and re-raised, so
    Snakemake marks only this job failed and, with keep-going, the others go on.

    `torch_hub`: the torch hub cache that holds the weights this run loads (`weights: imagenet`: the
    pipeline's copy, nst_pipeline.paths.TORCH_HUB, fetched by rule fetch_weights). Where the file is
    read from is not part of the run's identity: the sidecar records its sha256.

    `run`: the run's name, by which this invocation's batch plan (nst_pipeline.batches) lists it; a
    run in a batch is computed with its batch-mates. None, or a run in no batch: computed alone."""
    if torch_hub is not None:
        torch.hub.set_dir(torch_hub)  # this job's process only (a `script:` job)
    record_path = Path(failure_record)
    if attempt > 1:
        refuse_repeat(record_path, code, params, attempt)
    else:  # the first attempt of an invocation: an old record says nothing about this try
        record_path.unlink(missing_ok=True)
    options = dict(device=device, threads=threads, checkpoint_every=checkpoint_every, allow_slow_bf16=allow_slow_bf16)
    batch = find_batch(run, _as_json(params)) if run is not None else None
    try:
        if batch is None:
            _stylize_alone(run, code, content, style, image, **params, **options)
        else:
            stylize_in_batch(batch, run, image, code=code, say=print, **options)
    except NSTInterrupted:
        raise  # pre-empted or out of time, not failed: the checkpoint resumes it
    except BaseException as error:
        _write_record(record_path, _failure(image, error, code, params, attempt))
        raise
    record_path.unlink(missing_ok=True)


def _stylize_alone(run: str | None, code: str, content: str, style: str, image: str, **arguments) -> None:
    """A run in no batch of this invocation: stylize(), unless an earlier batch has computed it (then its
    result is moved into place) or started it (then it resumes from that checkpoint)."""
    if run is not None and collect_staged(run, image, code):
        print(f"{run}: computed earlier in a batch ({paths.staged_image(run)}), moved into place")
        return
    if run is not None:
        adopt_staged_checkpoint(run)
    stylize(content, style, image, **arguments)


def _failure(image: str, error: BaseException, code: str, params: dict, attempt: int) -> dict:
    exit_code = next((number for kind, number in DETERMINISTIC if isinstance(error, kind)), None)
    return {
        "run": image,
        "error": f"{type(error).__name__}: {error}",
        "traceback": traceback.format_exc(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "deterministic": exit_code is not None,
        "exit_code": exit_code,
        "code": code,
        "parameters": params,
        "attempt": attempt,
    }


def _write_record(path: Path, record: dict) -> None:
    atomic_write_bytes(path, json.dumps(record, indent=1).encode())


def deterministic_failure(record_path: Path, code: str, params: dict, attempt: int) -> dict | None:
    """The failure record, if attempt `attempt` is a retry of a run whose previous attempt failed
    deterministically with this code fingerprint and these parameters; None where trying again may help.

    The record must be from attempt - 1: attempt 1 deletes older records, so a record left by an
    earlier invocation (which ended on its own last attempt) does not stop this one."""
    if attempt <= 1:
        return None
    try:
        record = json.loads(Path(record_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = record.get("code") == code and record.get("parameters") == _as_json(params)
    if record.get("deterministic") and same and record.get("attempt") == attempt - 1:
        return record
    return None


def _as_json(params: dict) -> dict:
    """`params` as the record stores them (tuples become lists)."""
    return json.loads(json.dumps(params))


def refuse_repeat(record_path: Path, code: str, params: dict, attempt: int) -> None:
    """Raise RepeatedFailure (and pass the record on to this attempt) if retrying cannot help."""
    record = deterministic_failure(record_path, code, params, attempt)
    if record is None:
        return
    first = record.get("first_attempt", record["attempt"])
    _write_record(record_path, record | {"attempt": attempt, "first_attempt": first})
    raise RepeatedFailure(
        f"not run again: attempt {first} failed deterministically (exit class {record['exit_code']}) with the "
        f"same code and parameters, and would fail the same way: {record['error']}"
    )
