"""Identical learner replicas in one ``torch.distributed`` process group.

Every rank learns from its own users; each learner call is one group step, taken by
every rank in the same order (a rank with no data takes part with nothing), so the
collectives of step n on one rank meet those of step n on the others. Two exchanges
per step keep the replicas identical:

- :meth:`ReplicaGroup.gather` (pickled objects) before ranking: the items each rank
  saw, admitted in rank order on every rank, so an item gets the same row everywhere;
- :meth:`ReplicaGroup.sum_gradients` after the backward pass: dense gradients, the
  step's positions, non-finite flags and sizes in one all-reduce, then one all-gather
  of the item rows' sparse gradients (and sightings), padded to the longest. NCCL has
  no sparse all-reduce (pytorch#22400), so both backends use the dense gather.

Each rank weighs its gradient by its positions, so the group's step is the gradient
of the mean loss over every rank's positions: what one learner would take on all of
them. Reductions give every rank the same bytes, and the optimiser steps that follow
are the same arithmetic on the same numbers, so replicas stay bit-identical (checked
with :func:`fingerprint`).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist


class ReplicaGroupError(RuntimeError):
    """A collective failed or timed out: a replica is gone, the group must restart."""


@dataclass
class ExchangeStats:
    """What the group's collectives cost since the last :meth:`ReplicaGroup.take_stats`."""

    seconds: float = 0.0  # in collectives: waiting for the slowest rank, and transfer
    bytes: int = 0  # sent by this rank
    collectives: int = 0


@dataclass(frozen=True)
class GradientSum:
    positions: int  # trained positions over every rank (0: nothing to learn)
    non_finite: bool  # some rank's loss was not finite: every rank skips the step
    sightings: list[int]  # item rows seen in the step's new targets, every rank's


class ReplicaGroup:
    def __init__(self, device: torch.device) -> None:
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.backend = str(dist.get_backend())
        # NCCL moves CUDA tensors only; gloo works on host memory.
        self.device = device if self.backend == "nccl" else torch.device("cpu")
        self.stats = ExchangeStats()

    @classmethod
    def join(cls, backend: str, timeout_s: float, device: torch.device) -> ReplicaGroup | None:
        """Join the group the launcher describes (torchrun's RANK, WORLD_SIZE,
        MASTER_ADDR, MASTER_PORT); None when it describes no group of two or more."""
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            return None
        if backend == "auto":
            backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            # One GPU per rank on a host: the learner's "cuda" tensors go to the current
            # device, which is this rank's.
            local = int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count()
            torch.cuda.set_device(local)
            device = torch.device("cuda", local)
        if not dist.is_initialized():
            dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
        return cls(device)

    def leave(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()

    def take_stats(self) -> ExchangeStats:
        stats, self.stats = self.stats, ExchangeStats()
        return stats

    # -- collectives ---------------------------------------------------------

    def _run(self, what: str, sent_bytes: int, collective: Any, *args: Any) -> None:
        started = time.perf_counter()
        try:
            collective(*args)
        except RuntimeError as exc:  # DistBackendError and gloo's timeouts are RuntimeErrors
            raise ReplicaGroupError(f"{what} failed on rank {self.rank}: {exc}") from exc
        finally:
            self.stats.seconds += time.perf_counter() - started
            self.stats.bytes += sent_bytes
            self.stats.collectives += 1

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (picklable), in rank order."""
        out: list[Any] = [None] * self.world_size
        size = len(repr(value))  # an estimate: the pickle is not exposed
        self._run("all_gather_object", size, dist.all_gather_object, out, value)
        return out

    def barrier(self) -> None:
        self._run("barrier", 0, dist.barrier)

    def sum_gradients(
        self,
        dense: list[torch.nn.Parameter],
        table: torch.nn.Parameter,
        positions: int,
        non_finite: bool,
        sightings: list[int],
    ) -> GradientSum:
        """Replace every rank's gradients by the group's positions-weighted mean.

        ``positions``: this rank's trained positions (its loss is their mean; 0 when it
        has none or its step failed, and then its gradients are ignored)."""
        world, rank = self.world_size, self.rank
        weight = float(positions)
        # Header: positions, non-finite flag, each rank's sparse rows and sightings (a slot
        # per rank), then whether each dense tensor got a gradient anywhere: one that got
        # none keeps None, so the optimiser leaves it alone, as it would in one process.
        header = torch.zeros(2 + 2 * world + len(dense))
        grad = table.grad.coalesce() if table.grad is not None and positions else None
        rows = grad.indices()[0] if grad is not None else torch.empty(0, dtype=torch.long)
        header[0], header[1] = weight, float(non_finite)
        header[2 + rank], header[2 + world + rank] = rows.numel(), len(sightings)
        if positions:
            used = [float(p.grad is not None) for p in dense]
            header[2 + 2 * world :] = torch.tensor(used)
        flat = [
            (p.grad.detach().reshape(-1).float() * weight)
            if p.grad is not None and positions
            else torch.zeros(p.numel())
            for p in dense
        ]
        buffer = torch.cat([header, *(f.to(header.device) for f in flat)]).to(self.device)
        self._run("all_reduce", buffer.numel() * 4, dist.all_reduce, buffer)
        buffer = buffer.cpu()
        total, failed = int(buffer[0].item()), bool(buffer[1].item() > 0)
        row_counts = [int(n) for n in buffer[2 : 2 + world].tolist()]
        sighting_counts = [int(n) for n in buffer[2 + world : 2 + 2 * world].tolist()]
        gathered_sightings = self._gather_sparse(
            table, grad, rows, weight, row_counts, sighting_counts, sightings, total, failed
        )
        if total and not failed:
            used_anywhere = (buffer[2 + 2 * world : 2 + 2 * world + len(dense)] > 0).tolist()
            offset = 2 + 2 * world + len(dense)
            for p, used_somewhere in zip(dense, used_anywhere, strict=True):
                chunk = buffer[offset : offset + p.numel()].view_as(p) / total
                p.grad = chunk.to(p.device, p.dtype) if used_somewhere else None
                offset += p.numel()
        return GradientSum(total, failed, gathered_sightings)

    def _gather_sparse(
        self, table: torch.nn.Parameter, grad: torch.Tensor | None, rows: torch.Tensor,
        weight: float, row_counts: list[int], sighting_counts: list[int],
        sightings: list[int], total: int, failed: bool,
    ) -> list[int]:  # fmt: skip
        """All-gather the item rows' gradients and the sightings (one padded buffer of
        row numbers, one of values); set the table's gradient to their weighted mean."""
        most_rows, most_sightings = max(row_counts), max(sighting_counts)
        if most_rows == 0 and most_sightings == 0:
            table.grad = None
            return []
        width = table.shape[1]
        numbers = torch.full((most_rows + most_sightings,), -1, dtype=torch.long)
        numbers[: rows.numel()] = rows.cpu()
        numbers[most_rows : most_rows + len(sightings)] = torch.tensor(sightings, dtype=torch.long)
        values = torch.zeros(most_rows, width)
        if grad is not None:
            values[: rows.numel()] = grad.values().detach().float().cpu() * weight
        all_numbers = [torch.empty_like(numbers, device=self.device) for _ in row_counts]
        self._run("all_gather", numbers.numel() * 8, dist.all_gather, all_numbers,
                  numbers.to(self.device))  # fmt: skip
        all_values = [torch.empty_like(values, device=self.device) for _ in row_counts]
        if most_rows:
            self._run("all_gather", values.numel() * 4, dist.all_gather, all_values,
                      values.to(self.device))  # fmt: skip
        seen = [
            int(row)
            for got, n in zip(all_numbers, sighting_counts, strict=True)
            for row in got[most_rows : most_rows + n].tolist()
        ]
        if not most_rows or not total or failed:
            table.grad = None
            return seen
        index = torch.cat([got[:n].cpu() for got, n in zip(all_numbers, row_counts, strict=True)])
        summed = torch.cat([got[:n].cpu() for got, n in zip(all_values, row_counts, strict=True)])
        dense_shape = (table.shape[0], width)
        # Built from valid rows: the invariant check (off by default, with a warning) is
        # not needed.
        exchanged = torch.sparse_coo_tensor(
            index.unsqueeze(0), summed / total, dense_shape, check_invariants=False
        )
        table.grad = exchanged.coalesce().to(table.device, table.dtype)
        return seen


def fingerprint(model: torch.nn.Module, item_ids: list[str | None], version: int) -> int:
    """A 48-bit digest of a replica's weights, vocabulary and version: equal on every
    rank while the replicas are identical (exact in a float64 gauge)."""
    digest = hashlib.blake2b(digest_size=6)
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    digest.update(repr(item_ids).encode())
    digest.update(str(version).encode())
    return int.from_bytes(digest.digest(), "big")
