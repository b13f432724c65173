"""Snakemake script of rule make_report: the report job (logic: nst_pipeline.report_job), writing the
rule's outputs, which are paths.REPORT, RUNS_TABLE and FINDINGS."""

from _helpers import logged_to

from nst_pipeline.report_job import run_report_job

with logged_to(snakemake.log[0]):
    run_report_job(snakemake.params.plan, snakemake.params.title)
