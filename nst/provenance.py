"""Versions and fingerprints recorded with every result.

A fingerprint is a sha256 over the source of exactly the code that makes a result: the modules a root
module imports, followed transitively within this project's packages (found by reading the imports
in the source, so a module nobody imports - the CLI for a run - is not part of it). The pipeline
passes fingerprints as rule parameters, so Snakemake reruns a job when its code changes (it does not
track imported packages on its own); a checkpoint from other code is not resumed.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import platform
from functools import cache
from importlib import metadata
from pathlib import Path

PROJECT_PACKAGES = ("nst", "nst_pipeline")
# Packages whose version changes what a run computes (kernels, model definitions).
RESULT_PACKAGES = ("torch", "torchvision")


@cache
def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    return Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None


def _module_file(name: str) -> Path | None:
    """The source file of a project module, found without importing it (None: not a module, e.g.
    the `FeatureExtractor` of `from nst.backbones import FeatureExtractor`)."""
    package, _, rest = name.partition(".")
    root = _package_dir(package) if package in PROJECT_PACKAGES else None
    if root is None:
        return None
    base = root.joinpath(*rest.split(".")) if rest else root
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imported_project_modules(path: Path, module: str) -> set[str]:
    """Names of this project's modules that `path` imports anywhere (top level or in functions)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from nst import losses`
    return {name for name in found if _module_file(name)}


@cache
def module_closure(root: str) -> tuple[Path, ...]:
    """Source files of `root` and every project module it imports, transitively (sorted)."""
    seen: dict[str, Path] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen[name] = path
        parent = name.rpartition(".")[0]
        if parent:  # importing a.b runs a/__init__.py too
            todo.append(parent)
        todo.extend(_imported_project_modules(path, name) - seen.keys())
    return tuple(sorted(seen.values()))


def code_fingerprint(*roots: str, extra_files: tuple[Path, ...] = (), packages: tuple[str, ...] = ()) -> str:
    """sha256 over the source closure of `roots`, `extra_files` (templates, ...) and the versions of
    `packages`."""
    digest = hashlib.sha256()
    files = sorted({path for root in roots for path in module_closure(root)} | set(extra_files))
    for path in files:
        digest.update(f"{path.parent.name}/{path.name}".encode() + b"\0" + path.read_bytes() + b"\0")
    for name in packages:
        digest.update(f"{name}=={_version(name)}".encode() + b"\0")
    return digest.hexdigest()


def engine_fingerprint() -> str:
    """What makes a run's result: the engine modules a run executes (nst.api and what it imports)
    and the torch/torchvision versions. Changes rerun stylize jobs and invalidate checkpoints."""
    return code_fingerprint("nst.api", packages=RESULT_PACKAGES)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("nst-pipeline", "torch", "torchvision", "pillow", "numpy"):
        versions[name] = _version(name)
    return versions
