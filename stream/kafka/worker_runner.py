"""Run a Faust app as a worker process until it stops, within a bounded time after; the
state folder of one worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def worker_state_dir(data_dir: Path, app_id: str, worker_id: str) -> Path:
    """``data_dir/app_id/worker-<id>``, created: each worker on a host keeps its own local
    state (RocksDB tables, Faust's files)."""
    path = data_dir / app_id / f"worker-{worker_id}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_worker(faust_app: Any, loglevel: str, stop_grace_s: float) -> None:
    """Run a Faust worker until it stops; it always ends within ``stop_grace_s`` after."""
    import faust

    from stream.kafka.exit_watchdog import ExitWatchdog
    from stream.kafka.log_noise import quiet_repeats

    worker = faust.Worker(faust_app, loglevel=loglevel)
    # The start-up spinner sets the root logger to DEBUG when loglevel >= WARN, which
    # makes every debug call in aiokafka build a LogRecord (~10% of a busy worker).
    worker.spinner = None
    quiet_repeats()
    ExitWatchdog(faust_app, worker, stop_grace_s).start()
    worker.execute_from_commandline()
