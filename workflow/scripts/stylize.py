"""Snakemake script of rule stylize: one run of the experiment matrix (logic: nst_pipeline.jobs)."""

from _helpers import logged_to

from nst_pipeline import paths
from nst_pipeline.fetch_weights import needed_weights
from nst_pipeline.jobs import run_stylize_job

# the log starts with what earlier (pre-empted, timed-out, failed) attempts printed, each under a line
# naming its attempt and SLURM job; that line also goes to the run's record of starts. (Not rule
# params: a new param would rerun every finished run.)
run = snakemake.wildcards.run
with logged_to(
    snakemake.log[0],
    earlier_attempts=paths.run_attempts_log(run),
    attempt=snakemake.resources.attempt,
    starts=paths.run_starts(run),
):
    run_stylize_job(
        snakemake.params.run,
        snakemake.input.content,
        snakemake.input.style,
        snakemake.output.image,
        device=snakemake.params.device,
        threads=snakemake.threads,
        checkpoint_every=snakemake.params.checkpoint_every,
        failure_record=snakemake.params.failure_record,
        code=snakemake.params.code,
        attempt=snakemake.resources.attempt,
        allow_slow_bf16=snakemake.config["allow_slow_bf16"],
        # the fetched weights (rule fetch_weights) are in the pipeline's torch hub cache (an input only of
        # runs to make: a finished run forced again, --forcerun, finds them there too)
        torch_hub=paths.TORCH_HUB if needed_weights(snakemake.params.run) else None,
        # with batch_size > 1 the run may be in one of this invocation's batches (nst_pipeline.batches)
        run=run,
    )
