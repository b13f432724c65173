"""Rule fetch_weights: torchvision's weights files, fetched once on the submitting host (a localrule)
into the pipeline's own torch hub cache (nst_pipeline.paths.imagenet_weights), so that the
`weights: imagenet` runs load them on compute nodes that have no internet.

Each file is checked against its published checksum: torchvision's file names end in the first hex
digits of the file's sha256 (resnet50-0676ba61.pth), and the fetched bytes must start with them.

Where a file comes from, the first that has it:
1. $NST_WEIGHTS_MIRROR: a folder, or a URL prefix (https://, file://), holding the files under their
   own names. For sites with a local mirror of the weights, and for tests (a stand-in file).
2. The submitting host's own torch hub cache ($TORCH_HOME/hub/checkpoints): the file an earlier
   `nst stylize` or an older version of the pipeline downloaded.
3. The published URL (nst.weights.IMAGENET_URLS), unless NST_OFFLINE is set.
Offline, the rule fails with one message naming the file, where to put it and where to download it;
the runs that need it do not start, and with keep-going the others go on.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from nst.errors import NSTWeightsError
from nst.weights import IMAGENET_URLS, imagenet_file_name
from nst_pipeline import paths
from nst_pipeline.job_log import job_log

MIRROR_VARIABLE = "NST_WEIGHTS_MIRROR"
# torch.hub's HASH_REGEX, with at least 8 hex digits: fewer would be a weak check
_HASH_PREFIX = re.compile(r"-([0-9a-f]{8,})\.")


def weights_files() -> list[str]:
    """The file names rule fetch_weights can fetch (its wildcard's values)."""
    return sorted(imagenet_file_name(model) for model in IMAGENET_URLS)


def needed_weights(params: dict) -> list[str]:
    """The fetched weights a run loads (its stylize job's input): the backbone's file for
    `weights: imagenet`, nothing for the other sources (bundled, random, a file)."""
    if params["weights"] != "imagenet":
        return []
    return [paths.imagenet_weights(imagenet_file_name(params["model"]))]


def published_url(file_name: str) -> str:
    for url in IMAGENET_URLS.values():
        if os.path.basename(url) == file_name:
            return url
    raise NSTWeightsError(f"{file_name!r} is not one of the weights files in nst.weights.IMAGENET_URLS")


def hash_prefix(file_name: str) -> str:
    """The published sha256 prefix in a weights file's name (resnet50-0676ba61.pth -> 0676ba61)."""
    match = _HASH_PREFIX.search(file_name)
    if match is None:
        raise NSTWeightsError(f"weights file name {file_name!r} carries no sha256 prefix (-<8+ hex digits>.)")
    return match.group(1)


def _sources(file_name: str, url: str) -> list[str]:
    """Where to look for a file, in order, as URLs (module docstring)."""
    sources = []
    mirror = os.environ.get(MIRROR_VARIABLE)
    if mirror:
        base = mirror if "://" in mirror else Path(mirror).resolve().as_uri()
        sources.append(f"{base.rstrip('/')}/{file_name}")
    cached = Path(torch.hub.get_dir()) / "checkpoints" / file_name
    if cached.is_file():
        sources.append(cached.resolve().as_uri())
    if not os.environ.get("NST_OFFLINE"):
        sources.append(url)
    return sources


def fetch_weights(file_name: str, target: str | Path, say=print) -> None:
    """Fetch one weights file to `target`, its checksum checked; NSTWeightsError (one line) if no
    source has it. A file that fails the checksum is refused and never written to `target`."""
    url, prefix, target = published_url(file_name), hash_prefix(file_name), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tried = []
    for source in _sources(file_name, url):
        say(f"fetching {source}")
        try:
            # into a temporary file beside the target, moved there only if its sha256 starts with prefix
            torch.hub.download_url_to_file(source, str(target), hash_prefix=prefix, progress=False)
        except RuntimeError as error:  # torch.hub's "invalid hash value (expected ..., got ...)"
            raise NSTWeightsError(
                f"weights file {file_name} from {source} fails its published checksum, refused: {error}"
            ) from None
        except OSError as error:  # not there (404, no such file), no network, proxy: try the next one
            tried.append(f"{source}: {type(error).__name__}: {error}")
            continue
        say(f"{target}: sha256 starts with {prefix}, as published")
        return
    offline = ["NST_OFFLINE is set"] if os.environ.get("NST_OFFLINE") else []
    raise NSTWeightsError(
        f"weights file {file_name} is missing: download {url} and put it at {target.resolve()} "
        f"(or set ${MIRROR_VARIABLE} to a folder or URL that holds it); tried: "
        + "; ".join(tried + offline or ["nothing"])
    )


def fetch_weights_rule(file_name: str, target: str, log: str) -> None:
    """The `run:` block of rule fetch_weights."""
    with job_log(log) as say:
        fetch_weights(file_name, target, say=say)
