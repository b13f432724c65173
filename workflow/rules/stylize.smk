rule stylize:
    input:
        content=lambda wildcards: PLAN.runs[wildcards.run].content,
        style=lambda wildcards: PLAN.runs[wildcards.run].style,
    output:
        image="results/runs/{run}.png",
        sidecar="results/runs/{run}.json",
    log:
        "results/logs/stylize/{run}.log",
    benchmark:
        "results/benchmarks/stylize/{run}.tsv"
    conda:
        "../../envs/nst.yaml"
    threads: config["threads"]
    resources:
        gpu=1,
    params:
        run=stylize_params,
        device=config["device"],
        checkpoint_every=config["checkpoint_every"],
        code=CODE,
        failure_record=lambda wildcards: f"results/failed/{wildcards.run}.json",
    script:
        "../scripts/stylize.py"
