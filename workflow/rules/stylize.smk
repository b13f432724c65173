rule stylize:
    input:
        content=content_image,
        style=style_image,
        weights=run_weights,
        region_map=region_map_image,
        stale=force_stale_runs,
    output:
        image=report(
            paths.run_image("{run}"),
            caption="../report/run.rst",
            category="Runs",
            subcategory=run_pair,
            labels=run_labels,
        ),
        sidecar=paths.run_sidecar("{run}"),
        milestones=directory(paths.run_milestones("{run}")),
    log:
        paths.run_log("{run}"),
    benchmark:
        paths.run_benchmark("{run}")
    # a function only where there are batches: Snakemake calls it three times per job
    group:
        stylize_group if BATCH_SIZE > 1 else None
    conda:
        "../../envs/nst.yaml"
    threads: config["threads"]
    resources:
        gpu=stylize_gpus if BATCH_SIZE > 1 else STYLIZE_GPUS,
        attempt=job_attempt,
    params:
        run=run_parameters,
        device=config["device"],
        checkpoint_every=config["checkpoint_every"],
        code=FINGERPRINTS["stylize"],
        failure_record=paths.failure_record("{run}"),
    script:
        "../scripts/stylize.py"


onstart:
    # before any job starts: not while jobs of an earlier, killed Snakemake here still run (their runs
    # would be submitted a second time: nst_pipeline.earlier_jobs)
    still_queued = earlier_jobs_still_queued(Path(workflow.persistence.path) / "incomplete")
    if still_queued:
        raise WorkflowError(refusal(still_queued))
    # this invocation's batches, where the stylize jobs read them (none with batch_size 1: a stale plan
    # is removed)
    write_plan(stylize_batches()["batches"], PLAN.runs)
    gc.set_threshold(*GC_DEFAULTS)  # collected rarely while planning (common.smk)
