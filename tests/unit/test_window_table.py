"""The window table queues each write's changelog record and the agent sends them
(stream/sequencer/window_table.py): same partition, key and value bytes as Faust's own send."""

from __future__ import annotations

import asyncio
import weakref
from types import SimpleNamespace
from typing import Any

import faust
import orjson
import pytest
from aiokafka.structs import RecordMetadata, TopicPartition
from faust.streams import _current_event

from stream.kafka.lossless_consumer import lossless_app
from stream.sequencer.window_table import WindowTable

CHANGELOG = "seq-windows-changelog"
EVENTS = "events.view"


class Producer:
    """Faust's producer send: a future per record, resolved by the test."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, int]] = []
        self.futures: list[asyncio.Future[RecordMetadata]] = []

    async def send(self, topic: str, key: bytes, value: bytes, partition: int,
                   timestamp: None, headers: None) -> asyncio.Future[RecordMetadata]:  # fmt: skip
        self.sent.append((topic, key, value, partition))
        self.futures.append(asyncio.get_running_loop().create_future())
        return self.futures[-1]


def table_with(producer: Producer) -> tuple[WindowTable, list[tuple[TopicPartition, int]]]:
    app = lossless_app("seq", False, broker="kafka://127.0.0.1:1", store="memory://")
    table = WindowTable(
        app, name="windows", default=None, beacon=app.tables.beacon, partitions=4,
        schema=faust.Schema(key_type=str, key_serializer="raw", value_serializer="json"),
    )  # fmt: skip
    app._producer = producer  # type: ignore[assignment]
    # Faust checks once per source topic that it has the table's partition count.
    table._verified_source_topics_for_partitions.add(EVENTS)
    persisted: list[tuple[TopicPartition, int]] = []
    table.data.set_persisted_offset = lambda tp, offset: persisted.append((tp, offset))  # type: ignore[method-assign]
    return table, persisted


class Event:  # the part of a Faust event partition_for_key reads
    def __init__(self, partition: int) -> None:
        self.message = SimpleNamespace(topic=EVENTS, partition=partition)


def as_current_event_of(partition: int) -> Event:
    event = Event(partition)
    _current_event.set(weakref.ref(event))  # type: ignore[arg-type]  # as Stream._set_current_event
    return event  # the caller holds it: the context keeps a weak reference


def test_writes_queue_their_records_and_the_agent_sends_them_in_order() -> None:
    async def scenario() -> tuple[Producer, WindowTable, list[Any]]:
        producer = Producer()
        table, persisted = table_with(producer)
        held = as_current_event_of(3)
        table["user-1"] = {"ids": ["e1"]}
        held = as_current_event_of(1)
        table["user-2"] = {"ids": ["e2", "e3"]}
        assert producer.sent == [] and table.unsent == 2  # nothing left yet
        await table.send_queued_changelog()
        for offset, future in enumerate(producer.futures):
            tp = TopicPartition(CHANGELOG, producer.sent[offset][3])
            future.set_result(RecordMetadata(tp.topic, tp.partition, tp, offset, 0, 0, 0))
        await asyncio.sleep(0)  # done callbacks run
        del held
        return producer, table, persisted

    producer, table, persisted = asyncio.run(scenario())
    # Keys and values as Faust's own changelog writes them (its table serializers: json).
    assert [(p, k, orjson.loads(v)) for _t, k, v, p in producer.sent] == [
        (3, b'"user-1"', {"ids": ["e1"]}), (1, b'"user-2"', {"ids": ["e2", "e3"]})]  # fmt: skip
    assert {topic for topic, *_ in producer.sent} == {table.changelog_topic.get_topic_name()}
    assert [(tp.partition, offset) for tp, offset in persisted] == [(3, 0), (1, 1)]
    assert table.unsent == 0 and table["user-2"] == {"ids": ["e2", "e3"]}


def test_a_write_outside_an_event_of_its_user_is_refused() -> None:
    table, _ = table_with(Producer())
    _current_event.set(None)
    with pytest.raises(TypeError, match="outside of stream"):
        table["user-1"] = {"ids": []}


def test_a_refused_record_crashes_the_worker() -> None:
    crashed: list[BaseException] = []

    async def scenario() -> None:
        producer = Producer()
        table, persisted = table_with(producer)

        async def crash(reason: BaseException) -> None:
            crashed.append(reason)

        table.app.crash = crash  # type: ignore[method-assign]
        held = as_current_event_of(0)
        table["user-1"] = {"ids": ["e1"]}
        await table.send_queued_changelog()
        producer.futures[0].set_exception(RuntimeError("not leader"))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert persisted == []
        del held

    asyncio.run(scenario())
    assert [str(reason) for reason in crashed] == ["not leader"]


def test_one_read_per_get_and_the_persisted_offset_once_per_partition_and_batch() -> None:
    async def scenario() -> tuple[list[tuple[TopicPartition, int]], int, Any, Any]:
        producer = Producer()
        table, persisted = table_with(producer)
        reads = 0  # store look-ups: a read or a membership test each
        store = type(table.data)

        def counted(method: Any) -> Any:
            def look_up(self: Any, key: Any) -> Any:
                nonlocal reads
                reads += 1
                return method(self, key)

            return look_up

        table.data.__class__ = type("Counted", (store,), {
            "__getitem__": counted(store.__getitem__),
            "__contains__": counted(store.__contains__),
        })  # fmt: skip
        held = as_current_event_of(2)
        for user in ("a", "b", "c"):
            table[user] = {"ids": [user]}
        held = as_current_event_of(0)
        table["d"] = {"ids": ["d"]}
        found, missing = table.get("b"), table.get("nobody")
        await table.send_queued_changelog()
        for offset, future in enumerate(producer.futures):
            tp = TopicPartition(CHANGELOG, producer.sent[offset][3])
            future.set_result(RecordMetadata(tp.topic, tp.partition, tp, 10 + offset, 0, 0, 0))
        await asyncio.sleep(0)
        del held
        return persisted, reads, found, missing

    persisted, reads, found, missing = asyncio.run(scenario())
    assert found == {"ids": ["b"]} and missing is None and reads == 2
    # Partition 2 took offsets 10-12, partition 0 offset 13: one RocksDB write each.
    assert [(tp.partition, offset) for tp, offset in persisted] == [(2, 12), (0, 13)]
