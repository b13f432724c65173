rule make_report:
    input:
        grids=all_grids(),
        sidecars=[run_sidecar(run) for run in RUN_NAMES],
    output:
        report("results/report.html", caption="../report/report.rst", category="Report"),
    log:
        "results/logs/report.log",
    conda:
        "../../envs/nst.yaml"
    params:
        plan=plan_for_report(),
        title=config["report_title"],
    script:
        "../scripts/make_report.py"


onerror:
    # Some runs failed (the others went on: keep-going). Write the report anyway, listing the failed
    # runs with their errors; the next invocation redoes only what is missing.
    from nst_pipeline.jobs import write_report

    try:
        write_report(
            json.loads(plan_for_report()), Path("results"), Path("results/report.html"), config["report_title"]
        )
        print("nst-pipeline: some runs failed; results/report.html lists them with their errors", file=sys.stderr)
    except Exception as error:  # the report is a courtesy here; the failure is already reported
        print(f"nst-pipeline: could not write the partial report: {error}", file=sys.stderr)
