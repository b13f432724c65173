"""Resumable runs: a run's fingerprint, atomic checkpoint files, and the stop signals SLURM sends.

A checkpoint holds the image, the optimiser's state, the loss history and the milestone images
(nst.milestones) reached after some iteration; it is resumed only by the very same run (same
parameters, input images, weights, engine code and torch versions), so on CPU a resumed run ends with
the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import io
import json
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import torch

from nst.errors import NSTInterrupted
from nst.images import atomic_write_bytes
from nst.provenance import engine_fingerprint
from nst.weights import file_sha256

# 3: the milestone images reached so far are part of the state
FORMAT = 3


def run_fingerprint(result_params: dict, content: Path, styles: list[Path], weights_sha256: str) -> str:
    """Identifies a run's result: everything that determines it, hashed."""
    key = dict(result_params)
    key |= {"content": file_sha256(content), "styles": [file_sha256(style) for style in styles]}
    key |= {"weights_sha256": weights_sha256}
    if result_params.get("region_map"):  # the map's pixels, not only its path
        key |= {"region_map_sha256": file_sha256(Path(result_params["region_map"]))}
    key |= {"engine": engine_fingerprint()}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


class Checkpoint:
    """The checkpoint file of one run (`<output stem>.ckpt`)."""

    def __init__(self, path: Path, fingerprint: str):
        self.path, self.fingerprint = Path(path), fingerprint

    def load(self) -> dict | None:
        """The saved state if it belongs to this run, else None (saying why)."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:  # a torn file cannot happen (atomic writes), a foreign one can
            print(f"nst: ignoring unreadable checkpoint {self.path}: {error}", flush=True)
            return None
        if state.get("format") != FORMAT or state.get("fingerprint") != self.fingerprint:
            print(
                f"nst: ignoring checkpoint {self.path}: it belongs to other inputs, parameters, code or torch",
                flush=True,
            )
            return None
        print(f"nst: resuming from {self.path} at iteration {state['iteration']}", flush=True)
        return state

    def save(self, state: dict) -> None:
        buffer = io.BytesIO()
        torch.save({"format": FORMAT, "fingerprint": self.fingerprint} | state, buffer)
        atomic_write_bytes(self.path, buffer.getvalue())

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class StopSignals:
    """Turns SIGTERM (what SLURM sends on time-out/pre-emption) and SIGINT into a flag, checked
    between iterations so the state can be checkpointed."""

    def __init__(self):
        self.received: int | None = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.received = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class Checkpointer:
    """Iteration callback: saves every `every` iterations (0: never) and, when a stop signal came,
    saves and raises NSTInterrupted. `state_at(iteration)` gives what to save."""

    def __init__(
        self, checkpoint: Checkpoint, every: int, total: int, stop: StopSignals, state_at: Callable[[int], dict]
    ):
        self.checkpoint, self.every, self.total, self.stop, self.state_at = checkpoint, every, total, stop, state_at

    def __call__(self, report) -> None:
        iteration = report.iteration
        if self.stop.received is not None:
            self.checkpoint.save(self.state_at(iteration))
            raise NSTInterrupted(
                f"stopped by signal {signal.Signals(self.stop.received).name} after iteration {iteration}; "
                f"state saved to {self.checkpoint.path}, run again to resume",
                self.stop.received,
            )
        if self.every and iteration % self.every == 0 and iteration < self.total:
            self.checkpoint.save(self.state_at(iteration))
