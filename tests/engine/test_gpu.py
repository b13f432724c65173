"""CUDA behaviour, where a GPU is present (skipped otherwise; marked `gpu`, so NST_REQUIRE_ALL=1 in CI
does not turn the skips into failures). Random weights: these prove device handling, not pictures."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from test_options import bf16_dtypes
from test_resume import kill, read_checkpoint, wait_for_checkpoint

import nst

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (runs on a GPU box)"),
]
TINY = {"weights": "random", "height": 32, "iterations": 2, "progress": False}


def test_auto_device_resolves_to_cuda(content_image, style_image):
    assert nst.check_run(content_image, style_image, device="auto")["device"] == "cuda"


def test_cuda_run_records_the_cuda_device_and_allocator_peak(tmp_path, content_image, style_image):
    record = nst.stylize(content_image, style_image, tmp_path / "out.png", device="auto", **TINY).record
    assert record["device"] == "cuda"
    assert record["peak_memory_kind"] == "cuda max_memory_allocated" and record["peak_memory_mb"] > 0
    assert record["iterations_done"] == 2 and all(math.isfinite(v) for v in record["final_losses"].values())


def test_device_cpu_on_a_gpu_box_stays_on_the_cpu(tmp_path, content_image, style_image):
    record = nst.stylize(content_image, style_image, tmp_path / "out.png", device="cpu", **TINY).record
    assert record["device"] == "cpu" and record["peak_memory_kind"] == "process peak RSS"


def test_checkpoint_saved_on_cuda_resumes_and_finishes(repo_root, tmp_path):
    """SIGTERM a CUDA run after a checkpoint (the state is saved from the GPU), rerun: it resumes there."""
    out = tmp_path / "run"
    out.mkdir()
    iterations = 3000  # enough that the first run is still going when its checkpoint is seen
    command = [sys.executable, "-m", "nst", "stylize", "--content", "data/content/chelsea.jpg"]
    command += ["--style", "data/style/starry_night.jpg", "--weights", "random", "--height", "128"]
    command += ["--iterations", str(iterations), "--checkpoint-every", "2", "--device", "cuda", "--no-progress"]
    command += ["--init-method", "gaussian", "--optimizer", "adam", "--out", str(out)]
    env = os.environ | {"NST_OFFLINE": "1"}
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen(
            command, cwd=repo_root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        (ckpt,) = wait_for_any_checkpoint(proc, out)
        wait_for_checkpoint(proc, ckpt, lambda s: s["iteration"] >= 4)
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 143, (tmp_path / "first.log").read_text()
    finally:
        kill(proc)
    left = read_checkpoint(ckpt)
    assert left is not None and 4 <= left["iteration"] < iterations

    rerun = subprocess.run(command, cwd=repo_root, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"resuming from {ckpt} at iteration {left['iteration']}" in rerun.stdout
    record = json.loads(ckpt.with_suffix(".json").read_text())
    assert record["device"] == "cuda" and record["resumed_from_iteration"] == left["iteration"]
    assert record["iterations_done"] == iterations and len(record["loss_history"]) == iterations
    assert not ckpt.exists() and ckpt.with_suffix(".png").is_file()


def _matmul_error() -> float:
    """Relative error of a float32 matrix product on the GPU: ~1e-7 in fp32, ~1e-4 with TF32 (10-bit mantissa)."""
    generator = torch.Generator(device="cuda").manual_seed(0)
    a, b = (torch.randn(512, 512, device="cuda", generator=generator) for _ in range(2))
    exact = a.double() @ b.double()
    return ((a @ b).double() - exact).abs().max().item() / exact.abs().max().item()


@pytest.fixture
def backend_flags():
    """Leaves torch's global backend flags as it found them."""
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark)
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark = before


def test_fp32_runs_turn_tf32_off_and_tf32_runs_on(tmp_path, content_image, style_image, backend_flags):
    """Each flag is set to the opposite beforehand: the run decides it (torch enables TF32 for cuDNN
    convolutions by default)."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    nst.stylize(content_image, style_image, tmp_path / "fp32.png", device="cuda", **TINY)
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
    assert _matmul_error() < 1e-5
    nst.stylize(content_image, style_image, tmp_path / "tf32.png", device="cuda", precision="tf32", **TINY)
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    assert _matmul_error() > 1e-5


def test_cudnn_autotuning_is_off_unless_asked_for(tmp_path, content_image, style_image, backend_flags):
    torch.backends.cudnn.benchmark = True
    record = nst.stylize(content_image, style_image, tmp_path / "a.png", device="cuda", **TINY).record
    assert torch.backends.cudnn.benchmark is False and record["cudnn_benchmark"] is False
    asked = nst.stylize(content_image, style_image, tmp_path / "b.png", device="cuda", cudnn_benchmark=True, **TINY)
    assert torch.backends.cudnn.benchmark is True and asked.record["cudnn_benchmark"] is True


def test_bf16_on_cuda(tmp_path, content_image, style_image, monkeypatch):
    """The backbone in bf16 on the GPU (autocast), Gram matrices and losses in fp32; a whole run finishes."""
    dtypes = bf16_dtypes(monkeypatch, device="cuda")
    assert dtypes.pop("convolutions") == {torch.bfloat16}
    assert dtypes == dict.fromkeys(dtypes, {torch.float32})
    result = nst.stylize(content_image, style_image, tmp_path / "out.png", device="cuda", precision="bf16", **TINY)
    record = result.record
    assert record["device"] == "cuda" and record["parameters"]["precision"] == "bf16"
    assert record["iterations_done"] == 2 and all(math.isfinite(v) for v in record["final_losses"].values())


def wait_for_any_checkpoint(proc: subprocess.Popen, out: Path, timeout: float = 120) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"run ended (code {proc.returncode}) before any checkpoint"
        found = list(out.glob("*.ckpt"))
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"no checkpoint in {out} within {timeout} s")
