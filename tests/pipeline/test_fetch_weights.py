"""Rule fetch_weights (nst_pipeline/fetch_weights.py): torchvision's weights files fetched once, checked
against the sha256 prefix in their names, an input of exactly the runs that load them. All offline:
a stand-in file in a mirror folder ($NST_WEIGHTS_MIRROR) plays the download."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
import torch
import yaml
from pipeline_helpers import REPO, copy_workflow, job_counts, snakemake

from nst import weights
from nst.backbones import BACKBONES
from nst.errors import NSTWeightsError
from nst_pipeline import fetch_weights, paths

TINY = REPO / "tests/configs/tiny.yaml"
PAIR = "chelsea__starry_night"


def test_the_table_is_torchvisions():
    """nst.weights.IMAGENET_URLS (the planner reads it without importing torchvision) names the files
    torchvision itself publishes as IMAGENET1K_V1, for every backbone torchvision has weights for."""
    import torchvision

    expected = {
        name: torchvision.models.get_model_weights(backbone.torchvision_name).IMAGENET1K_V1.url
        for name, backbone in BACKBONES.items()
        if backbone.torchvision_name is not None
    }
    assert weights.IMAGENET_URLS == expected


def test_every_file_name_carries_a_sha256_prefix():
    prefixes = {name: fetch_weights.hash_prefix(name) for name in fetch_weights.weights_files()}
    assert prefixes["resnet50-0676ba61.pth"] == "0676ba61"
    assert len(prefixes) == len(weights.IMAGENET_URLS) and all(len(p) >= 8 for p in prefixes.values())
    with pytest.raises(NSTWeightsError, match="carries no sha256 prefix"):
        fetch_weights.hash_prefix("resnet50.pth")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("imagenet", ["weights/hub/checkpoints/resnet50-0676ba61.pth"]),
        ("bundled", []),
        ("random", []),
        ("my/resnet50-0676ba61.pth", []),  # a file: loaded as given, nothing fetched
    ],
)
def test_only_imagenet_runs_need_fetched_weights(source, expected):
    assert fetch_weights.needed_weights({"model": "resnet50", "weights": source}) == expected


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    """A small file whose name carries its own checksum prefix, in the table as a fake backbone's
    weights, and a mirror folder holding it. The host's torch hub cache is an empty folder."""
    data = b"stand-in weights file"
    name = f"fake-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    monkeypatch.setitem(weights.IMAGENET_URLS, "fake", f"https://download.invalid/models/{name}")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv(fetch_weights.MIRROR_VARIABLE, raising=False)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / name).write_bytes(data)
    return name, data, mirror


@pytest.mark.parametrize("as_url", [False, True], ids=["folder", "file-url"])
def test_a_mirror_file_with_the_published_checksum_is_fetched(stand_in, tmp_path, monkeypatch, as_url):
    name, data, mirror = stand_in
    monkeypatch.setenv(fetch_weights.MIRROR_VARIABLE, mirror.as_uri() if as_url else str(mirror))
    target = tmp_path / "weights/hub/checkpoints" / name
    fetch_weights.fetch_weights(name, target, say=lambda *args: None)
    assert target.read_bytes() == data


def test_a_file_failing_its_checksum_is_refused(stand_in, tmp_path, monkeypatch):
    name, data, mirror = stand_in
    (mirror / name).write_bytes(data + b" tampered")
    monkeypatch.setenv(fetch_weights.MIRROR_VARIABLE, str(mirror))
    target = tmp_path / "weights" / name
    with pytest.raises(NSTWeightsError) as error:
        fetch_weights.fetch_weights(name, target, say=lambda *args: None)
    message = str(error.value)
    assert f"weights file {name} from {(mirror / name).as_uri()} fails its published checksum" in message
    assert name.split("-")[1].removesuffix(".pth") in message  # the expected prefix, and what came
    assert list(target.parent.iterdir()) == []  # nothing kept, not even the partial download


def test_offline_the_message_says_which_file_to_put_where(stand_in, tmp_path, monkeypatch):
    name, _, mirror = stand_in
    (mirror / name).unlink()
    monkeypatch.setenv(fetch_weights.MIRROR_VARIABLE, str(mirror))  # a mirror without the file
    monkeypatch.setenv("NST_OFFLINE", "1")
    target = tmp_path / "weights" / name
    with pytest.raises(NSTWeightsError) as error:
        fetch_weights.fetch_weights(name, target, say=lambda *args: None)
    message = str(error.value)
    assert message.startswith(
        f"weights file {name} is missing: download https://download.invalid/models/{name} and put it at {target}"
    )
    assert "$NST_WEIGHTS_MIRROR" in message and (mirror / name).as_uri() in message and "NST_OFFLINE" in message
    assert "download.invalid/models" not in message.split("tried:")[1]  # the URL was not tried offline
    assert "\n" not in message and not target.exists()


def test_the_hosts_torch_hub_cache_is_a_source(stand_in, tmp_path):
    """A file an earlier `nst stylize` downloaded ($TORCH_HOME) is used offline (checked as any other)."""
    name, data, _ = stand_in
    cached = tmp_path / "torch_home/hub/checkpoints" / name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(data)
    target = tmp_path / "weights" / name
    fetch_weights.fetch_weights(name, target, say=lambda *args: None)
    assert target.read_bytes() == data


def test_prefetch_on_the_login_node_plans_only_the_fetches(tmp_path):
    """`snakemake --until fetch_weights` (README, SLURM): config.yaml's three torchvision files, no run."""
    result = snakemake(tmp_path, "-n", "--until", "fetch_weights")
    assert result.returncode == 0, result.stderr
    assert job_counts(result.stdout) == {"fetch_weights": 3}
    for model in ("vgg19", "resnet50", "inception_v3"):
        assert paths.imagenet_weights(weights.imagenet_file_name(model)) in result.stdout


def _resnet50_stand_in(path) -> bytes:
    """A state dict of torchvision's resnet50 (seeded random init), as a stand-in for its ImageNet file."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        torch.save(BACKBONES["resnet50"].build().state_dict(), path)
    return path.read_bytes()


@pytest.mark.slow
def test_offline_the_imagenet_runs_wait_and_a_stand_in_is_fetched_and_used(tmp_path):
    """The real pipeline on a copy whose table names the stand-in's file for resnet50: offline the fetch
    fails with its message, the resnet50 imagenet run does not start and the bundled run finishes; with
    the stand-in in a mirror the fetch passes and the run loads it, under its `w_imagenet` run id."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    data = _resnet50_stand_in(mirror / "stand-in.pth")
    name = f"resnet50-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    (mirror / "stand-in.pth").rename(mirror / name)
    snakefile = copy_workflow(tmp_path / "copy")
    table = snakefile.parent / "nst/weights.py"
    table.write_text(table.read_text().replace("resnet50-0676ba61.pth", name))
    config = yaml.safe_load(TINY.read_text())
    config["run_experiments"] = ["init"]
    config["experiments"]["init"] = {
        "sweeps": [
            {"vary": {"init_method": ["content"]}},
            {"set": {"weights": "imagenet", "model": "resnet50"}, "vary": {"init_method": ["content"]}},
        ],
        "findings": [],  # config.yaml's read init content vs gaussian
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    work = tmp_path / "work"
    arguments = ("--configfile", str(tmp_path / "config.yaml"), "--keep-going")
    offline = {"TORCH_HOME": str(tmp_path / "torch_home")}  # the host's own cache: empty

    first = snakemake(work, *arguments, snakefile=snakefile, env=offline)
    output = first.stdout + first.stderr
    assert first.returncode != 0
    target = work / paths.imagenet_weights(name)
    url = f"https://download.pytorch.org/models/{name}"
    message = f"weights file {name} is missing: download {url} and put it at {target}"
    assert message in output, output[-3000:]
    assert message in (work / paths.fetch_weights_log(name)).read_text()
    runs = work / "results/runs" / PAIR
    [done] = [path.name for path in runs.glob("*.png")]
    assert "_w_bundled_" in done  # the run that needs no download finished
    assert not list((work / "results/logs/stylize").rglob("m_resnet50_*"))  # the other never started

    second = snakemake(work, *arguments, snakefile=snakefile, env=offline | {"NST_WEIGHTS_MIRROR": str(mirror)})
    assert second.returncode == 0, second.stderr[-3000:]
    counts = job_counts(second.stdout + second.stderr)  # a real run's job stats: on stderr
    assert (counts["fetch_weights"], counts["stylize"]) == (1, 1), counts  # the bundled run is not redone
    assert target.read_bytes() == data
    [sidecar] = runs.glob("m_resnet50_w_imagenet_*.json")
    record = json.loads(sidecar.read_text())
    assert record["parameters"]["weights"] == "imagenet" and record["weights"]["source"] == "imagenet"
    assert record["weights"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["weights"]["file"] == paths.imagenet_weights(name)
    assert sidecar.with_suffix(".png").is_file()

    # results/ without weights/ (a clone): a finished run needs no weights, nothing is fetched or made again
    shutil.rmtree(work / paths.WEIGHTS)
    again = snakemake(work, "-n", *arguments, snakefile=snakefile, env=offline)
    assert again.returncode == 0 and job_counts(again.stdout) == {}, again.stdout[-3000:]
