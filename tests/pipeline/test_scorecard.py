"""The report job's scorecard, findings.json and runs.tsv (nst_pipeline.report_job.write_report with
nst_pipeline.scorecard and runs_table), from a hand-made results tree: sidecars with loss histories
written to be converged or not, and metrics files with chosen values, so every verdict is known.
The plan's findings are given as the planner leaves them (check.over filled in).
The values are far apart (0.1 and more) next to the noise margins (~0.02), so the verdicts do not
depend on the measured noise scale."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas
import pytest
from PIL import Image
from pipeline_helpers import html_element

from nst.api import RESULT_PARAMETERS, check_run
from nst.naming import run_id
from nst_pipeline import paths
from nst_pipeline.report_job import write_report

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "data" / "content" / "chelsea.jpg"
STYLE = ROOT / "data" / "style" / "starry_night.jpg"
PAIR = "chelsea__starry_night"
BASE = {"weights": "bundled", "height": 32, "iterations": 10}
# style weight -> (style distance, content SSIM, converged?)
RUNS = {10.0: (0.60, 0.50, True), 100.0: (0.45, 0.40, True), 1000.0: (0.30, 0.30, True), 1e4: (0.20, 0.05, False)}


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
            "at": [10, 100, 1000],  # the converged runs (the unconverged 1e4 would make it inconclusive)
            "gate": {"metric": "content_ssim", "min": 0.2},
        },
    },
    {  # reads 10 and 100 only: both converged, 0.60 -> 0.45 is not an increase
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
    {  # needs the unconverged 1e4 run
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
    for style_weight, (style, ssim, converged) in RUNS.items():
        name = _name(style_weight)
        image = root / paths.run_image(name)
        image.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (48, 32), (120, 90, 60)).save(image)
        (root / paths.run_sidecar(name)).write_text(json.dumps(_record(style_weight, converged)))
        measured = root / paths.run_metrics(name)
        measured.parent.mkdir(parents=True, exist_ok=True)
        measured.write_text(json.dumps({"run": name, "judge": {"height": 32}, "metrics": _metrics(style, ssim)}))
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
    s10 = verdicts["S10"]
    assert s10["verdict"] == "inconclusive" and "had not converged: 10000 20.0%" in s10["reason"], s10
    assert s10["check_says"] == "agrees"  # 0.50, 0.40, 0.30, 0.05: falling


def test_scorecard_rows_in_the_studys_order_with_numbers(written):
    card = html_element((written / "report.html").read_text(), "scorecard")
    assert card is not None
    page = (written / "report.html").read_text()
    assert re.findall(r"<td><b>(\w+)</b>", page) == ["S1", "S2", "S10"]  # natural order, not S1, S10, S2
    assert "style distance (0 = the painting): 10 0.6 · 100 0.45 · 1000 0.3;" in card.text
    assert "gate content_ssim ≥ 0.2" in card.text
    assert "weighted loss at the end: content 1%, style 99%" in card.text
    assert "1 agrees" in card.text and "1 differs" in card.text and "1 inconclusive" in card.text


def test_runs_table(written):
    table = pandas.read_csv(written / "runs.tsv", sep="\t").set_index("style_weight")
    assert sorted(table.index) == sorted(RUNS)
    for style_weight, (style, ssim, converged) in RUNS.items():
        row = table.loc[style_weight]
        assert (row["style_distance"], row["content_ssim"]) == (style, ssim)
        assert bool(row["converged"]) is converged
        assert row["loss_fall_tail"] == pytest.approx(0.001 if converged else 0.2)
        assert row["experiments"] == "sweep" and row["status"] == "ok" and row["weights_label"] == "bundled (test)"
