"""The pipeline's report: ONE self-contained HTML page (images inlined as data URIs, inline CSS, one
inline script that sorts and filters the run table, no external references), rendered from
templates/report.html.j2 with autoescaping on.

The page only: HTML from data already loaded and judged (ExperimentResults; the report job that
loads and judges it is nst_pipeline.report_job). This module builds the page's context and renders
it; the sentences come from nst_pipeline.summary, the loss curves and metric plots from
nst_pipeline.figures, the scorecard's lines from nst_pipeline.scorecard (verdicts by
nst_pipeline.findings) and the runs shown beside each verdict, marked, from nst_pipeline.evidence;
numbers as nst_pipeline.formatting writes them.
"""

from __future__ import annotations

import base64
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from nst.images import atomic_write_bytes
from nst_pipeline import evidence, findings, paths, scorecard
from nst_pipeline.figures import deciding_png, loss_curves_png, metrics_png
from nst_pipeline.formatting import distinct, format_g, format_number, percent, plural
from nst_pipeline.grid import sample_runs
from nst_pipeline.metric_table import METRICS, RUN_METRICS
from nst_pipeline.outcome import RunOutcome
from nst_pipeline.summary import summarize

RANDOM_TEXT = (
    "RANDOM WEIGHTS: {n} of {total} runs used a randomly initialised, not pretrained network. "
    "Their images and losses only test the pipeline; they are NOT neural style transfer results."
)
TABLE_COLUMNS = (
    "experiment",
    "pair",
    "varied values",
    "model",
    "weights",
    "init",
    "cw",
    "sw",
    "tv",
    "content layer",
    "style layers",
    "optimizer",
    "iter.",
    "height",
    "other options",
    "final content",
    "final style",
    "final tv",
    "final total",
    "wall s",
    "s / iter",
    "peak MB",
    "status",
)
# yardstick columns of the all-runs table (after the run's own columns): (metrics key, header)
METRIC_TABLE_COLUMNS = tuple((m.key, m.header) for m in METRICS if m.in_html_table)
# the per-experiment metrics table: (metrics key, header, percent?)
EXPERIMENT_METRIC_COLUMNS = tuple((m.key, m.header, m.percent) for m in METRICS if not m.pairwise)


@dataclass(frozen=True)
class ExperimentResults:
    """One experiment as the report shows it."""

    name: str
    claim: str
    varied: list[str]
    runs: list[RunOutcome]  # its plan's entries, pair by pair, in grid order
    grids: dict[str, bytes | None] = field(default_factory=dict)  # pair -> comparison grid PNG
    verdicts: list = field(default_factory=list)  # findings.Verdict of its findings, per pair
    measured: dict = field(default_factory=dict)  # run -> its measure JSON (nst_pipeline.scorecard)
    # run -> its JPEG thumbnail, for the runs its verdicts show (nst_pipeline.evidence; None: no image)
    thumbnails: dict = field(default_factory=dict)

    @property
    def pairs(self) -> list[str]:
        return distinct([*self.grids, *(run.pair for run in self.runs)])


def _sort_key(value) -> Markup:
    """data-sort="<exact number>" for a table cell showing a rounded number (the table's script sorts
    by it); nothing for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return Markup("")
    return Markup(' data-sort="{}"').format(repr(value))


def _anchor(name: str) -> str:
    return "exp-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "x")


def _data_uri(data: bytes | None) -> str | None:
    """A data: URI for PNG or JPEG bytes; None for anything else (the page shows a note instead)."""
    if data is None:
        return None
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        mime = "image/png"
    elif data.startswith(b"\xff\xd8\xff"):
        mime = "image/jpeg"
    else:
        return None
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _image(data: bytes | None, alt: str, caption: str, missing: str) -> dict:
    uri = _data_uri(data)
    note = missing if data is None else "This figure is not a PNG or JPEG image."
    return {"uri": uri, "alt": alt, "caption": caption, "note": None if uri else note}


def _grid_caption(experiment: str, pair: str, runs: list[RunOutcome]) -> str:
    unfinished = sum(run.status != "ok" for run in runs)
    if unfinished:  # nst_pipeline.jobs draws these for the report; the pipeline's grid waits for all runs
        return f"Comparison grid, drawn for this report: {unfinished} of {len(runs)} runs did not finish (grey tiles)."
    return f"Comparison grid ({paths.grid_image(experiment, pair)})."


def _pair_context(experiment: ExperimentResults, pair: str) -> dict:
    runs = [run for run in experiment.runs if run.pair == pair]
    n_random = sum(run.is_random for run in runs)
    title = " × ".join(paths.split_pair(pair))
    curves = loss_curves_png(runs, f"{experiment.name} — {title}")
    caption = (
        "Loss vs iteration, one line per run (log scale for the total and for any term spanning more than a "
        "decade); dashed = random weights."
    )
    return {
        "title": title,
        "flag": f"RANDOM WEIGHTS in {n_random} of {len(runs)} runs" if n_random else None,
        "grid": _image(
            experiment.grids.get(pair),
            f"comparison grid: {experiment.name}, {pair}",
            _grid_caption(experiment.name, pair, runs),
            "No comparison grid for this pair.",
        ),
        "curves": _image(curves, f"loss curves: {experiment.name}, {pair}", caption, "") if curves else None,
        **_pair_metrics_context(experiment, pair, runs),
    }


def _pair_metrics_context(experiment: ExperimentResults, pair: str, runs: list[RunOutcome]) -> dict:
    """The yardstick's table and plot for one experiment and pair (empty without measured runs)."""
    measured = {run.run: experiment.measured[run.run] for run in runs if run.run in experiment.measured}
    if not measured:
        return {"metrics_table": None, "metrics_plot": None}
    rows = []
    shown, note = sample_runs(runs)  # a sweep of hundreds of runs: the all-runs table has every one
    for run in shown:
        values = (measured.get(run.run) or {}).get("metrics") or {}
        fit = findings.convergence(run.record) if run.finished else None
        cells = [
            percent(values.get(key)) if pct else format_g(values.get(key)) for key, _, pct in EXPERIMENT_METRIC_COLUMNS
        ]
        converged = "—" if fit is None else percent(fit.fall) + (" (stopped early)" if fit.stopped_early else "")
        rows.append({"label": run.display_label, "cells": cells, "converged": converged, "status": run.status})
    margins = {key: findings.margin(key) for key in RUN_METRICS}
    plot = metrics_png(runs, measured, margins, f"{experiment.name} — {' × '.join(paths.split_pair(pair))}: yardstick")
    caption = (
        "The yardstick against the varied value, one line per grid row; error bars: the fixed table's noise "
        "margin (3 × the chance spread at 128 px × 100 iterations); the findings use the margin measured at "
        "their own scale where the noise repeats ran (scorecard, noise margins)."
    )
    return {
        "metrics_table": {
            "columns": [header for _, header, _ in EXPERIMENT_METRIC_COLUMNS],
            "rows": rows,
            "note": note,
        },
        "metrics_plot": _image(plot, f"metrics: {experiment.name}, {pair}", caption, "") if plot else None,
    }


def _experiment_context(experiment: ExperimentResults) -> dict:
    n_random = sum(run.is_random for run in experiment.runs)
    return {
        "name": experiment.name,
        "anchor": _anchor(experiment.name),
        "flag": f"RANDOM WEIGHTS ({n_random} run{plural(n_random)})" if n_random else None,
        "claim": experiment.claim,
        "varied": [str(v) for v in experiment.varied],
        "sentences": summarize(experiment.runs),
        "verdicts": [{"id": v.id, "verdict": v.verdict, "reason": v.reason} for v in experiment.verdicts],
        "pairs": [_pair_context(experiment, pair) for pair in experiment.pairs],
    }


def _header_context(entries: list[RunOutcome], n_experiments: int) -> dict:
    """Counts, weights, devices: over unique runs (a run shared by several experiments is one run)."""
    runs = list({run.run: run for run in entries}.values())
    statuses = Counter(run.status for run in runs)
    n_random = sum(run.is_random for run in runs)
    weights = Counter(run.weights_label for run in runs if run.weights_label)
    random_labels = {run.weights_label for run in runs if run.is_random}
    records = [run.record for run in runs if run.record]
    return {
        "random_banner": RANDOM_TEXT.format(n=n_random, total=len(runs)) if n_random else None,
        "counts": {
            "experiments": n_experiments,
            "runs": len(runs),
            "entries": len(entries),
            **{status: statuses[status] for status in ("ok", "failed", "missing")},
        },
        "weights_used": [{"label": label, "runs": n, "random": label in random_labels} for label, n in weights.items()],
        "devices": ", ".join(distinct(r["device"] for r in records if r.get("device"))),
        "torch_versions": ", ".join(
            distinct(v for v in ((r.get("versions") or {}).get("torch") for r in records) if v)
        ),
    }


def page_context(
    experiments: list[ExperimentResults], title: str, compared: ComparedWith | None = None, noise: dict | None = None
) -> dict:
    """Everything report.html.j2 shows; `noise`: findings.json's "noise" section (scorecard.noise_section)."""
    entries = [run for experiment in experiments for run in experiment.runs]
    measured = {run: payload for experiment in experiments for run, payload in experiment.measured.items()}
    # each run's thumbnail encoded once, however many findings show it
    thumbnails = {run: _data_uri(data) for experiment in experiments for run, data in experiment.thumbnails.items()}
    pictures = _Pictures(thumbnails, {run.run: run for run in entries})
    return {
        "title": title,
        "compared": _compared_context(compared) if compared else None,
        **_header_context(entries, len(experiments)),
        "scorecard": _scorecard_context(experiments, measured, scorecard.judged_scale(entries, measured), pictures),
        "noise": noise_context(noise),
        "experiments": [_experiment_context(experiment) for experiment in experiments],
        "table_columns": TABLE_COLUMNS,
        "metric_columns": METRIC_TABLE_COLUMNS,
        "measured": measured,
        "table_runs": entries,
        "failures": [run for run in entries if run.status != "ok"],
    }


@dataclass(frozen=True)
class _Pictures:
    """What the scorecard shows of a run beside a verdict: its thumbnail (a data URI), its outcome."""

    uris: dict[str, str | None]
    outcomes: dict[str, RunOutcome]

    def shown(self, item: evidence.Shown) -> dict:
        outcome = self.outcomes.get(item.run)
        status = outcome.status if outcome else "missing"
        uri = self.uris.get(item.run)
        number = format_g(item.value) if item.numbered else None
        lines = [f"{item.label}: {number}" if number else item.label]
        lines += ([item.test.text] if item.test else []) + [f"{t}: {w}" for t, w in zip(item.tags, item.why)]
        lines.append(f"run {item.run} ({status})")
        return {
            "uri": uri,
            "missing": None if uri else (status if status != "ok" else "no image"),
            "random": bool(outcome and outcome.is_random),
            "label": item.label,
            "number": number,
            "test": item.test,
            "tags": item.tags,
            "why": "; ".join(item.why),
            "title": "\n".join(lines),
        }


def _scorecard_row(v, measured: dict, pictures: _Pictures) -> dict:
    plot = deciding_png(v)
    shown, shown_note = evidence.runs_beside(v, measured)
    return {
        "id": v.id,
        "experiment": v.experiment,
        "anchor": _anchor(v.experiment),
        "pair": " × ".join(paths.split_pair(v.pair)),
        "statement": v.statement,
        "source": v.source,
        "caveat": v.caveat,
        "numbers": scorecard.numbers_text(v),
        "shares": scorecard.shares_text(v, measured),
        "verdict": v.verdict,
        "reason": v.reason,
        "check_says": v.check_says,
        "cause": v.cause,
        "settled": v.settled,
        "settled_text": v.settled_text,
        "trajectory": [
            {"budget": b.budget, "iterations": b.iterations, "verdict": b.verdict, "reason": b.reason}
            for b in v.trajectory
        ],
        "plot": _image(plot, f"{v.id}: deciding quantity against the budget", "", "") if plot else None,
        "shown": [pictures.shown(item) for item in shown],
        "shown_note": shown_note,
    }


def _scorecard_context(experiments: list[ExperimentResults], measured: dict, scale: dict, pictures: _Pictures) -> dict:
    """The reproduction scorecard: one row per finding and pair, with the runs each read beside it, the
    scale judged, and what limits the verdicts."""
    rows = [_scorecard_row(v, measured, pictures) for experiment in experiments for v in experiment.verdicts]
    rows.sort(key=lambda row: _natural(row["id"]))  # F1a, F1b, ..., F6c: the study's order
    counts = {state: sum(row["verdict"] == state for row in rows) for state in findings.VERDICTS}
    settled = {
        "settled": sum(row["settled"] is True for row in rows),
        "unsettled": sum(row["settled"] is False for row in rows),
    }
    return {
        "rows": rows,
        "counts": counts,
        "settled": settled,
        "scale": scorecard.scale_text(scale),
        "notes": _scorecard_notes(rows, measured),
    }


def _natural(text: str) -> list:
    """Sort key: numbers inside a string by value (F2 before F10)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _scorecard_notes(rows: list[dict], measured: dict) -> list[str]:
    """What the inconclusive verdicts mean here, in words, from the data."""
    notes = []
    within = sum(row["cause"] == findings.WITHIN_NOISE for row in rows)
    if within:
        notes.append(
            f"{within} inconclusive because the effect the study claims lies within the noise margin: these "
            "numbers do not show it beyond chance (a claim of an effect that is not seen here)."
        )
    random = sum("RANDOM" in row["reason"] for row in rows)
    if random:
        notes.append(f"{random} inconclusive because runs used RANDOM weights (tests only, not the study's networks).")
    unjudged = sum(row["cause"] == findings.NOT_JUDGED and "RANDOM" not in row["reason"] for row in rows)
    if unjudged:
        notes.append(f"{unjudged} inconclusive because runs they need are missing, failed or not measured.")
    unsettled = sum(row["settled"] is False for row in rows)
    if unsettled:
        notes.append(
            f"{unsettled} unsettled: the verdict at half the budget was another one, so a longer run may change "
            "it again (the badges show each budget's verdict)."
        )
    heights = scorecard.judge_heights(measured)
    from nst_pipeline.metrics import JUDGE_HEIGHT

    fixed = any("fixed table" in row["numbers"] for row in rows)
    if heights and min(heights) < JUDGE_HEIGHT and fixed:
        notes.append(
            f"Judged at {min(heights)} px, below the {JUDGE_HEIGHT} px at which the noise scale was measured "
            "(bench/validate_yardstick.py): the margins are a guide, not a calibration, at this size."
        )
    return notes


def noise_context(noise: dict | None) -> dict | None:
    """The scorecard's noise table: per scale judged with repeats, each metric's spread, samples and
    margin at the final budget B, the fixed table's margin beside it (None: no repeats anywhere)."""
    if not noise or not noise.get("scales"):
        return None
    tables = []
    for table in noise["scales"]:
        final = next((b for b in table["budgets"] if b["budget"] == "B"), None)
        rows = [
            {
                "metric": row["metric"],
                "kind": row["kind_words"],
                "spread": format_g(row["spread"]),
                "samples": row["samples"],
                "margin": format_g(row["margin"]),
                "fixed": format_g(row["fixed"]),
            }
            for row in (final or {}).get("rows", [])
        ]
        pairs = ", ".join(" × ".join(paths.split_pair(pair)) for pair in table["pairs"])
        tables.append({"scale": table["scale"], "pairs": pairs, "rows": rows})
    return {"repeats": noise["repeats"], "rule": noise["rule"], "tables": tables}


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("nst_pipeline", "templates"),
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt name fails the report instead of vanishing from it
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(g=format_g, num=format_number, plural=plural, sort_key=_sort_key)
    env.globals["pair_separator"] = paths.PAIR_SEPARATOR
    return env


def render_report(
    experiments: list[ExperimentResults],
    title: str = "nst-pipeline report",
    compared: ComparedWith | None = None,
    noise: dict | None = None,
) -> str:
    """The whole page, as HTML text."""
    return _environment().get_template("report.html.j2").render(page_context(experiments, title, compared, noise))


def build_report(
    experiments: list[ExperimentResults],
    out: Path,
    title: str = "nst-pipeline report",
    compared: ComparedWith | None = None,
    noise: dict | None = None,
) -> None:
    """Write the whole report to `out` (one HTML file, atomically)."""
    atomic_write_bytes(Path(out), render_report(experiments, title, compared, noise).encode("utf-8"))


# ---------------------------------------------------------------- "Compared with" (config compare_with)

# runs beyond noise shown with their images: each costs two inlined images
MAX_COMPARED_RUNS = 12


@dataclass(frozen=True)
class ComparedWith:
    """This run compared with config compare_with (nst_pipeline.compare), as the report shows it."""

    comparison: dict | None  # compare.compare()'s data; None when the comparison could not be made
    images: dict = field(default_factory=dict)  # run -> (A's final image bytes, B's or None)
    error: str | None = None  # why there is no comparison (compare.CompareError's line)
    b_has_images: bool = False  # B is a results folder (a snapshot keeps no run images)


def _compared_context(compared: ComparedWith) -> dict:
    """The "Compared with" section: the summary line, what differs in the set-ups, the findings whose
    verdict or settledness changed, and the runs beyond noise (or failed on one side) with both images."""
    from nst_pipeline import compare

    if compared.comparison is None:
        return {"error": compared.error}
    comparison = compared.comparison
    both = comparison["findings"]
    changed = [
        {
            "name": f["id"],
            "pair": " × ".join(paths.split_pair(f["pair"])),
            "a": compare.verdict_text(f["a"]),
            "b": compare.verdict_text(f["b"]),
            "verdict_changed": f["status"] == compare.CHANGED,
            "deciding": [compare.deciding_text(f[side]["deciding"]) for side in ("a", "b")],
            "expected": f["expected"],
        }
        for f in both
        if f["status"] != compare.SAME
    ]
    failing = [r for r in comparison["runs"] if r["fails"]]
    runs = []
    for r in failing[:MAX_COMPARED_RUNS]:
        image_a, image_b = compared.images.get(r["run"], (None, None))
        b_missing = "B keeps no run images (a snapshot: only their sha256)." if not compared.b_has_images else ""
        runs.append(
            {
                "run": r["run"],
                "status": r["status"],
                "expected": r["expected"],
                "details": [compare.difference_text(d) for d in r.get("beyond") or []],
                "a": _image(image_a, f"A: {r['run']}", "A (this run)", "No image in A."),
                "b": _image(image_b, f"B: {r['run']}", "B", b_missing or "No image in B."),
            }
        )
    return {
        "error": None,
        "summary": comparison["summary"],
        "reproduced": comparison["reproduced"],
        "a": comparison["a"]["described"],
        "b": comparison["b"]["described"],
        "differences": compare.setup_differences(comparison),
        "margins": comparison["margins"]["source"],
        "changed": changed,
        "runs": runs,
        "more_runs": max(0, len(failing) - MAX_COMPARED_RUNS),
        "notes": comparison["notes"],
        "files": f"{paths.COMPARE_MARKDOWN}, {paths.COMPARE_JSON}",
    }
