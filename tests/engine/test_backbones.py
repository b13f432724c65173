"""Every backbone end to end through nst.stylize, in-process on the CPU, tiny: 2 iterations, random
weights where no offline weights exist (and the result must say so), bundled ones where they do."""

from __future__ import annotations

import math
import subprocess
import sys

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


pytestmark = pytest.mark.usefixtures("one_thread")


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


@pytest.mark.parametrize("name", ["vgg16", "vgg19"])
def test_vgg_is_torchvisions_vgg(name):
    """nst's own VGG (built without importing torchvision) has torchvision's module names and, from
    the same seed, the same random weights: its state dicts load both ways, 'random' runs keep their numbers."""
    torchvision = pytest.importorskip("torchvision")
    from nst.backbones import get_backbone

    torch.manual_seed(5)
    ours = get_backbone(name).build().state_dict()
    torch.manual_seed(5)
    theirs = getattr(torchvision.models, name)(weights=None).state_dict()
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[key], theirs[key]) for key in ours)


@pytest.mark.parametrize("model", ["vgg19", "efficientnet_lite0"])
@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16"])
def test_feature_taps_match_torchvisions_extractor(model, bf16):
    """The VGG and EfficientNet-Lite0 feature taps (plain loops over their layers or blocks) give the
    same numbers and gradients as torchvision's create_feature_extractor on the same network."""
    from torchvision.models.feature_extraction import create_feature_extractor

    from nst.backbones import FeatureExtractor, SequentialTaps, get_backbone
    from nst.efficientnet_lite0 import BlockTaps

    backbone = get_backbone(model)
    torch.manual_seed(0)
    network = backbone.build()
    extractor = FeatureExtractor(backbone, network, [1, 2, 3, 4, 5, 6], bf16=bf16)
    assert isinstance(extractor.body, SequentialTaps if model == "vgg19" else BlockTaps)
    # cut after the deepest tap: relu5_1 (VGG19 layer 30 of 37), block 15 (EfficientNet's last MBConv)
    assert (len(extractor.body.layers) == 30) if model == "vgg19" else (len(extractor.body._blocks) == 16)
    reference = FeatureExtractor(backbone, network, [1, 2, 3, 4, 5, 6], bf16=bf16)
    nodes = {node: str(i) for i, node in enumerate(backbone.nodes, 1)}
    reference.body = create_feature_extractor(network, return_nodes=nodes).eval().requires_grad_(False)
    if bf16:
        reference.body = reference.body.to(memory_format=torch.channels_last)
    image = torch.randn(1, 3, 64, 96)
    grads = []
    for module in (extractor, reference):
        x = image.clone().requires_grad_(True)
        features = module(x)
        sum(f.square().mean() for f in features.values()).backward()
        grads.append((features, x.grad))
    (ours, our_grad), (theirs, their_grad) = grads
    assert sorted(ours) == [1, 2, 3, 4, 5, 6]
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert torch.equal(our_grad, their_grad)


def test_efficientnet_feature_nodes_end_their_stem_or_block():
    """BlockTaps taps whole blocks: each feature node must be the last operation of its block."""
    from nst import efficientnet_lite0 as eff

    blocks = eff.build_efficientnet_lite0()._blocks
    for node, block in zip(eff.FEATURE_NODES, eff.FEATURE_BLOCKS, strict=True):
        last = "_act0" if block == -1 else f"_blocks.{block}." + ("add" if blocks[block].has_skip else "_bn2")
        assert node == last


def test_a_bundled_vgg19_run_loads_without_torchvision_dynamo_or_sympy(repo_root):
    """Each of these imports costs ~1-3 s CPU, paid by every stylize and measure job of a VGG run:
    loading the network and its weights must not pull them in (fresh process: tests import them)."""
    code = (
        "import sys, torch; from pathlib import Path; import nst.api; from nst.setup import build_run\n"
        "p = nst.api.check_run('data/content/chelsea.jpg', 'data/style/starry_night.jpg', weights='bundled',"
        " height=32, device='cpu')\n"
        "build_run(p, Path('data/content/chelsea.jpg'), [Path('data/style/starry_night.jpg')], torch.device('cpu'))"
        ".stage(32)\n"
        "print(sorted(m for m in ('torchvision', 'torch._dynamo', 'sympy') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo_root, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


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
