"""`nst stylize` options no other test exercises, and `nst layers`, as users run them: subprocesses,
cwd = repo root, NST_OFFLINE=1, bundled VGG19, 48 px, 2 iterations."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nst.images import read_description

BASE = ["--content", "data/content/chelsea.jpg", "--style", "data/style/starry_night.jpg", "--weights", "bundled"]
BASE += ["--height", "48", "--iterations", "2", "--device", "cpu", "--no-progress"]
# the run id of BASE with lr as given (nst/naming.py); chelsea.jpg (451x300) at 48 px is 72x48
STEM = (
    "chelsea_starry_night_m_vgg19_w_bundled_i_content_o_lbfgs_it_2_lr_{lr}_h_48_cw_100000_sw_30000_tv_1_cl_4_sl_6_s_0"
)


def nst(repo_root: Path, args: list[str], omp_threads: int = 1) -> subprocess.CompletedProcess:
    env = os.environ | {"NST_OFFLINE": "1", "OMP_NUM_THREADS": str(omp_threads)}
    command = [sys.executable, "-m", "nst", *args]
    return subprocess.run(command, cwd=repo_root, env=env, capture_output=True, text=True, timeout=300)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# id -> (extra options, OMP_NUM_THREADS of the process)
RUNS = {
    "default": ([], 1),
    # the flag given last wins: this run's device is for the engine to decide
    "jpg": (["--format", "jpg", "--device", "auto"], 1),
    "lr": (["--learning-rate", "0.25"], 1),
    # OpenMP says 2, the flag says 1: the sidecar must follow the flag
    "threads": (["--threads", "1"], 2),
}


@pytest.fixture(scope="module")
def runs(repo_root, tmp_path_factory):
    """Every run of RUNS, two at a time (2 shared cores): {id: (process, out folder)}."""
    tmp = tmp_path_factory.mktemp("cli_options")

    def one(item):
        name, (options, omp) = item
        out = tmp / name
        return name, (nst(repo_root, ["stylize", *BASE, *options, "--out", str(out)], omp), out)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, RUNS.items()))


def finished(runs, name: str, lr: str = "1", suffix: str = ".png") -> tuple[Path, dict]:
    proc, out = runs[name]
    assert proc.returncode == 0, proc.stderr[-3000:]
    stem = STEM.format(lr=lr)
    assert files_under(out) == sorted([stem + ".json", stem + suffix]), files_under(out)
    assert f"wrote {out / (stem + suffix)} (+ {stem}.json)" in proc.stdout, proc.stdout
    return out / (stem + suffix), json.loads((out / (stem + ".json")).read_text())


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def test_format_jpg_writes_a_readable_jpeg_with_its_provenance(runs):
    image, record = finished(runs, "jpg", suffix=".jpg")
    with Image.open(image) as jpeg:
        assert jpeg.format == "JPEG" and jpeg.size == (72, 48)
        jpeg.load()
    description = read_description(image)
    assert description.startswith("nst stylize; weights: bundled: ") and description.endswith(
        f"sidecar: {image.stem}.json"
    ), description
    assert record["output"] == image.name and record["iterations_done"] == 2


def test_device_is_resolved_and_recorded(runs):
    _, record = finished(runs, "default")
    assert record["device"] == "cpu" and record["peak_memory_kind"] == "process peak RSS"
    _, auto = finished(runs, "jpg", suffix=".jpg")  # --device auto: CUDA where there is one, else the CPU
    cuda = torch.cuda.is_available()
    assert auto["device"] == ("cuda" if cuda else "cpu")
    assert auto["peak_memory_kind"] == ("cuda max_memory_allocated" if cuda else "process peak RSS")


def test_threads_flag_sets_torch_threads(runs):
    _, record = finished(runs, "threads")
    assert record["torch_threads"] == 1
    _, default = finished(runs, "default")
    assert default["torch_threads"] == 1  # OMP_NUM_THREADS=1 there


def test_learning_rate_is_recorded_and_changes_the_image(runs):
    image, record = finished(runs, "lr", lr="0.25")
    assert record["parameters"]["learning_rate"] == 0.25
    default_image, default = finished(runs, "default")
    assert default["parameters"]["learning_rate"] == 1.0
    assert record["loss_history"][0] == default["loss_history"][0]  # same start ...
    assert not np.array_equal(pixels(image), pixels(default_image))  # ... other steps


def test_nst_layers_vgg19_table(repo_root):
    proc = nst(repo_root, ["layers", "--model", "vgg19"])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "vgg19:"
    row = re.compile(r"^  (\d)  (\S+) +node (\S+) *(.*)$")
    rows = [row.match(line).groups() for line in lines[1:]]
    assert rows == [
        ("1", "relu1_1", "features.1", "default style"),
        ("2", "relu2_1", "features.6", "default style"),
        ("3", "relu3_1", "features.11", "default style"),
        ("4", "relu4_1", "features.20", "default content, default style"),
        ("5", "relu4_2", "features.22", "default style"),
        ("6", "relu5_1", "features.29", "default style"),
    ]


def test_nst_layers_lists_every_backbone(repo_root):
    proc = nst(repo_root, ["layers"])
    assert proc.returncode == 0, proc.stderr
    headers = [line for line in proc.stdout.splitlines() if not line.startswith(" ")]
    assert headers == ["vgg19:", "vgg16:", "resnet50:", "inception_v3:", "efficientnet_lite0:"]
    assert len(proc.stdout.splitlines()) == 5 * 7


def test_non_finite_loss_exits_3_and_writes_nothing(repo_root, tmp_path):
    # the bundled VGG19's content loss of a noise image (~1e3) times 1e38 overflows float32
    out = tmp_path / "out"
    options = ["--content-weight", "1e38", "--init-method", "gaussian", "--checkpoint-every", "1"]
    proc = nst(repo_root, ["stylize", *BASE, *options, "--out", str(out)])
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nst: error: ") and "non-finite" in lines[0], proc.stderr
    assert files_under(out) == []  # no image, sidecar, checkpoint or temp file
    assert "wrote" not in proc.stdout
