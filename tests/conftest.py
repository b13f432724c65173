"""Shared fixtures. The whole test session runs offline: NST_OFFLINE=1 makes weights 'imagenet'
fail at once instead of trying to download (subprocesses inherit it from os.environ)."""

import os
from pathlib import Path

import pytest
from hypothesis import settings

REPO_ROOT = Path(__file__).resolve().parents[1]

# NST_REQUIRE_ALL=1 (CI) turns skips into failures; see tests/require_all.py
pytest_plugins = ["pytester", "require_all"]

os.environ["NST_OFFLINE"] = "1"  # set at import, before any test (or subprocess) can touch the network

# Property tests: CI (NST_REQUIRE_ALL=1) draws the same examples on every run, so main's CI result
# depends on the code only; a local run explores new ones (and remembers failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None, max_examples=300)
if os.environ.get("NST_REQUIRE_ALL") == "1":
    settings.load_profile("ci")


@pytest.fixture(scope="session", autouse=True)
def _offline():
    os.environ["NST_OFFLINE"] = "1"
    yield


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def content_image(repo_root) -> Path:
    path = repo_root / "data" / "content" / "chelsea.jpg"
    assert path.is_file(), path
    return path


@pytest.fixture(scope="session")
def style_image(repo_root) -> Path:
    path = repo_root / "data" / "style" / "starry_night.jpg"
    assert path.is_file(), path
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A real run of tests/configs/tiny.yaml: 4 entries, 3 unique runs (style_layers 6 = init content).
    One per session: tests/pipeline/test_pipeline.py checks it. Tests only read it (dry-runs and
    `--report` add nothing it is compared on)."""
    from pipeline_helpers import snakemake

    workdir = tmp_path_factory.mktemp("tiny")
    result = snakemake(workdir, "--configfile", str(REPO_ROOT / "tests/configs/tiny.yaml"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return workdir


@pytest.fixture(scope="session")
def tiny_batched_run(tmp_path_factory):
    """The stylize jobs of tests/configs/tiny.yaml + tiny_batched.yaml: batch_size 2; the init runs
    content and gaussian are one batch, style_layers 2 and 3 each alone. tests/pipeline/test_batches.py
    checks it; tests/cluster/test_slurm.py compares its SLURM run with it (`make test` runs both in one
    pytest: BESIDE_SLURM). Tests only read it."""
    from pipeline_helpers import snakemake

    workdir = tmp_path_factory.mktemp("tiny_batched")
    configs = [str(REPO_ROOT / "tests/configs" / name) for name in ("tiny.yaml", "tiny_batched.yaml")]
    result = snakemake(workdir, "--configfile", *configs, "--until", "stylize")  # what batching changes
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return workdir
