"""The HTML report (nst_pipeline.report_job.write_report), from a results tree of real
tiny runs (32 px, 3 iterations, made once for the module): two bundled-weights runs, one
random-weights run, one failed run (a failure record) and one run not made at all."""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from browser import check_page, evaluate, find_chromium
from PIL import Image

import nst
from nst.api import RESULT_PARAMETERS, check_run
from nst.naming import run_id
from nst_pipeline import outcome, paths
from nst_pipeline.report_job import write_report

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "data" / "content" / "chelsea.jpg"
STYLE = ROOT / "data" / "style" / "starry_night.jpg"
PAIR = "chelsea__starry_night"
TINY = {"weights": "bundled", "height": 32, "iterations": 3}
XSS_ERROR = 'NSTNumericalError: loss became non-finite <script>alert("x")</script> & more'
CLAIM = "More style weight <b>gives</b> more style."
FAILURE_GREY = (200, 200, 200)  # a failed run's tile in a grid


def _run_name(**changes) -> str:
    params = check_run(CONTENT, STYLE, **(TINY | changes))
    return f"{PAIR}/{run_id({name: params[name] for name in RESULT_PARAMETERS})}"


LOW, HIGH = _run_name(style_weight=1e3), _run_name(style_weight=1e6)
RANDOM = _run_name(weights="random")
FAILED = _run_name(style_weight=1e9)
MISSING = _run_name(init_method="uniform")


def _entry(run: str, label: str, varied: dict, row: int = 0) -> dict:
    return {"run": run, "label": label, "row": row, "varied_values": varied}


def _experiment(claim: str, varied: list[str], entries: list[dict]) -> dict:
    return {"claim": claim, "varied": varied, "pairs": [PAIR], "runs": {PAIR: entries}}


# LOW is in both experiments: 6 entries, 5 unique runs (3 ok, 1 failed, 1 missing)
FULL_PLAN = {
    "style_weight": _experiment(
        CLAIM,
        ["style_weight", "weights"],
        [
            _entry(LOW, "style_weight = 1000", {"style_weight": 1e3}),
            _entry(HIGH, "style_weight = 1e+06", {"style_weight": 1e6}),
            _entry(FAILED, "style_weight = 1e+09", {"style_weight": 1e9}),
            _entry(RANDOM, "weights = random", {"weights": "random"}, row=1),
        ],
    ),
    "init": _experiment(
        "Init matters.",
        ["init_method"],
        [
            _entry(LOW, "init_method = content", {"init_method": "content"}),
            _entry(MISSING, "init_method = uniform", {"init_method": "uniform"}),
        ],
    ),
}
PRETRAINED_PLAN = {
    "pretrained": _experiment(
        "Pretrained only.",
        ["style_weight"],
        [
            _entry(LOW, "style_weight = 1000", {"style_weight": 1e3}),
            _entry(HIGH, "style_weight = 1e+06", {"style_weight": 1e6}),
        ],
    )
}


def _sentinel_png(rgb: tuple) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), rgb).save(buffer, format="PNG")
    return buffer.getvalue()


STALE_GRID, PIPELINE_GRID = _sentinel_png((255, 0, 255)), _sentinel_png((0, 255, 255))


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A results tree as the pipeline leaves it, plus grid files for two experiments."""
    root = tmp_path_factory.mktemp("tree")
    for run, changes in ((LOW, {"style_weight": 1e3}), (HIGH, {"style_weight": 1e6}), (RANDOM, {"weights": "random"})):
        nst.stylize(CONTENT, STYLE, root / paths.run_image(run), **(TINY | changes), progress=False, threads=1)
    failure = root / paths.failure_record(FAILED)
    failure.parent.mkdir(parents=True)
    failure.write_text(json.dumps({"run": FAILED, "error": XSS_ERROR}))
    for experiment, png in (("style_weight", STALE_GRID), ("pretrained", PIPELINE_GRID)):
        grid = root / paths.grid_image(experiment, PAIR)
        grid.parent.mkdir(parents=True, exist_ok=True)
        grid.write_bytes(png)
    return root


def _write(tree: Path, plan: dict, name: str) -> Path:
    out = tree / "reports" / f"{name}.html"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tree)  # results paths are relative to the working directory
        write_report(plan, out, "nst-pipeline report")
    return out


@pytest.fixture(scope="module")
def full_report(tree) -> Path:
    return _write(tree, FULL_PLAN, "full")


@pytest.fixture(scope="module")
def full_page(full_report) -> str:
    return full_report.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pretrained_page(tree) -> str:
    return _write(tree, PRETRAINED_PLAN, "pretrained").read_text(encoding="utf-8")


def _section(page: str, element_id: str) -> str:
    match = re.search(rf'<section id="{element_id}">(.*?)</section>', page, re.S)
    assert match, f"no section {element_id}"
    return match.group(1)


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def _img_srcs(page: str) -> list[str]:
    return re.findall(r'<img\b[^>]*\ssrc="([^"]*)"', page)


def _png(src: str) -> bytes:
    assert src.startswith("data:image/png;base64,")
    return base64.b64decode(src.split(",", 1)[1])


def test_failures_section_shows_each_failed_and_missing_run(full_page):
    failures = _section(full_page, "failures")
    errors = re.findall(r'<pre class="error">(.*?)</pre>', failures, re.S)
    assert [html.unescape(error) for error in errors] == [XSS_ERROR, outcome.NOT_RUN]
    assert "<" not in errors[0]  # escaped: the error's markup is text
    assert f"<code>{FAILED}</code>" in failures and f"<code>{MISSING}</code>" in failures
    assert LOW not in failures and HIGH not in failures and RANDOM not in failures


def test_no_markup_from_the_data(full_page):
    # one script, the run table's own (report.js); the error's <script> is text
    assert full_page.lower().count("<script") == 1 and "&lt;script&gt;alert(" in full_page
    claim = re.search(r'<p class="claim">(.*?)</p>', full_page, re.S).group(1)
    assert claim == "<b>Claim:</b> More style weight &lt;b&gt;gives&lt;/b&gt; more style."


def test_random_weights_banner_iff_a_run_used_random_weights(full_page, pretrained_page):
    banner = re.search(r'<div class="banner" id="random-weights-banner">(.*?)</div>', full_page, re.S)
    assert banner and banner.group(1).startswith("RANDOM WEIGHTS: 1 of 5 runs used a randomly initialised")
    assert "random-weights-banner" not in pretrained_page
    assert "RANDOM" not in pretrained_page


def _counts(page: str) -> dict[str, int]:
    counts = re.search(r'<ul class="counts">(.*?)</ul>', page, re.S).group(1)
    items = re.findall(r"<li[^>]*><b>(\d+)</b> ([^<]+)</li>", counts)
    return {label: int(number) for number, label in items}


def test_header_counts_unique_runs(full_page, pretrained_page):
    assert _counts(full_page) == {
        "experiments": 2,
        "runs": 5,
        "experiment entries": 6,  # LOW is in both experiments
        "ok": 3,
        "failed": 1,
        "missing": 1,
    }
    assert _counts(pretrained_page) == {"experiment": 1, "runs": 2, "ok": 2, "failed": 0}


def test_each_run_file_is_read_once(tree, monkeypatch):
    reads = Counter()
    read_json = outcome._read_json

    def counting(path):
        reads[Path(path).as_posix()] += 1
        return read_json(path)

    monkeypatch.setattr(outcome, "_read_json", counting)
    _write(tree, FULL_PLAN, "counted")
    expected = {paths.run_sidecar(run) for run in (LOW, HIGH, RANDOM)} | {paths.failure_record(FAILED)}
    assert dict(reads) == dict.fromkeys(expected, 1)


def test_table_has_a_row_per_entry_red_for_random_weights(full_page):
    table = _section(full_page, "all-runs")
    header = re.findall(r"<th>(.*?)</th>", table)
    rows = re.findall(r'<tr class="([^"]*)">(.*?)</tr>', table, re.S)
    assert [classes for classes, _ in rows] == ["ok", "ok", "failed", "ok random", "ok", "missing"]
    for _, row in rows:
        assert len(re.findall(r"<td\b", row)) == len(header) == 23 + 8  # the run's columns + the yardstick's
    cells = [_text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", rows[3][1], re.S)]
    assert cells[header.index("weights")] == "RANDOM"
    assert cells[header.index("varied values")] == "weights = random"
    failed = [_text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", rows[2][1], re.S)]
    assert failed[header.index("sw")] == "1e+09"  # a failed run shows the parameters it was planned with
    assert failed[header.index("status")] == "failed"


def test_grids_from_the_pipeline_or_drawn_with_failures_marked(full_page, pretrained_page):
    # complete pair: the pipeline's grid file, as it is
    assert _png(_img_srcs(pretrained_page)[0]) == PIPELINE_GRID
    # a pair with a failed run: drawn for the report (the file there is stale), the failed tile grey
    drawn = _png(_img_srcs(_section(full_page, "exp-style_weight"))[0])
    assert drawn != STALE_GRID
    pixels = np.asarray(Image.open(io.BytesIO(drawn)).convert("RGB")).astype(int)
    assert np.all(np.abs(pixels - FAILURE_GREY) <= 2, axis=-1).sum() > 10_000


def test_page_is_self_contained(full_page):
    srcs = _img_srcs(full_page)
    assert len(srcs) == len(re.findall(r"<img\b", full_page)) == 2 * 2  # 2 experiments x (grid + loss curves)
    for src in srcs:
        with Image.open(io.BytesIO(_png(src))) as image:
            image.verify()
    assert not re.search(r"<link\b|<script\b[^>]*\bsrc\b|<iframe\b|url\(|https?:", full_page, re.I)
    assert re.findall(r"<script\b[^>]*>", full_page) == ["<script>"]  # inline, from the template
    assert all(href.startswith("#") for href in re.findall(r'href="([^"]*)"', full_page))


def test_experiment_sections_show_claim_varied_and_sentences(full_page):
    section = _section(full_page, "exp-init")
    assert "<b>Varied:</b> init_method" in section
    sentences = [_text(item) for item in re.findall(r"<li>(.*?)</li>", section, re.S)]
    assert sentences[0] == "1 of 2 runs finished (1 missing)."


@pytest.mark.skipif(find_chromium() is None, reason="chromium not installed (apt-get install chromium)")
def test_report_renders_in_chromium(full_report, tmp_path):
    shot = tmp_path / "report.png"
    report = check_page(full_report, shot)
    assert report.images_total == 4
    assert report.images_broken == []
    assert report.load_fired
    assert report.title == "nst-pipeline report"
    with Image.open(shot) as image:  # the red banner (#c40000) near the top of the page
        top = np.asarray(image.convert("RGB"))[:400].astype(int)
    assert np.all(top == (196, 0, 0), axis=-1).sum() > 20_000


TABLE_STATE = """
var table = document.getElementById("runs-table");
function state() {
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var names = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) { return th.textContent; });
  var column = names.indexOf("sw");
  return {
    sw: rows.filter(function (r) { return !r.hidden; }).map(function (r) { return r.cells[column].textContent; }),
    count: document.getElementById("runs-count").textContent,
    tools: !document.getElementById("runs-tools").hidden,
    sort: table.tHead.rows[0].cells[column].getAttribute("aria-sort"),
  };
}
var sw = Array.prototype.filter.call(table.tHead.rows[0].cells, function (th) { return th.textContent === "sw"; })[0];
var filter = document.getElementById("runs-filter");
var steps = {initial: state()};
sw.click(); steps.ascending = state();
sw.click(); steps.descending = state();
filter.value = "style_weight FAILED"; filter.dispatchEvent(new Event("input")); steps.filtered = state();
filter.value = ""; filter.dispatchEvent(new Event("input")); steps.cleared = state();
return steps;
"""


@pytest.mark.skipif(find_chromium() is None, reason="chromium not installed (apt-get install chromium)")
def test_run_table_sorts_and_filters_in_chromium(full_report):
    """The table's inline script: header clicks sort by the exact values (missing ones last either way),
    the filter box keeps rows containing every word; offline, in the page itself."""
    steps = evaluate(full_report, TABLE_STATE)
    plan_order = ["1e+03", "1e+06", "1e+09", "3e+04", "1e+03", "3e+04"]  # the 2 experiments' entries
    assert steps["initial"] == {"sw": plan_order, "count": "all 6 rows", "tools": True, "sort": "none"}
    assert steps["ascending"]["sw"] == ["1e+03", "1e+03", "3e+04", "3e+04", "1e+06", "1e+09"]
    assert steps["ascending"]["sort"] == "ascending"
    assert steps["descending"]["sw"] == ["1e+09", "1e+06", "3e+04", "3e+04", "1e+03", "1e+03"]
    assert steps["descending"]["sort"] == "descending"
    assert steps["filtered"]["sw"] == ["1e+09"] and steps["filtered"]["count"] == "1 of 6 rows"
    assert steps["cleared"]["count"] == "all 6 rows" and len(steps["cleared"]["sw"]) == 6


# a finding over style_weight's four runs (none measured: inconclusive, with no numbers to mark)
FINDING_PLAN = {
    "style_weight": FULL_PLAN["style_weight"]
    | {
        "findings": [
            {
                "id": "T1",
                "statement": "Style weight 1000 looks best.",
                "source": "test",
                "check": {
                    "kind": "best",
                    "metric": "style_distance",
                    "goal": "lowest",
                    "expect": 1000,
                    "over": "style_weight",
                    "gate": {"metric": "palette_distance", "max": 50},
                },
            }
        ]
    }
}


def test_scorecard_shows_each_runs_picture_or_why_there_is_none(tree):
    """Beside a verdict: a thumbnail per run read (a JPEG at the thumbnail height), the failed run a
    grey box saying so, the random-weights run flagged."""
    card = _section(_write(tree, FINDING_PLAN, "finding").read_text(encoding="utf-8"), "scorecard")
    figures = re.findall(r'<figure class="thumb[^"]*" title="[^"]*">(.*?)</figure>', card, re.S)
    labels = [_text(re.search(r'<span class="label">(.*?)</span>', f).group(1)) for f in figures]
    assert labels == ["1000", "1e+06", "1e+09", "30000"]
    missing = [_text(m) for f in figures for m in re.findall(r'<span class="noimage">(.*?)</span>', f)]
    assert missing == ["failed"]
    srcs = [re.search(r'<img src="([^"]*)"', f) for f in figures]
    assert [src is not None for src in srcs] == [True, True, False, True]
    for src in filter(None, srcs):
        assert src.group(1).startswith("data:image/jpeg;base64,")
        with Image.open(io.BytesIO(base64.b64decode(src.group(1).split(",", 1)[1]))) as picture:
            assert picture.height == 64  # the 32 px run, at the thumbnails' height
    assert ['<span class="flag">RANDOM</span>' in f for f in figures] == [False, False, False, True]
    assert ["expected" in f for f in figures] == [True, False, False, False]  # not measured: nothing else


def test_other_options_name_what_differs_from_the_defaults():
    """The all-runs table's "other options" cell: the newer options, only where not at their default."""
    from nst_pipeline.outcome import RunOutcome

    def outcome(**params):
        base = {"precision": "fp32", "style_scale": 1.0, "color_control": "none", "stage_heights": []}
        return RunOutcome(
            run="a__b/x",
            experiment="e",
            pair="a__b",
            label="",
            row=0,
            varied_values={},
            status="missing",
            planned=base | params,
        )

    assert outcome().other_options == ""
    text = outcome(precision="bf16", style_scale=0.5, stage_heights=[64, 96]).other_options
    assert text == "stage_heights [64, 96]; precision bf16; style_scale 0.5"
