"""`python -m nst_pipeline.compare A B` (nst_pipeline.compare) on hand-made results folders and their
snapshots: identical results, a metric shift just under and just over its noise margin, a changed
verdict, a run failed on one side, the set-ups' differences, the margins' source, every bad input (exit
2), the snapshot round trip, and the report's "Compared with" section. Then the tiny pipeline run
(the session's tiny_run) against the committed snapshot of one (tests/data/tiny_snapshot).

The hand-made results hold what compare reads: runs.tsv (run, status), each run's sidecar, final
image and one milestone (B/2) image, its metrics file at B/2 and B, and findings.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from pipeline_helpers import REPO, html_element, job_counts, snakemake, write_config

from nst_pipeline import compare, findings, paths, report, snapshot
from nst_pipeline.report_job import compared_with
from nst_pipeline.scorecard import rules

PAIR = "chelsea__starry_night"
RUNS = [f"{PAIR}/run_{name}" for name in ("a", "b", "c")]
METRICS = {
    "judge_height": 32,
    "content_ssim": 0.5,
    "content_distance": 1.2,
    "style_distance": 0.6,
    "style_distance_effnet": 0.3,
    "palette_distance": 10.0,
    "init_change": 0.4,
    "share_end_style": 0.99,
}
ENGINE = "e" * 64


def _finding(fid: str, verdict: str, settled: bool | None, value: float) -> dict:
    return {
        "id": fid,
        "experiment": "sweep",
        "pair": PAIR,
        "statement": f"statement of {fid}",
        "source": "test",
        "caveat": "",
        "check": {"kind": "best"},
        "verdict": verdict,
        "reason": f"reason of {fid}",
        "numbers": {"deciding": {"name": "lead", "value": value, "threshold": 0.0198}},
        "check_says": None,
        "runs": RUNS,
        "cause": None,
        "settled": settled,
        "settled_text": "",
        "trajectory": [{"budget": "B/2", "verdict": verdict}, {"budget": "B", "verdict": verdict}],
    }


FINDINGS = {"F1": ("agrees", True, 0.1), "F2": ("differs", False, -0.05)}


def make_results(
    root: Path,
    *,
    shift: dict | None = None,
    verdicts: dict | None = None,
    statuses: dict | None = None,
    margins: dict | None = "fixed",
    precision: str = "fp32",
    engine: str = ENGINE,
    runs: list[str] = RUNS,
) -> Path:
    """A results folder: `shift` {run: {metric: (difference at B, difference at B/2)}} moves metrics
    (and redraws the run's images, so their bytes differ); `verdicts` {id: (verdict, settled,
    deciding value)} replaces FINDINGS'; `statuses` {run: failed/missing}; `margins` findings.json's
    rules.margins ("fixed": as the report job writes them, None: none, else these only)."""
    results = root / "results"
    shift, statuses = shift or {}, statuses or {}
    rows = ["run\tstatus"]
    for index, run in enumerate(runs):
        status = statuses.get(run, "ok")
        rows.append(f"{run}\t{status}")
        if status != "ok":
            continue
        colour = (40 * index, 90, 60 + (50 if run in shift else 0))
        image = results / Path(paths.run_image(run)).relative_to(paths.RESULTS)
        milestone = image.with_suffix(".milestones") / "it00005.png"
        milestone.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 6), colour).save(image)
        Image.new("RGB", (8, 6), colour[::-1]).save(milestone)
        sidecar = {
            "output": image.name,
            "parameters": {"precision": precision, "iterations": 10, "height": 32},
            "device": "cpu",
            "torch_threads": 1,
            "versions": {"torch": "2.14.1", "torchvision": "0.29.1"},
            "engine_fingerprint": engine,
            "random_weights": False,
            "milestones": [{"iteration": 5, "fraction": 0.5, "image": f"{milestone.parent.name}/{milestone.name}"}],
        }
        image.with_suffix(".json").write_text(json.dumps(sidecar))
        final, half = dict(METRICS), dict(METRICS, content_ssim=0.55)
        for metric, (at_b, at_half) in shift.get(run, {}).items():
            final[metric] += at_b
            half[metric] += at_half
        measured = results / Path(paths.run_metrics(run)).relative_to(paths.RESULTS)
        measured.parent.mkdir(parents=True, exist_ok=True)
        budgets = [
            {"fraction": 0.5, "iteration": 5, "metrics": half},
            {"fraction": 1.0, "iteration": 10, "metrics": final},
        ]
        measured.write_text(
            json.dumps(
                {"run": run, "judge": {"height": 32, "weights": "bundled"}, "metrics": final, "budgets": budgets}
            )
        )
    (results / "runs.tsv").write_text("\n".join(rows) + "\n")
    verdicts = {fid: FINDINGS[fid] for fid in FINDINGS} | (verdicts or {})
    found_rules = rules()
    if margins is None:
        del found_rules["margins"]
    elif margins != "fixed":
        found_rules["margins"] = margins
    payload = {
        "scale": {
            "heights": [32],
            "iterations": [10],
            "judge_heights": [32],
            "study": {"height": 400, "iterations": 1000},
            "is_study_scale": False,
        },
        "rules": found_rules,
        "counts": {},
        "settled": {},
        "findings": [_finding(fid, *state) for fid, state in verdicts.items()],
    }
    (results / "findings.json").write_text(json.dumps(payload))
    return results


def run_main(capsys, *args) -> tuple[int, list[str], str]:
    """(exit status, printed lines, stderr) of `python -m nst_pipeline.compare *args`."""
    status = compare.main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return status, out.strip().splitlines(), err


def margin(metric: str) -> float:
    return findings.margin(metric)


# ---------------------------------------------------------------- same, within, beyond


def test_identical_results_are_reproduced(tmp_path, capsys):
    a = make_results(tmp_path / "a")
    b = make_results(tmp_path / "b")
    status, lines, _ = run_main(capsys, a, b, "--out", tmp_path / "out")
    assert status == 0
    assert lines[-1] == "reproduced: 2 of 2 verdicts the same; 3 runs identical, 0 within noise, 0 beyond"
    assert "set-ups: the same in every fact" in lines
    written = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert [r["status"] for r in written["runs"]] == ["identical"] * 3
    assert written["exit_status"] == 0 and written["summary"] == lines[-1]
    text = (tmp_path / "out" / "comparison.md").read_text()
    assert (
        f"**{lines[-1]}**" in text
        and "| F2 | chelsea__starry_night | differs, unsettled | differs, unsettled | same |" in text
    )


@pytest.mark.parametrize(("factor", "status"), [(0.99, "within noise"), (1.01, "beyond noise")])
def test_a_shift_just_under_the_margin_is_within_noise_just_over_beyond(tmp_path, capsys, factor, status):
    a = make_results(tmp_path / "a")
    shift = {RUNS[1]: {"style_distance": (factor * margin("style_distance"), 0.0)}}
    b = make_results(tmp_path / "b", shift=shift)
    code, lines, _ = run_main(capsys, a, b, "--out", tmp_path / "out")
    runs = {r["run"]: r for r in json.loads((tmp_path / "out" / "comparison.json").read_text())["runs"]}
    assert runs[RUNS[1]]["status"] == status and not runs[RUNS[1]]["identical_bytes"]
    assert runs[RUNS[0]]["status"] == runs[RUNS[2]]["status"] == "identical"
    if status == "within noise":
        assert code == 0
        assert lines[-1] == "reproduced: 2 of 2 verdicts the same; 2 runs identical, 1 within noise, 0 beyond"
        assert runs[RUNS[1]]["worst"]["margins"] == pytest.approx(0.99)
    else:
        assert code == 1
        assert lines[-1] == "NOT reproduced: 2 of 2 verdicts the same; 2 runs identical, 0 within noise, 1 beyond"
        [beyond] = runs[RUNS[1]]["beyond"]
        assert (beyond["metric"], beyond["budget"]) == ("style_distance", "B")
        assert beyond["margins"] == pytest.approx(1.01)
        assert any(
            line.startswith(f"  {RUNS[1]}: style_distance 0.6 → 0.62") and "1.01 margins" in line for line in lines
        )


def test_a_shift_at_a_milestone_only_is_beyond_noise_there(tmp_path, capsys):
    a = make_results(tmp_path / "a")
    b = make_results(tmp_path / "b", shift={RUNS[0]: {"init_change": (0.0, -2 * margin("init_change"))}})
    code, lines, _ = run_main(capsys, a, b)
    assert code == 1
    assert any(
        line.startswith(f"  {RUNS[0]}: init_change 0.4 → ") and line.endswith("(-0.0504, 2 margins) at B/2")
        for line in lines
    ), lines


def test_allow_beyond_states_a_run_expected_to_move(tmp_path, capsys):
    a = make_results(tmp_path / "a")
    b = make_results(tmp_path / "b", shift={RUNS[2]: {"palette_distance": (1.0, 1.0)}})
    code, lines, _ = run_main(capsys, a, b, "--allow-beyond", f"{PAIR}/*_c")
    assert code == 0
    assert lines[-1] == (
        "reproduced (with the changes stated as expected): 2 of 2 verdicts the same; 2 runs identical, "
        "0 within noise, 1 beyond (1 expected)"
    )


# ---------------------------------------------------------------- findings


def test_a_changed_verdict_fails_and_is_listed_with_its_deciding_numbers(tmp_path, capsys):
    a = make_results(tmp_path / "a")
    b = make_results(tmp_path / "b", verdicts={"F2": ("agrees", True, 0.03)})
    code, lines, _ = run_main(capsys, a, b)
    assert code == 1
    assert (
        lines[-1]
        == "NOT reproduced: 1 of 2 verdicts the same (changed: F2); 3 runs identical, 0 within noise, 0 beyond"
    )
    assert (
        "  F2: differs, unsettled → agrees, settled; deciding lead -0.05 (threshold 0.0198) → lead 0.03 "
        "(threshold 0.0198)" in lines
    )
    code, lines, _ = run_main(capsys, a, b, "--allow-verdict-change", "F2", "--allow-verdict-change", "F9")
    assert code == 0
    assert "note: --allow-verdict-change F9: no finding of that id" in lines  # a typo allows nothing
    assert lines[-1].startswith(
        "reproduced (with the changes stated as expected): 1 of 2 verdicts the same (changed: F2 (expected))"
    )


def test_a_change_of_settledness_alone_is_shown_not_failed(tmp_path, capsys):
    a = make_results(tmp_path / "a")
    b = make_results(tmp_path / "b", verdicts={"F1": ("agrees", False, 0.1)})
    code, lines, _ = run_main(capsys, a, b)
    assert code == 0 and lines[-1].startswith("reproduced: 2 of 2 verdicts the same;")
    assert "  F1: agrees, settled → agrees, unsettled" in lines


def test_a_run_failed_on_one_side_fails_and_one_only_in_a_side_is_listed(tmp_path, capsys):
    a = make_results(tmp_path / "a", runs=[*RUNS, f"{PAIR}/run_d"])
    b = make_results(tmp_path / "b", statuses={RUNS[0]: "failed"})
    code, lines, _ = run_main(capsys, a, b)
    assert code == 1
    assert lines[-1] == (
        "NOT reproduced: 2 of 2 verdicts the same; 2 runs identical, 0 within noise, 0 beyond, "
        "1 failed on one side; 1 run only in A"
    )
    assert f"  {RUNS[0]}: failed in B" in lines


# ---------------------------------------------------------------- set-ups, margins


def test_the_header_says_what_differs_between_the_set_ups(tmp_path, capsys):
    a = make_results(tmp_path / "a")
    b = make_results(tmp_path / "b", precision="tf32", engine="f" * 64)
    code, lines, _ = run_main(capsys, a, b)
    assert code == 0
    assert "set-ups differ in: engine fingerprint: eeeeeeeeeeee → ffffffffffff; precision: fp32 → tf32" in lines


def test_margins_come_from_findings_json_where_it_has_them(tmp_path, capsys):
    """B measured a wider style-distance margin at its scale (0.05): a shift of 0.03, beyond the fixed
    table's 0.0198, is within it; A has no rules.margins, so the other metrics keep the fixed table's."""
    a = make_results(tmp_path / "a", margins=None)
    b = make_results(tmp_path / "b", margins={"style_distance": 0.05}, shift={RUNS[0]: {"style_distance": (0.03, 0.0)}})
    code, lines, _ = run_main(capsys, a, b, "--out", tmp_path / "out")
    assert code == 0 and lines[-1].endswith("2 runs identical, 1 within noise, 0 beyond")
    written = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert written["margins"]["values"]["style_distance"] == 0.05
    assert written["margins"]["values"]["content_ssim"] == pytest.approx(margin("content_ssim"))
    table = "the fixed table (nst_pipeline/metric_table.py: 3 × the noise scale measured at 128 px)"
    assert written["margins"]["source"] == f"findings.json rules.margins (B), else {table}"
    # with no rules.margins on either side: the fixed table, and the shift is beyond it
    plain = make_results(tmp_path / "plain", margins=None, shift={RUNS[0]: {"style_distance": (0.03, 0.0)}})
    code, lines, _ = run_main(capsys, a, plain)
    assert code == 1
    assert (
        "noise margins: the fixed table (nst_pipeline/metric_table.py: 3 × the noise scale measured at 128 px)" in lines
    )


# ---------------------------------------------------------------- bad input: exit 2, one line


def _old_snapshot(folder: Path) -> Path:
    """A snapshot as format 1 wrote it: the scorecard, findings.json, runs.tsv, grids; no snapshot.json."""
    folder.mkdir(parents=True)
    for name in ("scorecard.md", "findings.json", "runs.tsv", "README.md"):
        (folder / name).write_text("{}")
    return folder


def _bad_input(tmp: Path, case: str) -> Path:
    folder = tmp / case.replace(" ", "_")
    if case == "older snapshot":
        return _old_snapshot(folder)
    if case == "format 1":
        (_old_snapshot(folder) / "snapshot.json").write_text('{"format": 1}')
    elif case == "report not run":
        (folder / "runs").mkdir(parents=True)
    elif case == "neither":
        folder.mkdir()
        (folder / "notes.txt").write_text("hello")
    return folder  # "not a folder": nothing there


BAD_INPUTS = {
    "neither": "is neither a results folder (findings.json, runs.tsv, runs/) nor a snapshot",
    "not a folder": "is not a folder",
    "older snapshot": "is a snapshot of an older format (no format field",
    "format 1": "is a snapshot of an older format (1; compare reads format 2)",
    "report not run": "has runs but no findings.json or runs.tsv: the report job has not run yet",
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, case):
    a = make_results(tmp_path / "a")
    code, lines, err = run_main(capsys, _bad_input(tmp_path, case), a)
    assert code == 2 and lines == []
    assert err.count("\n") == 1 and err.startswith("compare: error: A: ") and BAD_INPUTS[case] in err, err


def test_no_run_in_common_exits_2_unless_the_findings_alone_are_compared(tmp_path, capsys):
    a = make_results(tmp_path / "a")
    b = make_results(tmp_path / "b", runs=[f"{PAIR}/run_x"])
    code, lines, err = run_main(capsys, a, b)
    assert code == 2 and err.startswith("compare: error: no run in common: A has 3 runs, B 1,") and err.count("\n") == 1
    code, lines, _ = run_main(capsys, a, b, "--findings-only")
    assert code == 0 and lines[-1] == "reproduced: 2 of 2 verdicts the same; 3 runs only in A, 1 run only in B"


# ---------------------------------------------------------------- snapshots


def test_a_snapshot_of_a_results_folder_compares_identical_with_it(tmp_path, capsys):
    results = make_results(tmp_path / "a")
    snapshot.write_snapshot(results, tmp_path / "snap", None, "test")
    snap = tmp_path / "snap"
    meta = json.loads((snap / "snapshot.json").read_text())
    assert meta["format"] == snapshot.SNAPSHOT_FORMAT and meta["command"] == "test"
    assert set(meta["machine"]) == {"cpu_model", "cpu_flags", "gpu"}
    facts = meta["runs"][RUNS[0]]
    image = results / "runs" / f"{RUNS[0]}.png"
    assert facts["image_sha256"] == snapshot.file_sha256(image)
    assert facts["milestones"] == [
        {
            "iteration": 5,
            "fraction": 0.5,
            "sha256": snapshot.file_sha256(image.with_suffix(".milestones") / "it00005.png"),
        }
    ]
    assert (facts["precision"], facts["device"], facts["engine_fingerprint"]) == ("fp32", "cpu", ENGINE)
    measured = json.loads((snap / "metrics.json").read_text())
    assert [b["fraction"] for b in measured[RUNS[0]]["budgets"]] == [0.5, 1.0]
    assert not list(snap.rglob("*.milestones")) and not (snap / "runs").exists()  # no run images
    for first, second in ((results, snap), (snap, results), (snap, snap)):
        code, lines, _ = run_main(capsys, first, second)
        assert (
            code == 0
            and lines[-1] == "reproduced: 2 of 2 verdicts the same; 3 runs identical, 0 within noise, 0 beyond"
        )


# ---------------------------------------------------------------- the report's section


def test_the_report_shows_runs_beyond_noise_with_both_images(tmp_path):
    a = make_results(tmp_path / "a")
    b = make_results(
        tmp_path / "b", shift={RUNS[1]: {"content_ssim": (0.1, 0.0)}}, verdicts={"F1": ("differs", True, -0.1)}
    )
    page = report.render_report([], "test", compared_with(a, b))
    section = html_element(page, "compared")
    assert section is not None and 'href="#compared"' in page
    assert (
        "NOT reproduced: 1 of 2 verdicts the same (changed: F1); 2 runs identical, 0 within noise, 1 beyond"
        in section.text
    )
    assert "lead 0.1 (threshold 0.0198) → lead -0.1 (threshold 0.0198)" in section.text
    assert "content_ssim 0.5 → 0.6 (+0.1, 5.38 margins) at B" in section.text
    with Image.open(a / "runs" / f"{RUNS[1]}.png") as image:
        assert image.getpixel((0, 0)) != Image.open(b / "runs" / f"{RUNS[1]}.png").getpixel((0, 0))
    assert len(section.images) == 2 and all(img["src"].startswith("data:image/png;base64,") for img in section.images)
    # against a snapshot: A's image, and a note for B's
    snapshot.write_snapshot(b, tmp_path / "snap", None, "test")
    section = html_element(report.render_report([], "test", compared_with(a, tmp_path / "snap")), "compared")
    assert len(section.images) == 1 and "B keeps no run images (a snapshot: only their sha256)." in section.text


def test_the_report_says_why_it_could_not_compare(tmp_path):
    a = make_results(tmp_path / "a")
    (tmp_path / "empty").mkdir()
    section = html_element(report.render_report([], "test", compared_with(a, tmp_path / "empty")), "compared")
    assert "Could not compare: B: " in section.text and "is neither a results folder" in section.text


def test_config_compare_with_is_checked_before_any_job(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(compare.CompareError, match="compare_with: .* is neither a results folder"):
        compare.resolve_compare_with("empty", tmp_path)
    assert compare.resolve_compare_with(None, tmp_path) is None
    results = make_results(tmp_path / "a")
    assert compare.resolve_compare_with(str(results), REPO) == results
    assert compare.side_inputs(results) == [str(results / "findings.json"), str(results / "runs.tsv")]


# ---------------------------------------------------------------- the tiny pipeline run


TINY_SNAPSHOT = REPO / "tests/data/tiny_snapshot"


@pytest.mark.slow
def test_the_tiny_run_reproduces_the_committed_snapshot(tiny_run, capsys):
    """tests/configs/tiny.yaml's results against a snapshot of them committed from another machine
    (its README says which). On another CPU the bytes may differ; the verdicts and the yardstick must
    not, beyond noise. After a change that moves the engine's or the yardstick's numbers on purpose,
    write it again: python -m nst_pipeline.snapshot <tiny run>/results tests/data/tiny_snapshot
    --command "snakemake --configfile tests/configs/tiny.yaml"."""
    code, lines, err = run_main(capsys, tiny_run / "results", TINY_SNAPSHOT)
    assert code == 0, "\n".join(lines) + err
    assert lines[-1].startswith("reproduced: 3 of 3 verdicts the same; "), lines
    assert lines[-1].endswith(" 0 beyond"), lines


@pytest.mark.slow
def test_config_compare_with_adds_the_comparison_after_the_report(tiny_run, tmp_path):
    """A copy of the tiny run, with compare_with set: only the report and the comparison run (nothing is
    stylized or measured again); results/compare/ holds it and the report shows it."""
    # beside the tiny run, at its depth: the grids' photo and painting are params holding paths relative
    # to the working directory (nst_pipeline.plan), so a copy one folder deeper redraws the grids
    workdir = tmp_path.parent / f"{tmp_path.name}-tiny"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    config = write_config(tmp_path / "compare.yaml", compare_with=str(TINY_SNAPSHOT))
    result = snakemake(workdir, "--configfile", str(config))  # tiny.yaml and compare_with
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    counts = job_counts(result.stdout + result.stderr)
    assert counts == {"make_report": 1, "compare": 1, "all": 1}, result.stdout + result.stderr
    written = json.loads((workdir / paths.COMPARE_JSON).read_text())
    assert written["exit_status"] == 0 and written["b"]["kind"] == "snapshot"
    assert f"**{written['summary']}**" in (workdir / paths.COMPARE_MARKDOWN).read_text()
    assert written["summary"] in (workdir / paths.COMPARE_LOG).read_text()
    section = html_element((workdir / paths.REPORT).read_text(), "compared")
    assert section is not None and written["summary"] in section.text
