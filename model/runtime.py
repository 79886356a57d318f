"""Process-wide PyTorch settings the services choose (stream/ calls this, not torch)."""

from __future__ import annotations

import torch

from model.learner_config import pick_device


def configure_threads(threads: int) -> int:
    """Intra-op threads for CPU kernels (0 keeps PyTorch's default); returns the count."""
    if threads > 0:
        torch.set_num_threads(threads)
    return int(torch.get_num_threads())


def describe_device(name: str) -> str:
    """What ``device: auto|cpu|cuda`` resolves to here, for the start-up log."""
    device = pick_device(name)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
