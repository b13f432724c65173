"""bf16 never silently slower: precision bf16 on a device without bf16 units is refused before
anything is loaded, unless the user insists. Both kinds of CPU are played through the CPU-flags
source (nst.hardware.cpu_flags: $NST_CPU_FLAGS over /proc/cpuinfo), a GPU without bf16 by
monkeypatching torch.cuda, so every case runs on any machine."""

from __future__ import annotations

import contextlib

import pytest
import torch

import nst
import nst.api
from nst import hardware
from nst.errors import NSTInputError

CONTENT = "data/content/chelsea.jpg"
STYLE = "data/style/starry_night.jpg"
NO_BF16 = "fpu sse2 avx fma avx2"  # the AVX2-only EPYC's kind
WITH_BF16 = NO_BF16 + " avx512f avx512_bf16"


@pytest.fixture
def loaded(monkeypatch) -> list:
    """The runs that got past the checks: nst.api._run (which loads network and images) replaced."""
    calls = []
    monkeypatch.setattr(nst.api, "_run", lambda params, *args: calls.append(params))
    return calls


def stylize(**kwargs):
    params = {"weights": "bundled", "height": 32, "iterations": 1, "device": "cpu", "progress": False}
    return nst.stylize(CONTENT, STYLE, "/nonexistent/out.png", **params | kwargs)


def test_cpu_flags_come_from_proc_cpuinfo_or_the_override(monkeypatch):
    monkeypatch.delenv(hardware.CPU_FLAGS_ENV, raising=False)
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    line = next(line for line in text.splitlines() if line.startswith("flags"))
    assert hardware.cpu_flags() == set(line.split(":", 1)[1].split())
    monkeypatch.setenv(hardware.CPU_FLAGS_ENV, WITH_BF16)
    assert hardware.cpu_has_bf16() and "avx512_bf16" in hardware.cpu_flags()
    monkeypatch.setenv(hardware.CPU_FLAGS_ENV, NO_BF16 + " amx_bf16")
    assert hardware.cpu_has_bf16()
    monkeypatch.setenv(hardware.CPU_FLAGS_ENV, NO_BF16)
    assert not hardware.cpu_has_bf16()
    assert nst.api.cpu_has_bf16 is hardware.cpu_has_bf16  # one place


def test_bf16_on_a_cpu_without_bf16_units_is_refused_before_loading(monkeypatch, loaded):
    monkeypatch.setenv(hardware.CPU_FLAGS_ENV, NO_BF16)
    with pytest.raises(NSTInputError) as error:
        stylize(precision="bf16")
    message = str(error.value)
    assert "no bf16 units" in message and hardware.BF16_EMULATED_SLOWDOWN in message
    assert "allow_slow_bf16" in message and "--allow-slow-bf16" in message
    assert loaded == []
    stylize(precision="fp32")  # fp32 is never refused
    stylize(precision="bf16", allow_slow_bf16=True)  # the user insists
    assert [params["precision"] for params in loaded] == ["fp32", "bf16"]


def test_bf16_on_a_cpu_with_bf16_units_runs(monkeypatch, loaded):
    monkeypatch.setenv(hardware.CPU_FLAGS_ENV, WITH_BF16)
    stylize(precision="bf16")
    assert [params["precision"] for params in loaded] == ["bf16"]


def test_bf16_on_a_gpu_without_bf16_is_refused(monkeypatch):
    """On CUDA the device's own answer counts, not emulation (is_bf16_supported(including_emulation=False))."""
    monkeypatch.setenv(hardware.CPU_FLAGS_ENV, WITH_BF16)  # the host CPU's units do not matter
    asked = []

    def supported(including_emulation=True):
        asked.append(including_emulation)
        return gpu_has_bf16

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", supported)
    monkeypatch.setattr(torch.cuda, "device", lambda device: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *args: "Tesla T4")
    gpu_has_bf16 = False
    for device in ("cuda", "auto", "cuda:1"):
        with pytest.raises(NSTInputError, match=f"device {device}: GPU Tesla T4 has no bf16 units"):
            hardware.check_bf16("bf16", device, allow_slow=False)
    hardware.check_bf16("bf16", "cuda", allow_slow=True)
    gpu_has_bf16 = True
    hardware.check_bf16("bf16", "cuda", allow_slow=False)
    assert set(asked) == {False}


def test_cuda_asked_for_where_there_is_none_is_left_to_the_job(monkeypatch):
    """Planning on a machine without CUDA for jobs that run on GPU nodes: nothing to judge here."""
    monkeypatch.setenv(hardware.CPU_FLAGS_ENV, NO_BF16)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert hardware.bf16_missing("cuda") is None
    assert "CPU has no bf16 units" in hardware.bf16_missing("auto")  # auto runs on this CPU
