"""Batches of stylize jobs in the pipeline (config batch_size, nst_pipeline.batches): how runs are
grouped, that a batched sweep computes runs together and caches them run by run, and that a run
failing in a batch fails alone. (That a batched run equals the run alone up to float noise is the
engine's promise: tests/engine/test_batch.py; here it is checked again on the pipeline's runs.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from pipeline_helpers import NO_SLURM_PATH, REPO, SNAKEMAKE, job_counts, snakemake, write_config

from nst_pipeline import paths
from nst_pipeline.batches import batch_id, plan_batches
from nst_pipeline.plan import Run

CONTENT, WIDE = str(REPO / "data/content/chelsea.jpg"), str(REPO / "data/style/starry_night.jpg")
NETWORK = {"model": "vgg19", "weights": "bundled", "content_layer": 4, "style_layers": 6, "precision": "fp32"}
NETWORK |= {"pooling": "max", "height": 32, "stage_heights": []}
TINY = REPO / "tests/configs/tiny.yaml"
UNTIL = ("--until", "stylize")  # tiny_batched_run ran the stylize jobs: what batching changes
CONTENT_RUN = (
    "chelsea__starry_night/m_vgg19_w_bundled_i_content_o_lbfgs_it_3_lr_1_h_32_cw_100000_sw_30000_tv_1_cl_4_sl_6_s_0"
)
GAUSSIAN_RUN = CONTENT_RUN.replace("i_content", "i_gaussian") + "_nu_grey-levels"
LAYERS_2_RUN = CONTENT_RUN.replace("sl_6", "sl_2")


def run(name: str, content: str = CONTENT, **changes) -> Run:
    return Run(name, content, WIDE, NETWORK | {"init_method": "content"} | changes)


# ---- planning


def test_runs_to_do_are_batched_by_what_they_share_in_name_order():
    runs = {name: run(name) for name in ("p/a", "p/b", "p/c", "p/d", "p/e")}
    runs["p/f"] = run("p/f", style_layers=2)  # another network: another batch
    runs["p/g"] = run("p/g", content=WIDE)  # another image size
    runs["p/h"] = run("p/h", style_layers=2)
    to_do = ["p/h", "p/e", "p/d", "p/c", "p/b", "p/a", "p/g", "p/f"]  # in no particular order
    batches = plan_batches(runs, to_do, batch_size=2)
    assert list(batches.values()) == [["p/a", "p/b"], ["p/c", "p/d"], ["p/f", "p/h"]]  # e and g alone
    by_three = [["p/a", "p/b", "p/c"], ["p/d", "p/e"], ["p/f", "p/h"]]
    assert list(plan_batches(runs, to_do, batch_size=3).values()) == by_three
    assert plan_batches(runs, to_do, batch_size=1) == {}
    for batch, members in batches.items():
        assert batch == batch_id(members)


def test_only_the_runs_still_to_do_are_batched():
    """A finished run is in no batch; the batches of the runs left are cut afresh."""
    runs = {name: run(name) for name in ("p/a", "p/b", "p/c", "p/d")}
    assert list(plan_batches(runs, ["p/b", "p/d", "p/c"], batch_size=2).values()) == [["p/b", "p/c"]]
    assert plan_batches(runs, ["p/d"], batch_size=4) == {}


# ---- a batched run of the tiny config


def sidecar(workdir: Path, name: str) -> dict:
    return json.loads((workdir / paths.run_sidecar(name)).read_text())


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image, dtype=np.float64)


def test_runs_sharing_a_network_are_computed_together_and_each_job_has_its_run(tiny_batched_run):
    work = tiny_batched_run
    together = sorted(name.rsplit("/", 1)[1] + ".png" for name in (CONTENT_RUN, GAUSSIAN_RUN))
    for name in (CONTENT_RUN, GAUSSIAN_RUN):
        assert sidecar(work, name)["batch"] == {"size": 2, "runs": together}
        assert (work / paths.run_milestones(name)).is_dir()
    assert sidecar(work, LAYERS_2_RUN)["batch"]["size"] == 1
    assert [path for path in (work / paths.BATCHES / "staged").rglob("*") if path.is_file()] == []
    logs = [(work / paths.run_log(name)).read_text() for name in (CONTENT_RUN, GAUSSIAN_RUN)]
    computed = [log for log in logs if "computing 2 of its 2 runs together" in log]
    collected = [log for log in logs if "computed in batch-" in log and "by the stylize job of" in log]
    assert len(computed) == 1 and len(collected) == 1, logs


def test_a_batched_run_is_the_run_alone_up_to_float_noise(tiny_batched_run, tmp_path):
    """The numbers behind README's "a run is a run, however it was computed" at the pipeline's scale:
    the batch's two runs computed alone (batch_size 1, the default). 3 iterations at 32 px moved a
    pixel by at most one grey level and the loss by <1e-4 here; a run alone in both is the same bytes."""
    alone_dir = tmp_path / "alone"
    result = snakemake(alone_dir, "--configfile", str(TINY), *UNTIL)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in (CONTENT_RUN, GAUSSIAN_RUN):
        batched, alone = sidecar(tiny_batched_run, name), sidecar(alone_dir, name)
        assert batched["batch"]["size"] == 2 and alone["batch"]["size"] == 1
        assert batched["iterations_done"] == alone["iterations_done"] == 3
        for term, value in alone["final_losses"].items():
            assert batched["final_losses"][term] == pytest.approx(value, rel=1e-3), (name, term)
        difference = np.abs(
            pixels(tiny_batched_run / paths.run_image(name)) - pixels(alone_dir / paths.run_image(name))
        )
        assert difference.max() <= 2 and difference.mean() < 0.1, name
    alone_bytes = (alone_dir / paths.run_image(LAYERS_2_RUN)).read_bytes()
    assert (tiny_batched_run / paths.run_image(LAYERS_2_RUN)).read_bytes() == alone_bytes  # in no batch


def test_after_a_batched_sweep_nothing_to_do_and_a_changed_value_reruns_only_its_run(tiny_batched_run, tmp_path):
    work = tiny_batched_run
    configs = (str(TINY), str(TINY.with_name("tiny_batched.yaml")))
    result = snakemake(work, "-n", "--configfile", *configs, *UNTIL)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout) == {}, result.stdout[-3000:]
    config = yaml.safe_load(TINY.read_text())
    config["experiments"]["init"]["sweeps"][0]["vary"]["init_method"] = ["content", "uniform"]  # gaussian -> uniform
    changed = write_config(tmp_path / "changed.yaml", **config)
    # and batch_size 1: the batch size is no rule parameter, changing it reruns nothing by itself
    result = snakemake(work, "-n", "--configfile", str(changed), "--config", "batch_size=1", *UNTIL)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout) == {"stylize": 1}, result.stdout[-3000:]
    assert CONTENT_RUN.replace("i_content", "i_uniform") in result.stdout


def test_a_run_whose_loss_overflows_in_a_batch_fails_alone(tmp_path):
    """Style weight 1e38: the total overflows float32 (tests/engine/test_batch.py). Its job fails with
    the engine's non-finite error, recorded as deterministic; its batch-mate is written."""
    config = write_config(
        tmp_path / "overflow.yaml",
        run_experiments=["weights"],
        defaults={"weights": "bundled", "height": 32, "iterations": 6},
        experiments={"weights": {"sweeps": [{"vary": {"style_weight": [3e4, 1e38]}}]}},
        batch_size=2,
    )
    work = tmp_path / "work"
    result = snakemake(work, "--configfile", str(config), "--until", "stylize")
    assert result.returncode != 0
    images = sorted(path.name for path in (work / "results/runs").rglob("*.png"))
    assert len(images) == 1 and "_sw_30000_" in images[0], images
    (failure,) = (work / "results/failed").rglob("*.json")
    record = json.loads(failure.read_text())
    assert "_sw_1e38_" in record["run"] and record["deterministic"], record
    assert "non-finite" in record["error"] and "batch-" in record["error"], record["error"]
    good = json.loads(next((work / "results/runs").rglob("*.json")).read_text())
    assert good["batch"]["size"] == 2


# ---- a batch stopped (SLURM's time limit, pre-emption) resumes


def stylize_processes(work: Path) -> list[int]:
    """The stylize jobs' processes of a Snakemake working in `work` (script jobs run in it)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            in_work = proc.name.isdigit() and (proc / "cwd").resolve() == work.resolve()
            if in_work and b"stylize.py" in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:  # gone, or not ours to read
            continue
    return found


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def test_a_stopped_batch_resumes_each_run_from_its_checkpoint_to_the_same_bytes(tmp_path):
    """SIGTERM to the batch's jobs (as SLURM sends at a time limit) once both runs have checkpointed:
    the job computing the batch saves every run's checkpoint in results/batches/staged/ and exits; the
    next invocation's batch resumes both from there, and ends with the bytes of an uninterrupted run."""
    config = write_config(
        tmp_path / "stopped.yaml",
        run_experiments=["init"],
        defaults={"weights": "bundled", "height": 32, "iterations": 12},
        experiments={"init": {"sweeps": [{"vary": {"init_method": ["content", "gaussian"]}}]}},
        checkpoint_every=2,
        batch_size=2,
    )
    reference, work = tmp_path / "uninterrupted", tmp_path / "stopped"
    result = snakemake(reference, "--configfile", str(config), "--until", "stylize")
    assert result.returncode == 0, result.stderr[-3000:]
    work.mkdir()
    command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "2"]
    command += ["--configfile", str(config), "--until", "stylize"]
    env = os.environ | {"NST_OFFLINE": "1", "PATH": NO_SLURM_PATH}
    with subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as first:
        staged = work / paths.BATCHES / "staged"
        wait_for(lambda: len(list(staged.rglob("*.ckpt"))) == 2, timeout=120, what="both runs' checkpoints")
        for pid in stylize_processes(work):
            os.kill(pid, signal.SIGTERM)
        assert first.wait(timeout=120) != 0
    assert not list((work / "results/runs").glob("*/*.png"))  # stopped before the end
    result = snakemake(work, "--configfile", str(config), "--until", "stylize")
    assert result.returncode == 0, result.stderr[-3000:]
    pngs = list((reference / "results/runs").glob("*/*.png"))  # not the milestones
    assert len(pngs) == 2
    for png in pngs:
        name = png.relative_to(reference / "results/runs").with_suffix("").as_posix()
        resumed = sidecar(work, name)
        assert resumed["resumed_from_iteration"] > 0 and resumed["batch"]["size"] == 2, resumed["batch"]
        assert (work / paths.run_image(name)).read_bytes() == png.read_bytes(), name
