# nst-pipeline: experiment matrix -> one stylize job per run -> a grid per experiment and pair -> report.
#   snakemake --cores 1 --resources gpu=1                              (config.yaml, reference scale)
#   snakemake --cores 2 --resources gpu=1 --configfile config/demo.yaml  (CPU demo)
#   snakemake --profile profiles/slurm                                 (SLURM cluster)
import os

from snakemake.utils import min_version, validate

min_version("9.0")


# beside this Snakefile, so `--directory elsewhere` keeps the project's config (and data paths)
configfile: os.path.join(workflow.basedir, "config.yaml")


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/stylize.smk"
include: "workflow/rules/weights.smk"
include: "workflow/rules/measure.smk"
include: "workflow/rules/grids.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/compare.smk"


# seconds of CPU each: run them in the main Snakemake process, never as cluster jobs
localrules:
    all,
    make_grid,
    make_report,
    compare,
    # downloads: on the submitting host, which has the internet (compute nodes often do not)
    fetch_weights,


rule all:
    default_target: True
    input:
        # every run and grid, not only the report: after a failed run the onerror hook writes a
        # report listing the failure, and the missing run must still count as missing next time
        paths.REPORT,
        all_grids(),
        [paths.run_image(run) for run in RUN_NAMES],
        # config compare_with: the comparison with it (results/compare/)
        compare_outputs(),
