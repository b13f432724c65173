"""Batches of stylize jobs (config `batch_size` > 1): several runs of the matrix computed together by
nst.stylize_batch, one forward + backward of the network per evaluation for all of them.

Each run keeps its own stylize job - its outputs, its rerun triggers, its line in `snakemake -n` - so
what is cached and what reruns is exactly what it is for runs computed alone. Batching changes only
how the jobs Snakemake has decided to run get their results:

1. Planning (plan_batches), once Snakemake has built its DAG: the stylize jobs it will run (its own
   to-do list, so a finished run is never in a batch) are sorted by run name, grouped by what a batch
   must share (batch_key: network, weights, layers, precision, image size) and cut into batches of at
   most `batch_size`. The Snakefile's onstart writes them to results/batches/plan.json before any job
   starts; on a cluster each batch is also a Snakemake group: one cluster job (one GPU) per batch.
2. Executing (stylize_in_batch), in each member's job: the first job of a batch to take the batch's
   lock computes every member not computed yet, into results/batches/staged/ (Snakemake deletes a
   job's own outputs just before that job starts, so the batch-mates' results wait there), then each
   member's job moves its own result into place. A member whose loss turned non-finite fails its own
   job only. A stop signal (SLURM's time limit) checkpoints every member in staged/; the next job of
   the batch to start resumes them.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import shutil
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from nst.api import BATCH_SHARED, checkpoint_path, sidecar_path, stylize_batch
from nst.errors import NSTNumericalError
from nst.images import atomic_write_bytes
from nst.milestones import milestone_dir
from nst_pipeline import paths
from nst_pipeline.plan import Run

# ---- planning (in Snakemake's process)

BATCH_PREFIX = "batch-"  # of batch ids, and of their lock and marker files in results/batches/


def plan_batches(runs: dict[str, Run], to_do: Iterable[str], batch_size: int) -> dict[str, list[str]]:
    """Batch id -> its runs' names: `to_do` (Snakemake's stylize jobs to run) in name order, by
    batch_key, cut into batches of at most `batch_size`. Runs left alone (a batch of one) are not listed.
    The same runs to do give the same batches: results do not depend on the order jobs are scheduled."""
    by_key: dict[str, list[str]] = defaultdict(list)
    for name in sorted(set(to_do)):
        by_key[batch_key(runs[name])].append(name)
    batches = {}
    for names in by_key.values():
        for start in range(0, len(names), batch_size):
            members = names[start : start + batch_size]
            if len(members) > 1:
                batches[batch_id(members)] = members
    return batches


def batch_key(run: Run) -> str:
    """What the runs of one batch must share (nst.api.BATCH_SHARED; the pipeline's device and threads
    are one for all runs) and the content image's size, which sets the image size at every stage."""
    shared = {key: run.params[key] for key in BATCH_SHARED if key in run.params}
    return json.dumps([shared, _image_size(run.content)], sort_keys=True)


@functools.cache
def _image_size(path: str) -> tuple[int, int]:
    with Image.open(path) as image:  # reads the header only
        return image.size


def batch_id(members: list[str]) -> str:
    return BATCH_PREFIX + hashlib.sha256("\n".join(members).encode()).hexdigest()[:16]


def write_plan(batches: dict[str, list[str]], runs: dict[str, Run]) -> None:
    """The batches, with what each member's job needs to compute its batch-mates (their images and
    parameters), for the jobs of this invocation; no batches: no plan (a stale one is removed)."""
    plan_file = Path(paths.BATCH_PLAN)
    for marker in Path(paths.BATCHES).glob(f"{BATCH_PREFIX}*"):  # an earlier invocation's locks and markers
        marker.unlink()
    if not batches:
        plan_file.unlink(missing_ok=True)
        return
    plan = {
        # a marker of this invocation: what an earlier one left (a batch marked computed, a failure)
        # says nothing about this one's batches
        "plan_id": uuid.uuid4().hex,
        "batches": {
            batch: [
                {"run": name, "content": runs[name].content, "style": runs[name].style, "params": runs[name].params}
                for name in members
            ]
            for batch, members in batches.items()
        },
    }
    atomic_write_bytes(plan_file, json.dumps(plan, indent=1).encode())


# ---- executing (in a stylize job)


@dataclass(frozen=True)
class Batch:
    """One batch of the plan, as a member's job sees it."""

    plan_id: str
    id: str
    members: list[dict]


def find_batch(run: str, params: dict) -> Batch | None:
    """The batch of the plan that lists `run` with these parameters (as JSON stores them: lists, not
    tuples), or None (no plan, not listed, or listed with other parameters: a plan from another config;
    the run is then computed alone)."""
    try:
        plan = json.loads(Path(paths.BATCH_PLAN).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    for batch, members in plan["batches"].items():
        for member in members:
            if member["run"] == run:
                return Batch(plan["plan_id"], batch, members) if member["params"] == params else None
    return None


def stylize_in_batch(batch: Batch, run: str, image: str, *, code: str, say: Callable[[str], None], **options) -> None:
    """This member's result at `image`: computed with its batch-mates by the first job of the batch to
    get here, or by this job. `options`: the job's stylize() options (device, threads, ...)."""
    with _locked(paths.batch_lock(batch.id)):
        computed_by = _computed_by(batch)
        if computed_by is None:
            _compute(batch, code, options, say)
            atomic_write_bytes(Path(paths.batch_done(batch.id)), json.dumps([batch.plan_id, run]).encode())
        else:
            log = paths.run_log(computed_by)
            say(f"{run}: computed in {batch.id} by the stylize job of {computed_by} (log: {log})")
        _collect(batch, run, Path(image))


@contextmanager
def _locked(lock_file: str):
    """The batch's lock: one job of a batch computes it, its batch-mates' jobs wait for it."""
    Path(lock_file).parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _computed_by(batch: Batch) -> str | None:
    """The run whose job computed the batch in this invocation, or None."""
    try:
        plan_id, run = json.loads(Path(paths.batch_done(batch.id)).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return run if plan_id == batch.plan_id else None


def _compute(batch: Batch, code: str, options: dict, say: Callable[[str], None]) -> None:
    """Every member not already staged by this code (an earlier, interrupted job of the batch may have
    finished some) nor failed in this invocation, together; each failure is staged for its own job."""
    todo = [m for m in batch.members if not _staged_result(m["run"], code) and _staged_failure(batch, m["run"]) is None]
    names = ", ".join(m["run"] for m in todo)
    say(f"{batch.id}: computing {len(todo)} of its {len(batch.members)} runs together: {names}")
    for member in todo:
        Path(paths.staged_failure(member["run"])).unlink(missing_ok=True)  # an earlier invocation's
        # an attempt of the run alone left its checkpoint beside its final image: resume from it
        _move_checkpoint(paths.run_image(member["run"]), paths.staged_image(member["run"]))
    arguments = [
        {"content": m["content"], "style": m["style"], "out": paths.staged_image(m["run"]), **m["params"], **options}
        for m in todo
    ]
    outcomes = stylize_batch(arguments) if arguments else []
    for member, outcome in zip(todo, outcomes):
        if isinstance(outcome, NSTNumericalError):
            failure = {"plan_id": batch.plan_id, "error": str(outcome)}
            atomic_write_bytes(Path(paths.staged_failure(member["run"])), json.dumps(failure).encode())


def _staged_result(run: str, code: str) -> bool:
    """A complete staged result of this engine code (its image is written last); one made by other
    code (an invocation that ended before collecting it) is removed."""
    image = Path(paths.staged_image(run))
    if not image.exists():
        return False
    try:
        fingerprint = json.loads(sidecar_path(image).read_text(encoding="utf-8"))["engine_fingerprint"]
    except (OSError, ValueError, KeyError):
        fingerprint = None
    if fingerprint == code:
        return True
    for path in (image, sidecar_path(image)):
        path.unlink(missing_ok=True)
    shutil.rmtree(milestone_dir(image), ignore_errors=True)
    return False


def _staged_failure(batch: Batch, run: str) -> str | None:
    try:
        failure = json.loads(Path(paths.staged_failure(run)).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return failure["error"] if failure.get("plan_id") == batch.plan_id else None


def adopt_staged_checkpoint(run: str) -> None:
    """A run computed alone resumes from the checkpoint an interrupted batch left of it."""
    _move_checkpoint(paths.staged_image(run), paths.run_image(run))


def _move_checkpoint(from_image: str, to_image: str) -> None:
    """The checkpoint of the run written at `from_image`, moved to where the run at `to_image` looks
    for it (nst.api.checkpoint_path), unless one is there already."""
    source, target = checkpoint_path(Path(from_image)), checkpoint_path(Path(to_image))
    if source.exists() and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)


def _collect(batch: Batch, run: str, image: Path) -> None:
    """Move this member's staged result into place, or raise the error that failed it in the batch."""
    error = _staged_failure(batch, run)
    if error is not None:
        Path(paths.staged_failure(run)).unlink()
        raise NSTNumericalError(f"{error} (in {batch.id}, computed with its batch-mates)")
    staged = Path(paths.staged_image(run))
    if not staged.exists():
        raise RuntimeError(f"{run}: {batch.id} was computed but its result {staged} is missing")
    _move_into_place(staged, image)


def collect_staged(run: str, image: str, code: str) -> bool:
    """A run to compute alone whose result a batch has already staged (its own job failed or was
    stopped after a batch-mate's job computed it): that result, moved into place. A run is a run,
    however it was computed; nothing computed is thrown away."""
    if not _staged_result(run, code):
        return False
    _move_into_place(Path(paths.staged_image(run)), Path(image))
    return True


def _move_into_place(staged: Path, image: Path) -> None:
    """Sidecar and milestones first, the image last, as the engine writes them."""
    image.parent.mkdir(parents=True, exist_ok=True)
    os.replace(sidecar_path(staged), sidecar_path(image))
    shutil.rmtree(milestone_dir(image), ignore_errors=True)
    os.replace(milestone_dir(staged), milestone_dir(image))
    os.replace(staged, image)
