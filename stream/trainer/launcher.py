"""The command line that runs N trainer ranks on this host under torchrun (PyTorch's
elastic launcher, ``torch.distributed.run``): it starts the ranks with their RANK,
WORLD_SIZE and rendezvous, and when one fails it stops the others and starts them all
again, up to ``max_restarts`` times; each start restores the newest checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path


def torchrun_command(
    ranks: int, max_restarts: int, config: Path | None, worker_id: str, loglevel: str,
) -> list[str]:  # fmt: skip
    """``python -m torch.distributed.run ... <this python> -m stream.cli worker trainer``:
    ``--standalone`` rendezvous on one host (its own free port); ``--no-python`` runs the
    given program as is (torchrun's documented flags)."""
    trainer = [sys.executable, "-m", "stream.cli", "worker", "trainer",
               "--worker-id", worker_id, "--loglevel", loglevel]  # fmt: skip
    if config is not None:
        trainer += ["--config", str(config)]
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
        "--nproc-per-node", str(ranks), "--max-restarts", str(max_restarts),
        "--monitor-interval", "1", "--no-python", *trainer,
    ]  # fmt: skip


def torchrun_environment(base: dict[str, str]) -> dict[str, str]:
    """``base`` plus what the ranks need from torchrun: a rendezvous store of their own.
    By default the ranks' process group shares the launcher's rendezvous store, and after
    a restart a rank could read a peer address of the previous attempt and fail to
    connect (pytorch/pytorch#135712; measured here: one restart in three failed so).
    TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 gives each attempt a fresh store."""
    return {**base, "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}
