"""Snakemake script of rule stylize: one run of the experiment matrix (logic: nst.pipeline)."""
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1]))  # noqa: F821 - the nst package of this workflow

from nst.pipeline import run_stylize_job  # noqa: E402

with open(snakemake.log[0], "a") as log, redirect_stdout(log), redirect_stderr(log):  # noqa: F821
    run_stylize_job(
        snakemake.params.run,  # noqa: F821
        snakemake.input.content,  # noqa: F821
        snakemake.input.style,  # noqa: F821
        snakemake.output.image,  # noqa: F821
        device=snakemake.params.device,  # noqa: F821
        threads=snakemake.threads,  # noqa: F821
        checkpoint_every=snakemake.params.checkpoint_every,  # noqa: F821
        failure_record=snakemake.params.failure_record,  # noqa: F821
    )
