"""Snakemake script of rule make_report: the self-contained HTML report (logic: nst.pipeline)."""
import json
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1]))  # noqa: F821

from nst.pipeline import write_report  # noqa: E402

with open(snakemake.log[0], "w") as log, redirect_stdout(log), redirect_stderr(log):  # noqa: F821
    write_report(
        json.loads(snakemake.params.plan),  # noqa: F821
        Path("results"),
        Path(snakemake.output[0]),  # noqa: F821
        snakemake.params.title,  # noqa: F821
    )
