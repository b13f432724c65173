# Shared by the rules: the experiment plan (built once, by nst_pipeline.plan), the code fingerprints,
# and the named input functions the rules use (no lambdas in rules). Paths: nst_pipeline.paths.
import gc
import sys
from pathlib import Path

from snakemake.common import get_function_params, overwrite_function_params

# Planning and Snakemake's DAG make millions of objects that live until the jobs start; Python's cyclic
# garbage collector rescans them all whenever they have grown by a quarter (~20 % of the CPU time of a
# 10,000-run dry run). It collects rarely until then: onstart (stylize.smk) gives the jobs the defaults.
GC_DEFAULTS = gc.get_threshold()
gc.set_threshold(100_000, 50, 100)

sys.path.insert(0, workflow.basedir)  # this workflow's own nst and nst_pipeline packages, installed or not

from nst.errors import NSTInputError
from nst_pipeline import cache, fingerprints, paths
from nst_pipeline.compare import CompareError, compare_job, resolve_compare_with, side_inputs
from nst_pipeline.batches import plan_batches, write_plan
from nst_pipeline.earlier_jobs import earlier_jobs_still_queued, refusal
from nst_pipeline.fetch_weights import fetch_weights_rule, needed_weights, weights_files
from nst_pipeline.grid import write_grid
from nst_pipeline.job_log import job_log
from nst_pipeline.measure import judge_height, measure_pairs_rule, measure_rule
from nst_pipeline.report_job import run_report_job
from nst_pipeline.plan import experiments_by_run, plan_experiments, run_name_regex
from nst_pipeline.repeats import NOISE_EXPERIMENT, pairwise_runs

try:  # image paths: relative to the working directory (nst_pipeline.plan._image_paths)
    PLAN = plan_experiments(config, base_dir=Path(workflow.basedir))
except NSTInputError as error:  # bad config: stop before any job, naming the key or file
    raise WorkflowError(str(error)) from None

RUN_NAMES = sorted(PLAN.runs)
# A stylize job takes one GPU, unless the config pins the CPU (the CPU demo): then it takes none, and
# --cores alone decides how many run at once (each with config["threads"] threads).
STYLIZE_GPUS = 0 if config["device"] == "cpu" else 1
FINGERPRINTS = {"stylize": fingerprints.stylize(), "grid": fingerprints.grid(), "report": fingerprints.report()}
FINGERPRINTS["measure"] = fingerprints.measure()
FINGERPRINTS["compare"] = fingerprints.compare()
# every run is judged at this one height (nst_pipeline.measure.judge_height: config judge_height, else
# metrics.JUDGE_HEIGHT lowered to the smallest run): numbers compare across the whole config
JUDGE_HEIGHT = judge_height(config.get("judge_height"), (run.params["height"] for run in PLAN.runs.values()))
# every parameter some experiment varies: the per-run image labels in `snakemake --report`
VARIED = sorted({name for experiment in PLAN.experiments.values() for name in experiment.varied})
RUN_EXPERIMENTS = experiments_by_run(PLAN)
# Which runs are finished: decided by each run's results (sidecar, image, milestones, and the bytes of
# its images), not by the folder or by mtimes (nst_pipeline.cache; README, "Caching"). Checked once,
# here, by the Snakemake that plans; a cluster job's own Snakemake runs the job it is given.
CHECKED = cache.check_runs(PLAN.runs, FINGERPRINTS["stylize"]) if workflow.is_main_process else cache.Checked()
cache.say_why(CHECKED.stale)


wildcard_constraints:
    run=run_name_regex(RUN_NAMES),
    experiment="|".join(map(re.escape, PLAN.experiments)),
    weights_file="|".join(map(re.escape, weights_files())),


# ---- stylize


def run_of(wildcards):
    try:
        return PLAN.runs[wildcards.run]
    except KeyError:
        raise WorkflowError(f"{paths.run_image(wildcards.run)}: not a run of the configured experiments") from None


# The images are ancient(): their mtime reruns nothing (a clone, a `touch`, a restored file). What a
# run was made from is its images' bytes, which nst_pipeline.cache compares with its sidecar.


def content_image(wildcards):
    return ancient(run_of(wildcards).content)


def style_image(wildcards):
    return ancient(run_of(wildcards).style)


def region_map_image(wildcards):
    """A run's region map, if it has one (nst.regions): an input like its content and style images."""
    path = run_of(wildcards).params["region_map"]
    return [ancient(path)] if path else []


def run_parameters(wildcards):
    return run_of(wildcards).params


def run_weights(wildcards):
    """The fetched weights file a run loads (made by fetch_weights): `weights: imagenet` runs still to
    make only. A finished run needs none: a clone with results/ but no weights/ fetches nothing, and
    does not make its finished runs again because their input was fetched anew."""
    if wildcards.run in CHECKED.finished:
        return []
    return ancient(needed_weights(run_of(wildcards).params))


_FORCED = []


def force_stale_runs(wildcards):
    """Lists no file. The first time Snakemake builds a stylize job it forces the stale runs (a result
    there but not finished: nst_pipeline.cache), as `--forcerun` would, in a dry-run too, touching no
    file. A run whose outputs all exist is otherwise done for Snakemake, and without .snakemake/
    (a clone) it has no record to compare. How: the DAG's `forcefiles`, which Snakemake reads when it
    decides which jobs run, after building them (the set it adds incomplete outputs to for
    --rerun-incomplete); tests/pipeline/test_cache_survives.py holds Snakemake to it."""
    if not _FORCED:
        _FORCED.append(True)
        forced = getattr(workflow.dag, "forcefiles", None)
        if not isinstance(forced, set):
            raise WorkflowError("nst-pipeline: this Snakemake has no DAG.forcefiles: stale runs cannot be made again")
        forced.update(paths.run_image(run) for run in CHECKED.stale)
    return []


def job_attempt(wildcards, attempt):
    """Snakemake's attempt number (1, then 2, 3, ... on retries), for the job script."""
    return attempt


def run_pair(wildcards):
    return paths.split_run(wildcards.run)[0]


def run_labels(wildcards):
    """Labels of a run's image in `snakemake --report`: its experiments and every varied parameter,
    so the runs can be browsed and filtered there."""
    run = run_of(wildcards)
    labels = {"experiments": ", ".join(RUN_EXPERIMENTS[wildcards.run])}
    return labels | {name: str(run.params[name]) for name in VARIED}


# ---- batches (config batch_size > 1; nst_pipeline.batches says how they work)

BATCH_SIZE = config["batch_size"]
_BATCHES = {}


def stylize_batches():
    """This invocation's batches {batch: runs} and each batched run's batch: Snakemake's own list of
    the stylize jobs it will run, cut into batches. Computed once, when first asked: by the onstart
    hook or, on a cluster, for a stylize job's group; Snakemake has decided what to run by then."""
    if not _BATCHES:
        to_do = [job.wildcards.run for job in workflow.dag.needrun_jobs() if job.rule.name == "stylize"]
        batches = plan_batches(PLAN.runs, to_do, BATCH_SIZE) if BATCH_SIZE > 1 else {}
        _BATCHES["batches"] = batches
        _BATCHES["of_run"] = {run: batch for batch, runs in batches.items() for run in runs}
        # The jobs of a batch are not connected in the DAG: each would be a group job of its own. Up
        # to BATCH_SIZE of them are one group job (what --group-components says, here for the batches).
        if batches:
            for batch in batches:
                workflow.parent_groupids[batch] = "stylize_batch"
            components = dict(workflow.group_settings.group_components) | {"stylize_batch": BATCH_SIZE}
            workflow.group_settings.group_components = components
    return _BATCHES


def stylize_gpus(wildcards):
    """A stylize job's GPUs: one, none where the config pins the CPU. On a cluster a batch is one group
    job, asking for the sum of its jobs' resources: there only a batch's first run asks for the GPU
    (all the batch's jobs run in that group job's one job step, which has it)."""
    batch = stylize_group(wildcards) if workflow.non_local_exec else None
    if batch is None or stylize_batches()["batches"][batch][0] == wildcards.run:
        return STYLIZE_GPUS
    return 0


def stylize_group(wildcards):
    """A stylize job's group on a cluster (Snakemake has no groups when it runs jobs itself): its batch,
    so that each batch is one cluster job, on one GPU; a run in no batch has none."""
    if BATCH_SIZE == 1:
        return None
    return stylize_batches()["of_run"].get(wildcards.run)


# ---- grids


def grid_entries(wildcards):
    return PLAN.experiments[wildcards.experiment].runs[wildcards.pair]


def grid_run_images(wildcards):
    return [paths.run_image(entry["run"]) for entry in grid_entries(wildcards)]


def grid_run_sidecars(wildcards):
    return [paths.run_sidecar(entry["run"]) for entry in grid_entries(wildcards)]


def grid_content(wildcards):
    return PLAN.experiments[wildcards.experiment].images[wildcards.pair][0]


def grid_style(wildcards):
    """The pair's style (a blend: all its images), whatever pair its runs belong to."""
    return PLAN.experiments[wildcards.experiment].images[wildcards.pair][1]


def all_grids():
    return [paths.grid_image(name, pair) for name, experiment in PLAN.experiments.items() for pair in experiment.pairs]


# ---- measure (the yardstick)


def pair_runs(wildcards):
    """The distinct runs of one experiment and pair, in grid order; of the noise grid, only the content
    repeats (the distances the margins read: nst_pipeline.repeats.pairwise_runs)."""
    if wildcards.experiment == NOISE_EXPERIMENT:
        return pairwise_runs(PLAN.noise, wildcards.pair)
    return list(dict.fromkeys(entry["run"] for entry in grid_entries(wildcards)))


def pair_run_images(wildcards):
    return [paths.run_image(run) for run in pair_runs(wildcards)]


def pair_run_sidecars(wildcards):
    return [paths.run_sidecar(run) for run in pair_runs(wildcards)]


def pair_run_milestones(wildcards):
    return [paths.run_milestones(run) for run in pair_runs(wildcards)]


def all_run_metrics():
    return [paths.run_metrics(run) for run in RUN_NAMES]


def all_pair_metrics():
    return [
        paths.pair_metrics(name, pair) for name, experiment in PLAN.experiments.items() for pair in experiment.pairs
    ]


# ---- Snakemake reads a rule function's signature (inspect.signature) on each call, several times per
# job (~10 % of a 10,000-run dry run): each function carries it instead, as Snakemake's own wrappers
# of rule functions do (snakemake.ioutils)

for _function in (
    content_image,
    style_image,
    region_map_image,
    run_parameters,
    run_weights,
    job_attempt,
    run_pair,
    run_labels,
    stylize_gpus,
    stylize_group,
    grid_entries,
    grid_run_images,
    grid_run_sidecars,
    grid_content,
    grid_style,
    pair_runs,
    pair_run_images,
    pair_run_sidecars,
    pair_run_milestones,
):
    overwrite_function_params(_function, get_function_params(_function))


# ---- report


def plan_for_report():
    """What the report needs to know of the plan, as plain JSON-able data."""
    return {
        name: {"claim": e.claim, "varied": e.varied, "pairs": e.pairs, "runs": e.runs, "findings": e.findings}
        for name, e in PLAN.experiments.items()
    }


# ---- the comparison with config compare_with (nst_pipeline.compare; rule compare)

try:
    COMPARE_WITH = resolve_compare_with(config["compare_with"], Path(workflow.basedir))
except CompareError as error:  # not a results folder or snapshot: stop before any job
    raise WorkflowError(f"config {error}") from None


def compare_with_inputs():
    """The other side's files (a newer reference reruns the report and the comparison); none unset."""
    return side_inputs(COMPARE_WITH) if COMPARE_WITH else []


def compare_outputs():
    """What the target all asks of the compare rule (its files) where compare_with is set; nothing otherwise."""
    return [paths.COMPARE_MARKDOWN, paths.COMPARE_JSON] if COMPARE_WITH else []


def noise_for_report():
    """The noise repeats (nst_pipeline.repeats): their runs per scale and pair, each finding's scale.
    Their metrics and pairwise distances are the report's inputs already (every run, every grid)."""
    return PLAN.noise
