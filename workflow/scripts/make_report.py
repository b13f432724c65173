"""Snakemake script of rule make_report: the self-contained HTML report (logic: nst_pipeline.report)."""

from pathlib import Path

from _helpers import logged_to

from nst_pipeline.report import write_report

with logged_to(snakemake.log[0]):
    write_report(
        snakemake.params.plan,
        Path(snakemake.output[0]),
        snakemake.params.title,
        Path(snakemake.output.table),
        Path(snakemake.output.findings),
    )
