"""A finished run is never recomputed or lost (issue 24): what decides "done" is the result, not the
folder it sits in nor any file's mtime (nst_pipeline.cache, README "Caching").

One tiny matrix is run once: three content images with a content and a gaussian run each, and a
region-map run (so the map is an input). Then `snakemake -n`, with the same config, on copies of it
elsewhere: a fresh clone (every image touched) with results/ copied in, with and without .snakemake/
(with it: the moved folder), and edited: pixels of a content image (with an mtime older than the
results), pixels of the region map, an image replaced under its name, and the bad states a copy can
leave (a sidecar missing, unreadable or another run's, a milestone image missing). Each must plan
exactly the runs it changes, with their measurements, grids and report, and say in one line why a
stale run is made again."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from pipeline_helpers import copy_workflow, job_counts, snakemake, write_config

from nst.weights import file_sha256
from nst_pipeline import paths

pytestmark = pytest.mark.slow
# 10 iterations: one milestone (B/2 = 5), so a milestone image can go missing
ITERATIONS = 10
PAIRS = [["chelsea", "starry_night"], ["coffee", "starry_night"], ["astronaut", "starry_night"]]
OLD = 946_684_800  # 2000-01-01: the mtime of a file restored from an old backup


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path]:
    """(the finished project: workflow, data and its results/ and .snakemake/ in one folder, config)."""
    root = tmp_path_factory.mktemp("survives")
    config = write_config(
        root / "config.yaml",
        run_experiments=["init", "spatial"],
        defaults={"weights": "bundled", "height": 32, "iterations": ITERATIONS},
        experiments={
            "init": {"pairs": PAIRS, "sweeps": [{"vary": {"init_method": ["content", "gaussian"]}}], "findings": []},
            "spatial": {"sweeps": [{"vary": {"region_map": ["chelsea_cat"]}}], "findings": []},
        },
    )
    project = root / "project"
    snakefile = copy_workflow(project)
    result = snakemake(project, "--configfile", str(config), snakefile=snakefile)
    assert result.returncode == 0, result.stderr[-3000:]
    return project, config


def dry_run(project: Path, config: Path) -> tuple[dict[str, int], set[str], str]:
    """(job counts, the stylize jobs' runs, the output) of `snakemake -n` in `project`."""
    result = snakemake(project, "-n", "--configfile", str(config), snakefile=project / "Snakefile")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    runs = set(re.findall(r"^rule stylize:\n(?:    .*\n)*?    wildcards: run=(\S+)$", result.stdout, re.MULTILINE))
    return job_counts(result.stdout), runs, output


def stale_lines(output: str) -> dict[str, str]:
    """run -> the reason of each "made again" line."""
    return dict(re.findall(r"^nst-pipeline: run (\S+) is not finished and is made again: (.*)$", output, re.MULTILINE))


def runs_of(project: Path) -> dict[str, list[str]]:
    """pair -> its runs' names (from the finished results), content run first."""
    found: dict[str, list[str]] = {}
    for image in sorted((project / "results/runs").glob("*/*.png")):
        found.setdefault(image.parent.name, []).append(f"{image.parent.name}/{image.stem}")
    return {pair: sorted(names, key=lambda name: "_i_content_" not in name) for pair, names in found.items()}


def files_state(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*") if p.is_file()
    }


def clone(project: Path, target: Path, with_snakemake: bool) -> Path:
    """A fresh clone of the workflow (every file new, newer than any result) with the results copied
    in as `cp -a` copies them (times kept), and Snakemake's records too or not."""
    copy_workflow(target)
    for path in target.rglob("*"):
        os.utime(path)  # now: after the results were made
    subprocess.run(["cp", "-a", str(project / "results"), str(target / "results")], check=True)
    if with_snakemake:
        subprocess.run(["cp", "-a", str(project / ".snakemake"), str(target / ".snakemake")], check=True)
    return target


def edit_pixels(path: Path, box: tuple[int, int, int, int], colour: tuple[int, int, int]) -> None:
    with Image.open(path) as image:
        edited = image.convert("RGB")
    edited.paste(colour, box)
    edited.save(path)


@pytest.mark.parametrize("with_snakemake", [True, False], ids=["with-.snakemake", "without-.snakemake"])
def test_moved_or_cloned_with_its_results_plans_nothing(finished, tmp_path, with_snakemake):
    """The project elsewhere (another absolute path), every file but the results new (a fresh clone:
    code, config and images touched, newer than every result), results/ copied in with their times
    kept, with Snakemake's records (as a moved folder has them) or without: nothing to do, nothing
    said, nothing touched. (A moved folder, times all kept, is the with-.snakemake case less the
    new mtimes.)"""
    project, config = finished
    copy = clone(project, tmp_path / "clone", with_snakemake)
    before = files_state(copy / "results")
    counts, runs, output = dry_run(copy, config)
    assert counts == {} and not stale_lines(output), output[-3000:]
    assert files_state(copy / "results") == before


def test_a_changed_region_map_and_a_replaced_image_rerun_exactly_their_runs(finished, tmp_path):
    """With Snakemake's records (.snakemake/): the region map's pixels edited (a new run: its id holds
    the map's sha256) and astronaut given another file in config.yaml: their runs, and their
    measurements, grids and report, nothing else."""
    project, config = finished
    copy = clone(project, tmp_path / "clone", with_snakemake=True)
    region_map = copy / "data/region/chelsea_cat.png"
    old_map = file_sha256(region_map)[:16]
    edit_pixels(region_map, (0, 0, 60, 60), (255, 255, 255))  # a corner of the cat becomes room
    with Image.open(copy / "data/content/astronaut.jpg") as image:
        image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(copy / "data/content/astronaut_mirrored.png")
    project_config = copy / "config.yaml"
    listed = "astronaut: data/content/astronaut.jpg"
    assert listed in project_config.read_text()
    project_config.write_text(
        project_config.read_text().replace(listed, "astronaut: data/content/astronaut_mirrored.png")
    )
    counts, runs, output = dry_run(copy, config)
    astronaut = runs_of(project)["astronaut__starry_night"]
    [region_run] = runs_of(project)["chelsea__starry_hubble"]
    new_region_run = region_run.replace(old_map, file_sha256(region_map)[:16])
    assert runs == {*astronaut, new_region_run}, output[-3000:]
    assert counts == {
        "stylize": 3,
        "measure": 3,
        "measure_pairs": 2,  # init's astronaut pair, spatial's pair
        "make_grid": 2,
        "make_report": 1,
        "all": 1,
    }, output[-3000:]
    lines = stale_lines(output)
    assert set(lines) == set(astronaut), output[-3000:]
    assert all(
        "the content image data/content/astronaut_mirrored.png is not the file" in line for line in lines.values()
    )


def test_edited_pixels_and_bad_states_rerun_exactly_their_runs(finished, tmp_path):
    """Without Snakemake's records (a clone without .snakemake/), the sidecars are the record: coffee's
    pixels edited in place with an mtime older than every result (a restored file), and the bad
    states a copy can leave - each run made again with one line saying why; the region-map run, not
    touched, is not."""
    project, config = finished
    copy = clone(project, tmp_path / "clone", with_snakemake=False)
    coffee = copy / "data/content/coffee.jpg"
    edit_pixels(coffee, (0, 0, 40, 40), (255, 0, 0))
    os.utime(coffee, (OLD, OLD))
    runs = runs_of(copy)
    (chelsea, chelsea_gaussian), (astronaut, astronaut_gaussian) = (
        runs["chelsea__starry_night"],
        runs["astronaut__starry_night"],
    )
    results = copy / "results/runs"
    (results / f"{chelsea}.json").unlink()  # a sidecar missing
    sidecar = results / f"{chelsea_gaussian}.json"
    sidecar.write_bytes(sidecar.read_bytes()[:2000])  # cut off
    shutil.copy2(results / f"{astronaut_gaussian}.json", results / f"{astronaut}.json")  # another run's
    [milestone] = (results / f"{astronaut_gaussian}.milestones").glob("*.png")
    milestone.unlink()  # a half-copied milestones folder
    before = files_state(copy / "results")

    counts, planned, output = dry_run(copy, config)
    coffee_runs = set(runs["coffee__starry_night"])
    bad = {chelsea, chelsea_gaussian, astronaut, astronaut_gaussian}
    assert planned == coffee_runs | bad, output[-3000:]
    assert counts == {
        "stylize": 6,
        "measure": 6,
        "measure_pairs": 3,  # init's three pairs; not spatial's
        "make_grid": 3,
        "make_report": 1,
        "all": 1,
    }, output[-3000:]
    lines = stale_lines(output)
    assert set(lines) == coffee_runs | bad, output[-3000:]
    assert all(
        "the content image data/content/coffee.jpg is not the file it was made from" in lines[r] for r in coffee_runs
    )
    assert lines[chelsea] == f"its sidecar {paths.run_sidecar(chelsea)} is missing"
    assert lines[chelsea_gaussian].startswith(f"its sidecar {paths.run_sidecar(chelsea_gaussian)} is unreadable")
    assert lines[astronaut].startswith("its sidecar is another run's")
    listed = f"{Path(astronaut_gaussian).name}.milestones/{milestone.name}"
    assert lines[astronaut_gaussian] == f"1 milestone image(s) its sidecar lists are missing ({listed})"
    assert files_state(copy / "results") == before  # planning touched nothing
