# The fixed yardstick: CPU jobs, no GPU resource; small enough to run anywhere, on the
# cluster as ordinary CPU jobs (not localrules: a full config has one per run).
# `run:`, not `script:`: Snakemake runs these in its own process, in threads (profiles/default sets
# force-use-threads; cluster jobs always do), so torch is imported and the judges are loaded once, not
# once per run (a `script:` job paid ~3 s of start-up for ~4 s of measuring). Hence no `conda:`.


rule measure:
    input:
        image=paths.run_image("{run}"),
        sidecar=paths.run_sidecar("{run}"),
        milestones=paths.run_milestones("{run}"),
        content=content_image,
        style=style_image,
    output:
        paths.run_metrics("{run}"),
    log:
        paths.measure_log("{run}"),
    # one thread: float sums in one order, so a rerun gives the same numbers
    threads: 1
    params:
        height=JUDGE_HEIGHT,
        code=FINGERPRINTS["measure"],
    run:
        measure_rule(wildcards.run, input, output[0], log[0], height=params.height, threads=threads)


rule measure_pairs:
    input:
        images=pair_run_images,
        sidecars=pair_run_sidecars,
        milestones=pair_run_milestones,
    output:
        paths.pair_metrics("{experiment}", "{pair}"),
    log:
        paths.pair_metrics_log("{experiment}", "{pair}"),
    threads: 1
    params:
        runs=pair_runs,
        height=JUDGE_HEIGHT,
        code=FINGERPRINTS["measure"],
    run:
        measure_pairs_rule(params.runs, input, output[0], log[0], height=params.height, threads=threads)
