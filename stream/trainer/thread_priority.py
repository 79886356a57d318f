"""Lower the CPU priority of the calling thread only.

On Linux the nice value is a per-thread attribute: ``setpriority(PRIO_PROCESS, tid)``
changes just that thread (setpriority(2), "BUGS": POSIX says per process, Linux does
it per thread). Raising niceness needs no privilege. The trainer's learner thread
uses it so that, on a box it shares with sequencers and the broker, stream work that
takes milliseconds is not queued behind model steps that take hundreds.
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)


def lower_thread_priority(by: int) -> None:
    """Add ``by`` to this thread's nice value (no-op for 0 or where unsupported)."""
    if by <= 0 or not hasattr(os, "setpriority"):
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + by))
    except OSError as exc:  # a sandbox may refuse it; the thread then runs as before
        log.warning("could not lower the learner thread's priority: %s", exc)
