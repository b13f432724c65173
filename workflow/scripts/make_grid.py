"""Snakemake script of rule make_grid: one comparison figure per experiment and pair (logic: nst_pipeline.grid)."""

from pathlib import Path

from _helpers import logged_to

from nst_pipeline.grid import write_grid

with logged_to(snakemake.log[0]):
    write_grid(
        snakemake.wildcards.experiment,
        snakemake.wildcards.pair,
        snakemake.params.runs,
        snakemake.params.content,
        snakemake.params.style,
        Path(snakemake.output[0]),
    )
