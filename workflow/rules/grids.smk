# `run:`, in Snakemake's own process as the measure rules (workflow/rules/measure.smk); matplotlib
# keeps its fonts per thread, and each grid is a figure of its own (no pyplot state)
rule make_grid:
    input:
        images=grid_run_images,
        sidecars=grid_run_sidecars,
    output:
        report(
            paths.grid_image("{experiment}", "{pair}"),
            caption="../report/grid.rst",
            category="Grids",
            subcategory="{experiment}",
        ),
    log:
        paths.grid_log("{experiment}", "{pair}"),
    params:
        runs=grid_entries,
        content=grid_content,
        style=grid_style,
        code=FINGERPRINTS["grid"],
    run:
        with job_log(log[0]):
            write_grid(wildcards.experiment, wildcards.pair, params.runs, params.content, params.style, output[0])
