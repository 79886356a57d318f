"""One log line per state change from the Kafka clients, not 70 a second.

While the broker is down, aiokafka and kafka-python log the same connection error
for every retry (~2,860 ERROR lines per worker in a 39 s outage, issue 14). This
filter passes the first record of each logger's message template, holds back repeats
of it for ``window_s``, and says how many it held back with the next one it passes.
A new template (the connection came back, another error) passes at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

NOISY_LOGGER_PREFIXES = ("aiokafka", "kafka", "faust.transport")


class RepeatFilter(logging.Filter):
    def __init__(self, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.window_s, self.clock = window_s, clock
        # (logger name, message template) -> (passed at, repeats held back since)
        self._seen: dict[tuple[str, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now, key = self.clock(), (record.name, record.msg)
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.window_s:
            self._seen[key] = (seen[0], seen[1] + 1)
            return False
        if seen is not None and seen[1]:
            record.msg = f"{record.msg} [repeated {seen[1]} more times in {now - seen[0]:.0f} s]"
        self._seen[key] = (now, 0)
        if len(self._seen) > 10_000:  # templates are few; never grow without bound
            self._seen.clear()
        return True


def quiet_repeats(prefixes: Iterable[str] = NOISY_LOGGER_PREFIXES, window_s: float = 60.0) -> None:
    """Attach one :class:`RepeatFilter` to every existing logger under ``prefixes``."""
    shared = RepeatFilter(window_s)
    names = [name for name in logging.Logger.manager.loggerDict
             if name.startswith(tuple(prefixes))]  # fmt: skip
    for name in names:
        logging.getLogger(name).addFilter(shared)
