# The fixed yardstick: CPU jobs, no GPU resource; small enough to run anywhere, on the
# cluster as ordinary CPU jobs (not localrules: a full config has one per run).


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
    benchmark:
        paths.measure_benchmark("{run}")
    conda:
        "../../envs/nst.yaml"
    # one thread: float sums in one order, so a rerun gives the same numbers
    threads: 1
    params:
        height=JUDGE_HEIGHT,
        code=FINGERPRINTS["measure"],
    script:
        "../scripts/measure.py"


rule measure_pairs:
    input:
        images=pair_run_images,
        sidecars=pair_run_sidecars,
        milestones=pair_run_milestones,
    output:
        paths.pair_metrics("{experiment}", "{pair}"),
    log:
        paths.pair_metrics_log("{experiment}", "{pair}"),
    conda:
        "../../envs/nst.yaml"
    threads: 1
    params:
        runs=pair_runs,
        height=JUDGE_HEIGHT,
        code=FINGERPRINTS["measure"],
    script:
        "../scripts/measure_pairs.py"
