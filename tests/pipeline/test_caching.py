"""Finished runs are cached by their output paths, and a rerun does exactly what changed: tests on a
copy of the workflow (so its code can be edited) after a real tiny run.

A code edit reaches a job through its rule's code fingerprint (nst_pipeline.fingerprints, a rule
parameter). Real dry-runs show that each fingerprint reruns its rule and what follows (one edit per
fingerprint, plus edits Snakemake itself could react to: scripts, config); which fingerprints an edit
changes is checked in-process on the copy (rule_fingerprints), without a Snakemake per edit."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from pipeline_helpers import REPO, copy_workflow, html_element, job_counts, snakemake, write_config
from snakemake.utils import update_config, validate

from nst import provenance
from nst_pipeline import fingerprints
from nst_pipeline.plan import plan_experiments

pytestmark = pytest.mark.slow
ITERATIONS = 40


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A copy of workflow + packages and its own finished run of two runs (init content, gaussian),
    measured, with config.yaml's findings on init (F1a, F1b) evaluated. 40 iterations (at 32 px):
    enough for milestones at 5, 10 and 20 (nst.milestones), measured as budgets. noise_repeats 1: two
    more runs (gaussian seed 1, content nudged by 64 float steps) and their grid, whose spread gives the
    findings' margins (the one pipeline test that runs repeats: tests/configs/tiny.yaml has none)."""
    root = tmp_path_factory.mktemp("caching")
    snakefile = copy_workflow(root / "copy")
    config = write_config(
        root / "two.yaml",
        run_experiments=["init"],
        defaults={"weights": "bundled", "height": 32, "iterations": ITERATIONS},
        experiments={"init": {"sweeps": [{"vary": {"init_method": ["content", "gaussian"]}}]}},
        noise_repeats=1,
    )
    work = root / "work"
    result = snakemake(work, "--configfile", str(config), snakefile=snakefile)
    assert result.returncode == 0, result.stderr[-3000:]
    return snakefile, config, work


def dry_run(finished) -> dict[str, int]:
    snakefile, config, work = finished
    result = snakemake(work, "-n", "--configfile", str(config), snakefile=snakefile)
    assert result.returncode == 0, result.stderr[-3000:]
    return job_counts(result.stdout)


@contextmanager
def edited(path: Path, addition: str = "\n# an edit\n"):
    original = path.read_text()
    path.write_text(original + addition)
    try:
        yield
    finally:
        path.write_text(original)


def rule_fingerprints(root: Path, monkeypatch) -> dict[str, str]:
    """The rules' code fingerprints (as common.smk computes them) of the workflow copy at `root`."""
    with monkeypatch.context() as patched:
        patched.setattr(provenance, "_package_dir", lambda package: root / package)
        patched.setattr(fingerprints, "RULES", root / "workflow/rules")
        patched.setattr(fingerprints, "TEMPLATES", root / "nst_pipeline/templates")
        provenance.module_closure.cache_clear()
        try:
            return {
                "stylize": fingerprints.stylize(),
                "grid": fingerprints.grid(),
                "report": fingerprints.report(),
                "measure": fingerprints.measure(),
            }
        finally:
            provenance.module_closure.cache_clear()


def changed_fingerprints(finished, path: str, monkeypatch) -> set[str]:
    root = finished[0].parent
    before = rule_fingerprints(root, monkeypatch)
    with edited(root / path):
        after = rule_fingerprints(root, monkeypatch)
    assert rule_fingerprints(root, monkeypatch) == before  # the edit undone, nothing cached
    return {rule for rule in before if before[rule] != after[rule]}


def test_copy_has_the_repos_fingerprints(finished, monkeypatch):
    """The in-process fingerprints of the copy are the ones Snakemake computes for the repo."""
    assert rule_fingerprints(finished[0].parent, monkeypatch) == rule_fingerprints(REPO, monkeypatch)


def test_nothing_to_do_after_a_finished_run(finished):
    assert dry_run(finished) == {}


def test_engine_edit_reruns_every_stylize_job(finished, monkeypatch):
    snakefile = finished[0]
    # importing any nst module runs nst/__init__.py, which imports the engine: it is in every fingerprint
    assert changed_fingerprints(finished, "nst/losses.py", monkeypatch) == {"stylize", "grid", "measure", "report"}
    with edited(snakefile.parent / "nst/losses.py"):
        counts = dry_run(finished)
    # the runs' metrics and pairwise distances follow their new images (init's 2 runs, 2 noise repeats)
    assert counts == {"stylize": 4, "measure": 4, "measure_pairs": 2, "make_grid": 2, "make_report": 1, "all": 1}, (
        counts
    )


# the findings' checks, the scorecard and runs.tsv are made by the report job: editing them reruns it alone
def test_report_edit_reruns_only_the_report(finished):
    with edited(finished[0].parent / "nst_pipeline/report.py"):
        counts = dry_run(finished)
    assert counts == {"make_report": 1, "all": 1}, counts


@pytest.mark.parametrize(
    "module",
    [
        "nst_pipeline/report.py",
        "nst_pipeline/report_job.py",
        "nst_pipeline/summary.py",
        "nst_pipeline/templates/report.css",
        "nst_pipeline/findings/checks.py",
        "nst_pipeline/findings/verdict.py",
        "nst_pipeline/metric_table.py",
        "nst_pipeline/scorecard.py",
        "nst_pipeline/runs_table.py",
        "nst_pipeline/noise.py",
        "nst_pipeline/repeats.py",
    ],
)
def test_report_code_is_in_the_report_fingerprint_only(finished, module, monkeypatch):
    assert changed_fingerprints(finished, module, monkeypatch) == {"report"}


def test_grid_edit_reruns_grids_and_report_not_runs(finished, monkeypatch):
    with edited(finished[0].parent / "nst_pipeline/grid.py"):
        counts = dry_run(finished)
    assert counts == {"make_grid": 2, "make_report": 1, "all": 1}, counts
    # the report draws the grids of incomplete pairs itself: grid code is in its fingerprint too
    assert changed_fingerprints(finished, "nst_pipeline/grid.py", monkeypatch) == {"grid", "report"}


def test_metric_edit_reruns_measure_jobs_and_report_not_runs(finished):
    with edited(finished[0].parent / "nst_pipeline/metrics.py"):
        counts = dry_run(finished)
    assert counts == {"measure": 4, "measure_pairs": 2, "make_report": 1, "all": 1}, counts


# the report reads the metric catalogue too (its edit reruns the report anyway: it follows the measure jobs)
@pytest.mark.parametrize(
    ("module", "expected"),
    [("nst_pipeline/metrics.py", {"measure", "report"}), ("nst_pipeline/measure.py", {"measure"})],
)
def test_metric_code_is_in_the_measure_fingerprint(finished, module, expected, monkeypatch):
    assert changed_fingerprints(finished, module, monkeypatch) == expected


def test_another_judge_height_reruns_measure_jobs_and_report_not_runs(finished, tmp_path):
    snakefile, config, work = finished
    changed = tmp_path / "judge.yaml"
    changed.write_text(config.read_text() + "judge_height: 16\n")
    counts = dry_run((snakefile, changed, work))
    assert counts == {"measure": 4, "measure_pairs": 2, "make_report": 1, "all": 1}, counts


def test_adding_a_finding_reruns_only_the_report(finished, tmp_path):
    snakefile, config, work = finished
    spec = yaml.safe_load(config.read_text())
    spec["experiments"]["init"]["findings"] = [
        {
            "id": "X1",
            "statement": "The content init ends closest to the photo.",
            "source": "a user",
            "check": {"kind": "best", "metric": "content_ssim", "goal": "highest", "expect": "content"},
        }
    ]
    changed = tmp_path / "finding.yaml"
    changed.write_text(yaml.safe_dump(spec))
    counts = dry_run((snakefile, changed, work))
    assert counts == {"make_report": 1, "all": 1}, counts


def test_cli_edit_reruns_nothing(finished, monkeypatch):
    """The CLI is not part of what makes a run's result (the engine edit above: a fingerprint change
    reruns; here none changes)."""
    assert changed_fingerprints(finished, "nst/cli.py", monkeypatch) == set()


def test_stylize_script_edit_reruns_nothing(finished):
    """The stylize script only unpacks `snakemake`. Snakemake's own `code` trigger would rerun every
    run whose image is older than the script file (a `git pull` touching it = every GPU hour again);
    profiles/default leaves it out: the rules' code fingerprints (params) are the code trigger."""
    with edited(finished[0].parent / "workflow/scripts/stylize.py"):
        assert dry_run(finished) == {}


def test_run_rule_edit_reruns_its_rules(finished):
    """Without Snakemake's `code` trigger, the file of a `run:` rule is part of its fingerprint."""
    with edited(finished[0].parent / "workflow/rules/measure.smk"):
        assert dry_run(finished) == {"measure": 4, "measure_pairs": 2, "make_report": 1, "all": 1}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("rules/grids.smk", {"grid"}),
        ("rules/report.smk", {"report"}),
        ("rules/measure.smk", {"measure"}),
        ("rules/stylize.smk", set()),
        ("scripts/stylize.py", set()),
        ("scripts/_helpers.py", set()),  # the stylize script's; the `run:` rules log with nst_pipeline.job_log
    ],
)
def test_rule_files_are_in_their_rules_fingerprints(finished, path, expected, monkeypatch):
    assert changed_fingerprints(finished, f"workflow/{path}", monkeypatch) == expected


def test_every_job_ran_its_planned_parameters(finished):
    """Each sidecar's parameters equal the plan's parameters for the run at that path."""
    _, config_file, work = finished
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    update_config(config, yaml.safe_load(config_file.read_text()))
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    plan = plan_experiments(config, base_dir=REPO)
    assert len(plan.runs) == 2 + 2  # init's two, and the noise repeats' gaussian seed 1 and nudge 1
    for name, run in plan.runs.items():
        record = json.loads((work / "results/runs" / f"{name}.json").read_text())
        assert record["parameters"] == run.params, name


def test_measure_jobs_measure_every_budget(finished):
    """Each run's milestones (B/8, B/4, B/2) and its final image, measured alike: budgets in order, the
    final one equal to "metrics"; pairwise distances at each budget too."""
    _, _, work = finished
    runs = sorted((work / "results/runs").rglob("*.json"))
    assert len(runs) == 4  # init's and the noise repeats'
    for sidecar in runs:
        record = json.loads(sidecar.read_text())
        listed = [(m["iteration"], m["fraction"], m["image"]) for m in record["milestones"]]
        folder = f"{sidecar.stem}.milestones"
        assert listed == [
            (5, 0.125, f"{folder}/it00005.png"),
            (10, 0.25, f"{folder}/it00010.png"),
            (20, 0.5, f"{folder}/it00020.png"),
        ]
        assert all((sidecar.parent / image).is_file() for _, _, image in listed)
        run = sidecar.relative_to(work / "results/runs").with_suffix("").as_posix()
        measured = json.loads((work / "results/metrics" / f"{run}.json").read_text())
        budgets = measured["budgets"]
        assert [(b["fraction"], b["iteration"]) for b in budgets] == [(0.125, 5), (0.25, 10), (0.5, 20), (1.0, 40)]
        assert budgets[-1]["metrics"] == measured["metrics"]
        assert all(set(b["metrics"]) == set(measured["metrics"]) for b in budgets)
        # each budget is its own image: the style distance differs at every one (the run is moving)
        assert len({b["metrics"]["style_distance"] for b in budgets}) == 4, budgets
        # a milestone's loss shares end at its own losses, not the final ones
        assert budgets[0]["metrics"]["share_end_style"] != measured["metrics"]["share_end_style"]
    pairs = json.loads(next((work / "results/metrics/pairs/init").glob("*.json")).read_text())
    assert [b["fraction"] for b in pairs["budgets"]] == [0.125, 0.25, 0.5, 1.0]
    assert pairs["budgets"][-1]["pairs"] == pairs["pairs"] and len(pairs["pairs"]) == 1
    assert len({b["pairs"][0]["perceptual"] for b in pairs["budgets"]}) == 4
    assert all(
        {row["a"], row["b"]} == {pairs["pairs"][0]["a"], pairs["pairs"][0]["b"]}
        for b in pairs["budgets"]
        for row in b["pairs"]
    )


def test_findings_are_judged_with_the_margins_their_repeats_measured(finished):
    """End to end: the repeats ran, were measured at every budget, and gave every margin of F1a and F1b
    (perceptual: the two content runs' distance; per-run metrics: the larger of the two kinds)."""
    _, _, work = finished
    payload = json.loads((work / "results/findings.json").read_text())
    [table] = payload["noise"]["scales"]
    assert table["scale"] == f"32 px × {ITERATIONS} iterations, vgg19 (bundled weights)" and table["pairs"] == [
        "chelsea__starry_night"
    ]
    assert [b["budget"] for b in table["budgets"]] == ["B/8", "B/4", "B/2", "B"]
    for finding in payload["findings"]:
        assert finding["margin_source"] == "margin measured here", finding["id"]
        for budget in finding["trajectory"]:
            for record in budget["margins"].values():
                assert record["source"] == "measured" and (record["samples"], record["dof"]) == (2, 1), record
    [f1a] = [f for f in payload["findings"] if f["id"] == "F1a"]
    perceptual = f1a["margins"]["perceptual"]
    assert perceptual["kind"] == "content" and perceptual["runs"][1].endswith("_nd_1")
    assert perceptual["spread"] > 0  # 64 float steps at the start: another image at the end
    assert (work / "results/grids/noise/chelsea__starry_night.png").is_file()
    card = html_element((work / "results/report.html").read_text(), "scorecard")
    assert "Noise margins, measured at the scale judged" in card.text and "(margin measured here)" in card.text
