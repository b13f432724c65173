"""The log of a job that Snakemake runs in its own process (the `run:` rules: measure, measure_pairs,
make_report).

Those jobs run side by side in threads of one process (profiles/default sets force-use-threads; cluster
jobs always do), so they cannot redirect sys.stdout as the `script:` jobs do (workflow/scripts/
_helpers.py): it is the whole process's. A job gets a `say` function writing to its own log file, and
its traceback goes there too when it fails (Snakemake then reports the error as for any job)."""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def job_log(path: str | Path) -> Iterator[Callable[..., None]]:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as log:
        try:
            yield functools.partial(print, file=log, flush=True)
        except BaseException:
            traceback.print_exc(file=log)
            raise
