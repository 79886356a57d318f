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
