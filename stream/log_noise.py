"""One log line per state change from the Kafka clients, not 70 a second.

While the broker is down, aiokafka and kafka-python log the same connection error
for every retry (~2,860 ERROR lines per worker in a 39 s outage, issue 14). This
filter passes the first record of each message template, holds back repeats for
``window_s``, and reports how many it held back with the next one it passes. A record
of another template from the same logger (the connection came back) passes at once.
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
        # logger name -> (message template, first passed at, repeats held back)
        self._last: dict[str, tuple[object, float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now, template = self.clock(), record.msg
        last = self._last.get(record.name)
        if last is not None:
            last_template, since, held = last
            if last_template == template and now - since < self.window_s:
                self._last[record.name] = (template, since, held + 1)
                return False
            if held:
                record.msg = (f"{template} [the previous message repeated {held} more "
                              f"times in {now - since:.0f} s]")  # fmt: skip
        self._last[record.name] = (template, now, 0)
        return True


def quiet_repeats(prefixes: Iterable[str] = NOISY_LOGGER_PREFIXES, window_s: float = 60.0) -> None:
    """Attach one :class:`RepeatFilter` to every existing logger under ``prefixes``."""
    shared = RepeatFilter(window_s)
    names = [name for name in logging.Logger.manager.loggerDict
             if name.startswith(tuple(prefixes))]  # fmt: skip
    for name in names:
        logging.getLogger(name).addFilter(shared)
