"""A worker on its way out always ends: the exit watchdog, and the filter that keeps a
broker outage to a few log lines."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from stream.kafka.exit_watchdog import EXIT_CRASHED, EXIT_STUCK, ExitWatchdog
from stream.kafka.log_noise import RepeatFilter


@dataclass
class FakeService:
    _crashed: threading.Event = field(default_factory=threading.Event)
    _stopped: threading.Event = field(default_factory=threading.Event)
    crash_reason: BaseException | None = None
    _signal_stop_time: float | None = None


def watchdog(
    app: FakeService, worker: FakeService, now: list[float], exits: list[int]
) -> ExitWatchdog:
    return ExitWatchdog(app, worker, 30.0, clock=lambda: now[0], exit_now=exits.append)


def test_a_running_worker_is_left_alone() -> None:
    now, exits = [0.0], []  # type: ignore[var-annotated]
    dog = watchdog(FakeService(), FakeService(), now, exits)
    for t in range(0, 1000, 10):
        now[0] = float(t)
        assert not dog.check()
    assert exits == []


def test_a_crashed_worker_that_hangs_is_ended_with_code_1() -> None:
    app, now, exits = FakeService(), [100.0], []  # type: ignore[var-annotated]
    dog = watchdog(app, FakeService(), now, exits)
    assert not dog.check()
    app.crash_reason = RuntimeError("the learner failed")
    app._crashed.set()
    assert not dog.check()  # the countdown starts
    now[0] = 129.0
    assert not dog.check() and exits == []
    now[0] = 130.5
    assert dog.check() and exits == [EXIT_CRASHED]


def test_a_stop_that_does_not_finish_ends_non_zero() -> None:
    worker, now, exits = FakeService(), [0.0], []  # type: ignore[var-annotated]
    dog = watchdog(FakeService(), worker, now, exits)
    worker._signal_stop_time = 1.0  # SIGTERM arrived; "Wait for streams..." never returns
    dog.check()
    now[0] = 31.0
    assert dog.check() and exits == [EXIT_STUCK]


def record(msg: str, name: str = "aiokafka.conn") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, None, None)


def test_a_broker_outage_is_one_line_per_state_change() -> None:
    now = [0.0]
    noise = RepeatFilter(window_s=60.0, clock=lambda: now[0])
    passed = []
    for second in range(39):  # two errors alternating, 500 a second, while the broker is down
        now[0] = float(second)
        for _ in range(250):
            for msg in ("Unable connect to node with id %s: %s", "Unable to update metadata"):
                rec = record(msg)
                if noise.filter(rec):
                    passed.append(rec.msg)
    assert passed == ["Unable connect to node with id %s: %s", "Unable to update metadata"]
    now[0] = 40.0
    back = record("Connection to node %s re-established")
    assert noise.filter(back) and back.msg == "Connection to node %s re-established"
    assert noise.filter(record("Unable to update metadata", name="kafka.conn"))
    now[0] = 70.0  # a minute later the outage goes on: one line with the count
    again = record("Unable to update metadata")
    assert noise.filter(again)
    assert str(again.msg).endswith("[repeated 9749 more times in 70 s]")
