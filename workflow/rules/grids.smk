rule make_grid:
    input:
        images=lambda wildcards: [run_image(run) for run in experiment_runs(wildcards.experiment, wildcards.pair)],
        sidecars=lambda wildcards: [run_sidecar(run) for run in experiment_runs(wildcards.experiment, wildcards.pair)],
    output:
        report(
            "results/grids/{experiment}/{pair}.png",
            caption="../report/grid.rst",
            category="Grids",
            subcategory="{experiment}",
        ),
    log:
        "results/logs/grids/{experiment}/{pair}.log",
    conda:
        "../../envs/nst.yaml"
    params:
        runs=lambda wildcards: PLAN.experiments[wildcards.experiment].runs[wildcards.pair],
        content=lambda wildcards: PLAN.runs[experiment_runs(wildcards.experiment, wildcards.pair)[0]].content,
        style=lambda wildcards: PLAN.runs[experiment_runs(wildcards.experiment, wildcards.pair)[0]].style,
    script:
        "../scripts/make_grid.py"
