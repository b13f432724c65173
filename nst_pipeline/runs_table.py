"""results/runs.tsv: one row per run of the plan - every parameter, status, losses, yardstick numbers -
for `pandas.read_csv("results/runs.tsv", sep="\\t")`. The README lists the columns and their units.

Cells: numbers as Python writes them (shortest round trip), lists as JSON (`[1, 0]`), booleans as
True/False, empty where there is no value (a run not finished, a metric not measured).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from nst.images import atomic_write_bytes
from nst.params import RESULT_PARAMETERS
from nst_pipeline import paths
from nst_pipeline.findings import convergence
from nst_pipeline.metric_table import RUN_METRICS
from nst_pipeline.outcome import RunOutcome

RUN_COLUMNS = ("run", "pair", "content", "style", "experiments")
STATUS_COLUMNS = (
    "status",
    "error",
    "weights_label",
    "random_weights",
    "iterations_done",
    "stopped_early",
    "converged",
    "loss_fall_tail",
    "final_content",
    "final_style",
    "final_tv",
    "final_total",
    "wall_time_s",
    "time_per_iteration_s",
    "peak_memory_mb",
    "device",
)
# metrics.measure()'s keys in its order (the checks' metrics are its comparable ones); per-layer keys
# follow where the runs have them
METRIC_COLUMNS = (
    "judge_height",
    "judge_upsampled",
    *RUN_METRICS,
    "init_rms",
    *(f"share_{when}_{term}" for when in ("start", "end") for term in ("content", "style", "tv")),
)


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return str(value)


def _status_cells(run: RunOutcome) -> dict:
    record = run.record or {}
    losses = record.get("final_losses") or {}
    fit = convergence(record) if run.status == "ok" and record else None
    return {
        "status": run.status,
        "error": " ".join((run.error or "").split()) if run.status != "ok" else None,
        "weights_label": run.weights_label,
        "random_weights": run.is_random if record else None,
        "iterations_done": record.get("iterations_done"),
        "stopped_early": record.get("stopped_early"),
        "converged": fit.converged if fit else None,
        "loss_fall_tail": fit.fall if fit else None,
        **{f"final_{kind}": losses.get(kind) for kind in ("content", "style", "tv", "total")},
        **{key: record.get(key) for key in ("wall_time_s", "time_per_iteration_s", "peak_memory_mb", "device")},
    }


def rows(runs: list[RunOutcome], measured: dict[str, dict]) -> tuple[list[str], list[dict]]:
    """(columns, one dict per distinct run) from the outcomes of every experiment entry."""
    experiments: dict[str, list[str]] = {}
    first: dict[str, RunOutcome] = {}
    for run in runs:
        first.setdefault(run.run, run)
        experiments.setdefault(run.run, [])
        if run.experiment not in experiments[run.run]:
            experiments[run.run].append(run.experiment)
    metric_keys = list(METRIC_COLUMNS)
    for payload in measured.values():
        metric_keys += [key for key in payload["metrics"] if key not in metric_keys]
    table = []
    for name, run in first.items():
        # the run's own pair: a blend of one listed in a blend's grid is its single style's run
        pair = paths.split_run(name)[0]
        content, style = paths.split_pair(pair)
        row = {"run": name, "pair": pair, "content": content, "style": style}
        row["experiments"] = ",".join(experiments[name])
        row |= {key: run.parameters.get(key) for key in RESULT_PARAMETERS}
        row |= _status_cells(run)
        row |= (measured.get(name) or {}).get("metrics", {})
        table.append(row)
    return [*RUN_COLUMNS, *RESULT_PARAMETERS, *STATUS_COLUMNS, *metric_keys], table


def write_runs_table(runs: list[RunOutcome], measured: dict[str, dict], out: Path) -> None:
    columns, table = rows(runs, measured)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(columns)
    for row in table:
        writer.writerow([_cell(row.get(column)) for column in columns])
    atomic_write_bytes(Path(out), buffer.getvalue().encode("utf-8"))
