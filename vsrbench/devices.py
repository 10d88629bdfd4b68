"""The one device module: resolving ``--device`` to a ``torch.device``, synchronising it, and naming
it (the GPU model on CUDA, the CPU model from ``/proc/cpuinfo`` on CPU). torch is imported lazily."""

from __future__ import annotations

import platform

from vsrbench.errors import VsrbenchError

__all__ = ["resolve_device", "cpu_name", "device_name", "synchronize"]


def resolve_device(device=None, *, pin_index: bool = False):
    """``None`` / ``"auto"``: CUDA when torch sees it, else CPU. A CUDA device torch cannot see is a
    :class:`VsrbenchError`. ``pin_index``: a bare ``cuda`` becomes ``cuda:<current device>``."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise VsrbenchError(f"--device {device} was asked for but torch sees no CUDA device; use --device cpu")
        if pin_index and dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
    return dev


def cpu_name() -> str:
    """The CPU model (``model name`` in ``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def device_name(device, *, threads: bool = True) -> str:
    """A readable device name: the GPU model on CUDA; the CPU model on CPU (with torch's thread
    count when ``threads``)."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    if dev.type == "cpu":
        return f"{cpu_name()} ({torch.get_num_threads()} threads)" if threads else cpu_name()
    return str(dev)


def synchronize(dev) -> None:
    """Wait for the device's queued work (a no-op on CPU)."""
    import torch

    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()
    elif dev.type == "xpu" and hasattr(torch, "xpu"):
        torch.xpu.synchronize(dev)
