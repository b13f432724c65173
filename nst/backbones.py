"""Backbone networks and their named feature layers.

Every backbone exposes six feature layers, numbered 1..6 from shallow to deep. The experiments use
this numbering: "content layer N" is entry N, "style layers up to N" are entries 1..N.
The defaults (content 4, style up to 6) are the seed experiments' numbering; for VGG they are the
layer list of the classic implementation (relu1_1, relu2_1, relu3_1, relu4_1, relu4_2, relu5_1).
Gatys et al. (2016) used conv4_2 for content (our entry 5) and conv1_1..conv5_1 for style.

| backbone        | 1        | 2       | 3        | 4        | 5        | 6        |
|-----------------|----------|---------|----------|----------|----------|----------|
| vgg19           | relu1_1  | relu2_1 | relu3_1  | relu4_1  | relu4_2  | relu5_1  |
| vgg16           | relu1_1  | relu2_1 | relu3_1  | relu4_1  | relu4_2  | relu5_1  |
| resnet50        | stem relu| layer1  | layer2.0 | layer2   | layer3   | layer4   |
| inception_v3    | Conv2d_1a| Conv2d_2b| Conv2d_4a| Mixed_5d | Mixed_6e | Mixed_7c |
| efficientnet_lite0 | see nst/efficientnet_lite0.py (FEATURE_NODES)                |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

# torchvision's ImageNet input normalisation (RGB in [0, 1]); the optimised image lives in this space.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

DEFAULT_CONTENT_LAYER = 4  # seed experiments: "content layer 4 (default)"
DEFAULT_STYLE_LAYERS = 6  # seed experiments: "style layers up to 6 (default)"


@dataclass(frozen=True)
class Backbone:
    name: str
    # torchvision graph-node names of feature layers 1..6 (what create_feature_extractor takes)
    nodes: tuple[str, ...]
    # human names of the same layers, for tables, grids and sidecars
    layer_names: tuple[str, ...]
    build: Callable[[], nn.Module]  # the architecture, randomly initialised from torch's global RNG
    # torchvision's registered name, for its IMAGENET1K_V1 weights (None: not a torchvision model)
    torchvision_name: str | None = None
    min_height: int = 16  # smallest input whose deepest feature map is still non-empty
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    extra: dict = field(default_factory=dict)

    @property
    def num_layers(self) -> int:
        return len(self.nodes)


def _models():
    """torchvision.models, imported on first use: importing torchvision costs ~3 s CPU (it loads
    torch._dynamo), which input checks, `nst layers`, the pipeline's planning and VGG runs do not need."""
    import torchvision

    return torchvision.models


# torchvision.models.vgg's configurations "D" (VGG16) and "E" (VGG19): conv widths, "M" a 2x2 max-pool
_VGG_CONFIGS = {
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}
# The backbones whose pooling a run may choose (run parameter `pooling`): a plain stack of convolutions
# and 2x2 max-pools, where Gatys et al. (2016, Sec. 2) swap in average pooling. The others pool inside
# their blocks (ResNet's stem, Inception's branches), with nothing in the paper to say how to swap.
VGG_MODELS = ("vgg19", "vgg16")


class VGG(nn.Module):
    """torchvision.models.VGG without batch norm, rebuilt with the same modules, names, order of
    construction and initialisation: torchvision's state dicts load into it, and random weights from
    the same seed are the same numbers (tests compare both). Not imported from torchvision because
    that import (~3 s CPU) was paid by every VGG stylize and measure job."""

    def __init__(self, config: tuple, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for width in config:
            if width == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = width
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if self.features[0].weight.is_meta:
            # built to have weights loaded (nst.weights): nothing to initialise, and normal_ on the
            # meta device goes through torch._refs, whose first use imports torch._dynamo (~3 s CPU)
            return
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(module.bias, 0)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.constant_(module.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _vgg(name: str, nodes: tuple[str, ...]) -> Backbone:
    return Backbone(
        name=name,
        nodes=nodes,
        layer_names=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"),
        build=lambda: VGG(_VGG_CONFIGS[name]),
        torchvision_name=name,
    )


def _efficientnet_lite0() -> Backbone:
    from nst import efficientnet_lite0 as eff

    return Backbone(
        name="efficientnet_lite0",
        nodes=tuple(eff.FEATURE_NODES),
        layer_names=tuple(eff.FEATURE_NODES),
        build=eff.build_efficientnet_lite0,
        mean=tuple(eff.INPUT_MEAN),
        std=tuple(eff.INPUT_STD),
    )


BACKBONES: dict[str, Backbone] = {
    # indices into torchvision's vgg.features: the ReLU after each named conv
    "vgg19": _vgg("vgg19", ("features.1", "features.6", "features.11", "features.20", "features.22", "features.29")),
    "vgg16": _vgg("vgg16", ("features.1", "features.6", "features.11", "features.18", "features.20", "features.25")),
    "resnet50": Backbone(
        name="resnet50",
        nodes=("relu", "layer1", "layer2.0", "layer2", "layer3", "layer4"),
        layer_names=("relu (stride 2)", "layer1 (4)", "layer2.0 (8)", "layer2 (8)", "layer3 (16)", "layer4 (32)"),
        build=lambda: _models().resnet50(weights=None),
        torchvision_name="resnet50",
    ),
    "inception_v3": Backbone(
        name="inception_v3",
        nodes=("Conv2d_1a_3x3", "Conv2d_2b_3x3", "Conv2d_4a_3x3", "Mixed_5d", "Mixed_6e", "Mixed_7c"),
        layer_names=("Conv2d_1a_3x3", "Conv2d_2b_3x3", "Conv2d_4a_3x3", "Mixed_5d", "Mixed_6e", "Mixed_7c"),
        # transform_input: torchvision's ImageNet weights were ported from TF and expect [-1, 1]
        # input; the model maps our ImageNet-normalised input there itself.
        # init_weights=False: only "random" weights keep an init (loaded ones replace it), and
        # torchvision's own (truncated normal, std 0.1 whatever the fan-in) grows activations ~5x per
        # layer without trained batch-norm statistics: Mixed_7c reached 1e10 and the style loss
        # overflowed float32 at 128 px. PyTorch's default (fan-in scaled) init keeps them bounded.
        build=lambda: _models().inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=True),
        torchvision_name="inception_v3",
        min_height=75,  # torchvision: inception_v3 needs inputs of at least 75x75
    ),
}


def _register_optional() -> None:
    try:
        BACKBONES["efficientnet_lite0"] = _efficientnet_lite0()
    except ImportError:  # module not present in this checkout
        pass


_register_optional()


def get_backbone(name: str) -> Backbone:
    from nst.errors import NSTInputError

    try:
        return BACKBONES[name]
    except KeyError:
        raise NSTInputError(f"unknown backbone (--model) {name!r}; choose one of {', '.join(BACKBONES)}") from None


class FeatureExtractor(nn.Module):
    """The backbone cut after the deepest layer a run needs; returns {layer number: feature map}.

    The parameters are frozen (requires_grad False): only the image is optimised.
    `gain` multiplies every feature map; see nst.weights for why it exists.
    `bf16`: the network runs under bf16 autocast in channels_last memory format (the fast path of
    oneDNN on CPUs with bf16 units and of tensor cores on GPUs); its feature maps are returned as
    fp32, so Gram matrices and losses are computed in fp32 (a bf16/fp16 Gram overflows or loses the
    small terms).
    `pooling` "avg": a VGG's max-pools replaced by average pools of the same size and stride (Gatys et
    al. 2016, Sec. 2); "max" keeps the network as it is (the judges of nst_pipeline.metrics always do).
    """

    def __init__(
        self,
        backbone: Backbone,
        network: nn.Module,
        layers: list[int],
        gain: float = 1.0,
        bf16: bool = False,
        pooling: str = "max",
    ):
        super().__init__()
        for module in network.modules():  # an in-place ReLU would overwrite a tapped conv output
            if isinstance(module, nn.ReLU):
                module.inplace = False
        network.eval().requires_grad_(False)
        self.layers = sorted(set(layers))
        nodes = {backbone.nodes[i - 1]: str(i) for i in self.layers}
        self.body = _feature_body(network, nodes).eval().requires_grad_(False)
        if pooling != "max":
            self.body = _average_pooling(self.body, backbone, pooling)
        self.bf16 = bf16
        if bf16:
            self.body = self.body.to(memory_format=torch.channels_last)
        self.gain = gain
        # The optimised image is ImageNet-normalised; a backbone trained with another normalisation
        # gets an exact affine re-mapping (identity for torchvision's models).
        imagenet_mean, imagenet_std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        mean, std = torch.tensor(backbone.mean), torch.tensor(backbone.std)
        self.renormalise = backbone.mean != IMAGENET_MEAN or backbone.std != IMAGENET_STD
        self.register_buffer("scale", (imagenet_std / std).view(1, 3, 1, 1))
        self.register_buffer("shift", ((imagenet_mean - mean) / std).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> dict[int, torch.Tensor]:
        """`image` is in the optimisation space: ImageNet-normalised RGB (see nst.images)."""
        if self.renormalise:
            image = image * self.scale + self.shift
        if self.bf16:
            with torch.autocast(image.device.type, dtype=torch.bfloat16):
                features = self.body(image.contiguous(memory_format=torch.channels_last))
            features = {k: v.float() for k, v in features.items()}
        else:
            features = self.body(image)
        if self.gain != 1.0:
            features = {k: v * self.gain for k, v in features.items()}
        return {int(k): v for k, v in features.items()}


class SequentialTaps(nn.Module):
    """The modules of a Sequential up to the deepest tap; returns {name: output} at the tapped indices.
    What create_feature_extractor builds for such taps (the same modules called in the same order,
    so the same numbers: tests compare them), without importing torchvision."""

    def __init__(self, sequential: nn.Sequential, taps: dict[int, str]):
        super().__init__()
        self.taps = taps
        self.layers = sequential[: max(taps) + 1]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs = {}
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index in self.taps:
                outputs[self.taps[index]] = x
        return outputs


def _average_pooling(body: nn.Module, backbone: Backbone, pooling: str) -> SequentialTaps:
    """The VGG body with every 2x2 max-pool replaced by an average pool of the same kernel and stride.
    Its own copy of the module list: the network itself (its other users) keeps max pooling."""
    if pooling != "avg" or backbone.name not in VGG_MODELS or not isinstance(body, SequentialTaps):
        raise ValueError(f"pooling {pooling!r} is for VGG backbones ({', '.join(VGG_MODELS)}), not {backbone.name}")
    swapped = SequentialTaps(body.layers, body.taps)  # a new Sequential holding the same modules
    for index, layer in enumerate(swapped.layers):
        if isinstance(layer, nn.MaxPool2d):
            swapped.layers[index] = nn.AvgPool2d(layer.kernel_size, layer.stride, layer.padding, layer.ceil_mode)
    return swapped


def _feature_body(network: nn.Module, nodes: dict[str, str]) -> nn.Module:
    """The network cut after the deepest requested node (graph-node name -> output name)."""
    prefix = "features."
    if isinstance(network, VGG) and all(node.startswith(prefix) for node in nodes):
        return SequentialTaps(network.features, {int(node[len(prefix) :]): name for node, name in nodes.items()})
    if "efficientnet_lite0" in BACKBONES:
        from nst import efficientnet_lite0 as eff

        if isinstance(network, eff.EfficientNetLite0) and set(nodes) <= set(eff.FEATURE_NODES):
            block = dict(zip(eff.FEATURE_NODES, eff.FEATURE_BLOCKS))
            return eff.BlockTaps(network, {block[node]: name for node, name in nodes.items()})
    from torchvision.models.feature_extraction import create_feature_extractor  # see _models

    # create_feature_extractor drops everything after the deepest requested node
    return create_feature_extractor(network, return_nodes=nodes)
