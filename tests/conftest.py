"""Shared fixtures. The whole test session runs offline: NST_OFFLINE=1 makes weights 'imagenet'
fail at once instead of trying to download (subprocesses inherit it from os.environ)."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# NST_REQUIRE_ALL=1 (CI) turns skips into failures; see tests/require_all.py
pytest_plugins = ["pytester", "require_all"]

os.environ["NST_OFFLINE"] = "1"  # set at import, before any test (or subprocess) can touch the network


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
