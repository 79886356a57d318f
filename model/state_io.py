"""Write and read learner state as safetensors (tensors) + JSON (everything else).

Never pickle: a checkpoint from an untrusted place can hold data, not code. Writes go to
a temporary name first and are renamed into place, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

TENSORS = "state.safetensors"
META = "state.json"


def _atomic_write(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    write(tmp)
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    tmp.replace(path)


def write_state(directory: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    cpu = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    _atomic_write(directory / TENSORS, lambda p: save_file(cpu, str(p)))
    _atomic_write(directory / META, lambda p: p.write_text(json.dumps(meta)))


def read_state(
    directory: Path, device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = load_file(str(directory / TENSORS), device=str(device))
    meta: dict[str, Any] = json.loads((directory / META).read_text())
    return tensors, meta


def split_state(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A flat state dict as (its tensors, everything else): safetensors holds only tensors."""
    tensors = {k: v for k, v in state.items() if torch.is_tensor(v)}
    return tensors, {k: v for k, v in state.items() if not torch.is_tensor(v)}


def flatten_optimizer(
    name: str, state: dict[str, Any]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer state_dict as tensors + JSON (tensor entries become named tensors)."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"{name}.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer(
    name: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    prefix = f"{name}."
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, entry = key[len(prefix) :].split(".", 1)
            state.setdefault(int(index), {})[entry] = value
    for index, entries in meta["scalars"].items():
        state.setdefault(int(index), {}).update(entries)
    return {"state": state, "param_groups": meta["param_groups"]}
