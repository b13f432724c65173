"""The comparison grid (nst_pipeline.grid), checked by its pixels: every picture is a flat, known colour,
so each tile's colour can be sampled at its centre.

Layout facts the checks use (nst_pipeline/grid.py's docstring): tiles are at most 2.6 in wide at 100 dpi
(260 px) and the figure at most 16 in (1600 px); the columns are the content and style thumbnails
side by side, then the runs of the longest row; with several rows the thumbnails share the first
column (content above style); with more than 4 runs in one row they share the first tile.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst_pipeline.grid import MAX_TILES, grid_layout, make_grid, sample_runs
from nst_pipeline.outcome import RunOutcome

CONTENT_RGB = (30, 120, 255)
STYLE_RGB = (255, 200, 0)
RUN_RGB = [(0, 200, 80), (150, 60, 220), (0, 200, 200), (240, 120, 170), (110, 70, 20), (60, 60, 140)]
FAILURE_GREY = (200, 200, 200)  # #c8c8c8
RANDOM_RED = (208, 0, 0)  # #d00000, the RANDOM WEIGHTS label
WHITE = (255, 255, 255)
WIDTH_PX, HEIGHT_PX = 60, 40  # every picture: aspect 1.5
PRETRAINED_RECORD = {"weights": {"pretrained": True, "label": "bundled: test"}, "random_weights": False}
RANDOM_RECORD = {"weights": {"pretrained": False, "label": "RANDOM WEIGHTS"}, "random_weights": True}


def _flat_png(folder: Path, rgb: tuple) -> Path:
    path = folder / f"{'-'.join(map(str, rgb))}.png"
    Image.new("RGB", (WIDTH_PX, HEIGHT_PX), rgb).save(path)
    return path


def _ok(folder: Path, name: str, rgb: tuple, row: int = 0, record: dict = PRETRAINED_RECORD) -> RunOutcome:
    image = _flat_png(folder, rgb)
    return RunOutcome(f"a__b/{name}", "e", "a__b", name, row, {}, "ok", image, record, None)


def _not_ok(name: str, status: str, row: int = 0) -> RunOutcome:
    return RunOutcome(f"a__b/{name}", "e", "a__b", name, row, {}, status, None, None, "SomeError: went wrong")


def _draw(folder: Path, runs: list[RunOutcome]) -> np.ndarray:
    out = folder / "grid.png"
    make_grid(_flat_png(folder, CONTENT_RGB), _flat_png(folder, STYLE_RGB), runs, "title", out)
    with Image.open(out) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB")).astype(int)


def _is(pixel, rgb, tolerance: int = 6) -> bool:
    return bool(np.all(np.abs(np.asarray(pixel) - rgb) <= tolerance))


def _band(line: np.ndarray, rgb: tuple) -> tuple[int, int]:
    """First and last index along a row or column of pixels where the colour is `rgb`."""
    hits = np.flatnonzero(np.all(np.abs(line - rgb) <= 6, axis=-1))
    assert hits.size, f"colour {rgb} not found"
    assert hits[-1] - hits[0] + 1 == hits.size, f"colour {rgb} is not one contiguous band"
    return int(hits[0]), int(hits[-1])


def _column_centre(column: int, width: int, n_columns: int) -> int:
    return int((column + 0.5) * width / n_columns)


def test_two_rows_tile_colours_failure_grey_and_random_label(tmp_path):
    """Row 0: content, then two ok runs and a failed one; row 1: style, a random-weights run, a missing one."""
    runs = [
        _ok(tmp_path, "green", RUN_RGB[0]),
        _ok(tmp_path, "purple", RUN_RGB[1]),
        _not_ok("failed", "failed"),
        _ok(tmp_path, "random", RUN_RGB[2], row=1, record=RANDOM_RECORD),
        _not_ok("missing", "missing", row=1),
    ]
    pixels = _draw(tmp_path, runs)
    height, width, _ = pixels.shape
    assert width == 4 * 260  # 4 columns (thumbnails + the 3 runs of row 0) of 260 px
    x = [_column_centre(c, width, 4) for c in range(4)]
    content_top, content_bottom = _band(pixels[:, x[0]], CONTENT_RGB)
    style_top, style_bottom = _band(pixels[:, x[0]], STYLE_RGB)
    assert content_bottom < style_top  # content thumbnail above the style one
    y0, y1 = (content_top + content_bottom) // 2, (style_top + style_bottom) // 2

    assert _is(pixels[y0, x[1]], RUN_RGB[0])
    assert _is(pixels[y0, x[2]], RUN_RGB[1])
    assert _is(pixels[y0, x[3]], FAILURE_GREY)
    assert _is(pixels[y1, x[1]], RUN_RGB[2])
    assert _is(pixels[y1, x[2]], FAILURE_GREY)
    assert _is(pixels[y1, x[3]], WHITE)  # row 1 has two runs only

    # a run's picture keeps its shape (3:2)
    top, bottom = _band(pixels[:, x[1]][: (y0 + y1) // 2], RUN_RGB[0])
    left, right = _band(pixels[y0], RUN_RGB[0])
    assert (right - left + 1) / (bottom - top + 1) == pytest.approx(1.5, abs=0.05)

    # the red label across the top of the random run's tile, and on no other tile
    def has_red(y_from: int, y_to: int, column: int) -> bool:
        half = width // 8
        area = pixels[y_from:y_to, x[column] - half : x[column] + half]
        return bool(np.any(np.all(np.abs(area - RANDOM_RED) <= 6, axis=-1)))

    top_fifth = (style_bottom - style_top) // 5
    assert has_red(style_top, style_top + top_fifth, 1)
    assert not has_red(0, height, 2) and not has_red(0, height, 3)
    assert not has_red(content_top, content_bottom, 1)


@pytest.mark.parametrize("n_runs", [2, 4, 8])
def test_one_row_columns_and_width(tmp_path, n_runs):
    colours = (RUN_RGB + [(20, 160, 120), (200, 100, 30)])[:n_runs]
    pixels = _draw(tmp_path, [_ok(tmp_path, f"run{i}", rgb) for i, rgb in enumerate(colours)])
    height, width, _ = pixels.shape
    thumbnail_columns = 2 if n_runs <= 4 else 1
    n_columns = thumbnail_columns + n_runs
    tile = round(min(260, 1600 / n_columns))
    assert width == n_columns * tile
    assert width <= 1610 and width / height > 2  # one row of tiles: wide

    first_run_x = _column_centre(thumbnail_columns, width, n_columns)
    top, bottom = _band(pixels[:, first_run_x], colours[0])
    y = (top + bottom) // 2
    for i, rgb in enumerate(colours):
        assert _is(pixels[y, _column_centre(thumbnail_columns + i, width, n_columns)], rgb), f"run {i}"
    if thumbnail_columns == 2:
        assert _is(pixels[y, _column_centre(0, width, n_columns)], CONTENT_RGB)
        assert _is(pixels[y, _column_centre(1, width, n_columns)], STYLE_RGB)
    else:  # both in the first tile, content above style
        column = pixels[:, _column_centre(0, width, n_columns)]
        assert _band(column, CONTENT_RGB)[1] < _band(column, STYLE_RGB)[0]


def test_no_temporary_file_left(tmp_path):
    _draw(tmp_path, [_ok(tmp_path, "green", RUN_RGB[0])])
    assert not list(tmp_path.glob(".*.tmp"))


def test_sample_runs_keeps_ends_and_spreads_evenly():
    runs = list(range(1000))
    shown, note = sample_runs(runs)
    assert len(shown) == MAX_TILES == 40 and shown[0] == 0 and shown[-1] == 999
    gaps = [b - a for a, b in zip(shown, shown[1:])]
    assert min(gaps) >= 25 and max(gaps) <= 26  # 999 / 39 = 25.6
    assert note == "showing 40 of 1000 runs, evenly spaced in plan order; the report's table lists all"
    assert sample_runs(runs[:40]) == (runs[:40], None)


def test_a_long_row_wraps_into_lines_of_eight():
    runs = [RunOutcome(f"a__b/r{i}", "e", "a__b", f"r{i}", 0, {}, "missing") for i in range(20)]
    layout = grid_layout(runs, 1.5)
    assert [len(line) for line in layout["lines"]] == [8, 8, 4]
    assert layout["thumbs"] == "column" and layout["n_cols"] == 9
    assert layout["figsize"][0] <= 16.1  # whole pixels per tile: 9 x 178 px


def test_a_1000_run_grid_is_capped_with_a_note(tmp_path):
    """1,000 runs in one row (one sweep of a big matrix): 40 tiles in 5 lines, a red note under the title;
    uncapped, matplotlib fails (negative tile width) or draws 1,000 unreadable tiles."""
    colours = [RUN_RGB[i % len(RUN_RGB)] for i in range(1000)]
    runs = [_ok(tmp_path, f"run{i}", rgb) for i, rgb in enumerate(colours)]
    runs[999] = _not_ok("run999", "failed")  # the last run is always shown
    pixels = _draw(tmp_path, runs)
    height, width, _ = pixels.shape
    assert width == 9 * round(1600 / 9) and height > 5 * 150  # thumbnails + 8 runs per line, 5 lines
    note_band = pixels[55:85]  # under the title (0.55 in), in the note's colour #8a1010
    assert np.any(np.all(np.abs(note_band - (138, 16, 16)) <= 30, axis=-1))
    assert np.any(np.all(np.abs(pixels[-400:] - FAILURE_GREY) <= 2, axis=-1))  # run 999: last line, grey


def test_a_region_map_is_shown_beside_the_content(tmp_path):
    """Two runs in one row: the first tile is the content with the region map to its right."""
    map_rgb = (250, 0, 250)
    region_map = _flat_png(tmp_path, map_rgb)
    record = PRETRAINED_RECORD | {"parameters": {"region_map": str(region_map)}}
    runs = [_ok(tmp_path, "plain", RUN_RGB[0]), _ok(tmp_path, "mapped", RUN_RGB[1], record=record)]
    pixels = _draw(tmp_path, runs)
    width = pixels.shape[1]
    assert width == 4 * 260  # content (+ map) and style thumbnails, then the two runs
    top, bottom = _band(pixels[:, _column_centre(2, width, 4)], RUN_RGB[0])
    row = pixels[(top + bottom) // 2, : width // 4]  # across the first tile, at the runs' middle
    content_left, content_right = _band(row, CONTENT_RGB)
    map_left, map_right = _band(row, map_rgb)
    assert content_right < map_left  # content, then the map (in a thin frame) at about its size
    assert 0.8 * (content_right - content_left) < map_right - map_left <= content_right - content_left
