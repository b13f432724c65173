"""Errors the engine raises on purpose; the CLI turns them into one clear line and exit code 2."""


class NSTError(Exception):
    """Base class: a message meant for the user, naming the bad value."""


class NSTInputError(NSTError):
    """A run parameter, image or weights source is unusable; raised before any optimisation."""


class NSTWeightsError(NSTInputError):
    """Weights cannot be had (offline, missing file, wrong shapes)."""


class NSTNumericalError(NSTError):
    """The loss became NaN or infinite; the run is stopped and no result is written."""


class NSTInterrupted(NSTError):
    """The run got SIGTERM/SIGINT; its state was checkpointed so a rerun resumes it."""

    def __init__(self, message: str, signal: int):
        super().__init__(message)
        self.signal = signal  # the signal number, for the exit code (128 + signal)
