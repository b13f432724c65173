"""Every path the pipeline reads or writes, in one place: the rules (through common.smk), the jobs and
the report all call these.

Paths are relative to Snakemake's working directory. Each function takes names or Snakemake wildcard
patterns alike: `run_image("{run}")` is the stylize rule's output pattern, `run_image(run.name)` one
run's file. A run name is "<pair>/<run id>", a pair name "<content>__<style>": make and split them
with the helpers below only.
"""

from __future__ import annotations

from nst.milestones import milestone_dir

RESULTS = "results"
PAIR_SEPARATOR = "__"  # image names may not contain it, nor '/' (nst_pipeline.plan refuses them)


def pair_name(content: str, style: str) -> str:
    """The pair of a content and a style image (names from config.yaml): "<content>__<style>"."""
    return f"{content}{PAIR_SEPARATOR}{style}"


def split_pair(pair: str) -> tuple[str, str]:
    """(content, style) of a pair name."""
    content, separator, style = pair.partition(PAIR_SEPARATOR)
    if not separator:
        raise ValueError(f"not a pair name (<content>{PAIR_SEPARATOR}<style>): {pair!r}")
    return content, style


def run_name(pair: str, run_id: str) -> str:
    """A run of a pair: "<pair>/<run id>" (nst.naming.run_id), its path stem below results/runs/ and others."""
    return f"{pair}/{run_id}"


def split_run(run: str) -> tuple[str, str]:
    """(pair, run id) of a run name."""
    pair, separator, run_id = run.partition("/")
    if not separator or "/" in run_id:
        raise ValueError(f"not a run name (<pair>/<run id>): {run!r}")
    return pair, run_id


RUNS = f"{RESULTS}/runs"  # every run's image, sidecar and milestones, in a folder per pair


def run_image(run: str) -> str:
    return f"{RUNS}/{run}.png"


def run_sidecar(run: str) -> str:
    """The engine writes it beside the image: same stem, .json (nst.api.sidecar_path)."""
    return f"{RUNS}/{run}.json"


def run_milestones(run: str) -> str:
    """The folder of a run's milestone images, where the engine writes them (nst.milestones)."""
    return milestone_dir(run_image(run)).as_posix()


def run_log(run: str) -> str:
    return f"{RESULTS}/logs/stylize/{run}.log"


def run_attempts_log(run: str) -> str:
    """What the unfinished attempts of a run printed. Snakemake deletes a job's log before every try (a
    retry, a requeued SLURM job), so the stylize job keeps a copy here until the run succeeds and
    starts its new log with it."""
    return f"{RESULTS}/logs/stylize/{run}.attempts.log"


def run_starts(run: str) -> str:
    """One line per start of the run's stylize job (each try's `---- attempt started` line: time,
    attempt, SLURM job, process), appended and never removed: how often, where and in which SLURM
    job a run was computed, also after its log was replaced by a later try's."""
    return f"{RESULTS}/logs/stylize/{run}.starts"


def run_benchmark(run: str) -> str:
    return f"{RESULTS}/benchmarks/stylize/{run}.tsv"


def failure_record(run: str) -> str:
    """Written by a failed stylize job, removed when the run succeeds; the report lists them."""
    return f"{RESULTS}/failed/{run}.json"


# ---- batches of stylize jobs (config batch_size > 1; nst_pipeline.batches)

BATCHES = f"{RESULTS}/batches"
BATCH_PLAN = f"{BATCHES}/plan.json"  # this invocation's batches, written before any job starts


def staged_image(run: str) -> str:
    """Where a batch computes a run (sidecar, milestones and checkpoint beside it, as in results/runs/)
    until the run's own job moves it into place: a job's outputs are deleted just before it starts."""
    return f"{BATCHES}/staged/{run}.png"


def staged_failure(run: str) -> str:
    """The error that failed a run in its batch, for the run's own job to raise."""
    return f"{BATCHES}/staged/{run}.failed.json"


def batch_lock(batch: str) -> str:
    return f"{BATCHES}/{batch}.lock"


def batch_done(batch: str) -> str:
    """Which job computed the batch, in which invocation (plan id)."""
    return f"{BATCHES}/{batch}.done"


# ---- weights the runs load (rule fetch_weights, nst_pipeline.fetch_weights)

# Not under results/: downloaded inputs (100-550 MB each), not results; removing results/ to start a
# study over keeps them. Laid out as a torch hub cache ($TORCH_HOME/hub/checkpoints/<file>): the
# stylize jobs point torch.hub there, and `TORCH_HOME=weights nst stylize ...` uses the same files.
WEIGHTS = "weights"
TORCH_HUB = f"{WEIGHTS}/hub"


def imagenet_weights(file_name: str) -> str:
    """A torchvision weights file (nst.weights.IMAGENET_URLS) as the pipeline keeps it."""
    return f"{TORCH_HUB}/checkpoints/{file_name}"


def fetch_weights_log(file_name: str) -> str:
    return f"{RESULTS}/logs/fetch_weights/{file_name}.log"


def grid_image(experiment: str, pair: str) -> str:
    return f"{RESULTS}/grids/{experiment}/{pair}.png"


def grid_log(experiment: str, pair: str) -> str:
    return f"{RESULTS}/logs/grids/{experiment}/{pair}.log"


REPORT = f"{RESULTS}/report.html"
REPORT_LOG = f"{RESULTS}/logs/report.log"


# ---- the yardstick: measure jobs, the tables and verdicts the report job writes


def run_metrics(run: str) -> str:
    """One run's yardstick numbers (rule measure, nst_pipeline.measure)."""
    return f"{RESULTS}/metrics/{run}.json"


def measure_log(run: str) -> str:
    return f"{RESULTS}/logs/measure/{run}.log"


def pair_metrics(experiment: str, pair: str) -> str:
    """Distances between every two runs of one experiment and pair (rule measure_pairs)."""
    return f"{RESULTS}/metrics/pairs/{experiment}/{pair}.json"


def pair_metrics_log(experiment: str, pair: str) -> str:
    return f"{RESULTS}/logs/measure_pairs/{experiment}/{pair}.log"


RUNS_TABLE = f"{RESULTS}/runs.tsv"  # one row per run: parameters, status, losses, metrics (README)
FINDINGS = f"{RESULTS}/findings.json"  # a verdict per finding and pair, with its numbers (README)


# ---- the comparison with config compare_with (rule compare, nst_pipeline.compare)

COMPARE = f"{RESULTS}/compare"
COMPARE_MARKDOWN = f"{COMPARE}/comparison.md"
COMPARE_JSON = f"{COMPARE}/comparison.json"
COMPARE_LOG = f"{RESULTS}/logs/compare.log"
