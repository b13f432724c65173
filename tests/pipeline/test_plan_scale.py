"""Planning big matrices: every run still gets the engine's full check, each image file
is decoded once, and nothing Snakemake sees grows with the square of the number of runs.
Timings live in bench/bench_planning.py and BENCHMARKS.md, not here."""

from __future__ import annotations

import contextlib
import re

import pytest
import yaml
from PIL import Image
from pipeline_helpers import REPO, snakemake
from snakemake.utils import update_config

from nst import images
from nst.errors import NSTInputError
from nst_pipeline import plan as plan_module
from nst_pipeline.plan import ConfigError, experiments_by_run, plan_experiments, run_name_regex

PAIRS = [["chelsea", "starry_night"], ["coffee", "hubble"]]


def _config(seeds: int, style_weights=(10.0, 100.0)) -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    sweep = {"vary": {"style_weight": list(style_weights), "seed": list(range(seeds))}}
    override = {
        "run_experiments": ["scale"],
        "defaults": {"weights": "bundled", "height": 32, "iterations": 1},
        "experiments": {"scale": {"pairs": PAIRS, "sweeps": [sweep]}},
    }
    update_config(config, override)
    return config


@pytest.fixture
def counted(monkeypatch):
    """Counts of image decodes and of check_run calls made by the planner."""
    counts = {"decodes": 0, "checks": 0}
    decode, check = images._decode_rgb, plan_module.check_run

    def counting_decode(*args, **kwargs):
        counts["decodes"] += 1
        return decode(*args, **kwargs)

    def counting_check(*args, **kwargs):
        counts["checks"] += 1
        return check(*args, **kwargs)

    monkeypatch.setattr(images, "_decode_rgb", counting_decode)
    monkeypatch.setattr(plan_module, "check_run", counting_check)
    return counts


def test_each_image_is_decoded_once_and_every_run_still_checked(counted):
    plan = plan_experiments(_config(seeds=50), base_dir=REPO)
    assert len(plan.runs) == 2 * 2 * 50
    assert counted["checks"] == 200  # one full check_run per distinct parameter set
    assert counted["decodes"] == 4  # chelsea, starry_night, coffee, hubble: once each


def test_a_bad_value_deep_in_a_big_sweep_is_still_refused_naming_it():
    with pytest.raises(ConfigError, match=r"experiments\.scale\.sweeps\[0\] .*style_weight must be a number >= 0"):
        plan_experiments(_config(seeds=200, style_weights=(10.0, 100.0, -1.0)), base_dir=REPO)


def test_an_unreadable_image_is_still_refused(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    config = _config(seeds=20)
    config["images"]["style"]["hubble"] = str(broken)
    with pytest.raises(ConfigError, match=r"style image .*broken\.jpg is not a readable image"):
        plan_experiments(config, base_dir=REPO)


def test_reuse_decoded_shares_the_decode_not_the_image(tmp_path, counted):
    path = REPO / "data/content/chelsea.jpg"
    images.open_rgb(path, "content")
    images.open_rgb(path, "content")
    assert counted["decodes"] == 2  # outside the block every call decodes
    with images.reuse_decoded():
        first = images.open_rgb(path, "content")
        first.putpixel((0, 0), (1, 2, 3))
        second = images.open_rgb(path, "content")
    assert counted["decodes"] == 3
    assert second.getpixel((0, 0)) != (1, 2, 3)  # a caller's change does not leak to the next
    assert second.tobytes() == Image.open(path).convert("RGB").tobytes()
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG nope")
    with images.reuse_decoded():
        for _ in range(2):  # a failure is not remembered as an image
            with pytest.raises(NSTInputError, match="not a readable image"):
                images.open_rgb(broken, "style")


def test_the_checks_read_image_sizes_without_copying_pixels(tmp_path, monkeypatch):
    copies = []
    copy = Image.Image.copy
    monkeypatch.setattr(Image.Image, "copy", lambda image: copies.append(image.size) or copy(image))
    plan_experiments(_config(seeds=10), base_dir=REPO)
    assert len(copies) == 4  # PIL's convert('RGB') in each file's one decode; none per run (two each were ~0.2 ms)
    path = REPO / "data/content/chelsea.jpg"
    with images.reuse_decoded():
        assert images.image_size(path, "content") == images.open_rgb(path, "content").size == (451, 300)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG nope")
    for missing_or_broken, message in ((tmp_path / "none.png", "style image not found"), (broken, "not a readable")):
        for reuse in (images.reuse_decoded(), contextlib.nullcontext()):
            with reuse, pytest.raises(NSTInputError, match=message):
                images.image_size(missing_or_broken, "style")


def test_run_name_regex_stays_small_and_matches_exactly():
    names = [f"{c}__{s}/m_vgg19_sw_{i}_s_{j}" for c, s in PAIRS for i in range(50) for j in range(100)]
    regex = run_name_regex(names)
    assert len(regex) < 100  # 10,000 names; listing them made a regex of ~400,000 characters
    pattern = re.compile(regex)
    assert all(pattern.fullmatch(name) for name in names)
    for other in ("chelsea__hubble/m_vgg19", "chelsea__starry_night/a/b", "chelsea__starry_night/", "x"):
        assert not pattern.fullmatch(other), other
    assert run_name_regex([]) == "$^"


def test_experiments_by_run_lists_each_experiment_once_in_plan_order():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    plan = plan_experiments(config, base_dir=REPO)
    index = experiments_by_run(plan)
    assert index.keys() == plan.runs.keys()
    # the all-defaults run: listed by the most experiments (style_blend's and spatial's 1:0 blends are
    # starry_night's own run, nst.params.sole_style), and the noise repeats' first content run
    defaults_run = max(index, key=lambda run: len(index[run]))
    assert index[defaults_run] == [
        "init",
        "content_layer",
        "style_layers",
        "backbone",
        "color_control",
        "style_scale",
        "style_blend",
        "pooling",
        "spatial",
        "noise",
    ]
    searched = {  # a search of every experiment per run, as the reference
        run: [n for n, e in plan.experiments.items() if any(x["run"] == run for xs in e.runs.values() for x in xs)]
        for run in plan.runs
    }
    assert index == searched


def test_a_target_that_is_not_a_planned_run_is_refused_by_name(tmp_path):
    target = "results/runs/chelsea__starry_night/m_bogus.png"
    result = snakemake(tmp_path, "-n", target, "--configfile", str(REPO / "tests/configs/tiny.yaml"))
    assert result.returncode != 0
    assert f"{target}: not a run of the configured experiments" in result.stdout + result.stderr
