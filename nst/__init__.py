"""nst: Gatys et al. (2016) neural style transfer in PyTorch, with provenance for every result."""

from nst.api import RunResult, check_run, parameter_defaults, stylize, stylize_batch
from nst.errors import NSTError, NSTInputError, NSTInterrupted, NSTNumericalError, NSTWeightsError

__version__ = "0.1.0"
__all__ = [
    "stylize",
    "stylize_batch",
    "check_run",
    "parameter_defaults",
    "RunResult",
    "NSTError",
    "NSTInputError",
    "NSTWeightsError",
    "NSTNumericalError",
    "NSTInterrupted",
]
