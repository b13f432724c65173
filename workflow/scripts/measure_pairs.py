"""Snakemake script of rule measure_pairs: distances between the runs of one experiment and pair
(logic: nst_pipeline.measure)."""

from _helpers import logged_to

from nst_pipeline.measure import measure_pairs_job

with logged_to(snakemake.log[0]):
    measure_pairs_job(
        list(snakemake.params.runs),
        list(snakemake.input.images),
        list(snakemake.input.sidecars),
        snakemake.output[0],
        height=snakemake.params.height,
        threads=snakemake.threads,
    )
