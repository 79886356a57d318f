"""Helpers for integration tests: per-test configs and real worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from stream.metrics.scrape import metric_sum as metric_sum  # re-exported for the tests
from stream.sandbox import isolated_settings as isolated_settings  # re-exported
from stream.sandbox import scrape as scrape  # re-exported
from stream.topic_reader import read_topic as read_topic  # re-exported for the tests
from stream.worker_process import WorkerProcess as WorkerProcess  # re-exported for the tests
from tests.conftest import REPO_ROOT


def cli(config: Path, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``recstream ARGS --config CONFIG`` to completion, as a user would."""
    command = [sys.executable, "-m", "stream.cli", *args, "--config", str(config)]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout_s, env=os.environ.copy(), check=False)  # fmt: skip


def wait_for(
    condition: Callable[[], bool], timeout_s: float, what: str, worker: WorkerProcess | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass  # endpoint not up yet
        if worker is not None and not worker.alive():
            raise AssertionError(
                f"{worker.role} exited while waiting for {what}:\n{worker.log_tail()}"
            )
        time.sleep(0.5)
    tail = f"\n{worker.log_tail()}" if worker is not None else ""
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}{tail}")
