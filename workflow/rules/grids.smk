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
    conda:
        "../../envs/nst.yaml"
    params:
        runs=grid_entries,
        content=grid_content,
        style=grid_style,
        code=FINGERPRINTS["grid"],
    script:
        "../scripts/make_grid.py"
