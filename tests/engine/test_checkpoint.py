"""A checkpoint is resumed only by the very same run (nst.checkpoint.run_fingerprint): after a change
to an input image, the weights or the engine's code the run starts afresh. In-process, tiny, CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

import nst
from nst import checkpoint

CONTENT = "data/content/chelsea.jpg"
STYLE = "data/style/starry_night.jpg"
RUN = {"weights": "bundled", "height": 32, "iterations": 4, "checkpoint_every": 2, "progress": False, "device": "cpu"}


pytestmark = pytest.mark.usefixtures("one_thread")


class Stop(Exception):
    pass


def stop_at(iteration: int):
    def callback(report):
        if report.iteration == iteration:
            raise Stop  # a crash after the iteration-2 checkpoint: it stays on disk

    return callback


@pytest.fixture(scope="module")
def left_checkpoint(tmp_path_factory) -> tuple[bytes, dict]:
    """The checkpoint a run left at iteration 2 (its bytes), and an uninterrupted run's record."""
    folder = tmp_path_factory.mktemp("ckpt")
    with pytest.raises(Stop):
        nst.stylize(CONTENT, STYLE, folder / "out.png", **RUN, callbacks=[stop_at(3)])
    saved = (folder / "out.ckpt").read_bytes()
    whole = nst.stylize(CONTENT, STYLE, folder / "whole.png", **RUN).record
    return saved, whole


def rerun(folder, saved: bytes, content=CONTENT, **changes) -> dict:
    (folder / "out.ckpt").write_bytes(saved)
    return nst.stylize(content, STYLE, folder / "out.png", **(RUN | changes)).record


def test_the_same_run_resumes_from_it(tmp_path, left_checkpoint, capsys):
    saved, whole = left_checkpoint
    record = rerun(tmp_path, saved)
    assert record["resumed_from_iteration"] == 2 and "resuming from" in capsys.readouterr().out
    assert record["loss_history"] == whole["loss_history"]


def test_an_engine_code_change_ignores_it(tmp_path, left_checkpoint, monkeypatch, capsys):
    saved, whole = left_checkpoint
    engine = checkpoint.engine_fingerprint()
    monkeypatch.setattr(checkpoint, "engine_fingerprint", lambda: "other" + engine)
    record = rerun(tmp_path, saved)
    assert record["resumed_from_iteration"] is None
    assert "ignoring checkpoint" in capsys.readouterr().out
    assert record["loss_history"] == whole["loss_history"]  # started afresh, same run otherwise


def test_a_changed_content_image_ignores_it(tmp_path, left_checkpoint, capsys):
    saved, whole = left_checkpoint
    edited = tmp_path / "chelsea.png"  # the same picture, one pixel changed
    with Image.open(CONTENT) as image:
        image = image.convert("RGB")
    image.putpixel((0, 0), tuple(255 - v for v in image.getpixel((0, 0))))
    image.save(edited)
    record = rerun(tmp_path, saved, content=edited)
    assert record["resumed_from_iteration"] is None and "ignoring checkpoint" in capsys.readouterr().out


@pytest.mark.parametrize("changes", [{"pooling": "avg"}, {"style_layer_weights": [2, 1, 1, 1, 1, 1]}])
def test_another_pooling_or_layer_weighting_ignores_it(tmp_path, left_checkpoint, capsys, changes):
    """The left checkpoint is of a max-pooled, equally weighted run: a run that differs only there
    starts afresh (its result parameters are in the fingerprint) instead of mixing the two."""
    saved, whole = left_checkpoint
    record = rerun(tmp_path, saved, **changes)
    assert record["resumed_from_iteration"] is None and "ignoring checkpoint" in capsys.readouterr().out
    assert record["loss_history"] != whole["loss_history"]


def test_run_fingerprint_covers_parameters_images_weights_and_engine(tmp_path, monkeypatch):
    params, content = {"seed": 0, "height": 32}, Path(CONTENT)
    style = tmp_path / "style.jpg"
    style.write_bytes(Path(STYLE).read_bytes())
    base = checkpoint.run_fingerprint(params, content, [style], "ab" * 32)
    assert checkpoint.run_fingerprint(dict(params), content, [style], "ab" * 32) == base
    others = [
        checkpoint.run_fingerprint(params | {"seed": 1}, content, [style], "ab" * 32),
        checkpoint.run_fingerprint(params, content, [style], "cd" * 32),
        checkpoint.run_fingerprint(params, content, [style, style], "ab" * 32),
    ]
    style.write_bytes(style.read_bytes() + b"\0")  # a changed file under the same name
    others.append(checkpoint.run_fingerprint(params, content, [style], "ab" * 32))
    monkeypatch.setattr(checkpoint, "engine_fingerprint", lambda: "other code")
    others.append(checkpoint.run_fingerprint(params, content, [style], "ab" * 32))
    assert len({base, *others}) == 1 + len(others)
