"""The Snakemake pipeline for real: lint, dry-runs, a tiny end-to-end run, reruns, report, bad configs."""

from __future__ import annotations

import base64
import hashlib
import html as htmllib
import json
import re
import zipfile

import pytest
import yaml
from PIL import Image
from pipeline_helpers import JOB_LINE, REPO, html_element, job_counts, snakemake, write_config

TINY = REPO / "tests/configs/tiny.yaml"
PAIR = "chelsea__starry_night"
# tests/configs/tiny.yaml's runs, spelled out by hand (run id format: nst/naming.py): init content and
# gaussian, style_layers 2 and 6; style_layers 6 is init content (all defaults), so 4 entries, 3 runs
TINY_ID = "m_vgg19_w_bundled_i_{init}_o_lbfgs_it_3_lr_1_h_32_cw_100000_sw_30000_tv_1_cl_4_sl_{layers}_s_0"
TINY_RUNS = {
    TINY_ID.format(init="content", layers=6): {"init_method": "content", "style_layers": 6},
    # config.yaml draws noise inits in the study's grey levels (noise_units), which the id spells out
    TINY_ID.format(init="gaussian", layers=6) + "_nu_grey-levels": {"init_method": "gaussian", "style_layers": 6},
    TINY_ID.format(init="content", layers=2): {"init_method": "content", "style_layers": 2},
}
TINY_LABELS = {
    "init": ["init_method = content", "init_method = gaussian"],
    "style_layers": ["style_layers = 2", "style_layers = 6"],
}


def test_lint_is_clean(tmp_path):
    result = snakemake(tmp_path, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


def test_full_config_dry_run_expands_every_experiment(tmp_path):
    result = snakemake(tmp_path, "-n")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    # 4 init + 8 style-weight + 4 content-layer + 6 style-layers + 5 backbone + 3 colour control +
    # 3 style scale + 4 blend = 37 entries; the all-defaults run is shared by init, content_layer,
    # style_layers, backbone, color_control and style_scale, so 5 are the same job: 32 runs.
    assert counts == {"stylize": 32, "make_grid": 8, "make_report": 1, "all": 1}, counts


def test_demo_config_dry_run(tmp_path):
    result = snakemake(tmp_path, "-n", "--configfile", str(REPO / "config/demo.yaml"))
    assert result.returncode == 0, result.stderr
    # 32 runs of config.yaml, the two imagenet backbone runs replaced by random-weights ones, and
    # the imagenet vgg19 run gone (the bundled vgg19 run is the default run): 31
    assert job_counts(result.stdout)["stylize"] == 31


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A real run of tests/configs/tiny.yaml: 4 entries, 3 unique runs (style_layers 6 = init content)."""
    workdir = tmp_path_factory.mktemp("tiny")
    result = snakemake(workdir, "--configfile", str(TINY))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return workdir


def files_under(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.slow
def test_tiny_run_end_to_end(tiny_run):
    results = tiny_run / "results"
    assert files_under(results / "runs") == sorted(
        f"{PAIR}/{run}{ext}" for run in TINY_RUNS for ext in (".json", ".png")
    )
    for run, varied in TINY_RUNS.items():
        record = json.loads((results / "runs" / PAIR / f"{run}.json").read_text())
        params = record["parameters"]
        assert (params["iterations"], params["height"], params["weights"]) == (3, 32, "bundled"), run
        assert {name: params[name] for name in varied} == varied, run
        assert record["iterations_done"] == 3 and record["size"]["height"] == 32, run
        assert record["weights"]["source"] == "bundled" and record["random_weights"] is False, run
        assert record["device"] == "cpu" and record["torch_threads"] == 1, run  # config device, threads
        assert (results / "logs/stylize" / PAIR / f"{run}.log").is_file()
        assert (results / "benchmarks/stylize" / PAIR / f"{run}.tsv").is_file()
    assert files_under(results / "grids") == [f"init/{PAIR}.png", f"style_layers/{PAIR}.png"]

    html = (results / "report.html").read_text()
    for experiment, labels in TINY_LABELS.items():
        grid = results / "grids" / experiment / f"{PAIR}.png"
        with Image.open(grid) as image:
            assert image.format == "PNG"
        section = html_element(html, f"exp-{experiment}")
        assert section is not None and section.text.startswith(experiment), experiment
        shown = [img["src"] for img in section.images if "grid" in img.get("alt", "")]
        assert len(shown) == 1, section.images
        assert base64.b64decode(shown[0].split(",", 1)[1]) == grid.read_bytes()  # this experiment's grid
        table = html_element(html, "all-runs").text
        assert all(f"{experiment} {PAIR} {label}" in table for label in labels), table
    assert html_element(html, "failures") is None
    assert "RANDOM WEIGHTS" not in html


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


def report_entry(page: str, path: str) -> dict:
    """One result's entry in Snakemake's report page (a JSON object keyed by the result's path)."""
    key = json.dumps(path) + ": "
    assert page.count(key) == 1, f"{path}: {page.count(key)} entries"
    entry, _ = json.JSONDecoder().raw_decode(page, page.index(key) + len(key))
    return entry


def plain(markup: str) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", "", markup)).split())


@pytest.mark.slow
def test_snakemake_report(tiny_run):
    result = snakemake(tiny_run, "--configfile", str(TINY), "--report", "results/snakemake-report.zip")
    assert result.returncode == 0, result.stderr[-3000:]
    caption_source = (REPO / "workflow/report/grid.rst").read_text()
    with zipfile.ZipFile(tiny_run / "results/snakemake-report.zip") as archive:
        names = archive.namelist()
        page = archive.read("snakemake-report/report.html").decode()
        for experiment in TINY_LABELS:
            path = f"results/grids/{experiment}/{PAIR}.png"
            entry = report_entry(page, path)
            # the grid itself, byte for byte
            assert archive.read(f"snakemake-report/{entry['data_uri']}") == (tiny_run / path).read_bytes()
            # its caption: workflow/report/grid.rst with this experiment and pair filled in
            expected = caption_source.replace("{{ snakemake.wildcards.experiment }}", experiment)
            expected = " ".join(
                re.sub(r"\*\*|``", "", expected.replace("{{ snakemake.wildcards.pair }}", PAIR)).split()
            )
            assert plain(entry["caption"]) == expected, entry["caption"]
            assert f"<strong>{experiment}</strong>" in entry["caption"]
    grids = {name.rsplit("/", 1)[-1] for name in names if "/data/raw/" in name and name.endswith(f"/{PAIR}.png")}
    assert grids == {f"{PAIR}.png"} and sum(name.endswith(f"/{PAIR}.png") for name in names) == 2


def _bad(tmp_path, mutate) -> str:
    config = yaml.safe_load(TINY.read_text())
    mutate(config)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    # a real invocation, not a dry run (which never creates results/): it must stop before any job
    result = snakemake(tmp_path / "work", "--configfile", str(path))
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    assert not JOB_LINE.search(out), out[-3000:]
    assert not (tmp_path / "work/results").exists()
    return out


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


def test_bad_config_value_listed_twice(tmp_path):
    out = _bad(tmp_path, lambda c: c["experiments"]["style_layers"]["sweeps"][0]["vary"].update(style_layers=[2, 6, 2]))
    assert "experiments.style_layers.sweeps[0].vary.style_layers" in out and "twice" in out


def test_bad_config_empty_run_experiments(tmp_path):
    out = _bad(tmp_path, lambda c: c.update(run_experiments=[]))
    assert "run_experiments" in out and "empty" in out


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
    # the failed run's id names its weights file by the first 16 hex digits of its content's sha256
    weights_tag = "file-" + hashlib.sha256(b"not a state dict").hexdigest()[:16]
    failed_run = f"{PAIR}/{TINY_ID.format(init='content', layers=6).replace('_w_bundled_', f'_w_{weights_tag}_')}"
    assert files_under(work / "results/failed") == [f"{failed_run}.json"]
    error = json.loads((work / f"results/failed/{failed_run}.json").read_text())["error"]
    assert error.startswith("NSTWeightsError: ") and "broken.pth" in error
    html = (work / "results/report.html").read_text()
    failures = html_element(html, "failures")
    assert failures is not None, html[-3000:]
    assert failed_run in failures.text and " ".join(error.split()) in failures.text, failures.text
    assert not any(run in failures.text for run in TINY_RUNS)  # only the failed one is listed
    again = snakemake(work, "-n", "--configfile", str(path))
    assert job_counts(again.stdout) == {"stylize": 1, "make_grid": 1, "make_report": 1, "all": 1}, again.stdout
