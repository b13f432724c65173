"""The report's caps for big sweeps: a pair's metrics table shows at most 40 runs (grid.MAX_TILES, as its
grid) and its loss-curve figure at most 20 (figures.MAX_CURVES), evenly spaced with first and last kept,
and both say so. From a hand-made results tree of 45 runs (sidecars with loss histories, metrics files)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image
from pipeline_helpers import html_element

from nst.api import RESULT_PARAMETERS, check_run
from nst.naming import run_id
from nst_pipeline import figures, paths
from nst_pipeline.report_job import write_report

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "data" / "content" / "chelsea.jpg"
STYLE = ROOT / "data" / "style" / "starry_night.jpg"
PAIR = "chelsea__starry_night"
STYLE_WEIGHTS = [float(10 * (i + 1)) for i in range(45)]


def _record(style_weight: float) -> dict:
    params = check_run(CONTENT, STYLE, weights="bundled", height=32, iterations=3, style_weight=style_weight)
    history = [{"content": 1.0, "style": style_weight, "tv": 3.0, "total": style_weight * (4 - i)} for i in range(3)]
    return {
        "content_image": str(CONTENT),
        "style_image": str(STYLE),
        "style_images": [str(STYLE)],
        "parameters": {name: params[name] for name in RESULT_PARAMETERS},
        "weights": {"source": "bundled", "sha256": "ab" * 32, "label": "bundled (test)", "pretrained": True},
        "random_weights": False,
        "iterations_done": 3,
        "device": "cpu",
        "final_losses": {"content": 1.0, "style": style_weight, "tv": 3.0, "total": style_weight},
        "loss_history": history,
    }


class RecordingFigure(figures.Figure):
    """matplotlib's Figure, remembering every instance (what was drawn, before it becomes PNG bytes)."""

    made: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        RecordingFigure.made.append(self)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[str, list]:
    """The report's HTML, and the figures drawn for it."""
    root = tmp_path_factory.mktemp("caps")
    entries = []
    for style_weight in STYLE_WEIGHTS:
        record = _record(style_weight)
        name = f"{PAIR}/{run_id(record['parameters'])}"
        image = root / paths.run_image(name)
        image.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (48, 32), (120, 90, 60)).save(image)
        (root / paths.run_sidecar(name)).write_text(json.dumps(record))
        metrics = root / paths.run_metrics(name)
        metrics.parent.mkdir(parents=True, exist_ok=True)
        values = {"judge_height": 32, "judge_upsampled": False, "content_ssim": 0.5, "style_distance": 0.4}
        metrics.write_text(json.dumps({"run": name, "judge": {"height": 32}, "metrics": values}))
        label = f"style_weight = {style_weight:g}"
        entries.append({"run": name, "label": label, "row": 0, "varied_values": {"style_weight": style_weight}})
    grid = root / paths.grid_image("sweep", PAIR)  # the pipeline's grid: the report need not draw one
    grid.parent.mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(grid)
    plan = {"sweep": {"claim": "", "varied": ["style_weight"], "pairs": [PAIR], "runs": {PAIR: entries}}}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setattr(figures, "Figure", RecordingFigure)
        RecordingFigure.made.clear()
        write_report(plan, root / "report.html", "test")
    return (root / "report.html").read_text(), list(RecordingFigure.made)


def test_the_metrics_table_shows_40_runs_evenly_spaced(report):
    html, _ = report
    [table] = re.findall(r'<table class="metrics">.*?</table>', html, re.S)
    shown = [float(weight) for weight in re.findall(r"<tr><td>style_weight = (\d+)</td>", table)]
    assert len(shown) == 40 and shown[0] == STYLE_WEIGHTS[0] and shown[-1] == STYLE_WEIGHTS[-1]
    assert len(set(shown)) == 40 and shown == sorted(shown)
    note = "showing 40 of 45 runs, evenly spaced in plan order; the report's table lists all"
    assert note in html_element(html, "exp-sweep").text
    table = html_element(html, "all-runs")
    assert all(f"style_weight = {w:g} " in table.text for w in STYLE_WEIGHTS)  # the all-runs table: every run


def test_the_loss_curves_show_20_runs_evenly_spaced(report):
    _, made = report
    [curves] = [figure for figure in made if figure.axes and figure.axes[0].get_title().startswith("total loss")]
    labels = [line.get_label() for line in curves.axes[0].get_lines()]
    assert len(labels) == 20 and len(set(labels)) == 20
    assert labels[0] == "style_weight = 10" and labels[-1] == "style_weight = 450"
    weights = [float(label.split(" = ")[1]) for label in labels]
    gaps = [b - a for a, b in zip(weights, weights[1:])]
    assert set(gaps) <= {20.0, 30.0}  # 44 steps of 10 over 19 gaps: 2.3 steps each
    assert all(len(ax.get_lines()) == 20 for ax in curves.axes)
    assert "showing 20 of 45 runs" in curves.get_suptitle()
