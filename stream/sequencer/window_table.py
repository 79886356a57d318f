"""The sequencer's window table: a Faust Table whose changelog the agent sends per batch.

Faust sends a table's changelog record from inside ``table[key] = value``: ``send_soon``
wraps it in a FutureMessage, queues it in Faust's producer buffer, and a background
task publishes it through the topic, its sensors and callbacks. On a backlog where
nearly every event is a new user's (Taobao) that path was ~30 % of the sequencer's CPU
(py-spy, bench/NOTES.md). Here ``table[key] = value`` stores the window and queues
``(partition, key, value)``; the agent then sends the micro-batch's records with
:meth:`WindowTable.send_queued_changelog` straight through the producer. The records
are the ones Faust would send (same topic, partition, key and value bytes, from the table's
own schema), each sent before the batch is acked, and Faust flushes the producer
before it commits offsets, so crash recovery is as exact as before (the SIGKILL test
compares windows). A record the broker refuses crashes the worker: a restart re-reads
from the commit, which never passed it.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import faust


class WindowTable(faust.Table[str, Any]):
    """A :class:`faust.Table` that queues its changelog records for
    :meth:`send_queued_changelog`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unsent: list[tuple[int, Any, Any]] = []
        self._crashing: asyncio.Future[Any] | None = None

    def on_key_set(self, key: Any, value: Any) -> None:
        # Faust's Table.on_key_set minus the send: the partition is the current event's
        # (the agent sets it before each write, faust-streaming #497).
        partition = self.partition_for_key(key)
        if partition is None:
            raise RuntimeError("a window write needs the current event of its user")
        self._unsent.append((partition, key, value))
        self._sensor_on_set(self, key, value)

    def get(self, key: Any, default: Any = None) -> Any:
        """The stored value, or ``default``: one store read. ``Mapping.get`` goes through
        Faust's ``FastUserDict.__getitem__``, which asks the store ``key in data`` and
        then reads the key: two RocksDB reads per user (~10 % of the sequencer on the
        sessions backlog, py-spy). Sensors see the read as before."""
        self.on_key_get(key)
        try:
            return self.data[key]
        except KeyError:
            return default

    @property
    def unsent(self) -> int:
        return len(self._unsent)

    async def send_queued_changelog(self) -> None:
        """Send the changelog records of the writes since the last call, in order."""
        unsent, self._unsent = self._unsent, []
        topic = self.changelog_topic
        name = topic.get_topic_name()
        producer = self.app.producer
        # Faust records RocksDB's persisted offset after every record; each is a RocksDB
        # write. Only the last record per partition records it here: a partition's
        # records are acknowledged in order, and an earlier offset would only make a
        # restart replay a few records more.
        last_of = {partition: index for index, (partition, _k, _v) in enumerate(unsent)}
        for index, (partition, key, value) in enumerate(unsent):
            # The serializers Faust's Collection.send_changelog passes.
            key_bytes, _ = topic.prepare_key(key, self.key_serializer)
            value_bytes, _ = topic.prepare_value(value, self.value_serializer)
            sent = await producer.send(name, key_bytes, value_bytes, partition, None, None)
            on_sent = partial(self._on_sent, name, last_of[partition] == index)
            asyncio.ensure_future(sent).add_done_callback(on_sent)

    def _on_sent(self, name: str, persist: bool, sent: asyncio.Future[Any]) -> None:
        if sent.cancelled():
            return
        failure = sent.exception()
        if failure is not None:
            self.log.critical("changelog record to %s refused: %r", name, failure)
            self._crashing = asyncio.ensure_future(self.app.crash(failure))
            return
        # Faust's Collection._on_changelog_sent: RocksDB keeps the changelog offset it
        # holds, so a restart reads only what came after it.
        if persist:
            metadata = sent.result()
            self.data.set_persisted_offset(metadata.topic_partition, metadata.offset)
