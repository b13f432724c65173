"""Image I/O and the image space the optimisation works in.

The optimised image is an ImageNet-normalised RGB tensor, x = (rgb - mean) / std with rgb in [0, 1]
(torchvision's input space), shape (1, 3, H, W). In this space "gaussian" init is N(0, 1) and
"uniform" init is U[-1, 1]; both then cover roughly the range of natural images.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import torch
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from nst.backbones import IMAGENET_MEAN, IMAGENET_STD
from nst.errors import NSTInputError

_MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


# path -> decoded image, while reuse_decoded() is active (None: every open_rgb decodes)
_DECODED: ContextVar[dict | None] = ContextVar("nst_decoded_images", default=None)


@contextmanager
def reuse_decoded() -> Iterator[None]:
    """Within this block open_rgb() decodes each file once and hands out copies (image_size() no copy).

    For checking thousands of runs over the same few images (nst_pipeline.plan): decoding is ~98 % of
    a run's check_run(). Every check still runs on every call; only the decode is shared. A file
    that fails to decode is not remembered, so it fails again the same way."""
    token = _DECODED.set({})
    try:
        yield
    finally:
        _DECODED.reset(token)


def open_rgb(path: Path, what: str) -> Image.Image:
    """Open and decode an image, or raise NSTInputError naming it."""
    image, shared = _decoded_rgb(Path(path), what)
    return image.copy() if shared else image  # callers may change their image; a shared one stays as decoded


def image_size(path: Path, what: str) -> tuple[int, int]:
    """(width, height) of an image file that decodes as open_rgb() decodes it (the same checks and
    errors), without a copy of the pixels: a run's checks need only the sizes."""
    return _decoded_rgb(Path(path), what)[0].size


def _decoded_rgb(path: Path, what: str) -> tuple[Image.Image, bool]:
    """The decoded image and whether it is the one reuse_decoded() shares (not to be changed)."""
    if not path.is_file():
        raise NSTInputError(f"{what} image not found: {path}")
    decoded = _DECODED.get()
    if decoded is None:
        return _decode_rgb(path, what), False
    if path not in decoded:
        decoded[path] = _decode_rgb(path, what)
    return decoded[path], True


def _decode_rgb(path: Path, what: str) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise NSTInputError(f"{what} image {path} is not a readable image: {error}") from None


def scaled_size(size: tuple[int, int], height: int) -> tuple[int, int]:
    """(width, height) for `height` rows, keeping the aspect ratio."""
    width = max(1, round(size[0] * height / size[1]))
    return width, height


def to_tensor(image: Image.Image, size: tuple[int, int]) -> torch.Tensor:
    """PIL image -> normalised (1, 3, H, W) tensor at `size` (width, height)."""
    image = image.resize(size, Image.Resampling.BICUBIC)
    rgb = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    rgb = rgb.view(size[1], size[0], 3).permute(2, 0, 1).unsqueeze(0).float() / 255.0
    return ((rgb - _MEAN) / _STD).contiguous()


def to_rgb_uint8(image: torch.Tensor) -> torch.Tensor:
    """Normalised tensor -> (H, W, 3) uint8, clamped to the displayable range."""
    rgb = (image.detach().cpu() * _STD + _MEAN).clamp(0.0, 1.0)
    return (rgb[0].permute(1, 2, 0) * 255.0).round().to(torch.uint8)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder + rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(handle, 0o666 & ~_umask())  # mkstemp makes 0600; results are shared, use the umask
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    umask = os.umask(0o022)  # reading it means setting it; put it back at once
    os.umask(umask)
    return umask


def encode_image(image: torch.Tensor, path: Path, description: str) -> bytes:
    """Encode for `path`'s format (PNG or JPEG), with `description` embedded as metadata."""
    import io

    pil = Image.fromarray(to_rgb_uint8(image).numpy())
    buffer = io.BytesIO()
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        info = PngImagePlugin.PngInfo()
        info.add_text("Description", description)
        pil.save(buffer, format="PNG", pnginfo=info)
    elif suffix in (".jpg", ".jpeg"):
        pil.save(buffer, format="JPEG", quality=95, comment=description.encode())
    else:
        raise NSTInputError(f"output {path}: unsupported image format {suffix!r} (use .png or .jpg)")
    return buffer.getvalue()


def read_description(path: Path) -> str:
    """The provenance text embedded by encode_image."""
    with Image.open(path) as image:
        text = image.info.get("Description") or image.info.get("comment") or b""
    return text.decode() if isinstance(text, bytes) else text


def initial_image(
    method: str, content: torch.Tensor, style: torch.Tensor, seed: int, noise_units: str = "normalised"
) -> torch.Tensor:
    """The image the optimisation starts from, in the optimisation space (shape of `content`).

    `style`: the (first) style image already at the content's size. Noise: N(0, 1) ("gaussian") or
    U[-1, 1] ("uniform"), in the optimisation space ("normalised", std ~58 grey levels), or in 0-255
    grey levels around the ImageNet mean ("grey_levels": the study's code base optimises 0-255 images
    minus the mean, so its noise inits are a mean-grey image with about one grey level of noise)."""
    generator = torch.Generator().manual_seed(seed)
    if method == "content":
        return content.clone()
    if method == "style":
        return style.clone()
    if method == "gaussian":
        noise = torch.randn(content.shape, generator=generator)
    else:
        noise = torch.rand(content.shape, generator=generator) * 2.0 - 1.0
    if noise_units == "grey_levels":  # one grey level is 1 / (255 * std) in normalised units
        noise = noise / (255.0 * _STD)
    return noise


# How far init_nudge moves each start value, in float steps: bench/bench_repeat_chance.py (BENCHMARKS.md,
# "Which chance a second machine gives") - content-init runs nudged by 64 steps end as far apart
# (pairwise perceptual distance, 128 px x 60 iterations) as the same run with other CPU kernels, and a
# 1-step nudge three to four times closer; the per-run metrics spread alike for both.
NUDGE_STEPS = 64


def nudge_towards(image: torch.Tensor, k: int) -> torch.Tensor:
    """+inf or -inf per value of `image`, a pattern drawn from seed k (init_nudge's directions)."""
    generator = torch.Generator().manual_seed(k)
    up = torch.randint(0, 2, image.shape, generator=generator) == 1
    towards = torch.full(image.shape, -math.inf, dtype=image.dtype)
    towards[up] = math.inf
    return towards.to(image.device)


def nudge(image: torch.Tensor, k: int) -> torch.Tensor:
    """`image` with every value moved by exactly NUDGE_STEPS float steps (torch.nextafter, that many
    times), up or down in a pattern drawn from seed k; k = 0: `image` itself. A deterministic init
    (content, style) has no chance of its own on one machine; a second machine's float order and
    kernels move a run about as far as this does (NUDGE_STEPS), so nudged runs are its chance repeats."""
    if k == 0:
        return image
    towards = nudge_towards(image, k)
    for _ in range(NUDGE_STEPS):
        image = torch.nextafter(image, towards)
    return image
