"""The Snakemake pipeline for real: lint, dry-runs, a tiny end-to-end run, reruns, report, bad configs."""

from __future__ import annotations

import json

import pytest
import yaml
from pipeline_helpers import REPO, job_counts, snakemake, write_config

TINY = REPO / "tests/configs/tiny.yaml"


def test_lint_is_clean(tmp_path):
    result = snakemake(tmp_path, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


def test_full_config_dry_run_expands_every_experiment(tmp_path):
    result = snakemake(tmp_path, "-n")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    # 4 init + 8 style-weight + 4 content-layer + 6 style-layers + 5 backbone = 27 runs; the all-defaults
    # run is shared by init, content_layer, style_layers and backbone, so 3 are the same job.
    assert counts == {"stylize": 24, "make_grid": 5, "make_report": 1, "all": 1}, counts


def test_demo_config_dry_run(tmp_path):
    result = snakemake(tmp_path, "-n", "--configfile", str(REPO / "config/demo.yaml"))
    assert result.returncode == 0, result.stderr
    assert job_counts(result.stdout)["stylize"] == 23


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A real run of tests/configs/tiny.yaml: 4 entries, 3 unique runs (style_layers 6 = init content)."""
    workdir = tmp_path_factory.mktemp("tiny")
    result = snakemake(workdir, "--configfile", str(TINY))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return workdir


@pytest.mark.slow
def test_tiny_run_end_to_end(tiny_run):
    runs = sorted((tiny_run / "results/runs").rglob("*.png"))
    assert len(runs) == 3
    for image in runs:
        record = json.loads(image.with_suffix(".json").read_text())
        assert record["weights"]["source"] == "bundled" and record["iterations_done"] == 3
        assert (
            (tiny_run / "results/logs/stylize" / image.relative_to(tiny_run / "results/runs"))
            .with_suffix(".log")
            .is_file()
        )
        assert (
            (tiny_run / "results/benchmarks/stylize" / image.relative_to(tiny_run / "results/runs"))
            .with_suffix(".tsv")
            .is_file()
        )
    assert sorted(p.name for p in (tiny_run / "results/grids").rglob("*.png")) == [
        "chelsea__starry_night.png",
        "chelsea__starry_night.png",
    ]
    html = (tiny_run / "results/report.html").read_text()
    assert "init" in html and "style_layers" in html and "RANDOM WEIGHTS" not in html


@pytest.mark.slow
def test_rerun_does_only_what_changed(tiny_run, tmp_path):
    nothing = snakemake(tiny_run, "-n", "--configfile", str(TINY))
    assert nothing.returncode == 0 and "Nothing to be done" in nothing.stdout + nothing.stderr

    # one value changed in one experiment: exactly one new run, its grid, the report
    config = yaml.safe_load(TINY.read_text())
    config["experiments"]["style_layers"]["sweeps"][0]["vary"]["style_layers"] = [3, 6]
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(config))
    result = snakemake(tiny_run, "-n", "--configfile", str(edited))
    assert job_counts(result.stdout) == {"stylize": 1, "make_grid": 1, "make_report": 1, "all": 1}, result.stdout

    # a changed default reruns everything it reaches
    result = snakemake(
        tiny_run,
        "-n",
        "--configfile",
        str(write_config(tmp_path / "h.yaml", defaults={"weights": "bundled", "height": 40, "iterations": 3})),
    )
    assert job_counts(result.stdout)["stylize"] == 3


@pytest.mark.slow
def test_report_renders_in_chromium(tiny_run, tmp_path):
    from browser import check_page, find_chromium

    if find_chromium() is None:
        pytest.skip("chromium not installed (make test installs it)")
    report = tiny_run / "results/report.html"
    page = check_page(report, tmp_path / "report.png")
    assert page.images_total == report.read_text().count("<img"), page
    assert page.images_total >= 2 + 2  # two grids + loss-curve figures
    assert page.images_broken == []
    assert page.screenshot.stat().st_size > 10_000


@pytest.mark.slow
def test_snakemake_report(tiny_run):
    result = snakemake(tiny_run, "--configfile", str(TINY), "--report", "results/snakemake-report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tiny_run / "results/snakemake-report.html").stat().st_size > 10_000


def _bad(tmp_path, mutate) -> str:
    config = yaml.safe_load(TINY.read_text())
    mutate(config)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path / "work", "-n", "--configfile", str(path))
    assert result.returncode != 0
    assert not (tmp_path / "work/results").exists()
    return result.stdout + result.stderr


def test_bad_config_unknown_key(tmp_path):
    out = _bad(tmp_path, lambda c: c["defaults"].update(stlye_weight=3))
    assert "stlye_weight" in out


def test_bad_config_wrong_type(tmp_path):
    out = _bad(tmp_path, lambda c: c["defaults"].update(height="tall"))
    assert "height" in out and "tall" in out


def test_bad_config_unknown_backbone(tmp_path):
    out = _bad(tmp_path, lambda c: c["experiments"]["init"]["sweeps"][0].update(set={"model": "alexnet"}))
    assert "alexnet" in out and "experiments.init.sweeps[0]" in out


def test_bad_config_layer_out_of_range(tmp_path):
    out = _bad(tmp_path, lambda c: c["experiments"]["style_layers"]["sweeps"][0]["vary"].update(style_layers=[2, 7]))
    assert "style_layers 7 out of range" in out and "experiments.style_layers" in out


def test_bad_config_missing_image(tmp_path):
    out = _bad(
        tmp_path,
        lambda c: c.update(
            images={
                "content": {"chelsea": "data/content/nope.jpg"},
                "style": {"starry_night": "data/style/starry_night.jpg"},
            }
        ),
    )
    assert "images.content.chelsea" in out and "nope.jpg" in out


def test_bad_config_empty_experiment(tmp_path):
    out = _bad(tmp_path, lambda c: c["experiments"]["init"]["sweeps"][0].update(vary={}))
    assert "vary" in out


@pytest.mark.slow
def test_failed_run_is_isolated_and_retried_alone(tmp_path):
    bad_weights = tmp_path / "broken.pth"
    bad_weights.write_bytes(b"not a state dict")
    config = yaml.safe_load(TINY.read_text())
    config["run_experiments"] = ["init"]
    config["experiments"]["init"]["sweeps"].append(
        {"set": {"weights": str(bad_weights)}, "vary": {"init_method": ["content"]}}
    )
    path = tmp_path / "failing.yaml"
    path.write_text(yaml.safe_dump(config))
    work = tmp_path / "work"
    first = snakemake(work, "--configfile", str(path))
    assert first.returncode != 0
    runs = work / "results/runs/chelsea__starry_night"
    assert len(list(runs.glob("*.png"))) == 2  # the good runs finished despite the failure
    failed = list((work / "results/failed").rglob("*.json"))
    assert len(failed) == 1 and "broken.pth" in json.loads(failed[0].read_text())["error"]
    html = (work / "results/report.html").read_text()
    assert "failed" in html.lower() and "broken.pth" in html
    again = snakemake(work, "-n", "--configfile", str(path))
    assert job_counts(again.stdout) == {"stylize": 1, "make_grid": 1, "make_report": 1, "all": 1}, again.stdout
