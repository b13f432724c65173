"""The report job: rule make_report, and Snakemake's onerror hook after a run failed (both through
run_report_job(), the one call). It reads what is on disk (each run's outcome and metrics, once),
judges the findings (nst_pipeline.scorecard), writes results/runs.tsv and results/findings.json, draws
the grids the pipeline could not make and the thumbnails of the runs beside each verdict
(nst_pipeline.evidence), and hands all of it to the page (nst_pipeline.report).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from pathlib import Path

from nst_pipeline import compare, evidence, noise, paths, report, scorecard
from nst_pipeline.grid import grid_png, grid_title
from nst_pipeline.outcome import RunOutcome, load_outcomes
from nst_pipeline.report import ComparedWith, ExperimentResults, build_report
from nst_pipeline.runs_table import write_runs_table


def run_report_job(plan: dict, title: str, compare_with: str | None = None, noise_plan: dict | None = None) -> None:
    """The whole job, writing the make_report rule's outputs (paths.REPORT, RUNS_TABLE, FINDINGS,
    relative to the working directory). `plan`: common.smk's plan_for_report(); `compare_with`: config
    compare_with, resolved (a results folder or snapshot to compare with: the report's "Compared with");
    `noise_plan`: its noise_for_report() (the noise repeats, nst_pipeline.repeats)."""
    write_report(
        plan, Path(paths.REPORT), title, Path(paths.RUNS_TABLE), Path(paths.FINDINGS), compare_with, noise_plan
    )


def write_report(
    plan: dict,
    out: Path,
    title: str,
    table: Path | None = None,
    verdicts: Path | None = None,
    compare_with: str | Path | None = None,
    noise_plan: dict | None = None,
) -> None:
    """The HTML report from whatever is on disk (each run's files read once). A pair whose grid the
    pipeline has not made (because a run failed) gets one drawn here, with the failed runs' tiles marked.
    `table`, `verdicts`: where to write runs.tsv and findings.json too (the make_report rule's outputs);
    `compare_with`: compare the results folder they are in with it (needs both written);
    `noise_plan`: the noise repeats, whose spread gives the findings' margins (else the fixed table's)."""
    seen: dict[str, RunOutcome] = {}
    outcomes = {
        name: {pair: load_outcomes(name, pair, experiment["runs"][pair], seen) for pair in experiment["pairs"]}
        for name, experiment in plan.items()
    }
    measured = scorecard.load_metrics(seen)
    margins = _noise_margins(noise_plan, seen, measured)
    evaluated = scorecard.evaluate_plan(plan, outcomes, measured, noise_plan, margins)
    runs = [run for pairs in outcomes.values() for runs in pairs.values() for run in runs]
    thumbnails = evidence.thumbnails(evaluated, seen)  # once per run, however many findings show it
    noise_section = scorecard.noise_section(noise_plan, margins)
    if table is not None:
        write_runs_table(runs, measured, table)
    if verdicts is not None:
        scorecard.write_findings(evaluated, measured, verdicts, scorecard.judged_scale(runs, measured), noise_section)
    experiments = [
        ExperimentResults(
            name=name,
            claim=experiment["claim"],
            varied=list(experiment["varied"]),
            runs=[run for pair in experiment["pairs"] for run in outcomes[name][pair]],
            grids={pair: _grid_for_report(name, pair, outcomes[name][pair], seen) for pair in experiment["pairs"]},
            verdicts=[v for v in evaluated if v.experiment == name],
            measured={
                run.run: measured[run.run] for pairs in outcomes[name].values() for run in pairs if run.run in measured
            },
            thumbnails={
                run: thumbnails[run] for v in evaluated if v.experiment == name for run in v.runs if run in thumbnails
            },
        )
        for name, experiment in plan.items()
    ]
    compared = None
    if compare_with is not None and table is not None and verdicts is not None:
        compared = compared_with(Path(verdicts).parent, Path(compare_with))
    build_report(experiments, Path(out), title=title, compared=compared, noise=noise_section)


def compared_with(results: Path, other: Path) -> ComparedWith:
    """This results folder (A) compared with `other` (B) for the report, with the final images of the
    runs beyond noise from both sides (B's only where it is a results folder). The rule compare writes
    the same comparison as files; here a bad input is shown in the report rather than failing it."""
    try:
        comparison, side_a, side_b = compare.run_compare(results, other)
    except compare.CompareError as error:
        return ComparedWith(None, error=str(error))

    def read(image: Path | None) -> bytes | None:
        return image.read_bytes() if image is not None else None

    shown = [r["run"] for r in comparison["runs"] if r["fails"]][: report.MAX_COMPARED_RUNS]
    images = {run: (read(side_a.image(run)), read(side_b.image(run))) for run in shown}
    return ComparedWith(comparison, images, b_has_images=side_b.kind == "results folder")


def _noise_margins(noise_plan: dict | None, seen: dict[str, RunOutcome], measured: dict) -> dict:
    """The margins the noise repeats measure (nst_pipeline.noise), from the finished repeats only (a
    failed run's metrics file is from an earlier attempt) and the noise grid's pairwise distances."""
    if not noise_plan or not noise_plan.get("scales"):
        return {}
    finished = {run: payload for run, payload in measured.items() if run in seen and seen[run].status == "ok"}
    pairs = {pair for entry in noise_plan["scales"].values() for pair in entry["pairs"]}
    pairwise = {pair: scorecard.load_pairs(noise_plan["experiment"], pair) or {} for pair in pairs}
    return noise.all_margins(noise_plan, finished, pairwise)


def _grid_for_report(experiment: str, pair: str, runs: list[RunOutcome], seen: dict) -> bytes | None:
    """The pipeline's grid PNG where it is complete, else one drawn now; None without the pair's images."""
    grid = Path(paths.grid_image(experiment, pair))
    if grid.is_file() and all(run.status == "ok" for run in runs):
        return grid.read_bytes()
    content, style = _pair_images(pair, seen.values())
    if content is None or style is None:
        return None
    return grid_png(content, style, runs, grid_title(experiment, pair))


def _pair_images(pair: str, known: Iterable[RunOutcome]) -> tuple[Path | None, list[Path] | None]:
    """Content and style image paths of a pair, from any finished run's sidecar (read already, or on disk)."""
    records = (run.record for run in known if run.pair == pair and run.record)
    sidecars = sorted(Path(paths.run_image(pair)).with_suffix("").glob("*.json"))
    on_disk = (json.loads(sidecar.read_text(encoding="utf-8")) for sidecar in sidecars)
    for record in itertools.chain(records, on_disk):  # lazily: the first record found is enough
        styles = record.get("style_images") or [record["style_image"]]
        return Path(record["content_image"]), [Path(style) for style in styles]
    return None, None
