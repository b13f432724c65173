"""Snakemake script of rule measure: the yardstick on one finished run (logic: nst_pipeline.measure)."""

from _helpers import logged_to

from nst_pipeline.measure import measure_run_job

with logged_to(snakemake.log[0]):
    style = snakemake.input.style  # a str, or a list of paths for a blend
    measure_run_job(
        snakemake.wildcards.run,
        snakemake.input.image,
        snakemake.input.sidecar,
        snakemake.input.content,
        style if isinstance(style, str) else list(style),
        snakemake.output[0],
        height=snakemake.params.height,
        threads=snakemake.threads,
    )
