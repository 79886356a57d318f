"""Replay events into the event topics, paced in real time (``recstream produce``).

The schedule is a plain function, so pacing and re-timing are tested without a
broker: by default the events keep their order and spacing (divided by
``time_scale``) and get timestamps of the present; with ``rate`` they are spaced
evenly instead. Each event gets a unique ``event_id`` (run id + index), which is
what a recommendation names when it reflects the event.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import orjson
from kafka import KafkaProducer

from stream.kafka.client_options import kafka_python_options
from stream.messages.events import RawEvent
from stream.settings import Settings


@dataclass(frozen=True, slots=True)
class Scheduled:
    send_at: float  # seconds after the start of the run
    event: RawEvent  # with its new ts


def schedule(
    events: Sequence[RawEvent],
    start_ts: float,
    time_scale: float = 1.0,
    rate: float | None = None,
    retime: bool = True,
) -> Iterator[Scheduled]:
    """When to send each event, and the ts it carries.

    ``retime=False`` keeps the original timestamps (and sends as fast as the rate
    or the original spacing allows).
    """
    if time_scale <= 0:
        raise ValueError("time_scale must be positive")
    if rate is not None and rate <= 0:
        raise ValueError("rate must be positive")
    if not events:
        return
    first = events[0]["ts"]
    for index, event in enumerate(events):
        offset = index / rate if rate is not None else max(0.0, event["ts"] - first) / time_scale
        ts = start_ts + offset if retime else event["ts"]
        yield Scheduled(offset, RawEvent(user_id=event["user_id"], item_id=event["item_id"],
                                         action=event["action"], ts=ts))  # fmt: skip


@dataclass
class ProduceReport:
    sent: int = 0
    by_topic: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    max_behind_s: float = 0.0  # how far sending fell behind the schedule at worst
    failed: int = 0  # sends the broker never acknowledged (after retries)


SEND_BLOCK_MS = 180_000  # how long send() waits for a broker that is away


class UndeliveredEventsError(Exception):
    """Events the broker never acknowledged: said out loud, never dropped silently."""


def check_actions(settings: Settings, events: Sequence[RawEvent]) -> None:
    unknown = sorted({e["action"] for e in events} - set(settings.topics.events))
    if unknown:
        raise ValueError(
            f"actions {', '.join(unknown)} have no topic "
            f"(topics.events maps {', '.join(settings.topics.events)})"
        )


def produce(
    settings: Settings,
    events: Sequence[RawEvent],
    time_scale: float = 1.0,
    rate: float | None = None,
    retime: bool = True,
    run_id: str | None = None,
    progress: Callable[[int], None] = lambda _n: None,
    should_stop: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.time,
) -> ProduceReport:
    """Send ``events`` on schedule (key = user, topic by action); returns what was sent."""
    check_actions(settings, events)
    topics = settings.topics.events
    run_id = run_id or f"{time.time_ns():x}"
    # A broker outage blocks send() (metadata) and flush() instead of failing them: the
    # producer retries each event for delivery_timeout_ms (kafka-python's 2 min, with
    # idempotence), and what still fails is reported below, never dropped silently.
    producer = KafkaProducer(**kafka_python_options(settings.kafka), acks="all", linger_ms=5,
                             max_block_ms=SEND_BLOCK_MS)  # fmt: skip
    report = ProduceReport()
    failures: list[BaseException] = []  # filled from kafka-python's I/O thread
    started = clock()
    try:
        for index, item in enumerate(schedule(events, started, time_scale, rate, retime)):
            if should_stop():
                break
            delay = item.send_at - (clock() - started)
            if delay > 0:
                time.sleep(delay)
            else:
                report.max_behind_s = max(report.max_behind_s, -delay)
            event = item.event
            event_id = f"{run_id}-{index}"
            # Re-timed events happen when they are sent, even when sending runs late.
            ts = round(clock(), 6) if retime else event["ts"]
            value = {"user_id": event["user_id"], "item_id": event["item_id"],
                     "ts": ts, "event_id": event_id}  # fmt: skip
            topic = topics[event["action"]]
            future = producer.send(topic, key=event["user_id"].encode(), value=orjson.dumps(value))
            future.add_errback(failures.append)
            report.sent += 1
            report.by_topic[topic] += 1
            if index % 100 == 0:
                progress(report.sent)
        producer.flush()  # each event is done by its delivery timeout: acked or failed
    finally:
        producer.close(timeout=10)
    report.seconds = clock() - started
    report.failed = len(failures)
    progress(report.sent)
    if failures:
        # kafka-python retries for delivery_timeout_ms (2 min by default, idempotent):
        # what still failed is lost unless the caller sends it again.
        raise UndeliveredEventsError(f"{len(failures)} of {report.sent} events were not delivered "
                                f"(first error: {failures[0]!r})")  # fmt: skip
    return report
