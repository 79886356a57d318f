"""``recstream worker ROLE`` as a child process (the demo, benchmarks and tests start them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from stream.paths import REPO_ROOT


class WorkerProcess:
    """One worker in its own process, with its output in a log file."""

    def __init__(
        self, role: str, config: Path, log_path: Path, worker_id: str = "0",
        env: Mapping[str, str] | None = None, extra_args: tuple[str, ...] = (),
    ) -> None:  # fmt: skip
        self.role, self.config, self.log_path, self.worker_id = role, config, log_path, worker_id
        self.env = dict(env) if env is not None else None
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        command = [
            sys.executable, "-m", "stream.cli", "worker", self.role, "--config", str(self.config),
            "--worker-id", self.worker_id, "--loglevel", "info", *self.extra_args,
        ]  # fmt: skip
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env={**os.environ, **(self.env or {})},
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not the workers
            )  # fmt: skip
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM (a clean Faust shutdown), then SIGKILL after ``timeout_s``."""
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
