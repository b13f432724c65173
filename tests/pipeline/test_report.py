"""Tests of the comparison grid (nst.grid) and the HTML report (nst.report), on real tiny runs."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from browser import check_page, find_chromium
from PIL import Image

import nst
from nst_pipeline.grid import expected_pixel_size, make_grid
from nst_pipeline.report import build_report, summarize

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "data" / "content" / "chelsea.jpg"
STYLE = ROOT / "data" / "style" / "starry_night.jpg"
PAIR = "chelsea__starry_night"
XSS_ERROR = 'NSTNumericalError: loss became non-finite <script>alert("x")</script> & more'


def _run_dict(run_id, label, varied, result=None, *, row=0, status="ok", error=None):
    return {
        "run_id": run_id,
        "label": label,
        "row": row,
        "status": status,
        "image": result.image if result else None,
        "record": result.record if result else None,
        "error": error,
        "experiment": "style_weight",
        "pair": PAIR,
        "varied_values": varied,
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two bundled-weights runs (style_weight 1e3, 1e6), one random-weights run, one failed run."""
    folder = tmp_path_factory.mktemp("runs")
    common = {"height": 32, "iterations": 3, "progress": False}
    low = nst.stylize(CONTENT, STYLE, folder / "sw1e3.png", weights="bundled", style_weight=1e3, **common)
    high = nst.stylize(CONTENT, STYLE, folder / "sw1e6.png", weights="bundled", style_weight=1e6, **common)
    rand = nst.stylize(CONTENT, STYLE, folder / "random.png", weights="random", **common)
    return {
        "low": _run_dict("sw1e3", "style_weight = 1000", {"style_weight": 1e3}, low),
        "high": _run_dict("sw1e6", "style_weight = 1e+06", {"style_weight": 1e6}, high),
        "random": _run_dict("rand", "weights = random", {"weights": "random"}, rand, row=1),
        "failed": _run_dict("sw1e9", "style_weight = 1e+09", {"style_weight": 1e9}, status="failed", error=XSS_ERROR),
    }


def _experiment(runs: list[dict], grid: Path) -> dict:
    return {
        "name": "style_weight",
        "claim": "More style weight <b>gives</b> more style.",
        "varied": ["style_weight"],
        "grids": [grid],
        "runs": runs,
    }


@pytest.fixture(scope="module")
def grid(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("grids") / f"{PAIR}.png"
    make_grid(CONTENT, STYLE, list(runs.values()), "style_weight — chelsea × starry_night", out)
    return out


def _img_srcs(page: str) -> list[str]:
    tags = re.findall(r"<img\b[^>]*>", page)
    srcs = [re.search(r'\ssrc="([^"]*)"', tag).group(1) for tag in tags]
    assert len(srcs) == len(tags)
    return srcs


def test_grid_png_size_and_aspect(grid, runs):
    with Image.open(grid) as image:
        assert image.format == "PNG"
        size = image.size
    assert size == expected_pixel_size(list(runs.values()), CONTENT)
    # 2 rows (row 0: content + 3 runs; row 1: style + 1 run): 4 columns of 260 px, 2 rows of tiles
    assert size[0] == 4 * 260
    assert 1.5 < size[0] / size[1] < 2.5
    assert not list(grid.parent.glob(".*.tmp")), "temporary file left behind"


def test_grid_width_grows_with_runs_and_stays_bounded(runs, tmp_path):
    ok = runs["low"]
    widths = []
    for n in (2, 4, 8):
        out = tmp_path / f"g{n}.png"
        many = [dict(ok, run_id=f"r{i}", label=f"style_weight = {i}") for i in range(n)]
        make_grid(CONTENT, STYLE, many, "t", out)
        with Image.open(out) as image:
            assert image.size == expected_pixel_size(many, CONTENT)
            widths.append(image.size[0])
            assert image.size[0] / image.size[1] > 2  # one row of tiles: wide
    assert widths[0] < widths[1] < widths[2] <= 1700


def test_report_self_contained_and_escaped(runs, grid, tmp_path):
    out = tmp_path / "report.html"
    build_report([_experiment(list(runs.values()), grid)], out)
    page = out.read_text(encoding="utf-8")
    assert 'src="http' not in page and "file:" not in page and "<script" not in page
    assert not re.search(r'(href|src)="(https?:)?//', page)
    srcs = _img_srcs(page)
    assert len(srcs) == 2  # the grid + one loss-curve figure for the single pair
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as image:
            image.verify()
            assert image.format == "PNG"
    # the failed run's error text, escaped; the claim's markup escaped too
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in page
    assert "More style weight &lt;b&gt;gives&lt;/b&gt; more style." in page
    assert 'id="random-weights-banner"' in page
    assert "style_weight = 1000" in page and "failed" in page


def test_no_random_banner_without_random_runs(runs, grid, tmp_path):
    out = tmp_path / "report.html"
    build_report([_experiment([runs["low"], runs["high"]], grid)], out)
    page = out.read_text(encoding="utf-8")
    assert 'id="random-weights-banner"' not in page
    assert "RANDOM WEIGHTS" not in page
    assert len(_img_srcs(page)) == 2


def test_summarize_on_real_runs(runs):
    sentences = summarize([runs["low"], runs["high"], runs["failed"]])
    assert sentences[0] == "2 of 3 runs finished (1 failed)."
    low_style = runs["low"]["record"]["final_losses"]["style"]
    high_style = runs["high"]["record"]["final_losses"]["style"]
    best = "style_weight = 1e+06" if high_style < low_style else "style_weight = 1000"
    assert any(s.startswith(f"Lowest final style loss: {best} (") for s in sentences)


def _synthetic(label: str, sw: float, style: float, content: float, **extra) -> dict:
    record = {
        "parameters": {
            "model": "vgg19",
            "weights": "bundled",
            "init_method": "content",
            "content_weight": 1e5,
            "style_weight": sw,
            "tv_weight": 1.0,
            "content_layer": 4,
            "style_layers": 6,
            "optimizer": "lbfgs",
            "iterations": 10,
            "learning_rate": 1.0,
            "height": 64,
            "seed": 0,
        },
        "weights": {"source": "bundled", "sha256": "ab" * 32, "pretrained": True, "label": "bundled: test"},
        "random_weights": False,
        "iterations_done": 10,
        "stopped_early": False,
        "time_per_iteration_s": 0.1,
        "wall_time_s": 1.0,
        "peak_memory_mb": 100.0,
        "final_losses": {"content": content, "style": style, "tv": 1.0, "total": 1.0},
        "loss_history": [],
    } | extra
    return {
        "run_id": label,
        "label": label,
        "row": 0,
        "status": "ok",
        "image": None,
        "record": record,
        "error": None,
        "experiment": "e",
        "pair": "a__b",
        "varied_values": {"style_weight": sw},
    }


def test_summarize_synthetic_lowest_and_monotonic():
    runs = [
        _synthetic("sw = 10", 10, style=500.0, content=1.0),
        _synthetic("sw = 100", 100, style=20.0, content=3.0),
        _synthetic("sw = 1000", 1000, style=50.0, content=9.0, stopped_early=True, iterations_done=7),
    ]
    sentences = summarize(runs)
    text = "\n".join(sentences)
    assert "Lowest final style loss: sw = 100 (20); highest: sw = 10 (500), 25× the lowest." in sentences
    assert "Lowest final content loss: sw = 10 (1); highest: sw = 1000 (9), 9× the lowest." in sentences
    assert "does not fall monotonically as style_weight grows" in text
    assert "from 20 at style_weight = 100 to 50 at style_weight = 1000" in text
    assert "sw = 1000 stopped early, after iteration 7 of 10" in text
    assert "RANDOM" not in text

    runs[2]["record"]["final_losses"]["style"] = 5.0
    text = "\n".join(summarize(runs))
    assert "Final style loss falls monotonically as style_weight grows (style_weight 10 → 1000" in text
    assert "Lowest final style loss: sw = 1000 (5)" in text


def test_summarize_near_equal_values_and_random_left_out():
    a = _synthetic("sw = 10", 10, style=100.0, content=1.0)
    b = _synthetic("sw = 20", 20, style=100.04, content=1.0)
    r = _synthetic("random", 10, style=0.001, content=0.001, random_weights=True)
    r["record"]["weights"] = {"source": "random", "sha256": "cd" * 32, "pretrained": False, "label": "RANDOM"}
    sentences = summarize([a, b, r])
    expected = "Lowest final style loss: sw = 10 (100); highest: sw = 20 (100.04), only 0.04% above the lowest."
    assert expected in sentences
    assert any("leave out the 1 random-weights run(s)" in s for s in sentences)
    assert not any("Lowest final style loss: random" in s for s in sentences)
    assert any("rises" in s or "does not fall" in s for s in sentences)


def test_summarize_not_like_for_like():
    a = _synthetic("layers 2", 10, style=1.0, content=1.0)
    b = _synthetic("layers 6", 10, style=9.0, content=1.0)
    a["record"]["parameters"]["style_layers"] = 2
    sentences = summarize([a, b])
    assert any("differ in style_layers" in s for s in sentences)
    assert not any("monotonic" in s for s in sentences)


@pytest.mark.skipif(find_chromium() is None, reason="chromium not installed (apt-get install chromium)")
def test_report_in_browser(runs, grid, tmp_path):
    out = tmp_path / "report.html"
    build_report([_experiment(list(runs.values()), grid)], out)
    n_img = len(re.findall(r"<img\b", out.read_text(encoding="utf-8")))
    shot = tmp_path / "report.png"
    report = check_page(out, shot)
    assert report.images_total == n_img
    assert report.images_broken == []
    assert report.load_fired
    assert report.title == "nst-pipeline report"
    assert shot.is_file() and shot.stat().st_size > 0
