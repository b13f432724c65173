"""Tests of the headless-Chromium page checker (tests/browser.py) itself."""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path

import pytest
from browser import check_page, find_chromium

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="chromium not installed (apt-get install -y --no-install-recommends chromium)",
)


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """Minimal valid solid-colour RGB PNG, stdlib only."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _page(tmp_path: Path, title: str, body: str) -> Path:
    p = tmp_path / "page.html"
    p.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>{body}</body></html>",
        encoding="utf-8",
    )
    return p


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "screenshot is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_two_good_images(tmp_path):
    red, blue = _data_uri(_png(64, 48, (255, 0, 0))), _data_uri(_png(32, 32, (0, 0, 255)))
    page = _page(tmp_path, "Two good — ünïcode", f"<h1>ok</h1><img alt=a src='{red}'><img alt=b src='{blue}'>")
    shot = tmp_path / "shot.png"

    rep = check_page(page, shot)

    assert rep.images_total == 2
    assert rep.images_broken == []
    assert rep.load_fired
    assert rep.title == "Two good — ünïcode"
    assert rep.screenshot == shot.resolve()
    assert shot.stat().st_size > 1000
    assert _png_size(shot) == (1400, 3000)
    # the probed temp copy must not be left beside the page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html", "shot.png"]


def test_one_good_one_missing(tmp_path):
    good = _data_uri(_png(16, 16, (0, 200, 0)))
    page = _page(tmp_path, "Broken", f"<img src='{good}'><img src='missing.png'>")

    rep = check_page(page, tmp_path / "shot.png")

    assert rep.images_total == 2
    assert rep.images_broken == ["missing.png"]
    assert not rep.ok


def test_corrupt_data_uri_and_lazy_image_below_fold(tmp_path):
    good = _data_uri(_png(16, 16, (0, 0, 0)))
    corrupt = "data:image/png;base64," + base64.b64encode(b"not a png at all" * 8).decode()
    page = _page(
        tmp_path, "Mixed", f"<img src='{corrupt}'><div style='height:20000px'></div><img loading='lazy' src='{good}'>"
    )

    rep = check_page(page, tmp_path / "shot.png")

    assert rep.images_total == 2
    assert rep.images_broken == [corrupt[:80]]  # lazy one below the fold still counts as loaded
    assert len(rep.images_broken[0]) == 80


def test_no_images(tmp_path):
    rep = check_page(_page(tmp_path, "Empty", "<p>nothing</p>"), tmp_path / "s.png")
    assert (rep.images_total, rep.images_broken, rep.title) == (0, [], "Empty")
