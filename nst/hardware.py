"""What the machine computes natively, checked before a run loads anything (and by the pipeline's
planner before any job starts): bf16 where the device has no bf16 units is emulated, far slower.

The CPU's flags come from one function, `cpu_flags()`: /proc/cpuinfo, or $NST_CPU_FLAGS when set
(space-separated), so one machine can check the behaviour on the other kind of CPU (tests, planning
for cluster nodes of another kind).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from nst.errors import NSTInputError

CPU_FLAGS_ENV = "NST_CPU_FLAGS"
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# Measured on a 2-core AMD EPYC with AVX2 only (no avx512*, no amx), torch 2.14.1, one thread, VGG19
# forward + backward, medians of interleaved evaluations in one process: bf16 17.5x the fp32 CPU time
# at 64 px, 22x at 128 px (BENCHMARKS.md, "bf16 without bf16 units").
BF16_EMULATED_SLOWDOWN = "17-22x"


def cpu_flags() -> set[str]:
    """The CPU's feature flags: $NST_CPU_FLAGS if set, else /proc/cpuinfo's (none known elsewhere)."""
    override = os.environ.get(CPU_FLAGS_ENV)
    if override is not None:
        return set(override.split())
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_has_bf16() -> bool:
    """Whether the CPU computes bf16 natively (unknown counts as no)."""
    return any(flag in cpu_flags() for flag in BF16_CPU_FLAGS)


def bf16_missing(device: str) -> str | None:
    """Why `device` ('auto', 'cpu', 'cuda', 'cuda:N') would run bf16 emulated, or None: it has bf16
    units, or this machine cannot tell (CUDA asked for where none is: the jobs run elsewhere)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    kind = torch.device(device).type
    if kind == "cpu":
        if cpu_has_bf16():
            return None
        return f"this CPU has no bf16 units (neither {' nor '.join(BF16_CPU_FLAGS)} in its flags)"
    if kind == "cuda" and torch.cuda.is_available():
        with torch.cuda.device(torch.device(device)):
            if not torch.cuda.is_bf16_supported(including_emulation=False):
                return f"GPU {torch.cuda.get_device_name()} has no bf16 units (torch.cuda.is_bf16_supported)"
    return None


def check_bf16(precision: str, device: str, allow_slow: bool) -> None:
    """Refuse precision bf16 on a device without bf16 units unless `allow_slow`: emulated bf16 costs
    an order of magnitude, and a sweep of such runs would learn it only after hours."""
    if precision != "bf16" or allow_slow:
        return
    missing = bf16_missing(device)
    if missing is not None:
        raise NSTInputError(
            f"precision bf16 on device {device}: {missing}, so bf16 is emulated (measured {BF16_EMULATED_SLOWDOWN} "
            "slower than fp32 on an AVX2-only CPU). Use precision fp32 (or tf32), or insist with allow_slow_bf16 "
            "(nst stylize --allow-slow-bf16; pipeline config allow_slow_bf16: true)"
        )
