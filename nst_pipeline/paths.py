"""Every path the pipeline reads or writes, in one place: the rules (through common.smk), the jobs and
the report all call these.

Paths are relative to Snakemake's working directory. Each function takes names or Snakemake wildcard
patterns alike: `run_image("{run}")` is the stylize rule's output pattern, `run_image(run.name)` one
run's file. A run name is "<content>__<style>/<run id>" (nst_pipeline.plan).
"""

from __future__ import annotations

RESULTS = "results"


def run_image(run: str) -> str:
    return f"{RESULTS}/runs/{run}.png"


def run_sidecar(run: str) -> str:
    """The engine writes it beside the image: same stem, .json (nst.api.sidecar_path)."""
    return f"{RESULTS}/runs/{run}.json"


def run_log(run: str) -> str:
    return f"{RESULTS}/logs/stylize/{run}.log"


def run_benchmark(run: str) -> str:
    return f"{RESULTS}/benchmarks/stylize/{run}.tsv"


def failure_record(run: str) -> str:
    """Written by a failed stylize job, removed when the run succeeds; the report lists them."""
    return f"{RESULTS}/failed/{run}.json"


def grid_image(experiment: str, pair: str) -> str:
    return f"{RESULTS}/grids/{experiment}/{pair}.png"


def grid_log(experiment: str, pair: str) -> str:
    return f"{RESULTS}/logs/grids/{experiment}/{pair}.log"


REPORT = f"{RESULTS}/report.html"
REPORT_LOG = f"{RESULTS}/logs/report.log"
