"""The lossless consumer: its decisions, and a guard on the Faust code it overrides.

The hashes below are of the exact source of the Faust and aiokafka functions that
stream/kafka/lossless_consumer.py overrides or relies on. A new release that changes any of
them fails here: read the module docstring again, check the override still fits, then
update the hash (and the pins in pyproject.toml).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import aiokafka
import pytest
from faust.app.base import App
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from stream.kafka.lossless_consumer import (
    LosslessConsumer,
    commit_may_advance,
    first_undelivered,
    lossless_app,
    skipped_by_streams,
)

Consumer = faust_consumer.Consumer
PINNED: dict[str, tuple[Any, str]] = {
    "Consumer.getmany": (Consumer.getmany, "4b168d84882a70d6"),
    "Consumer._wait_next_records": (Consumer._wait_next_records, "6218e1969a636b3f"),
    "Consumer._drain_messages": (Consumer._drain_messages, "44a2500309e83c63"),
    "Consumer._new_offset": (Consumer._new_offset, "1d2c7ea89a7ad4f1"),
    "Consumer._add_gap": (Consumer._add_gap, "4df2573ded7c1c2c"),
    "Consumer.perform_seek": (Consumer.perform_seek, "0e8c130ff4b0afd8"),
    "Consumer.__init__": (Consumer.__init__, "302410d59e6972d1"),
    "Consumer.ack": (Consumer.ack, "5fcf41cf45153475"),  # partition batches file the rest
    "aiokafka Consumer._to_message": (faust_aiokafka.Consumer._to_message, "7c24f6511b2fcef7"),
    "AIOKafkaConsumerThread._create_worker_consumer": (  # fetch_wait_ms sets two of its
        faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer, "c2701bfc3e6f6cad"),
    "aiokafka.AIOKafkaConsumer.start": (  # which hands them to the fetcher
        aiokafka.AIOKafkaConsumer.start, "2f1ba70443327538"),
    "AIOKafkaConsumerThread.seek_to_committed": (
        faust_aiokafka.AIOKafkaConsumerThread.seek_to_committed, "775ab0adc4b052ab"),
    "App._new_transport": (App._new_transport, "42db531312dd776f"),
    "aiokafka.AIOKafkaConsumer.seek_to_committed": (
        aiokafka.AIOKafkaConsumer.seek_to_committed, "f6cd85c8b70a4ccf"),
}  # fmt: skip


def test_written_for_the_pinned_faust_and_aiokafka() -> None:
    assert version("faust-streaming") == "0.15.3"
    assert version("aiokafka") == "0.14.0"


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_overridden_faust_code_has_not_changed_shape(name: str) -> None:
    function, expected = PINNED[name]
    digest = hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]
    assert digest == expected, f"{name} changed: re-read stream/kafka/lossless_consumer.py"


@dataclass
class Record:
    offset: int


A, B = TP("events.view", 0), TP("events.view", 1)


def test_records_not_handed_over_are_found_per_partition() -> None:
    batch = {A: [Record(o) for o in range(10, 15)], B: [Record(o) for o in range(3, 6)]}
    # A: 10-12 handed over, 13 cancelled by a flow stop; B: nothing reached the streams.
    assert first_undelivered(batch, {A: 13}) == {A: 13, B: 3}
    assert first_undelivered(batch, {A: 15, B: 6}) == {}
    # Records skipped as already read count as handled (no endless re-read of them).
    assert first_undelivered({A: [Record(7), Record(8)]}, {A: 9}) == {}


def test_the_commit_waits_for_the_record_at_the_committed_offset() -> None:
    assert commit_may_advance([5, 6, 7], committed=5)
    assert not commit_may_advance([6, 7], committed=5)  # Faust's own check lets 5 go
    assert not commit_may_advance([2], committed=0)  # and does not check a commit of 0
    assert commit_may_advance([3, 9], committed=4)  # stale acks below the commit
    assert commit_may_advance([0, 1], committed=None)
    assert not commit_may_advance([], committed=3)


def test_recstream_apps_read_through_the_lossless_consumer() -> None:
    app = lossless_app("lossless-test", False, broker="kafka://127.0.0.1:1")
    consumer_class = app.transport.Consumer
    assert issubclass(consumer_class, LosslessConsumer)
    assert consumer_class.fill_offset_gaps is False
    gaps = lossless_app("lossless-gaps", True, broker="kafka://127.0.0.1:1")
    assert getattr(gaps.transport.Consumer, "fill_offset_gaps", None) is True


def test_a_failing_agent_crashes_the_worker_instead_of_a_silent_restart() -> None:
    app = lossless_app("lossless-crash", False, broker="kafka://127.0.0.1:1")
    crashed: list[BaseException] = []

    async def crash(reason: BaseException) -> None:
        crashed.append(reason)

    app.crash = crash  # type: ignore[method-assign]
    failure = RuntimeError("agent body raised")
    asyncio.run(app._on_agent_error(type("Agent", (), {"name": "sequence"})(), failure))
    assert crashed == [failure]


@dataclass
class Handed:
    tp: TP
    offset: int
    tracked: bool = False
    acked: bool = False


def test_messages_a_stream_passed_over_are_found_queued_ones_are_not() -> None:
    handed = [Handed(A, 1, True, True), Handed(A, 2), Handed(B, 7), Handed(A, 3, True),
              Handed(B, 8), Handed(A, 4)]  # fmt: skip
    # A@2 and B@7 were handed before A@3, which the stream took: it passed them over.
    # B@8 and A@4 came after the last message taken: still queued.
    assert [(m.tp, m.offset) for m in skipped_by_streams(handed)] == [(A, 2), (B, 7)]
    assert skipped_by_streams([Handed(A, 5), Handed(A, 6)]) == []  # all still queued
