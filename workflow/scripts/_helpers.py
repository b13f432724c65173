"""Set-up shared by the workflow's scripts (Snakemake puts this folder on sys.path).

The repository root goes on sys.path so the scripts find this workflow's own `nst` and
`nst_pipeline` packages, installed or not (`--use-conda` environments do not install them).
"""

import sys
import traceback
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@contextmanager
def logged_to(log_path: str, mode: str = "w"):
    """Everything the job prints (and tracebacks) goes to its Snakemake log file."""
    with open(log_path, mode) as log, redirect_stdout(log), redirect_stderr(log):
        try:
            yield
        except BaseException:
            traceback.print_exc()  # here: the interpreter prints it only after the redirection has ended
            raise
