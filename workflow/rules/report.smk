# `run:` (in Snakemake's own process, as the onerror hook below): the report job is the last of a
# pipeline, alone on the critical path, and starts without a new Python importing torch.
rule make_report:
    input:
        grids=all_grids(),
        sidecars=[paths.run_sidecar(run) for run in RUN_NAMES],
        metrics=all_run_metrics(),
        pairs=all_pair_metrics(),
        compared=compare_with_inputs(),
    output:
        report(paths.REPORT, caption="../report/report.rst", category="Report"),
        table=report(paths.RUNS_TABLE, caption="../report/runs_table.rst", category="Report"),
        findings=report(paths.FINDINGS, caption="../report/findings.rst", category="Report"),
    log:
        paths.REPORT_LOG,
    params:
        plan=plan_for_report(),
        noise=noise_for_report(),
        title=config["report_title"],
        compare_with=str(COMPARE_WITH) if COMPARE_WITH else None,
        code=FINGERPRINTS["report"],
    run:
        with job_log(log[0]):
            run_report_job(params.plan, params.title, params.compare_with, params.noise)


onerror:
    # Some runs failed (the others went on: keep-going). Write the report anyway, listing the failed
    # runs with their errors; the next invocation redoes only what is missing.
    try:
        run_report_job(plan_for_report(), config["report_title"], COMPARE_WITH, noise_for_report())
        print(f"nst-pipeline: some runs failed; {paths.REPORT} lists them with their errors", file=sys.stderr)
    except Exception as error:  # the report is a courtesy here; the failure is already reported
        print(f"nst-pipeline: could not write the partial report: {error}", file=sys.stderr)
