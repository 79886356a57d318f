"""A worker that cannot work exits, within a bounded time, with a non-zero code.

Supervisors (systemd, Kubernetes, compose ``restart:``) restart a process that exits;
they cannot see one that hangs. Faust's shutdown can hang (a crashed trainer stuck in
"Wait for streams..." with /metrics still answering and SIGTERM ignored, issue 14), so
a daemon thread watches the worker: once it starts stopping, for whatever reason (a
crash, an agent that raised, SIGTERM), the process ends at most ``grace_s`` later,
with code 1 after a crash and :data:`EXIT_STUCK` when a clean stop did not finish.
Agents crash the app instead of being restarted silently (``LosslessApp``): a
restarted agent may have lost the batch it was holding.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

EXIT_CRASHED = 1
EXIT_STUCK = 3  # a stop (SIGTERM, Ctrl-C) that did not finish within the grace period


def stopping_reason(app: Any, worker: Any) -> str | None:
    """Why the worker is on its way out (None while it runs)."""
    if app._crashed.is_set():
        return f"crashed ({app.crash_reason!r})"
    if getattr(worker, "_signal_stop_time", None):
        return "asked to stop by a signal"
    if app._stopped.is_set() or worker._stopped.is_set():
        return "stopping"
    return None


class ExitWatchdog:
    """Ends the process ``grace_s`` after the worker began to stop, if it still runs."""

    def __init__(
        self, app: Any, worker: Any, grace_s: float,
        clock: Callable[[], float] = time.monotonic,
        exit_now: Callable[[int], None] = os._exit,
    ) -> None:  # fmt: skip
        self.app, self.worker, self.grace_s = app, worker, grace_s
        self.clock, self.exit_now = clock, exit_now
        self.since: float | None = None

    def check(self) -> bool:
        """One look; True when it ended (or would have ended) the process."""
        reason = stopping_reason(self.app, self.worker)
        if reason is None:
            return False
        now = self.clock()
        if self.since is None:
            self.since = now
            return False
        if now - self.since < self.grace_s:
            return False
        code = EXIT_CRASHED if self.app._crashed.is_set() else EXIT_STUCK
        log.critical("worker %s %.0f s ago and has not stopped: exiting now with code %d so "
                     "a supervisor restarts it", reason, now - self.since, code)  # fmt: skip
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        self.exit_now(code)
        return True

    def start(self, every_s: float = 0.5) -> threading.Thread:
        def watch() -> None:
            while not self.check():
                time.sleep(every_s)

        thread = threading.Thread(target=watch, name="recstream-exit-watchdog", daemon=True)
        thread.start()
        return thread
