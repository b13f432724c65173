"""Every backbone end to end through nst.stylize, in-process on the CPU, tiny: 2 iterations, random
weights where no offline weights exist (and the result must say so), bundled ones where they do."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor

import nst
from nst import images
from nst.backbones import get_backbone
from nst.images import read_description
from nst.weights import load_network

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
    # the first iteration's losses are those of the start image (the content image), recomputed here
    # from torchvision's graph nodes as named in nst/backbones.py's table, not through the engine
    start = _losses_at_the_content_image(model, weights, height, content_image, style_image)
    assert record["loss_history"][0] == pytest.approx(start, rel=1e-4, abs=0), (record["loss_history"][0], start)
    assert record["final_losses"]["total"] < start["total"]  # the optimisation went downhill
    with Image.open(result.image) as image:
        assert image.size[1] == height
    label = record["weights"]["label"]
    if weights == "random":
        assert record["random_weights"] is True and "RANDOM" in label
        assert "RANDOM" in read_description(result.image)
    else:
        assert record["random_weights"] is False and "RANDOM" not in label
        assert record["weights"]["source"] == "bundled" and record["weights"]["pretrained"] is True


# feature layers 1..6 of each backbone (nst/backbones.py's table; nst/efficientnet_lite0.py for EfficientNet)
NODES = {
    "vgg16": ("features.1", "features.6", "features.11", "features.18", "features.20", "features.25"),
    "resnet50": ("relu", "layer1", "layer2.0", "layer2", "layer3", "layer4"),
    "inception_v3": ("Conv2d_1a_3x3", "Conv2d_2b_3x3", "Conv2d_4a_3x3", "Mixed_5d", "Mixed_6e", "Mixed_7c"),
    "efficientnet_lite0": (
        "_act0",
        "_blocks.0._bn2",
        "_blocks.2.add",
        "_blocks.4.add",
        "_blocks.10.add",
        "_blocks.15._bn2",
    ),
}
IMAGENET_MEAN, IMAGENET_STD = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
# EfficientNet-Lite0 takes (x255 - 127) / 128 (TF Lite), the others ImageNet-normalised RGB
INPUT_NORMALISATION = {"efficientnet_lite0": (torch.full((3,), 127 / 255), torch.full((3,), 128 / 255))}


def _losses_at_the_content_image(model, weights, height, content_path, style_path) -> dict:
    """stylize()'s defaults (content layer 4, style layers 1..6, weights 1e5 / 3e4 / 1) with the content
    image as the image: content 0; style the mean over layers of the summed squared Gram difference
    (Gram = F F^T / (C H W)); TV summed absolute neighbour differences in 0-255 grey levels."""
    network, identity = load_network(get_backbone(model), weights)  # the same (seeded or bundled) weights
    for module in network.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    body = create_feature_extractor(network.eval(), return_nodes=list(NODES[model]))
    mean, std = INPUT_NORMALISATION.get(model, (IMAGENET_MEAN, IMAGENET_STD))

    def load(path):
        image = images.open_rgb(path, "test")
        width = round(image.size[0] * height / image.size[1])
        rgb = np.asarray(image.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
        return torch.from_numpy(rgb).permute(2, 0, 1)[None] / 255

    def grams(rgb):
        with torch.no_grad():
            features = body((rgb - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)).values()
        flats = [identity.feature_gain * f.flatten(2) for f in features]
        return [flat @ flat.transpose(1, 2) / flat[0].numel() for flat in flats]

    content, style = load(content_path), load(style_path)
    style_loss = sum(((a - b) ** 2).sum() for a, b in zip(grams(content), grams(style))).item() / 6
    grey = content * 255
    tv = ((grey[..., 1:] - grey[..., :-1]).abs().sum() + (grey[..., 1:, :] - grey[..., :-1, :]).abs().sum()).item()
    return {"content": 0.0, "style": style_loss, "tv": tv, "total": 3e4 * style_loss + tv}
