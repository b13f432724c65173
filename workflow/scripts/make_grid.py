"""Snakemake script of rule make_grid: one comparison figure per experiment and pair (logic: nst.pipeline)."""
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1]))  # noqa: F821

from nst.pipeline import write_grid  # noqa: E402

with open(snakemake.log[0], "w") as log, redirect_stdout(log), redirect_stderr(log):  # noqa: F821
    write_grid(
        snakemake.wildcards.experiment,  # noqa: F821
        snakemake.wildcards.pair,  # noqa: F821
        snakemake.params.runs,  # noqa: F821
        snakemake.params.content,  # noqa: F821
        snakemake.params.style,  # noqa: F821
        Path(snakemake.output[0]),  # noqa: F821
    )
