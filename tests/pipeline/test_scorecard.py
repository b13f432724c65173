"""The report job's scorecard, findings.json and runs.tsv (nst_pipeline.report_job.write_report with
nst_pipeline.scorecard and runs_table), from a hand-made results tree: sidecars with loss histories
written to be converged or not, and metrics files with chosen values, so every verdict is known.
The plan's findings are given as the planner leaves them (check.over filled in).
The values are far apart (0.1 and more) next to the noise margins (~0.02), so the verdicts do not
depend on the measured noise scale."""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas
import pytest
import yaml
from browser import check_page, find_chromium
from PIL import Image
from pipeline_helpers import REPO, html_element

from nst.api import RESULT_PARAMETERS, check_run
from nst.naming import run_id
from nst_pipeline import evidence, paths, report_job
from nst_pipeline.plan import plan_experiments
from nst_pipeline.report_job import write_report

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "data" / "content" / "chelsea.jpg"
STYLE = ROOT / "data" / "style" / "starry_night.jpg"
PAIR = "chelsea__starry_night"
BASE = {"weights": "bundled", "height": 32, "iterations": 10}
# style weight -> (style distance, content SSIM, loss flat at the end?, content SSIM at half the budget)
RUNS = {
    10.0: (0.60, 0.50, True, 0.50),
    100.0: (0.45, 0.40, True, 0.40),
    1000.0: (0.30, 0.30, True, 0.30),
    1e4: (0.20, 0.05, False, 0.45),  # at B/2 above the 1000 run: S10 turns from differs to agrees
}
COLOURS = {10.0: (200, 40, 40), 100.0: (40, 160, 40), 1000.0: (40, 40, 200), 1e4: (220, 200, 40)}  # each run's image


def _params(style_weight: float) -> dict:
    checked = check_run(CONTENT, STYLE, **(BASE | {"style_weight": style_weight}))
    return {name: checked[name] for name in RESULT_PARAMETERS}


def _name(style_weight: float) -> str:
    return f"{PAIR}/{run_id(_params(style_weight))}"


def _record(style_weight: float, converged: bool) -> dict:
    # converged: flat; not: the total falls 20% over the last iteration (the tail of 10 iterations)
    totals = [100.0] * 10
    final = 99.9 if converged else 80.0
    return {
        "content_image": str(CONTENT),
        "style_image": str(STYLE),
        "style_images": [str(STYLE)],
        "parameters": _params(style_weight),
        "weights": {"source": "bundled", "sha256": "ab" * 32, "label": "bundled (test)", "pretrained": True},
        "random_weights": False,
        "iterations_done": 10,
        "stopped_early": False,
        "device": "cpu",
        "versions": {"torch": "test"},
        "wall_time_s": 1.0,
        "time_per_iteration_s": 0.1,
        "peak_memory_mb": 100.0,
        "final_losses": {"content": 1.0, "style": 2.0, "tv": 3.0, "total": final},
        "loss_history": [{"content": 1.0, "style": 2.0, "tv": 3.0, "total": t} for t in totals],
    }


def _metrics(style: float, ssim: float) -> dict:
    values = {"judge_height": 32, "judge_upsampled": False, "content_ssim": ssim, "style_distance": style}
    return values | {"share_end_content": 0.01, "share_end_style": 0.99}


FINDINGS = [
    {  # best among the runs with the photo recognisable
        "id": "S2",
        "statement": "Style weight 1000 looks best.",
        "source": "test",
        "check": {
            "kind": "best",
            "metric": "style_distance",
            "goal": "lowest",
            "expect": 1000,
            "over": "style_weight",
            "at": [10, 100, 1000],
            "gate": {"metric": "content_ssim", "min": 0.2},
        },
    },
    {  # reads 10 and 100 only: 0.60 -> 0.45 is not an increase
        "id": "S1",
        "statement": "Style distance rises with style weight.",
        "source": "test",
        "check": {
            "kind": "monotonic",
            "metric": "style_distance",
            "direction": "increasing",
            "over": "style_weight",
            "at": [10, 100],
        },
    },
    {  # the 1e4 run is closest to the painting but loses the photo (fails the gate): 1000 is best
        "id": "S3",
        "statement": "Style weight 1000 looks best of all four.",
        "source": "test",
        "check": {
            "kind": "best",
            "metric": "style_distance",
            "goal": "lowest",
            "expect": 1000,
            "over": "style_weight",
            "gate": {"metric": "content_ssim", "min": 0.2},
        },
    },
    {  # 0.60 and 0.45 within the tolerance 0.2
        "id": "S4",
        "statement": "Style weights 10 and 100 look alike.",
        "source": "test",
        "check": {
            "kind": "close",
            "metric": "style_distance",
            "tolerance": 0.2,
            "a": {"where": {"style_weight": 10}},
            "b": {"where": {"style_weight": 100}},
        },
    },
    {  # unsettled: at B/2 the 1e4 run steps back up
        "id": "S10",
        "statement": "Content SSIM falls with style weight.",
        "source": "test",
        "check": {"kind": "monotonic", "metric": "content_ssim", "direction": "decreasing", "over": "style_weight"},
    },
]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scorecard")
    entries = []
    for style_weight, (style, ssim, converged, half_ssim) in RUNS.items():
        name = _name(style_weight)
        image = root / paths.run_image(name)
        image.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (48, 32), COLOURS[style_weight]).save(image)
        (root / paths.run_sidecar(name)).write_text(json.dumps(_record(style_weight, converged)))
        measured = root / paths.run_metrics(name)
        measured.parent.mkdir(parents=True, exist_ok=True)
        budgets = [
            {"fraction": 0.5, "iteration": 5, "metrics": _metrics(style, half_ssim)},
            {"fraction": 1.0, "iteration": 10, "metrics": _metrics(style, ssim)},
        ]
        payload = {"run": name, "judge": {"height": 32}, "metrics": _metrics(style, ssim), "budgets": budgets}
        measured.write_text(json.dumps(payload))
        label = f"style_weight = {style_weight:g}"
        entries.append({"run": name, "label": label, "row": 0, "varied_values": {"style_weight": style_weight}})
    plan = {
        "sweep": {
            "claim": "",
            "varied": ["style_weight"],
            "pairs": [PAIR],
            "runs": {PAIR: entries},
            "findings": FINDINGS,
        }
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        write_report(plan, root / "report.html", "test", root / "runs.tsv", root / "findings.json")
    return root


def _verdicts(written) -> dict:
    return {v["id"]: v for v in json.loads((written / "findings.json").read_text())["findings"]}


def test_verdicts_and_their_numbers(written):
    verdicts = _verdicts(written)
    assert verdicts["S2"]["verdict"] == "agrees", verdicts["S2"]
    assert verdicts["S2"]["numbers"]["best"] == "1000" and verdicts["S2"]["numbers"]["runner_up"] == "100"
    assert verdicts["S2"]["numbers"]["gap"] == pytest.approx(0.15)
    assert verdicts["S1"]["verdict"] == "differs"
    assert verdicts["S3"]["verdict"] == "agrees" and verdicts["S3"]["numbers"]["gate"]["values"]["10000"] == 0.05
    assert verdicts["S4"]["verdict"] == "agrees" and verdicts["S4"]["labels"] == ["a (10)", "b (100)"]
    assert verdicts["S2"]["settled"] is True and verdicts["S1"]["settled"] is True
    s10 = verdicts["S10"]  # 0.50, 0.40, 0.30, 0.05: falling; at B/2 0.30 -> 0.45 steps back
    assert s10["verdict"] == "agrees" and s10["check_says"] is None, s10
    assert s10["settled"] is False and s10["settled_text"] == "unsettled: differs → agrees (B/2 → B)"
    trajectory = [(b["budget"], b["iterations"], b["verdict"]) for b in s10["trajectory"]]
    assert trajectory == [("B/2", [5], "differs"), ("B", [10], "agrees")]
    assert s10["trajectory"][0]["numbers"]["steps"]["1000 → 10000"] == pytest.approx(0.15)


def test_findings_json_states_the_scale_judged(written):
    payload = json.loads((written / "findings.json").read_text())
    assert payload["scale"] == {
        "heights": [32],
        "iterations": [10],
        "judge_heights": [32],
        "study": {"height": 400, "iterations": 1000},
        "is_study_scale": False,
    }
    assert payload["settled"] == {"settled": 3, "unsettled": 2, "unknown": 0}


def test_the_study_scale_is_stylizes_default_scale():
    from nst.api import parameter_defaults
    from nst_pipeline.scorecard import STUDY_SCALE

    assert STUDY_SCALE == (parameter_defaults()["height"], parameter_defaults()["iterations"])


def test_scorecard_rows_in_the_studys_order_with_numbers(written):
    card = html_element((written / "report.html").read_text(), "scorecard")
    assert card is not None
    page = (written / "report.html").read_text()
    assert re.findall(r"<td><b>(\w+)</b>", page) == ["S1", "S2", "S3", "S4", "S10"]  # natural order: S10 last
    assert "style distance (0 = the painting): 10 0.6 · 100 0.45 · 1000 0.3;" in card.text
    assert "gate content_ssim ≥ 0.2" in card.text
    assert "weighted loss at the end: content 1%, style 99%" in card.text
    assert "4 agrees" in card.text and "1 differs" in card.text and "0 inconclusive" in card.text
    assert "3 settled, 2 unsettled" in card.text
    assert "Judged at 32 px × 10 iterations (judge height 32 px): a PREVIEW, not the study's scale" in card.text
    assert "unsettled: differs → agrees (B/2 → B)" in card.text


def _finding(finding_id: str) -> dict:
    return next(finding for finding in FINDINGS if finding["id"] == finding_id)


def _thumbnails(page: str, finding_id: str) -> list[dict]:
    """The runs shown beside a finding in the scorecard: each thumbnail's caption, marks and picture."""
    row = re.search(rf'<tr class="v-\w+">\s*<td><b>{finding_id}</b>(.*?)</tr>', page, re.S)
    assert row, f"no scorecard row {finding_id}"
    shown = []
    for classes, title, body in re.findall(
        r'<figure class="thumb([^"]*)" title="([^"]*)">(.*?)</figure>', row.group(1), re.S
    ):
        mark = re.search(r'<span class="mark" title="([^"]*)">([^<]*)</span>', body)
        tag = re.search(r'<span class="tag" title="([^"]*)">([^<]*)</span>', body)
        number = re.search(r'<span class="number">([^<]*)</span>', body)
        src = re.search(r'<img src="([^"]*)"', body)
        shown.append(
            {
                "classes": set(classes.split()),
                "title": html.unescape(title),
                "label": html.unescape(re.search(r'<span class="label">([^<]*)</span>', body).group(1)),
                "number": number.group(1) if number else None,
                "mark": (mark.group(2), html.unescape(mark.group(1))) if mark else None,
                "tags": html.unescape(tag.group(2)).split(" · ") if tag else [],
                "src": src.group(1) if src else None,
            }
        )
    return shown


def _picture(src: str) -> Image.Image:
    assert src.startswith("data:image/jpeg;base64,")
    return Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB")


def _assert_is_the_runs_image(src: str, style_weight: float) -> None:
    with _picture(src) as picture:
        assert picture.height == 64  # the 48 x 32 image, at the thumbnails' height
        mean = np.asarray(picture).reshape(-1, 3).mean(axis=0)
    assert np.abs(mean - COLOURS[style_weight]).max() < 8, (mean, style_weight)


def test_scorecard_shows_a_gated_best_findings_runs_with_gate_and_deciding_marks(written):
    """S3: each of the four runs at B, captioned with its style weight and style distance; ✓ for the
    three passing the gate, ✗ (red) for 1e4, the closest to the painting, which loses the photo; the
    expected and best value (1000) and the runner-up its lead is measured against (100) marked."""
    shown = _thumbnails((written / "report.html").read_text(), "S3")
    gate = _finding("S3")["check"]["gate"]
    assert [(t["label"], t["number"]) for t in shown] == [
        ("10", "0.6"),
        ("100", "0.45"),
        ("1000", "0.3"),
        ("10000", "0.2"),
    ]
    assert [t["mark"][0] for t in shown] == ["✓", "✓", "✓", "✗"]
    assert [{"test-pass", "test-fail"} & t["classes"] for t in shown] == [{"test-pass"}] * 3 + [{"test-fail"}]
    passes, fails = shown[0]["mark"][1], shown[3]["mark"][1]
    assert passes == f"gate: {gate['metric']} 0.5 ≥ 0.2: passes"
    assert fails.startswith(f"gate: {gate['metric']} 0.05, not ≥ 0.2: fails by 0.15, beyond its noise margin")
    assert [t["tags"] for t in shown] == [[], ["runner-up"], ["expected", "best"], []]
    assert ["deciding" in t["classes"] for t in shown] == [False, True, True, False]
    assert "lead of 1000 over the best rival 0.15" in shown[1]["title"]  # the deciding quantity, on hover
    for t, style_weight in zip(shown, RUNS, strict=True):
        _assert_is_the_runs_image(t["src"], style_weight)
        assert _name(style_weight) in t["title"]


def test_scorecard_shows_a_close_findings_two_runs_both_deciding(written):
    page = (written / "report.html").read_text()
    shown = _thumbnails(page, "S4")
    assert [(t["label"], t["number"], t["tags"]) for t in shown] == [
        ("a (10)", "0.6", ["a"]),
        ("b (100)", "0.45", ["b"]),
    ]
    assert all("deciding" in t["classes"] and t["mark"] is None for t in shown)  # no gate: no pass/fail mark
    assert not any(c.startswith("test-") for t in shown for c in t["classes"])
    assert "difference a - b 0.15 (threshold 0.2)" in shown[0]["title"]
    _assert_is_the_runs_image(shown[0]["src"], 10.0)
    _assert_is_the_runs_image(shown[1]["src"], 100.0)
    # one picture per run, the same wherever it is shown
    assert shown[1]["src"] == next(t["src"] for t in _thumbnails(page, "S2") if t["label"] == "100")


def test_each_runs_thumbnail_is_made_once(written, monkeypatch):
    made = Counter()
    thumbnail = evidence.thumbnail_jpeg

    def counting(path):
        made[Path(path).as_posix()] += 1
        return thumbnail(path)

    monkeypatch.setattr(evidence, "thumbnail_jpeg", counting)
    monkeypatch.setattr(report_job, "build_report", lambda *args, **kwargs: None)
    monkeypatch.chdir(written)
    plan = {"sweep": {"claim": "", "varied": ["style_weight"], "pairs": [PAIR], "findings": FINDINGS}}
    plan["sweep"]["runs"] = {
        PAIR: [{"run": _name(w), "label": "", "row": 0, "varied_values": {"style_weight": w}} for w in RUNS]
    }
    write_report(plan, written / "unused.html", "test")
    assert dict(made) == {paths.run_image(_name(w)): 1 for w in RUNS}  # five findings read them


@pytest.mark.skipif(find_chromium() is None, reason="chromium not installed (apt-get install chromium)")
def test_scorecard_thumbnails_load_in_chromium(written, tmp_path):
    page = (written / "report.html").read_text()
    report = check_page(written / "report.html", tmp_path / "scorecard.png")
    assert report.images_total == len(re.findall(r"<img\b", page)) > 4 * 5  # thumbnails, plots, grid
    assert report.images_broken == [] and report.load_fired


def test_runs_table(written):
    table = pandas.read_csv(written / "runs.tsv", sep="\t").set_index("style_weight")
    assert sorted(table.index) == sorted(RUNS)
    for style_weight, (style, ssim, converged, _) in RUNS.items():
        row = table.loc[style_weight]
        assert (row["style_distance"], row["content_ssim"]) == (style, ssim)
        assert bool(row["converged"]) is converged
        assert row["loss_fall_tail"] == pytest.approx(0.001 if converged else 0.2)
        assert row["experiments"] == "sweep" and row["status"] == "ok" and row["weights_label"] == "bundled (test)"


def test_a_snapshot_carries_the_scorecard_as_markdown_and_the_files(written, tmp_path):
    from nst_pipeline.snapshot import write_snapshot

    grid = written / "results" / "grids" / "sweep" / f"{PAIR}.png"
    grid.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (1800, 600), (10, 20, 30)).save(grid)
    results = written / "results"
    for name in ("findings.json", "runs.tsv"):
        (results / name).write_bytes((written / name).read_bytes())
    write_snapshot(results, tmp_path / "reference", 412.0, "make reference")
    card = (tmp_path / "reference" / "scorecard.md").read_text()
    assert "Judged at 32 px × 10 iterations (judge height 32 px): a preview, not the study's scale." in card
    assert "4 agrees, 1 differs, 0 inconclusive; 3 settled, 2 unsettled" in card
    assert (
        "| **S10** (sweep) | Content SSIM falls with style weight. | **agrees**, unsettled | B/2 differs → B agrees |"
        in card
    )
    with Image.open(tmp_path / "reference" / "grids" / f"sweep__{PAIR}.png") as small:
        assert small.size == (900, 300)
    assert json.loads((tmp_path / "reference" / "findings.json").read_text()) == json.loads(
        (written / "findings.json").read_text()
    )
    assert (
        "wall time (Snakemake, start-up included): 412 s (6.9 min)"
        in (tmp_path / "reference" / "README.md").read_text()
    )


# ---------------------------------------------------------------- config.yaml's findings across experiments

# config.yaml's own findings that read beyond their experiment's per-run numbers: F2a and F3b a run of
# experiment init, F1a and F4a the pairwise files (rule measure_pairs). Planned by the planner, at a
# tiny size, on three pairs: one whose numbers agree with each of them, one whose numbers contradict
# each, one with every run measured but no pairwise files. Numbers are tenths apart, the margins
# hundredths (perceptual: 0.42, against 0.05 and 0.9); loss histories are flat.
CROSS = ("F1a", "F2a", "F3b", "F4a")
AGREES, DIFFERS, NO_PAIRS = "chelsea__starry_night", "coffee__starry_night", "astronaut__starry_night"
NEAR, FAR = 0.05, 0.9  # pairwise perceptual distances: the same image, different images


def _cross_plan() -> tuple[dict, dict]:
    """The report's plan (as workflow/rules/common.smk hands it over) and the planner's runs."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["defaults"] |= {"height": 32, "iterations": 10}
    config["pairs"] = [pair.split("__") for pair in (AGREES, DIFFERS, NO_PAIRS)]
    config["run_experiments"] = ["init", "style_weight", "content_layer"]
    planned = plan_experiments(config, REPO)
    report_plan = {
        name: {"claim": e.claim, "varied": e.varied, "pairs": e.pairs, "runs": e.runs, "findings": e.findings}
        for name, e in planned.experiments.items()
    }
    return report_plan, planned.runs


def _runs_where(plan: dict, experiment: str, pair: str, **values) -> list[str]:
    return [e["run"] for e in plan[experiment]["runs"][pair] if values.items() <= e["varied_values"].items()]


# config.yaml's "photo recognisable" metric: F1b, F2b, F3a gate on it, F2a bounds it
PHOTO = "coarse_ssim"


def _cross_metrics(plan: dict, runs: dict, pair: str) -> dict[str, dict]:
    """run -> its metrics: init's content run keeps the photo (coarse SSIM 0.6, config.yaml's gate metric)
    and is closest to the painting (0.3); the style-init runs of style_weight lose the photo (0.05, below
    the gate by more than its margin), and its gaussian run at style weight 10 is as close to the
    painting as init's content run. In DIFFERS, style weight 1 keeps the photo better than init's
    content run does (F2a), and gaussian 10 is far from the painting (F3b)."""
    values = {name: {PHOTO: 0.3, "style_distance": 0.5} for e in plan for name in _runs_where(plan, e, pair)}
    (content,) = _runs_where(plan, "init", pair, init_method="content")
    values[content] = {PHOTO: 0.6, "style_distance": 0.3}
    for name in _runs_where(plan, "style_weight", pair):
        if runs[name].params["init_method"] == "style":
            kept = 0.9 if pair == DIFFERS and runs[name].params["style_weight"] == 1 else 0.05
            values[name] |= {PHOTO: kept}
    gaussian_10 = [
        name
        for name in _runs_where(plan, "style_weight", pair, style_weight=10)
        if runs[name].params["init_method"] == "gaussian"
    ]
    assert len(gaussian_10) == 1 and gaussian_10[0] != content
    values[gaussian_10[0]] |= {"style_distance": 0.6 if pair == DIFFERS else 0.3}
    return values


def _cross_pairs(plan: dict, experiment: str, pair: str) -> list[dict]:
    """Pairwise rows: init's outputs all apart (DIFFERS: content and style init the same image);
    content_layer's all alike (DIFFERS: layers 1 and 5 apart)."""
    entries = plan[experiment]["runs"][pair]
    rows = []
    for i, a in enumerate(entries):
        for b in entries[i + 1 :]:
            values = {v for e in (a, b) for v in e["varied_values"].values()}
            if experiment == "init":
                distance = NEAR if pair == DIFFERS and values == {"content", "style"} else FAR
            else:
                distance = FAR if pair == DIFFERS and values == {1, 5} else NEAR
            rows.append({"a": a["run"], "b": b["run"], "perceptual": distance})
    return rows


def _write_run(name: str, run, metrics: dict) -> None:
    image = Path(paths.run_image(name))
    image.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (48, 32), (120, 90, 60)).save(image)
    record = {
        "content_image": run.content,
        "style_image": run.style,
        "style_images": [run.style],
        "parameters": run.params,
        "weights": {"source": "bundled", "sha256": "ab" * 32, "label": "bundled (test)", "pretrained": True},
        "random_weights": False,
        "iterations_done": 10,
        "stopped_early": False,
        "final_losses": {"content": 1.0, "style": 2.0, "tv": 3.0, "total": 99.9},
        "loss_history": [{"content": 1.0, "style": 2.0, "tv": 3.0, "total": 100.0}] * 10,
    }
    Path(paths.run_sidecar(name)).write_text(json.dumps(record))
    measured = Path(paths.run_metrics(name))
    measured.parent.mkdir(parents=True, exist_ok=True)
    measured.write_text(json.dumps({"run": name, "judge": {"height": 32}, "metrics": metrics}))


@pytest.fixture(scope="module")
def cross(tmp_path_factory) -> tuple[dict, dict]:
    """(id, pair) -> the verdict in findings.json, from the report job run on the hand-made tree; and
    the plan."""
    root = tmp_path_factory.mktemp("cross")
    plan, runs = _cross_plan()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        for pair in (AGREES, DIFFERS, NO_PAIRS):
            for name, metrics in _cross_metrics(plan, runs, pair).items():
                _write_run(name, runs[name], metrics)
            for experiment in plan:
                grid = Path(paths.grid_image(experiment, pair))  # drawn already: the report need not
                grid.parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (8, 8)).save(grid)
                if pair != NO_PAIRS:
                    rows = _cross_pairs(plan, experiment, pair)
                    Path(paths.pair_metrics(experiment, pair)).parent.mkdir(parents=True, exist_ok=True)
                    Path(paths.pair_metrics(experiment, pair)).write_text(json.dumps({"pairs": rows}))
        # the page itself is not read here, and its figures would cost ~40 s of CPU
        patch.setattr(report_job, "build_report", lambda *args, **kwargs: None)
        write_report(plan, root / "report.html", "test", None, root / "findings.json")
    verdicts = json.loads((root / "findings.json").read_text())["findings"]
    return {(v["id"], v["pair"]): v for v in verdicts}, plan


@pytest.mark.parametrize("finding", CROSS)
@pytest.mark.parametrize("pair, verdict", [(AGREES, "agrees"), (DIFFERS, "differs")])
def test_findings_across_experiments_and_pairwise_files_decide(cross, finding, pair, verdict):
    found = cross[0][(finding, pair)]
    assert found["verdict"] == verdict, found


@pytest.mark.parametrize("pair", [AGREES, DIFFERS])
def test_the_other_experiments_run_is_the_one_read(cross, pair):
    verdicts, plan = cross
    (init_content,) = _runs_where(plan, "init", pair, init_method="content")
    assert verdicts[("F2a", pair)]["numbers"]["references"]["max"] == {"run": init_content, "value": 0.6}
    assert verdicts[("F3b", pair)]["runs"][1] == init_content
    assert verdicts[("F3b", pair)]["numbers"]["difference"] == pytest.approx(0.3 if pair == DIFFERS else 0.0)


@pytest.mark.parametrize("finding", ["F1a", "F4a"])
def test_without_the_pairwise_file_a_pairwise_finding_is_inconclusive(cross, finding):
    verdicts = cross[0]
    found = verdicts[(finding, NO_PAIRS)]
    assert found["verdict"] == "inconclusive" and "pairwise distances missing" in found["reason"], found
    assert verdicts[("F2a", NO_PAIRS)]["verdict"] == "agrees"  # the pair's per-run numbers decide
