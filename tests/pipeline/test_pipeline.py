"""The Snakemake pipeline for real: dry-runs, a tiny end-to-end run, reruns, report, bad configs.

(Snakemake's --lint runs in `make lint`, which `make test` runs first.) Bad configs go through the
schema and the planner in-process (pipeline_helpers.config_refusal: what the Snakefile runs before any
job); two of them also through a real Snakemake, which must stop before any job with that message."""

from __future__ import annotations

import base64
import hashlib
import html as htmllib
import json
import re
import zipfile

import numpy as np
import pytest
import yaml
from PIL import Image
from pipeline_helpers import JOB_LINE, REPO, config_refusal, html_element, job_counts, snakemake, write_config

from nst.params import RESULT_PARAMETERS
from nst_pipeline import metrics

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


def test_full_config_dry_run_expands_every_experiment(tmp_path):
    result = snakemake(tmp_path, "-n")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    # 4 init + 8 style-weight + 4 content-layer + 6 style-layers + 5 backbone + 3 colour control +
    # 3 style scale + 4 blend + 2 pooling + 3 spatial = 42 entries; the all-defaults run is shared by
    # init, content_layer, style_layers, backbone, color_control, style_scale, pooling and style_blend
    # and spatial (their 1:0 blends are the single style's run, nst.params.sole_style), and the 0:1
    # blend (hubble's own run) by style_blend and spatial: 9 entries are runs listed before, 33 runs,
    # each measured; 10 experiment/pair groups, each a grid and a pairwise-distance job. The noise
    # repeats (noise_repeats 3, nst_pipeline.repeats) at the 3 scales the findings are judged at: 400 px
    # x 1,000 with bundled VGG19 (F1-F5, F7a) 6 new runs (its base runs are init's), with imagenet
    # VGG19 (F6a, F6c) 7 (its content run is backbone's), with imagenet ResNet50 (F6b) 7; their own grid
    # and pairwise job (experiment noise): 53 runs, 11 groups.
    expected = {"stylize": 53, "measure": 53, "measure_pairs": 11, "make_grid": 11, "make_report": 1, "all": 1}
    # the backbone experiment's imagenet runs (vgg19, resnet50, inception_v3) each need a torchvision file
    expected["fetch_weights"] = 3
    assert counts == expected, counts


def test_demo_config_dry_run(tmp_path):
    result = snakemake(tmp_path, "-n", "--configfile", str(REPO / "config/demo.yaml"))
    assert result.returncode == 0, result.stderr
    # 33 runs of config.yaml, the two imagenet backbone runs replaced by random-weights ones, the
    # imagenet vgg19 run gone (the bundled vgg19 run is the default run), style_blend 3 weights not 4
    # (its 1:0 still the default run, its 0:1 spatial's): 31; and the noise repeats at the one scale its
    # findings are judged at (128 px x 20, bundled VGG19): 3 more gaussian seeds, 3 nudged content runs
    assert job_counts(result.stdout)["stylize"] == 31 + 6


def files_under(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.slow
def test_tiny_run_end_to_end(tiny_run):
    results = tiny_run / "results"
    # 3 iterations: no milestones (nst.milestones), so each run's milestone folder holds only the mark
    # Snakemake leaves in a directory output
    assert files_under(results / "runs") == sorted(
        f"{PAIR}/{run}{ext}" for run in TINY_RUNS for ext in (".json", ".png", ".milestones/.snakemake_timestamp")
    )
    for run, varied in TINY_RUNS.items():
        record = json.loads((results / "runs" / PAIR / f"{run}.json").read_text())
        params = record["parameters"]
        assert (params["iterations"], params["height"], params["weights"]) == (3, 32, "bundled"), run
        assert {name: params[name] for name in varied} == varied, run
        assert record["iterations_done"] == 3 and record["size"]["height"] == 32, run
        assert record["weights"]["source"] == "bundled" and record["random_weights"] is False, run
        assert record["device"] == "cpu" and record["torch_threads"] == 1, run  # config device, threads
        # the run's log ends with its progress bar, whose last losses are the sidecar's last ones
        log = (results / "logs/stylize" / PAIR / f"{run}.log").read_text()
        last = record["loss_history"][-1]
        shown = re.findall(r"content=(\S+), style=(\S+), tv=(\S+)]", log)
        assert shown[-1] == tuple(f"{last[term]:.3g}" for term in ("content", "style", "tv")), log[-500:]
        # Snakemake's benchmark of the job: its wall time includes the run's own
        benchmark = (results / "benchmarks/stylize" / PAIR / f"{run}.tsv").read_text().splitlines()
        assert benchmark[0].split("\t")[0] == "s" and float(benchmark[1].split("\t")[0]) >= record["wall_time_s"]
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
def test_tiny_run_measures_every_run(tiny_run):
    """One metrics JSON per run at the judge height min(128, smallest run) = 32 px, pairwise distances
    per experiment and pair."""
    results = tiny_run / "results"
    assert files_under(results / "metrics") == sorted(
        [f"{PAIR}/{run}.json" for run in TINY_RUNS] + [f"pairs/{e}/{PAIR}.json" for e in TINY_LABELS]
    )
    for run in TINY_RUNS:
        measured = json.loads((results / "metrics" / PAIR / f"{run}.json").read_text())
        assert measured["run"] == f"{PAIR}/{run}" and measured["judge"]["height"] == 32
        values = measured["metrics"]
        # 3 iterations: too few for any milestone (nst.milestones), so the final image is the only budget
        assert measured["budgets"] == [{"fraction": 1.0, "iteration": 3, "metrics": values}]
        assert values["style_distance"] > 0 and values["palette_distance"] > 0
        assert values["judge_upsampled"] is False
        # recomputed: SSIM of the luminance (Rec. 709), the photo resized to the result (PIL bicubic), with
        # Wang et al.'s settings (README, "Metrics")
        assert values["content_ssim"] == pytest.approx(_content_ssim(results / "runs" / PAIR / f"{run}.png"))
        log = (results / "logs/measure" / PAIR / f"{run}.log").read_text()
        assert f"measured {PAIR}/{run} (1 image) at judge height 32 px" in log
    judge = metrics.load_judge("vgg19", 32)
    for experiment in TINY_LABELS:  # two runs each: one pair of runs
        measured = json.loads((results / "metrics/pairs" / experiment / f"{PAIR}.json").read_text())
        pairs = measured["pairs"]
        assert measured["budgets"] == [{"fraction": 1.0, "pairs": pairs}]
        [pair] = pairs
        in_experiment = {f"{PAIR}/{run}" for run, varied in TINY_RUNS.items() if _in(experiment, varied)}
        assert {pair["a"], pair["b"]} == in_experiment
        a, b = (metrics.read_rgb(results / "runs" / f"{pair[side]}.png") for side in "ab")
        assert pair["perceptual"] == pytest.approx(metrics.perceptual_distance(judge, a, b))  # these two, at 32 px


def _in(experiment: str, varied: dict) -> bool:
    """Whether a run of TINY_RUNS is in tiny.yaml's experiment (init: style_layers 6; style_layers: content init)."""
    return varied["style_layers"] == 6 if experiment == "init" else varied["init_method"] == "content"


def _content_ssim(result) -> float:
    from skimage.color import rgb2gray
    from skimage.metrics import structural_similarity

    with Image.open(result) as image, Image.open(REPO / "data/content/chelsea.jpg") as photo:
        mine = np.asarray(image.convert("RGB"), dtype=np.float64) / 255
        photo = np.asarray(photo.convert("RGB").resize(image.size, Image.Resampling.BICUBIC), dtype=np.float64) / 255
    settings = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False, "data_range": 1.0}
    return structural_similarity(rgb2gray(mine), rgb2gray(photo), **settings)


@pytest.mark.slow
def test_tiny_run_writes_runs_table(tiny_run):
    import pandas

    table = pandas.read_csv(tiny_run / "results/runs.tsv", sep="\t")
    assert sorted(table["run"]) == sorted(f"{PAIR}/{run}" for run in TINY_RUNS)
    for name in RESULT_PARAMETERS:  # every parameter, the newer ones included
        assert name in table.columns, name
    by_run = table.set_index("run")
    for run, varied in TINY_RUNS.items():
        row = by_run.loc[f"{PAIR}/{run}"]
        record = json.loads((tiny_run / "results/runs" / PAIR / f"{run}.json").read_text())
        assert row["status"] == "ok" and row["iterations"] == 3 and row["precision"] == "fp32"
        assert row["style_layers"] == varied["style_layers"] and row["init_method"] == varied["init_method"]
        assert row["stage_heights"] == "[]" and not row["random_weights"]
        assert row["final_style"] == record["final_losses"]["style"]
        # the convergence rule's quantity, by hand: the fall over the last iteration (10% of 3, at least 1)
        before, after = record["loss_history"][-1]["total"], record["final_losses"]["total"]
        assert row["loss_fall_tail"] == pytest.approx((before - after) / before)
        measured = json.loads((tiny_run / "results/metrics" / PAIR / f"{run}.json").read_text())["metrics"]
        assert row["content_ssim"] == pytest.approx(measured["content_ssim"])
    assert by_run["noise_units"].tolist().count("grey_levels") == 1  # the gaussian run


@pytest.mark.slow
def test_tiny_run_judges_the_findings(tiny_run):
    """config.yaml's F1a and F1b (on init content/gaussian) and tiny.yaml's T1 on 3-iteration runs: too
    short for milestones, so each finding has one budget (B) and its settledness is unknown; real weights
    and every run there, so the numbers decide (a still-falling loss no longer makes a verdict
    inconclusive)."""
    verdicts = json.loads((tiny_run / "results/findings.json").read_text())
    by_id = {v["id"]: v for v in verdicts["findings"]}
    assert sorted(by_id) == ["F1a", "F1b", "T1"]
    assert verdicts["judge_heights"] == [32]
    assert verdicts["scale"]["iterations"] == [3] and verdicts["scale"]["is_study_scale"] is False
    for finding in by_id.values():
        assert [b["budget"] for b in finding["trajectory"]] == ["B"], finding
        assert finding["settled"] is None and "no B/2 milestone" in finding["settled_text"], finding
        assert finding["check_says"] is None and finding["trajectory"][0]["judged"], finding
    # content vs gaussian init: ~0.9 apart against a margin of 0.42
    assert by_id["F1a"]["verdict"] == "agrees"
    # F1b: only the content run keeps the photo (coarse SSIM ~0.84). After 3 iterations at 32 px the
    # gaussian run's coarse SSIM (~0.14) may lie below the gate within its margin: then "inconclusive"
    # (a near miss could be chance), else "agrees" - the verdict follows the gate's numbers
    f1b = by_id["F1b"]["numbers"]
    assert set(f1b["values"]) == {"content", "gaussian"}
    gate, values = f1b["gate"], f1b["gate"]["values"]
    assert values["content"] >= gate["min"] + gate["margin"]
    near = gate["min"] - gate["margin"] <= values["gaussian"] < gate["min"]
    assert values["gaussian"] < gate["min"]
    assert by_id["F1b"]["verdict"] == ("inconclusive" if near else "agrees"), by_id["F1b"]
    t1 = by_id["T1"]["numbers"]
    assert set(t1["values"]) == {"2", "6"}
    change, margin = t1["total_change"], t1["margin"]  # the verdict follows its numbers
    expected = "inconclusive" if abs(change) <= margin else ("agrees" if change > 0 else "differs")
    assert by_id["T1"]["verdict"] == expected, by_id["T1"]
    card = html_element((tiny_run / "results/report.html").read_text(), "scorecard")
    assert card is not None
    for finding in ("F1a", "F1b", "T1"):
        assert finding in card.text
    # tiny.yaml runs no noise repeats: every margin is the fixed table's, and each line says so
    assert card.text.count("(margin from the fixed table)") == 3 and "Noise margins" not in card.text
    assert verdicts["noise"]["repeats"] == 0 and verdicts["noise"]["scales"] == []
    assert by_id["T1"]["margins"]["init_change"]["source"] == "fixed table"
    assert "Judged at 32 px × 3 iterations (judge height 32 px): a PREVIEW" in card.text


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
    one_more = {"stylize": 1, "measure": 1, "measure_pairs": 1, "make_grid": 1, "make_report": 1, "all": 1}
    assert job_counts(result.stdout) == one_more, result.stdout

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
    assert page.load_fired, page  # the page's load event fired within the time allowed
    assert page.images_total == report.read_text().count("<img"), page
    assert page.images_total >= 2 * 3  # per experiment: grid, loss curves, metric plot
    assert page.images_broken == []
    assert page.screenshot.stat().st_size > 10_000
    # the scorecard comes first: its note on the unconverged runs (background #fff7e0, used nowhere
    # else) is drawn near the top of the page
    with Image.open(page.screenshot) as shot:
        top = shot.convert("RGB").crop((0, 0, shot.width, 1000))
        assert (255, 247, 224) in {colour for _, colour in top.getcolors(1 << 20)}


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
        # the scorecard: findings.json (and runs.tsv) are report items with their captions
        for path, caption in (("results/findings.json", "findings.rst"), ("results/runs.tsv", "runs_table.rst")):
            entry = report_entry(page, path)
            assert archive.read(f"snakemake-report/{entry['data_uri']}") == (tiny_run / path).read_bytes()
            first_words = " ".join((REPO / "workflow/report" / caption).read_text().split()[:4])
            assert plain(entry["caption"]).startswith(re.sub(r"\*\*|``", "", first_words)), entry["caption"]
        assert "reproduction scorecard" in plain(report_entry(page, "results/report.html")["caption"])
    grids = {name.rsplit("/", 1)[-1] for name in names if "/data/raw/" in name and name.endswith(f"/{PAIR}.png")}
    assert grids == {f"{PAIR}.png"} and sum(name.endswith(f"/{PAIR}.png") for name in names) == 2


def _bad_config(mutate) -> dict:
    config = yaml.safe_load(TINY.read_text())
    mutate(config)
    return config


def _bad(tmp_path, mutate) -> str:
    """In-process: the schema's or the planner's message refusing tiny.yaml changed by `mutate`."""
    return config_refusal(_bad_config(mutate))


def _bad_in_snakemake(tmp_path, mutate) -> str:
    """A real Snakemake on the same config: it must stop before any job, saying what the in-process
    check says (so the in-process cases stand for real runs)."""
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_bad_config(mutate)))
    # a real invocation, not a dry run (which never creates results/): it must stop before any job
    result = snakemake(tmp_path / "work", "--configfile", str(path))
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    assert not JOB_LINE.search(out), out[-3000:]
    assert not (tmp_path / "work/results").exists()
    for line in _bad(tmp_path, mutate).splitlines()[:2]:  # the planner's line; the schema's title and error
        assert line.strip() in out, (line, out[-3000:])
    return out


def test_bf16_on_a_cpu_without_bf16_units_is_refused_by_the_dry_run(tmp_path):
    """`snakemake -n` already refuses (before any job is queued), on any machine: the CPU flags are
    those of the AVX2-only kind (nst.hardware's override). Other cases: tests/pipeline/test_plan.py."""
    config = yaml.safe_load(TINY.read_text())
    config["experiments"]["init"]["sweeps"][0]["set"] = {"precision": "bf16"}
    path = tmp_path / "bf16.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path / "work", "-n", "--configfile", str(path), env={"NST_CPU_FLAGS": "avx2 fma"})
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    assert "precision bf16" in out and "no bf16 units" in out and "allow_slow_bf16" in out, out[-3000:]
    assert not JOB_LINE.search(out), out[-3000:]


def test_bad_config_unknown_key(tmp_path):
    out = _bad_in_snakemake(tmp_path, lambda c: c["defaults"].update(stlye_weight=3))
    assert "stlye_weight" in out


def test_bad_config_wrong_type(tmp_path):
    out = _bad(tmp_path, lambda c: c["defaults"].update(height="tall"))
    assert "height" in out and "tall" in out


def test_bad_config_unknown_backbone(tmp_path):
    out = _bad(tmp_path, lambda c: c["experiments"]["init"]["sweeps"][0].update(set={"model": "alexnet"}))
    assert "alexnet" in out and "experiments.init.sweeps[0]" in out


def test_bad_config_layer_out_of_range(tmp_path):
    sweep = lambda c: c["experiments"]["style_layers"]["sweeps"][0]  # noqa: E731
    out = _bad_in_snakemake(tmp_path, lambda c: sweep(c)["vary"].update(style_layers=[2, 7]))
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
    # init_method = content is two runs here, which config.yaml's findings on init cannot tell apart
    config["experiments"]["init"]["findings"] = []
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
    retry = {"stylize": 1, "measure": 1, "measure_pairs": 1, "make_grid": 1, "make_report": 1, "all": 1}
    assert job_counts(again.stdout) == retry, again.stdout


# ---- bad findings: refused before any job, naming the key (schema first, then the planner)


def _with_finding(config: dict, check: dict, experiment: str = "style_layers") -> None:
    config["experiments"][experiment]["findings"] = [
        {"id": "X", "statement": "a finding", "source": "a test", "check": check}
    ]


def test_bad_finding_unknown_kind(tmp_path):
    out = _bad(tmp_path, lambda c: _with_finding(c, {"kind": "largest", "metric": "init_change"}))
    assert "largest" in out and "'check'" in out and "'kind'" in out


def test_bad_finding_unknown_metric(tmp_path):
    check = {"kind": "monotonic", "metric": "sharpness", "direction": "increasing"}
    out = _bad(tmp_path, lambda c: _with_finding(c, check))
    assert "sharpness" in out and "'metric'" in out


def test_bad_finding_threshold_of_the_wrong_type(tmp_path):
    out = _bad(tmp_path, lambda c: _with_finding(c, {"kind": "bound", "metric": "init_change", "max": "small"}))
    assert "small" in out and "'max'" in out


def test_bad_finding_on_a_value_the_experiment_does_not_vary(tmp_path):
    check = {"kind": "best", "metric": "style_distance", "goal": "lowest", "expect": 4}  # tiny runs layers 2, 6
    out = _bad(tmp_path, lambda c: _with_finding(c, check))
    assert "experiments.style_layers.findings[0].check.expect" in out and "style_layers = 4" in out


def test_bad_finding_on_a_parameter_the_experiment_does_not_vary(tmp_path):
    check = {"kind": "monotonic", "metric": "init_change", "direction": "increasing", "over": "style_weight"}
    out = _bad(tmp_path, lambda c: _with_finding(c, check))
    assert "experiments.style_layers.findings[0].check.over" in out and "style_weight" in out
