"""nst_pipeline.cache in-process, on a fabricated result (the real pipeline: test_cache_survives.py)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from nst_pipeline import cache, paths
from nst_pipeline.plan import Run

CODE = "e" * 64
RUN = "photo__painting/m_vgg19_w_bundled_i_content_it_10"
PARAMS = {
    "init_method": "content",
    "iterations": 10,
    "stage_heights": (),
    "style_blend_weights": None,
    "region_map": None,
}


def write_sidecar(path: Path, record: dict) -> None:
    """As the engine writes it (nst.api._write_result): indent 1, a newline at the end."""
    path.write_text(json.dumps(record, indent=1) + "\n")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def finished(tmp_path, monkeypatch) -> tuple[Run, dict]:
    """A finished run, in a working directory of its own: (the run, its sidecar's record)."""
    monkeypatch.chdir(tmp_path)
    Path("data").mkdir()
    Path("data/photo.png").write_bytes(b"photo")
    Path("data/painting.png").write_bytes(b"painting")
    run = Run(RUN, "data/photo.png", "data/painting.png", dict(PARAMS))
    image, milestones = Path(paths.run_image(RUN)), Path(paths.run_milestones(RUN))
    milestones.mkdir(parents=True)
    image.write_bytes(b"png")
    (milestones / "it00005.png").write_bytes(b"png")
    record = {
        "output": image.name,
        "content_image": "data/photo.png",
        "content_sha256": sha(Path("data/photo.png")),
        "style_sha256s": [sha(Path("data/painting.png"))],
        "parameters": json.loads(json.dumps(PARAMS)),
        "engine_fingerprint": CODE,
        "milestones": [{"iteration": 5, "image": f"{milestones.name}/it00005.png"}],
        "loss_history": [{"content": 1.5, "style": 2.5, "tv": 0.5, "total": 9.0}] * 2000,
    }
    write_sidecar(Path(paths.run_sidecar(RUN)), record)
    return run, record


def reason(run: Run) -> str | None:
    return cache.why_not_finished(run, CODE, cache.FileHashes())


def test_a_sidecar_is_read_up_to_its_loss_history(tmp_path):
    record = {"output": "x.png", "milestones": [{"losses": {"a": 1.0}}], "loss_history": [{"total": 1.0}] * 3000}
    write_sidecar(tmp_path / "x.json", record)
    assert cache.read_sidecar(tmp_path / "x.json") == {k: v for k, v in record.items() if k != "loss_history"}
    # laid out otherwise (one line): read whole
    (tmp_path / "y.json").write_text(json.dumps(record))
    assert cache.read_sidecar(tmp_path / "y.json") == record


@pytest.mark.parametrize("keep", [100, 0.5, -3])
def test_a_cut_off_sidecar_is_unreadable(tmp_path, keep):
    record = {"output": "x.png", "loss_history": [{"total": 1.0}] * 3000}
    write_sidecar(tmp_path / "x.json", record)
    data = (tmp_path / "x.json").read_bytes()
    (tmp_path / "x.json").write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(ValueError):
        cache.read_sidecar(tmp_path / "x.json")


def test_a_finished_run_is_finished_whatever_its_files_times(finished):
    run, _ = finished
    assert reason(run) is None
    for path in Path(".").rglob("*"):
        os.utime(path, (1, 1))
    assert reason(run) is None
    assert cache.check_runs({RUN: run}, CODE) == cache.Checked(finished={RUN})


def test_nothing_there_is_a_new_run(finished):
    run, _ = finished
    for path in (paths.run_image(RUN), paths.run_sidecar(RUN), *Path(paths.run_milestones(RUN)).iterdir()):
        Path(path).unlink()
    Path(paths.run_milestones(RUN)).rmdir()
    assert reason(run) == ""
    assert cache.check_runs({RUN: run}, CODE) == cache.Checked()
    Path(paths.RESULTS).rename("elsewhere")  # a fresh working directory: not even results/runs/
    assert cache.check_runs({RUN: run}, CODE) == cache.Checked()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda: Path("data/photo.png").write_bytes(b"photo, edited"),
            "the content image data/photo.png is not the file",
        ),
        (lambda: Path("data/painting.png").write_bytes(b"other"), "the style image data/painting.png is not the file"),
        (lambda: Path(paths.run_image(RUN)).unlink(), "its image results/runs/photo__painting/"),
        (lambda: Path(paths.run_sidecar(RUN)).unlink(), "its sidecar results/runs/photo__painting/"),
        (lambda: Path(paths.run_sidecar(RUN)).write_text("{"), "is unreadable (JSONDecodeError"),
        (lambda: next(Path(paths.run_milestones(RUN)).iterdir()).unlink(), "1 milestone image(s) its sidecar lists"),
    ],
)
def test_what_is_there_but_not_finished_says_why(finished, change, expected):
    run, _ = finished
    change()
    assert expected in reason(run)
    checked = cache.check_runs({RUN: run}, CODE)
    assert not checked.finished and expected in checked.stale[RUN]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"output": "other.png"}, "its sidecar is another run's (it records output other.png)"),
        ({"parameters": {**PARAMS, "init_method": "gaussian"}}, "init_method: 'gaussian', planned 'content'"),
        ({"engine_fingerprint": "f" * 64}, "other engine code or torch/torchvision versions"),
        ({"region_map_sha256": "0" * 64}, "its sidecar records a region map, the run has none"),
    ],
)
def test_a_sidecar_that_records_another_run_is_not_this_runs(finished, edit, expected):
    run, record = finished
    write_sidecar(Path(paths.run_sidecar(RUN)), record | edit)
    assert expected in reason(run)


def test_a_region_map_is_compared_by_its_bytes_not_its_path(finished):
    run, record = finished
    Path("data/map.png").write_bytes(b"map")
    params = run.params | {"region_map": "data/map.png"}
    recorded = record | {"region_map_sha256": sha(Path("data/map.png"))}
    recorded["parameters"] = recorded["parameters"] | {"region_map": "/where/the/project/was/data/map.png"}
    write_sidecar(Path(paths.run_sidecar(RUN)), recorded)
    assert reason(Run(RUN, run.content, run.style, params)) is None
    Path("data/map.png").write_bytes(b"map, edited")
    assert "the region map data/map.png is not the file" in reason(Run(RUN, run.content, run.style, params))


def test_a_parameter_added_since_must_be_at_its_default(finished):
    """A sidecar made before a parameter existed lacks it: the run is this one only at its default."""
    run, record = finished
    params = run.params | {"pooling": "max"}
    assert reason(Run(RUN, run.content, run.style, params)) is None
    assert "pooling: not recorded, planned 'avg'" in reason(
        Run(RUN, run.content, run.style, params | {"pooling": "avg"})
    )


def test_say_why_says_one_line_per_run_then_counts(capsys):
    cache.say_why({f"p__q/run{i:02}": "a reason" for i in range(cache.MAX_LINES + 5)})
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == cache.MAX_LINES + 1
    assert lines[0] == "nst-pipeline: run p__q/run00 is not finished and is made again: a reason"
    assert lines[-1] == "nst-pipeline: ... and 5 more runs are not finished and are made again"
