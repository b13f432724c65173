# Config compare_with set: this run's results compared with another results folder or a snapshot
# (nst_pipeline.compare), after the report; rule all asks for it only then. `run:` (seconds of reading
# JSON and hashing images, in Snakemake's own process). "NOT reproduced" is a result written to the
# files (and the log), not a failed job; a bad compare_with stops Snakemake at parse time (common.smk).
rule compare:
    input:
        findings=paths.FINDINGS,
        table=paths.RUNS_TABLE,
        other=compare_with_inputs(),
    output:
        markdown=paths.COMPARE_MARKDOWN,
        json=paths.COMPARE_JSON,
    log:
        paths.COMPARE_LOG,
    params:
        compare_with=str(COMPARE_WITH) if COMPARE_WITH else None,
        code=FINGERPRINTS["compare"],
    run:
        with job_log(log[0]) as say:
            compare_job(params.compare_with, say)
