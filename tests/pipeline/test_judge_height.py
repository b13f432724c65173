"""The one height every run is judged at (nst_pipeline.measure.judge_height, used by workflow/rules/
common.smk) and `judge_upsampled` in each run's metrics (nst_pipeline.metrics.measure)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from nst_pipeline import measure, metrics


def test_judge_height_is_the_configured_one_else_128_lowered_to_the_smallest_run():
    assert metrics.JUDGE_HEIGHT == 128  # where the noise scale was measured (bench/validate_yardstick.py)
    assert measure.judge_height(None, [400, 256, 400]) == 128
    assert measure.judge_height(None, [400, 80, 256]) == 80  # never enlarge a run for the judge
    assert measure.judge_height(None, [128]) == 128
    assert measure.judge_height(None, []) == 128
    assert measure.judge_height(64, [400]) == 64 and measure.judge_height(200, [32]) == 200  # the config decides


@pytest.fixture(scope="module")
def judge():
    return metrics.load_judge("vgg19", 32)


def _picture(folder, name: str, height: int):
    """Random colours at `height` rows, 3:2."""
    pixels = np.random.default_rng(height).integers(0, 256, (height, height * 3 // 2, 3), dtype=np.uint8)
    path = folder / f"{name}.png"
    Image.fromarray(pixels).save(path)
    return path


@pytest.mark.parametrize(("rows", "upsampled"), [(31, True), (32, False)])
def test_judge_upsampled_says_whether_the_result_was_enlarged_for_the_judge(tmp_path, judge, rows, upsampled):
    """Judged at 32 px: a result of fewer rows is enlarged (blurred) for the judge, which the row says."""
    content, style = _picture(tmp_path, "content", 40), _picture(tmp_path, "style", 36)
    row = metrics.measure(_picture(tmp_path, "result", rows), content, style, judge=judge)
    assert row["judge_height"] == 32 and row["judge_upsampled"] is upsampled
