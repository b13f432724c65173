"""Every backbone end to end through nst.stylize, in-process on the CPU, tiny: 2 iterations, random
weights where no offline weights exist (and the result must say so), bundled ones where they do."""

from __future__ import annotations

import math
import subprocess
import sys

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
