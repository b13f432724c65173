"""Every backbone end to end through nst.stylize, in-process on the CPU, tiny: 2 iterations, random
weights where no offline weights exist (and the result must say so), bundled ones where they do."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

import nst
from nst.images import read_description

# (model, weights, height): inception_v3 needs >= 75 px; the rest run at 32 (chelsea.jpg: 48x32)
CASES = [
    ("vgg16", "random", 32),
    ("resnet50", "random", 32),
    ("inception_v3", "random", 75),
    ("efficientnet_lite0", "bundled", 32),
]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # shared CPUs, see test_engine.one_thread
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("model, weights, height", CASES, ids=[c[0] for c in CASES])
def test_backbone_end_to_end(tmp_path, content_image, style_image, model, weights, height):
    result = nst.stylize(
        content_image,
        style_image,
        tmp_path / "out.png",
        model=model,
        weights=weights,
        height=height,
        iterations=2,
        device="cpu",
        progress=False,
    )
    record = result.record
    assert record["parameters"]["model"] == model and record["parameters"]["weights"] == weights
    assert record["iterations_done"] == 2 and len(record["loss_history"]) == 2
    losses = [value for step in record["loss_history"] for value in step.values()]
    losses += list(record["final_losses"].values())
    assert all(math.isfinite(value) for value in losses), record["loss_history"]
    assert record["final_losses"]["style"] > 0
    with Image.open(result.image) as image:
        assert image.size[1] == height
    label = record["weights"]["label"]
    if weights == "random":
        assert record["random_weights"] is True and "RANDOM" in label
        assert "RANDOM" in read_description(result.image)
    else:
        assert record["random_weights"] is False and "RANDOM" not in label
        assert record["weights"]["source"] == "bundled" and record["weights"]["pretrained"] is True
