"""The `profiles/slurm` profile against a live one-node SLURM cluster (cluster/start-slurm.sh, root only):
the tiny matrix through SLURM (GPU only for stylize, a batch of runs as one job with one GPU, the
runs alone a job each; byte-identical to the same local run, tests/conftest.py tiny_batched_run),
a stylize job pre-empted with `scontrol requeue` and runs cut by their time limit, each resuming from
its checkpoint. That a resumed run ends with the bytes of an uninterrupted one is the engine's
promise (tests/engine/test_resume.py); the tiny matrix shows that a SLURM job computes what a local
job does, so these tests check that the resume happened, from where. The tiny matrix and the
time-out test also check that every run's stylize job started once per attempt and that no finished
run's files were deleted or rewritten afterwards (a second copy of a run, or Snakemake removing a
failed job's outputs, would do that), and that `snakemake -n` then plans nothing.

Every wait is bounded; every Snakemake runs in its own session and is killed (with its SLURM jobs)
in `finally`; the cluster is stopped at module teardown."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from pipeline_helpers import REPO, SNAKEMAKE

pytestmark = pytest.mark.slurm

PROFILE = REPO / "profiles/slurm"
TINY = REPO / "tests/configs/tiny.yaml"
START_TIMEOUT = 600  # first start installs the packages with apt (~25 s on a warm mirror)
STOP_TIMEOUT = 180
SLURM_RUN_TIMEOUT = 900
LOCAL_RUN_TIMEOUT = 600
RUN_ID = re.compile(r"SLURM run ID: ([0-9a-fA-F-]{36})")


# ----------------------------------------------------------------------------- process helpers
def _kill_group(proc: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM the process group (Snakemake then cancels its SLURM jobs), SIGKILL after `grace` s."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 30)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _run_bounded(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run in its own session; on time-out the whole group is killed, not just the leader."""
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, **kwargs
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc, grace=5)
        out, _ = proc.communicate()
        raise subprocess.TimeoutExpired(command, timeout, output=out) from None
    finally:
        _kill_group(proc, grace=5)
    return subprocess.CompletedProcess(command, proc.returncode, out, "")


class Snakemake:
    """`snakemake -s <repo>/Snakefile --directory <workdir> --cores 2 ...` in its own session, output to
    a file (a full pipe would block it). Use as a context manager: leaving it kills the process group
    and cancels whatever SLURM jobs of its run are left."""

    def __init__(self, workdir: Path, *args: str):
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.log_path = workdir.parent / f"{workdir.name}.snakemake.log"
        command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args]
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                env=os.environ | {"NST_OFFLINE": "1"},
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.is_file() else ""

    def run_uuid(self) -> str | None:
        match = RUN_ID.search(self.output())
        return match.group(1) if match else None

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"snakemake did not finish within {timeout} s; output:\n{self.output()[-5000:]}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _kill_group(self.proc)
        uuid = self.run_uuid()
        if uuid and shutil.which("scancel"):  # jobs Snakemake could not cancel (killed, or already gone)
            subprocess.run(["scancel", "--name", uuid], capture_output=True, timeout=30)


def run_local(workdir: Path, *args: str) -> str:
    """A local (no SLURM) run to completion; returns its output."""
    with Snakemake(workdir, *args) as run:
        rc = run.wait(LOCAL_RUN_TIMEOUT)
        assert rc == 0, run.output()[-5000:]
        return run.output()


def slurm_failure_details(workdir: Path) -> str:
    logs = sorted((workdir / ".snakemake/slurm_logs").rglob("*.log"))
    return "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-2000:]}" for p in logs[-4:])


# ----------------------------------------------------------------------------- SLURM queries
def sacct_rows(uuid: str, duplicates: bool = False) -> list[dict]:
    """The run's allocations (one row per job; with duplicates also each requeued instance)."""
    command = ["sacct", "-X", "-n", "-P", "--name", uuid, "-S", "now-2days", "-o", "JobID,Comment,State,AllocTRES"] + (
        ["-D"] if duplicates else []
    )
    out = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout
    rows = []
    for line in out.splitlines():
        if line.strip():
            job_id, comment, state, tres = line.split("|", 3)
            rows.append({"job_id": job_id, "comment": comment, "state": state.split()[0], "tres": tres})
    return rows


def settled_sacct_rows(uuid: str, timeout: float = 60) -> list[dict]:
    """sacct rows once no job of the run is pending/running any more (slurmdbd may lag a little)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = sacct_rows(uuid)
        if rows and not any(r["state"] in ("PENDING", "RUNNING", "COMPLETING", "REQUEUED") for r in rows):
            return rows
        if time.monotonic() > deadline:
            pytest.fail(f"sacct rows of run {uuid} not settled after {timeout} s: {rows}")
        time.sleep(1)


def squeue_jobs(uuid: str) -> list[dict]:
    out = subprocess.run(
        ["squeue", "-h", "--name", uuid, "-o", "%i|%A|%T|%r|%k"], capture_output=True, text=True, timeout=30
    ).stdout
    jobs = []
    for line in out.splitlines():
        if line.strip():
            job_id, raw_id, state, reason, comment = line.split("|", 4)
            jobs.append({"job_id": job_id, "raw_id": raw_id, "state": state, "reason": reason, "comment": comment})
    return jobs


def signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def read_checkpoint_iteration(path: Path) -> int | None:
    import torch

    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["iteration"])
    except (FileNotFoundError, RuntimeError, EOFError, KeyError, OSError):
        return None


def run_pngs(workdir: Path) -> dict[str, bytes]:
    root = workdir / "results/runs"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob("*/*.png"))}


def sidecar(png_path: Path) -> dict:
    return json.loads(png_path.with_suffix(".json").read_text())


# ----------------------------------------------------------------------------- each run once
# Every start of a stylize job appends `---- attempt started <time> (attempt N, SLURM job <id>, pid ...)`
# to results/logs/stylize/<run>.starts, which nothing removes (workflow/scripts/_helpers.logged_to).
START = re.compile(r"^---- attempt started \S+ \S+ \(attempt (\d+), SLURM job (\S+), pid \d+ on \S+\) ----$", re.M)


def starts(workdir: Path, png: Path) -> list[tuple[int, str]]:
    """(attempt, SLURM job id) of every start of the run's stylize job, oldest first."""
    record = (workdir / "results/logs/stylize" / png.parent.name / png.name).with_suffix(".starts")
    return [(int(attempt), job) for attempt, job in START.findall(record.read_text())]


def assert_started_once_per_attempt(workdir: Path, png: Path, submissions: list[str]) -> None:
    """The run's stylize job started once in each submission that reached it, and in no other job:
    submission k (its SLURM job ids, oldest first) is Snakemake's attempt k. A submission may end before
    its job starts the run (a time limit's early SIGTERM), so not every one must appear; the last one,
    which completed it, must."""
    seen = starts(workdir, png)
    expected = list(enumerate(submissions, start=1))
    assert len(set(seen)) == len(seen) and all(start in expected for start in seen), (png.name, seen, expected)
    assert seen == sorted(seen) and seen[-1] == expected[-1], (png.name, seen, expected)


class FinishedOutputs:
    """Watches results/runs while Snakemake works: as soon as a run is finished (its image, which the
    engine writes last, and its sidecar exist) it records the inode and bytes of its image, sidecar and
    milestone images. `changed()` then lists every recorded file deleted or rewritten since (another
    inode or other bytes: a second copy of the run, or Snakemake removing a job's outputs). Snakemake
    touching an output (mtime) is not a change."""

    def __init__(self, workdir: Path):
        self.runs = workdir / "results/runs"
        self.recorded: dict[Path, tuple[int, str]] = {}
        self.finished: set[Path] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    @staticmethod
    def _state(path: Path) -> tuple[int, str] | None:
        try:
            return path.stat().st_ino, hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return None

    def _record(self) -> None:
        for png in self.runs.glob("*/*.png"):
            if png in self.finished or not png.with_suffix(".json").is_file():
                continue
            files = [png, png.with_suffix(".json"), *sorted(png.with_suffix(".milestones").glob("*"))]
            states = {path: self._state(path) for path in files}
            if all(states.values()):
                self.recorded.update(states)
                self.finished.add(png)

    def _watch(self) -> None:
        while not self.stop.wait(0.2):
            self._record()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=30)
        self._record()  # runs finished since the last look

    def changed(self) -> list[str]:
        return [str(path) for path, state in self.recorded.items() if self._state(path) != state]


def plans_nothing(workdir: Path, *args: str) -> str:
    """`snakemake -n` with the run's arguments: "" if it plans no job, else its output."""
    command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args, "-n"]
    dry = _run_bounded(command, timeout=300, cwd=workdir, env=os.environ | {"NST_OFFLINE": "1"})
    return "" if dry.returncode == 0 and "Nothing to be done" in dry.stdout else dry.stdout[-3000:]


# ----------------------------------------------------------------------------- the cluster
def _slurm_installed() -> bool:
    return all(shutil.which(tool) for tool in ("slurmctld", "slurmd", "slurmdbd", "sbatch", "sacct"))


@pytest.fixture(scope="module")
def slurm_cluster():
    """The one-node test cluster, started for this module and always stopped afterwards."""
    if os.geteuid() != 0:
        pytest.skip("the SLURM test cluster needs root (cluster/start-slurm.sh writes /etc/slurm, starts daemons)")
    if not _slurm_installed() and not shutil.which("apt-get"):
        pytest.skip("SLURM is not installed and apt-get is not available to install it")
    try:
        try:
            start = _run_bounded(["bash", str(REPO / "cluster/start-slurm.sh")], timeout=START_TIMEOUT, cwd=REPO)
        except subprocess.TimeoutExpired as error:
            pytest.fail(f"cluster/start-slurm.sh did not finish within {START_TIMEOUT} s:\n{error.output}")
        if start.returncode != 0:
            pytest.fail(f"cluster/start-slurm.sh failed (exit {start.returncode}):\n{start.stdout}")
        yield start.stdout
    finally:
        try:
            if shutil.which("scancel"):  # nothing of ours may outlive the daemons (slurmstepd would)
                subprocess.run(["scancel", "--partition", "debug"], capture_output=True, timeout=30)
            stop = _run_bounded(["bash", str(REPO / "cluster/stop-slurm.sh")], timeout=STOP_TIMEOUT, cwd=REPO)
            if stop.returncode != 0:
                print(f"cluster/stop-slurm.sh failed (exit {stop.returncode}):\n{stop.stdout}", file=sys.stderr)
        except subprocess.TimeoutExpired as error:
            print(f"cluster/stop-slurm.sh timed out:\n{error.output}", file=sys.stderr)


# ----------------------------------------------------------------------------- tests
def test_tiny_matrix_on_slurm_matches_local_run(slurm_cluster, tmp_path, tiny_batched_run):
    """tests/configs/tiny.yaml + tiny_batched.yaml through the profile: the batch (init content and
    gaussian) is ONE SLURM job, a Snakemake group job, holding one (fake) GPU for both runs; the runs
    alone (style_layers 2 and 3) one job each (no arrays: the profile's default), one GPU each, all
    three submitted together; the measure and measure_pairs jobs CPU-only (no GPU); grids and report
    are localrules, so no other SLURM job. Each run's stylize job started exactly once, in the SLURM job
    that sacct lists for it (its log's `---- attempt started` lines); no finished run's files deleted or
    rewritten afterwards; the images byte-identical to the same batches run locally (tiny_batched_run:
    the session's, shared with tests/pipeline/test_batches.py); `snakemake -n` afterwards plans nothing.
    How the measure jobs are submitted is left open (each becomes ready when Snakemake sees its stylize
    job finish)."""
    slurm_dir = tmp_path / "slurm"
    configs = ("--configfile", str(TINY), str(TINY.with_name("tiny_batched.yaml")))
    # device auto, not tiny.yaml's cpu: a config that pins the CPU asks SLURM for no GPU (common.smk);
    # the node has none, so the runs are the same CPU runs as the local ones
    args = ("--profile", str(PROFILE), *configs, "--config", "device=auto")
    with FinishedOutputs(slurm_dir) as finished, Snakemake(slurm_dir, *args) as run:
        rc = run.wait(SLURM_RUN_TIMEOUT)
        output = run.output()
        assert rc == 0, output[-5000:] + slurm_failure_details(slurm_dir)
    uuid = RUN_ID.search(output)
    assert uuid, f"no 'SLURM run ID' in the output:\n{output[-3000:]}"
    rows = settled_sacct_rows(uuid.group(1))
    print(f"sacct: {rows}")  # shown with -rP

    assert "Submitted array job" not in output
    by_rule: dict[str, list[dict]] = {}
    for row in rows:
        kind = "batch" if row["comment"].startswith("rule_batch-") else row["comment"].split("_wildcards")[0]
        by_rule.setdefault(kind, []).append(row)
    assert sorted(by_rule) == ["batch", "rule_measure", "rule_measure_pairs", "rule_stylize"], rows
    (batch,) = by_rule["batch"]  # a group job's comment: rule_<group id>_<rules>
    assert "gres/gpu=1" in batch["tres"].split(","), batch  # one GPU for the batch's two runs
    alone = by_rule["rule_stylize"]
    assert len(alone) == 2 and all(row["job_id"].isdigit() for row in alone), rows  # a job each, no array
    assert all("gres/gpu=1" in row["tres"].split(",") for row in alone), rows
    # the three stylize submissions went out in one go, before any job finished
    submitted = list(re.finditer(r"submitted with SLURM jobid (\d+)", output))
    stylize_ids = {batch["job_id"], *(row["job_id"] for row in alone)}
    assert {m.group(1) for m in submitted[:3]} == stylize_ids, (submitted, stylize_ids)
    assert submitted[2].start() < output.index("Finished jobid"), output[-5000:]
    assert len(by_rule["rule_measure"]) == 4, rows
    assert len(by_rule["rule_measure_pairs"]) == 2, rows  # init and style_layers: one job each
    for row in by_rule["rule_measure"] + by_rule["rule_measure_pairs"]:
        assert "gres/gpu" not in row["tres"], row
    for row in rows:
        assert row["state"] == "COMPLETED", row

    slurm_pngs, local_pngs = run_pngs(slurm_dir), run_pngs(tiny_batched_run)
    assert len(slurm_pngs) == 4 and slurm_pngs.keys() == local_pngs.keys(), (slurm_pngs.keys(), local_pngs.keys())
    sizes = sorted(sidecar(slurm_dir / "results/runs" / name)["batch"]["size"] for name in slurm_pngs)
    assert sizes == [1, 1, 2, 2]
    for name, data in slurm_pngs.items():
        assert data == local_pngs[name], f"{name}: SLURM and local images differ"
        png = Path("results/runs") / name
        assert sidecar(slurm_dir / png)["final_losses"] == sidecar(tiny_batched_run / png)["final_losses"], name
        # a run alone in the job sacct lists under its name; a batch's runs in the batch's job
        job = next((r["job_id"] for r in alone if r["comment"].endswith(png.stem)), batch["job_id"])
        assert_started_once_per_attempt(slurm_dir, slurm_dir / png, [job])
    assert len(finished.finished) == 4 and not finished.changed(), finished.changed()
    assert not (dry := plans_nothing(slurm_dir, *args)), dry


def _config(
    tmp_path: Path, name: str, sweeps: list, findings: list | None = None, checkpoint_every: int = 0, **defaults
) -> Path:
    """tests/configs/tiny.yaml cut down to an `init` experiment of `sweeps` (with `findings` if given,
    else config.yaml's), one thread per run, `defaults` overriding the run parameters."""
    config = yaml.safe_load(TINY.read_text())
    init = {"sweeps": sweeps} if findings is None else {"sweeps": sweeps, "findings": findings}
    config.update(run_experiments=["init"], checkpoint_every=checkpoint_every, threads=1, experiments={"init": init})
    config["defaults"] = dict(config["defaults"], **defaults)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# How long a pre-empted or timed-out run lasts: long enough to be caught running after its first
# checkpoints by a 0.2 s poll (also on a machine 3x faster), short enough to keep the tests quick.
# Attempt 1 of the timed-out runs cannot finish however fast the machine: the test freezes it.
RUN_SECONDS = 20
# The time-out test's runs: the test must see each run's first checkpoint and stop it before the run
# ends, and its poll is slow on a loaded machine (seen: a run caught at iteration 25 of 50 while the
# machine ran another test suite). Longer runs leave the poll that time; attempt 2 still has 2 minutes.
TIMED_OUT_RUN_SECONDS = 40
RUN_HEIGHT = 48
TWO_RUNS = [{"vary": {"init_method": ["content", "gaussian"]}}]


@pytest.fixture(scope="module")
def seconds_per_iteration(tmp_path_factory) -> float:
    """The engine's time per iteration here (sidecars' time_per_iteration_s, the slower run) for runs
    at RUN_HEIGHT, measured once for the module on 50 iterations of two runs side by side, as the
    cluster runs them. (A fixed count is too short on a fast machine and too long on a slow one.)"""
    tmp_path = tmp_path_factory.mktemp("calibrate")
    config = _config(tmp_path, "calibrate", TWO_RUNS, height=RUN_HEIGHT, iterations=50)
    workdir = tmp_path / "calibrate"
    run_local(workdir, "--configfile", str(config), "--until", "stylize")
    times = [json.loads(p.read_text())["time_per_iteration_s"] for p in (workdir / "results/runs").glob("*/*.json")]
    assert len(times) == 2, f"sidecars in {workdir}: {times}"
    return max(times)


def iterations_lasting(seconds: float, seconds_per_iteration: float) -> int:
    return max(50, round(seconds / seconds_per_iteration))  # 50: the pre-empted run is caught between 10 and N-20


def test_preempted_stylize_job_is_requeued_and_resumes(slurm_cluster, tmp_path, seconds_per_iteration):
    """`scontrol requeue` of a running stylize job: SLURM sends SIGTERM, the engine checkpoints and
    exits 143, and - the profile submits with --requeue - SLURM puts the SAME job id back in the queue.
    (The checkpoint it resumes from is the SIGTERM one: e.g. iteration 11 with checkpoint_every 5.)

    What happens (observed with SLURM 22.05 + snakemake-executor-plugin-slurm 2.8.0): sacct -D shows
    the job id twice, REQUEUED then COMPLETED; in between squeue shows it COMPLETING, then PENDING
    with Reason=BeginTime (slurmctld holds a requeued batch job ~2 min before it is eligible again),
    then RUNNING. The plugin does not count REQUEUED/PENDING as failures, so Snakemake just keeps
    polling the same job id: no Snakemake retry and no resubmission. The re-run job step finds
    `<out>.ckpt` and resumes ("nst: resuming from ... at iteration N" in the rule's log) and finishes
    every iteration (its bytes: the module docstring). To keep the test short, the ~2 min BeginTime hold
    is lifted with `scontrol update JobId=<id> StartTime=now` (scheduling only; without it the job
    starts by itself a bit later, well inside the bound). If a future plugin resubmitted the job
    instead (a new job id, via the profile's retries), the assertions below still hold: what matters
    is that the final result resumed from the checkpoint."""
    # one gaussian run: config.yaml's init findings compare it with the content run, so they go
    sweeps, findings = [{"vary": {"init_method": ["gaussian"]}}], []
    # long enough (~RUN_SECONDS here) to be caught running between checkpoints 10 and N-20
    iterations = iterations_lasting(RUN_SECONDS, seconds_per_iteration)
    config_path = _config(
        tmp_path, "requeue", sweeps, findings, height=RUN_HEIGHT, iterations=iterations, checkpoint_every=5
    )

    slurm_dir = tmp_path / "slurm"
    states_seen: list[str] = []
    with Snakemake(slurm_dir, "--profile", str(PROFILE), "--configfile", str(config_path)) as run:
        # 1. wait (bounded) until the stylize job runs and has checkpointed at least 10 iterations
        deadline, job_id, iteration = time.monotonic() + 300, None, None
        while job_id is None:
            assert run.proc.poll() is None, (
                f"snakemake ended (rc {run.proc.returncode}) before the requeue:\n" + run.output()[-5000:]
            )
            assert time.monotonic() < deadline, (
                "no running stylize job with a checkpoint >= 10 within 300 s "
                f"(last seen iteration {iteration}):\n{run.output()[-3000:]}"
            )
            uuid = run.run_uuid()
            running = (
                [j for j in squeue_jobs(uuid) if j["state"] == "RUNNING" and j["comment"].startswith("rule_stylize")]
                if uuid
                else []
            )
            checkpoints = list((slurm_dir / "results/runs").glob("*/*.ckpt"))
            iteration = read_checkpoint_iteration(checkpoints[0]) if checkpoints else None
            if running and iteration is not None and iteration >= 10:
                job_id = running[0]["job_id"]
            else:
                time.sleep(0.2)
        assert iteration < iterations - 20, f"checkpoint at {iteration}: too close to the end to test a requeue"

        # 2. pre-empt it
        requeue = subprocess.run(["scontrol", "requeue", job_id], capture_output=True, text=True, timeout=30)
        assert requeue.returncode == 0, requeue.stdout + requeue.stderr

        # 3. lift the requeue hold once the job is pending again (bounded; best effort, see docstring)
        released, deadline = False, time.monotonic() + 120
        while run.proc.poll() is None and time.monotonic() < deadline and not released:
            for job in squeue_jobs(uuid):
                if job["job_id"] == job_id:
                    state = f"{job['state']}({job['reason']})"
                    if not states_seen or states_seen[-1] != state:
                        states_seen.append(state)
                    if job["state"] == "PENDING":
                        update = ["scontrol", "update", f"JobId={job_id}", "StartTime=now"]
                        released = subprocess.run(update, capture_output=True, timeout=30).returncode == 0
            time.sleep(0.5)

        # 4. wait (bounded) for Snakemake to finish
        rc = run.wait(600)
        output = run.output()
        assert rc == 0, output[-5000:] + slurm_failure_details(slurm_dir)

    history = [r for r in sacct_rows(uuid, duplicates=True) if r["comment"].startswith("rule_stylize")]
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: \S*/rule_stylize/", output)
    details = (
        f"squeue states of job {job_id} after requeue: {states_seen}; sacct -D: {history}; "
        f"stylize submissions: {submitted}"
    )
    # SLURM requeued the job (the pre-emption really happened) and a stylize job of the run completed
    assert any(r["job_id"] == job_id and r["state"] == "REQUEUED" for r in history), details
    assert any(r["state"] == "COMPLETED" for r in history), details

    pngs = sorted((slurm_dir / "results/runs").glob("*/*.png"))
    assert len(pngs) == 1, pngs
    record = sidecar(pngs[0])
    details += (
        f"; checkpoint seen before requeue: {iteration}; resumed_from_iteration: {record['resumed_from_iteration']}"
    )
    print(details)  # shown with -rP (or on failure)
    rule_log = (slurm_dir / "results/logs/stylize" / pngs[0].parent.name / pngs[0].name).with_suffix(".log")
    assert "nst: resuming from" in rule_log.read_text(errors="replace"), details
    assert record["iterations_done"] == iterations, record["iterations_done"]
    # it resumed from the checkpoint (>= the one seen before the requeue), not from scratch
    assert record["resumed_from_iteration"] is not None and record["resumed_from_iteration"] >= iteration, (
        record["resumed_from_iteration"],
        iteration,
        details,
    )
    assert not list((slurm_dir / "results/runs").glob("*/*.ckpt")), "checkpoint left behind"


def _profile(tmp_path: Path, retries: int | None = None, **stylize_resources) -> Path:
    """A copy of profiles/slurm with some stylize resources (and the retries) replaced (comments are
    not kept), keeping every job's SLURM log."""
    profile = tmp_path / "profile"
    profile.mkdir()
    config = yaml.safe_load((PROFILE / "config.yaml").read_text())
    config["set-resources"]["stylize"].update(stylize_resources)
    if retries is not None:
        config["retries"] = retries
    config["slurm-keep-successful-logs"] = True
    (profile / "config.yaml").write_text(yaml.safe_dump(config))
    return profile


def stylize_history(uuid: str) -> list[dict]:
    """Every stylize submission of the run (sacct -D: requeued instances too), oldest first."""
    command = ["sacct", "-X", "-D", "-n", "-P", "--name", uuid, "-S", "now-2days"]
    command += ["-o", "JobID,Comment,State,Timelimit,Elapsed,Submit"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout
    rows = [
        dict(zip(("job_id", "comment", "state", "limit", "elapsed", "submit"), line.split("|")))
        for line in out.splitlines()
        if line.strip()
    ]
    return sorted(
        (r for r in rows if r["comment"].startswith("rule_stylize")), key=lambda r: (r["submit"], r["job_id"])
    )


def slurm_logs(workdir: Path) -> dict[str, str]:
    root = workdir / ".snakemake/slurm_logs/rule_stylize"
    return {path.stem: path.read_text(errors="replace") for path in sorted(root.rglob("*.log"))}


def test_timed_out_runs_checkpoint_and_resume_with_more_time(slurm_cluster, tmp_path, seconds_per_iteration):
    """Two runs, submitted together (a job each: the profile has no arrays), whose first attempt cannot
    finish within its 1-minute limit: they get SIGTERM, checkpoint, fail, and Snakemake's retries give
    them 2, then 3 minutes (runtime "1 * attempt"); each finishes from its checkpoint (its bytes: the
    module docstring). Each run's stylize job started at most once per attempt, in that attempt's SLURM
    job, and in the one that completed it (its log's `---- attempt started` lines); no finished run's
    files deleted or rewritten afterwards; `snakemake -n` afterwards plans nothing.

    "Cannot finish" without betting on the machine's speed: once a run is optimising (it has a
    checkpoint), the test stops its job's processes (SIGSTOP) and continues them (SIGCONT) as soon as
    SLURM ends the job, so SLURM's SIGTERM finds the run running. A run sized to outlast the limit
    instead finished in attempt 1 when the machine was quieter than at its calibration.

    The engine runs in an srun step and gets --signal's early SIGTERM (profile: TERM@120; here TERM@20).
    SLURM may send --signal up to 60 s early (man sbatch; seen: 12 s into a 60 s job), so a retry may be
    cut again: one more retry than the profile's (limit 4 min) keeps that from failing the test."""
    profile = _profile(tmp_path, retries=3, runtime="1 * attempt", slurm_extra="'--signal=TERM@20'")
    iterations = iterations_lasting(TIMED_OUT_RUN_SECONDS, seconds_per_iteration)
    config = _config(tmp_path, "long", TWO_RUNS, height=RUN_HEIGHT, iterations=iterations, checkpoint_every=5)
    slurm_dir = tmp_path / "slurm"
    args = ("--profile", str(profile), "--configfile", str(config))
    with FinishedOutputs(slurm_dir) as finished, Snakemake(slurm_dir, *args) as run:
        frozen_at = _freeze_each_run_until_its_time_limit(run, slurm_dir)
        rc = run.wait(SLURM_RUN_TIMEOUT)
        output = run.output()
        assert rc == 0, output[-5000:] + slurm_failure_details(slurm_dir)
    history = stylize_history(run.run_uuid())
    logs = slurm_logs(slurm_dir)
    details = f"{iterations} iterations, frozen at {frozen_at}; sacct -D: {history}"
    print(details)
    assert "Submitted array job" not in output
    submitted = [m.start() for m in re.finditer(r"submitted with SLURM jobid \d+", output)]
    assert len(submitted) >= 4 and submitted[1] < output.index("Error in rule stylize"), details  # together
    assert history[0]["limit"] == history[1]["limit"] == "00:01:00", details
    assert all(r["state"] in ("FAILED", "TIMEOUT") for r in history[:2]), details
    completed = [r for r in history if r["state"] == "COMPLETED"]
    assert len(completed) == 2 and all(r["limit"] in ("00:02:00", "00:03:00", "00:04:00") for r in completed), details
    stopped = re.findall(r"stopped by signal SIGTERM after iteration (\d+)", "".join(logs.values()))
    assert len(stopped) >= 2, details

    pngs = sorted((slurm_dir / "results/runs").glob("*/*.png"))
    assert len(pngs) == 2 and not list((slurm_dir / "results/runs").glob("*/*.ckpt"))
    for png in pngs:
        record = sidecar(png)
        assert record["iterations_done"] == iterations, record
        assert record["resumed_from_iteration"] in map(int, stopped), record
        assert record["resumed_from_iteration"] >= frozen_at[png.stem], (record["resumed_from_iteration"], details)
        # the rule's own log keeps the cut attempt too (Snakemake deletes it before each try)
        rule_log = (slurm_dir / "results/logs/stylize" / png.parent.name / png.name).with_suffix(".log")
        text = rule_log.read_text(errors="replace")
        assert f"after iteration {record['resumed_from_iteration']};" in text, text[-3000:]
        assert "nst: resuming from" in text and not rule_log.with_suffix(".attempts.log").exists()
        assert_started_once_per_attempt(
            slurm_dir, png, [r["job_id"] for r in history if r["comment"].endswith(png.stem)]
        )
    assert len(finished.finished) == 2 and not finished.changed(), finished.changed()
    assert not (dry := plans_nothing(slurm_dir, *args)), dry


def _running_runs(slurm_dir: Path) -> dict[str, tuple[str, list[int]]]:
    """Each stylize run executing on this (one-node) cluster: run name -> (its SLURM job's raw id, every
    process of that job). A run is known by the file its stylize script writes its log to (an open file
    of the job's Python: results/logs/stylize/<pair>/<run>.log); a job's processes by the SLURM_JOB_ID
    in their environment. Not by command lines (in a job array, opt-in in the profile, every task
    carries the first task's command line), nor by `scontrol listpids`."""
    logs = str((slurm_dir / "results/logs/stylize").resolve())
    pids_of_job: dict[str, list[int]] = {}
    job_of_run: dict[str, str] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            job = next((e.split(b"=", 1)[1].decode() for e in environ if e.startswith(b"SLURM_JOB_ID=")), None)
            files = [os.readlink(fd) for fd in (proc / "fd").iterdir()] if job else []
        except OSError:
            continue
        if job is None:
            continue
        pids_of_job.setdefault(job, []).append(int(proc.name))
        for file in files:
            if file.startswith(logs) and file.endswith(".log") and not file.endswith(".attempts.log"):
                job_of_run[Path(file).stem] = job
    return {run: (job, pids_of_job[job]) for run, job in job_of_run.items()}


def _freeze_each_run_until_its_time_limit(run: Snakemake, slurm_dir: Path) -> dict[str, int]:
    """Once a stylize job's run is optimising (it has a checkpoint: its SIGTERM handler is set), SIGSTOP
    every process of its job (_running_runs); SIGCONT them as soon as SLURM has ended the job (no
    longer RUNNING): its time limit (1 min, then up to ~30 s until slurmctld's periodic check) is the
    only way out. Each run is frozen once. Returns each run's checkpointed iteration when frozen (the
    SIGTERM one comes later)."""
    import torch  # noqa: F401  (read_checkpoint_iteration's; imported here, ~3 s, not at the first sighting)

    frozen: dict[str, list[int]] = {}  # job id -> its processes, while stopped
    frozen_at: dict[str, int] = {}
    seen: list[str] = []  # what the loop saw of each running stylize job, when it changed: for a failure
    deadline = time.monotonic() + 420
    try:
        while len(frozen_at) < 2 or frozen:
            state = f"frozen at {frozen_at}, still frozen {sorted(frozen)}; seen: {seen[-12:]}"
            assert run.proc.poll() is None, (
                f"snakemake ended (rc {run.proc.returncode}) before both runs were frozen: {state}\n"
                + run.output()[-5000:]
            )
            assert time.monotonic() < deadline, f"not both runs frozen and released in 420 s: {state}"
            uuid = run.run_uuid()
            jobs = {job["raw_id"]: job for job in squeue_jobs(uuid)} if uuid else {}
            for job_id in [j for j in frozen if jobs.get(j, {}).get("state") != "RUNNING"]:
                signal_all(frozen.pop(job_id), signal.SIGCONT)
            for name, (job_id, pids) in _running_runs(slurm_dir).items():
                job = jobs.get(job_id, {})
                if job.get("state") != "RUNNING" or not job["comment"].startswith("rule_stylize") or job_id in frozen:
                    continue
                checkpoint = next((slurm_dir / "results/runs").glob(f"*/{name}.ckpt"), None)
                iteration = read_checkpoint_iteration(checkpoint) if checkpoint else None
                sighting = f"job {job_id}: {len(pids)} pids, run {name[-40:]}, checkpoint {iteration}"
                if not seen or seen[-1] != sighting:
                    seen.append(sighting)
                if name not in frozen_at and iteration is not None:
                    signal_all(pids, signal.SIGSTOP)
                    frozen[job_id], frozen_at[name] = pids, iteration
            time.sleep(0.2)
    finally:
        for pids in frozen.values():
            signal_all(pids, signal.SIGCONT)
    print(f"sightings: {seen}")  # shown with -rP: how soon each run was caught
    return frozen_at


def test_bad_weights_run_is_not_run_again_by_its_retries(slurm_cluster, tmp_path):
    """A run with a broken weights file (a deterministic failure, the CLI's exit 2): SLURM sees three
    submissions (the profile's retries: 2), but only the first loads the weights; the two retries
    refuse at once from its failure record."""
    bad_weights = tmp_path / "broken.pth"
    bad_weights.write_bytes(b"not a state dict")
    sweep = {"set": {"weights": str(bad_weights)}, "vary": {"init_method": ["content"]}}
    config = _config(tmp_path, "bad", [sweep])
    slurm_dir = tmp_path / "slurm"
    with Snakemake(slurm_dir, "--profile", str(_profile(tmp_path)), "--configfile", str(config)) as run:
        rc = run.wait(SLURM_RUN_TIMEOUT)
        output = run.output()
    assert rc != 0, output[-3000:]
    history = stylize_history(run.run_uuid())
    logs = slurm_logs(slurm_dir)
    details = f"sacct -D: {history}; logs: {list(logs)}"
    print(details)
    assert len(history) == 3 and all(r["state"] == "FAILED" for r in history), details
    by_job = [logs[r["job_id"]] for r in history]
    assert "nst/weights.py" in by_job[0] and "RepeatedFailure" not in by_job[0], details
    for log in by_job[1:]:
        assert "RepeatedFailure: not run again: attempt 1 failed deterministically (exit class 2)" in log, details
        assert "nst/weights.py" not in log and "load_network" not in log, details
    [record] = (slurm_dir / "results/failed").rglob("*.json")
    assert "broken.pth" in json.loads(record.read_text())["error"]
