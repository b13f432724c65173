"""Runs that survive being killed: real `python -m nst stylize` subprocesses, killed mid-run
(SIGKILL: no warning; SIGTERM: what SLURM sends on time-out/pre-emption), then run again. On CPU the
resumed result must be byte-identical to an uninterrupted run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

STEM = "chelsea_starry_night_m_vgg19_w_bundled_i_gaussian_o_lbfgs_it_40_lr_1_h_64_cw_100000_sw_30000_tv_1_cl_4_sl_6_s_1"
STEM_SEED_2 = STEM.removesuffix("_s_1") + "_s_2"
ITERATIONS = 40
MILESTONES = ["it00005.png", "it00010.png", "it00020.png"]  # B/8, B/4, B/2 (nst.milestones)
CHECKPOINT_EVERY = 5
# Bounds on waits, not timings: generous, so that a loaded slow machine passes (a run that works
# reaches its checkpoints in seconds); only a broken run waits them out
WAIT_S = 300


def command(out: Path, seed: int = 1) -> list[str]:
    return [
        sys.executable,
        "-m",
        "nst",
        "stylize",
        "--content",
        "data/content/chelsea.jpg",
        "--style",
        "data/style/starry_night.jpg",
        "--weights",
        "bundled",
        "--height",
        "64",
        "--iterations",
        str(ITERATIONS),
        "--checkpoint-every",
        str(CHECKPOINT_EVERY),
        "--init-method",
        "gaussian",
        "--seed",
        str(seed),
        "--device",  # byte identity is a CPU promise: pinned, so a GPU box runs these on the CPU too
        "cpu",
        "--out",
        str(out),
    ]


def env() -> dict:
    # one thread: the CPUs are shared (see tests/engine/conftest.one_thread); every run here uses the same count
    return os.environ | {"NST_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def run_to_completion(repo_root: Path, out: Path, seed: int = 1) -> subprocess.CompletedProcess:
    proc = subprocess.run(command(out, seed), cwd=repo_root, env=env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def start(repo_root: Path, out: Path, seed: int = 1) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f"{out.name}.log", "w") as log:  # a file, not a pipe: a full pipe blocks the run
        return subprocess.Popen(
            command(out, seed), cwd=repo_root, env=env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def log_of(out: Path) -> str:
    return (out.parent / f"{out.name}.log").read_text()


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: the group is just this run
        proc.wait(timeout=30)


def read_checkpoint(path: Path) -> dict | None:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, RuntimeError, EOFError):
        return None


def wait_for_checkpoint(proc: subprocess.Popen, path: Path, condition, timeout: float = WAIT_S) -> dict:
    """Poll (bounded) until the run's checkpoint satisfies `condition`; fail if the run ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"run ended (code {proc.returncode}) before its checkpoint was seen"
        state = read_checkpoint(path) if path.is_file() else None
        if state is not None and condition(state):
            return state
        time.sleep(0.1)
    pytest.fail(f"no checkpoint satisfying the condition within {timeout} s at {path}")


@pytest.fixture(scope="module")
def reference(repo_root, tmp_path_factory):
    """The uninterrupted run: a function returning its PNG bytes, sidecar and milestone images' bytes. It runs in the
    background (one thread: it takes the second core) while the first test's run is killed."""
    out = tmp_path_factory.mktemp("reference")
    proc = start(repo_root, out)
    result = []

    def get():
        if not result:
            assert proc.wait(timeout=600) == 0, log_of(out)[-3000:]
            record = json.loads((out / f"{STEM}.json").read_text())
            assert record["resumed_from_iteration"] is None and record["iterations_done"] == ITERATIONS
            result.append(((out / f"{STEM}.png").read_bytes(), record, milestone_bytes(out)))
        return result[0]

    try:
        yield get
    finally:
        kill(proc)


def milestone_bytes(out: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted((out / f"{STEM}.milestones").iterdir())}


def check_resumed(out: Path, reference, left: dict) -> None:
    """`left`: the checkpoint the rerun resumed from. The milestones reached before the kill come from
    it (Snakemake would have deleted any files), the later ones from the resumed run: all must be
    byte-identical to the uninterrupted run's."""
    png, record, milestones = reference()
    resumed_at = left["iteration"]
    assert sorted(left["milestones"]) == [it for it in (5, 10, 20) if it <= resumed_at] != []
    assert (out / f"{STEM}.png").read_bytes() == png
    assert list(milestones) == MILESTONES and milestone_bytes(out) == milestones
    resumed = json.loads((out / f"{STEM}.json").read_text())
    assert resumed["resumed_from_iteration"] >= resumed_at > 0
    assert resumed["iterations_done"] == ITERATIONS
    assert resumed["loss_history"] == record["loss_history"]  # every iteration, bit for bit
    assert resumed["final_losses"] == record["final_losses"]
    assert resumed["milestones"] == record["milestones"]
    assert not (out / f"{STEM}.ckpt").exists()


def test_sigkill_then_rerun_gives_identical_bytes(repo_root, tmp_path, reference):
    out = tmp_path / "run"
    ckpt = out / f"{STEM}.ckpt"
    proc = start(repo_root, out)
    try:
        state = wait_for_checkpoint(proc, ckpt, lambda s: s["iteration"] >= 10)
        os.killpg(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        kill(proc)
    assert not (out / f"{STEM}.png").exists()
    left = read_checkpoint(ckpt)
    assert left is not None and left["iteration"] >= state["iteration"]

    rerun = run_to_completion(repo_root, out)
    assert f"resuming from {ckpt} at iteration {left['iteration']}" in rerun.stdout
    check_resumed(out, reference, left)


def test_sigterm_checkpoints_exits_143_then_rerun_gives_identical_bytes(repo_root, tmp_path, reference):
    out = tmp_path / "run"
    ckpt = out / f"{STEM}.ckpt"
    proc = start(repo_root, out)
    try:
        state = wait_for_checkpoint(proc, ckpt, lambda s: s["iteration"] >= 10)
        os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=WAIT_S)  # finishes the current iteration, saves, exits
    finally:
        kill(proc)
    assert code == 143, log_of(out)
    assert "stopped by signal SIGTERM" in log_of(out)
    left = read_checkpoint(ckpt)
    assert left is not None and left["iteration"] >= state["iteration"] > 0
    assert left["iteration"] < ITERATIONS and len(left["history"]) == left["iteration"]
    # promptly, counted in iterations (not seconds): the run was at most one checkpoint interval past
    # the checkpoint seen when the signal went (a little more if the poll lagged), then stopped
    assert left["iteration"] <= state["iteration"] + 3 * CHECKPOINT_EVERY < ITERATIONS, (left["iteration"], state)
    assert not (out / f"{STEM}.png").exists()

    rerun = run_to_completion(repo_root, out)
    assert f"at iteration {left['iteration']}" in rerun.stdout
    check_resumed(out, reference, left)


def test_checkpoint_of_other_parameters_is_ignored(repo_root, tmp_path):
    """A seed-1 checkpoint (iteration >= 10) put where a seed-2 run looks for its own (as if renamed
    by hand): it must start from scratch. Proof without running all 40
    iterations: the first checkpoint the seed-2 run writes (its own fingerprint) starts a history of
    its own and is not past the foreign one (resumed, it would be at >= foreign + 5)."""
    first = tmp_path / "seed1"
    proc = start(repo_root, first, seed=1)
    try:
        foreign = wait_for_checkpoint(proc, first / f"{STEM}.ckpt", lambda s: s["iteration"] >= 10)
    finally:
        kill(proc)
    second = tmp_path / "seed2"
    second.mkdir()
    shutil.copy(first / f"{STEM}.ckpt", second / f"{STEM_SEED_2}.ckpt")
    proc = start(repo_root, second, seed=2)
    try:
        own = wait_for_checkpoint(
            proc, second / f"{STEM_SEED_2}.ckpt", lambda s: s["fingerprint"] != foreign["fingerprint"]
        )
    finally:
        kill(proc)
    assert 5 <= own["iteration"] < foreign["iteration"] + 5
    assert own["history"][0] != foreign["history"][0]  # seed 2's initial losses, not seed 1's
    assert "ignoring checkpoint" in log_of(second) and "resuming" not in log_of(second)
    assert not torch.equal(own["image"], foreign["image"])


def test_sigint_checkpoints_exits_130_then_rerun_gives_identical_bytes(repo_root, tmp_path, reference):
    """Ctrl-C is a stop like SIGTERM: state saved, exit 128 + 2, the rerun resumes."""
    out = tmp_path / "run"
    ckpt = out / f"{STEM}.ckpt"
    proc = start(repo_root, out)
    try:
        state = wait_for_checkpoint(proc, ckpt, lambda s: s["iteration"] >= 10)
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=WAIT_S)
    finally:
        kill(proc)
    assert code == 130, log_of(out)
    assert "stopped by signal SIGINT" in log_of(out) and "Traceback" not in log_of(out)
    left = read_checkpoint(ckpt)
    assert left is not None and ITERATIONS > left["iteration"] >= state["iteration"] > 0
    assert not (out / f"{STEM}.png").exists()

    # the stop is SIGTERM's (same code path; its rerun runs to the end above): the rerun is stopped at
    # its first new checkpoint, whose history must be the uninterrupted run's, bit for bit
    proc = start(repo_root, out)
    try:
        resumed = wait_for_checkpoint(proc, ckpt, lambda s: s["iteration"] > left["iteration"])
    finally:
        kill(proc)
    assert f"resuming from {ckpt} at iteration {left['iteration']}" in log_of(out), log_of(out)
    _, record, _ = reference()
    assert resumed["history"] == record["loss_history"][: resumed["iteration"]]


# The writer is `python -c` running the CLI with importlib.metadata reporting another version of one
# package, patched after torch and torchvision are imported: only what the engine records and
# fingerprints sees it.


@pytest.mark.parametrize("package", ["torch", "torchvision"])
def test_checkpoint_from_another_torch_or_torchvision_version_is_ignored(repo_root, tmp_path, package):
    """Kernels and models differ between versions: resuming another version's state would mix two
    results. The rerun must start afresh: its first checkpoint of its own is not past the foreign one
    (resumed, it would be at >= foreign + 5), and the rerun is stopped there (a fresh run to the end is
    an uninterrupted run, whose bytes the tests above compare)."""
    out = tmp_path / "run"
    ckpt = out / f"{STEM}.ckpt"
    out.mkdir()
    code = (
        "import sys, importlib.metadata as m, torch, torchvision; real = m.version; "
        f"m.version = lambda name: '0.0.1+other' if name == {package!r} else real(name); "
        "from nst.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    other = [sys.executable, "-c", code, *command(out)[3:]]
    with open(tmp_path / "other.log", "w") as log:
        proc = subprocess.Popen(
            other, cwd=repo_root, env=env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        foreign = wait_for_checkpoint(proc, ckpt, lambda s: s["iteration"] >= CHECKPOINT_EVERY)
    finally:
        kill(proc)

    proc = start(repo_root, out)
    try:
        own = wait_for_checkpoint(proc, ckpt, lambda s: s["fingerprint"] != foreign["fingerprint"])
    finally:
        kill(proc)
    assert "ignoring checkpoint" in log_of(out) and "resuming" not in log_of(out), log_of(out)
    assert CHECKPOINT_EVERY <= own["iteration"] < foreign["iteration"] + CHECKPOINT_EVERY, (own["iteration"], foreign)
