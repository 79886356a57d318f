"""Background services started from a pid file (the local broker, the local Prometheus)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def accepts_connections(address: str, timeout_s: float) -> bool:
    """True when something accepts a TCP connection at ``host:port``."""
    host, _, port = address.strip().rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except (OSError, ValueError):
        return False
    return True


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
