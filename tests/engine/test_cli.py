"""The command line, as users run it: `python -m nst ...` and the classic `neural_style_transfer.py`
script, in subprocesses (cwd = repo root, NST_OFFLINE=1)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import nst.api
from nst.cli import classic_main, main
from nst.images import read_description

CONTENT = "data/content/chelsea.jpg"
STYLE = "data/style/starry_night.jpg"
# tqdm's bar: "...| 2/3 [00:01<00:00, 1.2it/s, ...]" (or "s/it" when slow)
PROGRESS = re.compile(r"\|\s*\d+/\d+ \[|it/s")


def nst_run(
    repo_root: Path, args: list[str], timeout: float = 300, omp_threads: int = 1
) -> tuple[subprocess.CompletedProcess, float]:
    env = os.environ | {"NST_OFFLINE": "1", "OMP_NUM_THREADS": str(omp_threads)}  # shared CPUs: see test_engine
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=repo_root, env=env, capture_output=True, text=True, timeout=timeout)
    return proc, time.perf_counter() - started


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_stylize_writes_image_and_sidecar_with_progress(repo_root, tmp_path):
    out = tmp_path / "out"
    proc, _ = nst_run(
        repo_root,
        [
            sys.executable,
            "-m",
            "nst",
            "stylize",
            "--content",
            CONTENT,
            "--style",
            STYLE,
            "--weights",
            "bundled",
            "--height",
            "48",
            "--iterations",
            "3",
            "--out",
            str(out),
        ],
    )
    assert proc.returncode == 0, proc.stderr
    stem = (
        "chelsea_starry_night_m_vgg19_w_bundled_i_content_o_lbfgs_it_3_lr_1_h_48_cw_100000_sw_30000_tv_1_cl_4_sl_6_s_0"
    )
    assert files_under(out) == [stem + ".json", stem + ".png"]
    record = json.loads((out / (stem + ".json")).read_text())
    assert record["iterations_done"] == 3 and record["size"]["height"] == 48
    assert record["parameters"]["weights"] == "bundled" and record["random_weights"] is False
    assert "bundled" in read_description(out / (stem + ".png"))
    assert PROGRESS.search(proc.stderr), proc.stderr  # progress is on by default
    assert f"wrote {out / (stem + '.png')}" in proc.stdout


def test_stylize_blend_of_one_is_named_as_the_single_style_and_saves_every_n(repo_root, tmp_path, monkeypatch, capsys):
    """`--style a b --style-blend-weights 1 0` is the single-style run of a (its name); --save-every 1
    adds the images after iterations 1 and 2 (3 is the output) and leaves the name alone."""
    monkeypatch.chdir(repo_root)
    out = tmp_path / "out"
    style = ["--style", STYLE, "data/style/hubble_deep_field.jpg", "--style-blend-weights", "1", "0"]
    options = ["--weights", "bundled", "--height", "48", "--iterations", "3", "--no-progress", "--save-every", "1"]
    threads = torch.get_num_threads()
    try:  # in-process (no second torch start-up), one thread as the subprocesses here (shared CPUs)
        assert main(["stylize", "--content", CONTENT, *style, *options, "--threads", "1", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    stem = (
        "chelsea_starry_night_m_vgg19_w_bundled_i_content_o_lbfgs_it_3_lr_1_h_48_cw_100000_sw_30000_tv_1_cl_4_sl_6_s_0"
    )
    milestones = [f"{stem}.milestones/it00001.png", f"{stem}.milestones/it00002.png"]
    assert files_under(out) == [f"{stem}.json", *milestones, f"{stem}.png"]
    record = json.loads((out / f"{stem}.json").read_text())
    assert record["style_images"] == [STYLE] and record["parameters"]["style_blend_weights"] is None
    assert f"2 intermediate image(s) in {out / (stem + '.milestones')}" in capsys.readouterr().out


def test_classic_script_writes_the_classic_name(repo_root, tmp_path):
    out = tmp_path / "classic"
    proc, _ = nst_run(
        repo_root,
        [
            sys.executable,
            "neural_style_transfer.py",
            "--content_img_name",
            "chelsea.jpg",
            "--style_img_name",
            "starry_night.jpg",
            "--model",
            "vgg19",
            "--weights",
            "bundled",
            "--height",
            "48",
            "--iterations",
            "2",
            "--content_weight",
            "100000",
            "--style_weight",
            "30000",
            "--tv_weight",
            "1",
            "--optimizer",
            "lbfgs",
            "--init_method",
            "content",
            "--output_dir",
            str(out),
        ],
    )
    assert proc.returncode == 0, proc.stderr
    name = (
        "chelsea_starry_night_o_lbfgs_i_content_h_48_m_vgg19_cw_100000.0_sw_30000.0_tv_1.0_cl_-1_sl_-1_w_bundled_it_2"
    )
    folder = "combined_chelsea_starry_night"
    assert files_under(out) == [f"{folder}/{name}.jpg", f"{folder}/{name}.json"]
    record = json.loads((out / folder / f"{name}.json").read_text())
    # -1 = the default layers, resolved in the record
    assert record["parameters"]["content_layer"] == 4 and record["parameters"]["style_layers"] == 6
    assert record["iterations_done"] == 2


def test_classic_script_every_flag_reaches_the_run_and_the_name(repo_root, tmp_path, capsys):
    """A non-default value for every classic flag: each must land in the sidecar and, where the classic
    name has it, in the file name (an ignored flag would leave its default in both)."""
    (tmp_path / "photos").mkdir()
    (tmp_path / "paintings").mkdir()
    shutil.copy(repo_root / CONTENT, tmp_path / "photos/cat.jpg")
    shutil.copy(repo_root / STYLE, tmp_path / "paintings/swirl.jpg")
    shutil.copy(repo_root / "data/style/hubble_deep_field.jpg", tmp_path / "paintings/stars.jpg")
    out = tmp_path / "classic"
    flags = {
        "--content_img_name": "cat.jpg",
        "--style_img_name": "swirl.jpg,stars.jpg",  # a blend
        "--content_images_dir": str(tmp_path / "photos"),
        "--style_images_dir": str(tmp_path / "paintings"),
        "--output_dir": str(out),
        "--model": "vgg16",
        "--weights": "random",
        "--init_method": "gaussian",
        "--content_weight": "50000",
        "--style_weight": "1000",
        "--tv_weight": "2.5",
        "--content_layer": "3",
        "--style_layers": "4",
        "--optimizer": "adam",
        "--learning_rate": "0.5",
        "--height": "40",
        "--iterations": "3",
        "--stage_heights": "32",
        "--stage_iterations": "1,2",
        "--precision": "bf16",
        "--color_control": "luminance",
        "--style_blend_weights": "3,1",
        "--style_scale": "0.75",
        "--pooling": "avg",  # vgg16: a VGG, so average pooling is allowed
        "--style_layer_weights": "1,2,3,4",  # one per style layer (4)
        "--noise_units": "grey_levels",
        "--init_nudge": "2",
        "--seed": "7",
        "--device": "cpu",
        "--threads": "1",  # OMP_NUM_THREADS=2 below: 1 can only come from the flag
        "--checkpoint_every": "1",
        "--save_every": "5",  # replaced by the classic script's name for it, next (argparse: the last wins)
        "--saving_freq": "1",  # every iteration of the final stage (2, 3) but the last: it00002.png
    }
    switches = ["--cudnn_benchmark", "--no_progress", "--allow_slow_bf16"]  # bf16 at 40 px: slow only where emulated
    # every flag the script offers is here: a new one fails this until it gets a non-default value above
    with pytest.raises(SystemExit):
        classic_main(["--help"])  # the script's own parser, in-process: the script only calls classic_main
    usage = capsys.readouterr().out
    # --region_map does not combine with a blend: its own classic run, tests/engine/test_regions.py
    assert set(re.findall(r"--\w+", usage)) - {"--help"} == set(flags) | set(switches) | {"--region_map"}

    arguments = [x for pair in flags.items() for x in pair] + switches
    proc, _ = nst_run(repo_root, [sys.executable, "neural_style_transfer.py", *arguments], omp_threads=2)
    assert proc.returncode == 0, proc.stderr
    name = (
        "cat_swirl+stars_o_adam_i_gaussian_h_40_m_vgg16_cw_50000.0_sw_1000.0_tv_2.5_cl_3_sl_4_w_random_it_3_lr_0.5"
        "_s_7_nu_grey-levels_st_32_si_1+2_p_bf16_cc_luminance_sb_0.75+0.25_ss_0.75_pl_avg_lw_0.1+0.2+0.3+0.4_nd_2"
    )
    folder = "combined_cat_swirl+stars"
    expected = [f"{folder}/{name}.jpg", f"{folder}/{name}.json", f"{folder}/{name}.milestones/it00002.png"]
    assert files_under(out) == expected  # no checkpoint left
    record = json.loads((out / folder / f"{name}.json").read_text())
    assert record["parameters"] == {
        "model": "vgg16",
        "weights": "random",
        "init_method": "gaussian",
        "content_weight": 50000.0,
        "style_weight": 1000.0,
        "tv_weight": 2.5,
        "content_layer": 3,
        "style_layers": 4,
        "optimizer": "adam",
        "learning_rate": 0.5,
        "iterations": 3,
        "height": 40,
        "stage_heights": [32],
        "stage_iterations": [1, 2],
        "precision": "bf16",
        "color_control": "luminance",
        "style_blend_weights": [0.75, 0.25],  # 3:1, normalised
        "style_scale": 0.75,
        "pooling": "avg",
        "style_layer_weights": [0.1, 0.2, 0.3, 0.4],  # 1:2:3:4, normalised
        "noise_units": "grey_levels",
        "seed": 7,
        "region_map": None,  # not with a blend: test_regions.py's classic run
        "init_nudge": 2,
    }
    assert record["content_image"] == str(tmp_path / "photos/cat.jpg")
    assert record["style_images"] == [str(tmp_path / "paintings/swirl.jpg"), str(tmp_path / "paintings/stars.jpg")]
    assert record["device"] == "cpu" and record["torch_threads"] == 1 and record["cudnn_benchmark"] is True
    assert record["layers"] == {"content": "relu3_1", "style": ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]}
    assert [stage["height"] for stage in record["stages"]] == [32, 40] and record["size"] == {"width": 60, "height": 40}
    assert record["iterations_done"] == 3 and record["random_weights"] is True
    assert not PROGRESS.search(proc.stderr), proc.stderr


# --------------------------------------------------------------------------- bad input

# (id, options replacing/adding to the good command, text the one error line must contain)
BAD_INPUTS = [
    ("missing_image", ["--content", "data/content/no_such_image.jpg"], "no_such_image.jpg"),
    ("text_as_jpg", ["--style", "{tmp}/not_an_image.jpg"], "not_an_image.jpg"),
    ("unknown_backbone", ["--model", "alexnet9"], "alexnet9"),
    ("unknown_weights", ["--weights", "imagenet21k"], "imagenet21k"),
    ("unknown_init_method", ["--init-method", "noise"], "init_method 'noise'"),
    ("content_layer_7", ["--content-layer", "7"], "content_layer 7"),
    ("style_layers_0", ["--style-layers", "0"], "style_layers"),
    ("negative_style_weight", ["--style-weight", "-5"], "style_weight"),
    ("nan_content_weight", ["--content-weight", "nan"], "content_weight"),
    ("height_8", ["--height", "8"], "height"),
]


def bad_input(tmp: Path, case_id: str, options: list[str]) -> tuple[list[str], Path]:
    """The `nst stylize` arguments of one bad-input case and its output folder (nothing may land there)."""
    (tmp / "not_an_image.jpg").write_text("this is a text file, not a JPEG\n")
    out = tmp / case_id
    args = {
        "--content": CONTENT,
        "--style": STYLE,
        "--weights": "bundled",
        "--height": "48",
        "--iterations": "1000",
        "--out": str(out),
    }
    args |= {options[0]: options[1].replace("{tmp}", str(tmp))}
    return ["stylize"] + [x for pair in args.items() for x in pair], out


def assert_refused(code: int, stderr: str, out: Path, expected: str) -> None:
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("nst: error: ") and expected in lines[0], lines[0]
    assert not PROGRESS.search(stderr)
    assert files_under(out) == []


@pytest.mark.parametrize("case_id, options, expected", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_one_line_exit_2_nothing_written(
    repo_root, tmp_path, monkeypatch, capsys, case_id, options, expected
):
    """In-process through the CLI's main(argv); the optimiser is replaced by a failure, so a bad value
    that reached the optimisation fails here at once instead of running 1000 iterations."""

    def optimisation_started(*args, **kwargs):
        raise AssertionError(f"{case_id}: the bad input reached the optimisation")

    monkeypatch.setattr(nst.api, "run_alone", optimisation_started)  # a single run's optimisation
    monkeypatch.chdir(repo_root)
    argv, out = bad_input(tmp_path, case_id, options)
    code = main(argv)
    assert_refused(code, capsys.readouterr().err, out, expected)


def test_bad_input_through_python_m_nst(repo_root, tmp_path):
    """One case as users meet it: `python -m nst` exits 2 with one line on stderr (no import-time
    warning or traceback around it). A run that optimised instead would write files or exit 0."""
    case_id, options, expected = BAD_INPUTS[1]  # text_as_jpg: the image decoder's error
    argv, out = bad_input(tmp_path, case_id, options)
    proc, _ = nst_run(repo_root, [sys.executable, "-m", "nst", *argv])
    assert_refused(proc.returncode, proc.stderr, out, expected)
