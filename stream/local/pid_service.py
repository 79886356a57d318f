"""Background services started from a pid file (the local broker, the local Prometheus):
one lifecycle, :class:`PidService`, and the process helpers under it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def command_line_has(pid: int, marker: bytes) -> bool:
    """Guard against a stale pid file whose pid now belongs to another program."""
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc here: trust the pid file


def reap(pid: int) -> None:
    """Collect the exit status when the service is our own child (tests, demo)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def terminate(pid: int, timeout_s: float) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; returns once the process is gone."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid) and time.monotonic() < deadline:
        reap(pid)
        time.sleep(0.2)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
        while pid_alive(pid):
            reap(pid)
            time.sleep(0.1)
    reap(pid)


def spawn(command: list[str], log_file: Path, pid_file: Path) -> subprocess.Popen[bytes]:
    """Start a service in its own session (Ctrl-C in the caller's terminal must not
    kill it), its output appended to ``log_file`` and its pid in ``pid_file``."""
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    pid_file.write_text(str(process.pid))
    return process


def wait_until_ready(
    process: subprocess.Popen[bytes], ready: Callable[[], bool], timeout_s: float, poll_s: float
) -> str | None:
    """None once ``ready()``; otherwise why not: it exited first, or the time ran out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"exited with code {process.returncode} during start"
        if ready():
            return None
        time.sleep(poll_s)
    return f"was not ready within {timeout_s:.0f}s"


class PidService:
    """A background process known by its pid file: running (the pid is alive and its
    command line has ``marker``, so a reused pid is not mistaken for it), started and
    waited for, stopped gracefully then forcefully."""

    def __init__(self, pid_file: Path, log_file: Path, marker: bytes, stop_timeout_s: float):
        self.pid_file, self.log_file = pid_file, log_file
        self.marker, self.stop_timeout_s = marker, stop_timeout_s

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) and command_line_has(pid, self.marker) else None

    def launch(
        self, command: list[str], ready: Callable[[], bool], timeout_s: float, poll_s: float
    ) -> str | None:
        """Start ``command`` and wait for ``ready()``; None once ready, else why not (the
        process is then stopped and its pid file removed)."""
        process = spawn(command, self.log_file, self.pid_file)
        problem = wait_until_ready(process, ready, timeout_s, poll_s)
        if problem is not None:
            self.stop()  # removes the pid file too, whether or not the process still ran
        return problem

    def stop(self) -> bool:
        """Stop it gracefully, then forcefully; False when none ran."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        terminate(pid, self.stop_timeout_s)
        self.pid_file.unlink(missing_ok=True)
        return True
