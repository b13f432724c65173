"""Snakemake script of rule stylize: one run of the experiment matrix (logic: nst_pipeline.jobs)."""

from _helpers import logged_to

from nst_pipeline.jobs import run_stylize_job

# append: a requeued job's log keeps what the pre-empted attempt wrote
with logged_to(snakemake.log[0], mode="a"):
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
    )
