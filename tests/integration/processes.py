"""Helpers for integration tests: per-test configs and real worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stream.kafka.topic_reader import read_topic as read_topic  # re-exported for the tests
from stream.local.sandbox import isolated_settings as isolated_settings  # re-exported
from stream.local.sandbox import scrape as scrape  # re-exported
from stream.local.sandbox import wait_for as wait_for  # re-exported
from stream.local.worker_process import WorkerProcess as WorkerProcess  # re-exported for the tests
from stream.metrics.scrape import metric_sum as metric_sum  # re-exported for the tests
from tests.conftest import REPO_ROOT


def cli(config: Path, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``recstream ARGS --config CONFIG`` to completion, as a user would."""
    command = [sys.executable, "-m", "stream.cli", *args, "--config", str(config)]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout_s, env=os.environ.copy(), check=False)  # fmt: skip
