"""Set-up shared by the workflow's scripts (Snakemake puts this folder on sys.path).

The repository root goes on sys.path so the scripts find this workflow's own `nst` and
`nst_pipeline` packages, installed or not (`--use-conda` environments do not install them).
"""

import io
import os
import socket
import sys
import time
import traceback
from contextlib import ExitStack, contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# first, not only somewhere: a script job's sys.path ends with Snakemake's (which has this folder:
# common.smk), after $PYTHONPATH's entries, which may name another checkout whose engine would run
if sys.path[:1] != [str(REPO)]:
    sys.path.insert(0, str(REPO))


@contextmanager
def logged_to(
    log_path: str, earlier_attempts: str | None = None, attempt: int | None = None, starts: str | None = None
):
    """Everything the job prints (and tracebacks) goes to its Snakemake log file.

    With `earlier_attempts` (a file of its own, which Snakemake does not delete before a try): the log
    starts with that file's text, and what this try prints goes to both, as it is printed (a try
    SIGKILLed by SLURM is kept too). The file is removed once a try succeeds: the log has it all.
    Each try starts with a line naming Snakemake's `attempt`, the SLURM job and the process
    (attempt_header); `starts` (a file of its own) gets that line appended and is never removed: one
    line per start of the job, also of a try whose log a later try replaced."""
    header = attempt_header(attempt)
    if starts is not None:
        Path(starts).parent.mkdir(parents=True, exist_ok=True)
        with open(starts, "a", encoding="utf-8") as record:
            record.write(header.strip() + "\n")
    with ExitStack() as files:
        streams = [files.enter_context(open(log_path, "w", encoding="utf-8"))]
        if earlier_attempts is not None:
            streams.append(files.enter_context(_continued(Path(earlier_attempts), streams[0], header)))
        out = _Tee(streams)
        with redirect_stdout(out), redirect_stderr(out):
            try:
                yield
            except BaseException:
                traceback.print_exc()  # here: the interpreter prints it only after the redirection ends
                raise
    if earlier_attempts is not None:
        Path(earlier_attempts).unlink(missing_ok=True)  # reached only when the try succeeded


def attempt_header(attempt: int | None) -> str:
    """`---- attempt started <time> (attempt 2, SLURM job 1234_3, pid 567 on node1) ----`: the SLURM job
    as sacct names it (`<array>_<task>` in an array), none outside SLURM."""
    where = [f"attempt {attempt}"] if attempt is not None else []
    job, array, task = (os.environ.get(f"SLURM_{name}") for name in ("JOB_ID", "ARRAY_JOB_ID", "ARRAY_TASK_ID"))
    if job:
        where.append(f"SLURM job {array}_{task}" if array and task else f"SLURM job {job}")
    where.append(f"pid {os.getpid()} on {socket.gethostname()}")
    return f"\n---- attempt started {time.strftime('%Y-%m-%d %H:%M:%S')} ({', '.join(where)}) ----\n"


def _continued(history: Path, log, header: str):
    """`history` opened for appending, after copying it into the new `log`; both get `header`."""
    if history.is_file():
        log.write(history.read_text(encoding="utf-8", errors="replace"))
    history.parent.mkdir(parents=True, exist_ok=True)
    stream = history.open("a", encoding="utf-8")
    log.write(header)
    stream.write(header)
    return stream


class _Tee(io.TextIOBase):
    """A text stream writing to several files, each flushed at once (tqdm redraws with \\r)."""

    encoding = "utf-8"  # what the files are opened with; tqdm draws ASCII bars for a stream without one

    def __init__(self, streams: list):
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
            stream.flush()
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()
