"""Versions and fingerprints recorded with every result."""

from __future__ import annotations

import hashlib
import platform
from importlib import metadata
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def code_fingerprint() -> str:
    """sha256 over the engine's source files: changes whenever the code that makes a result changes.

    The pipeline passes it as a rule parameter, so Snakemake reruns jobs after an engine change
    (it does not track imported packages on its own); checkpoints from other code are not resumed.
    """
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("nst-pipeline", "torch", "torchvision", "pillow", "numpy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
