"""The learner's priority drop applies to its own thread, not to the worker's others."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from stream.trainer.thread_priority import lower_thread_priority


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values are Linux's")
def test_only_the_calling_thread_gets_a_higher_nice_value() -> None:
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: list[int] = []

    def lowered() -> None:
        lower_thread_priority(5)
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    thread = threading.Thread(target=lowered)
    thread.start()
    thread.join()
    assert seen == [min(19, before + 5)]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
