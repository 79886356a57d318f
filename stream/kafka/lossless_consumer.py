"""Faust's Kafka consumer without its three ways of committing past records the agents
never saw. Written for faust-streaming 0.15.3 with aiokafka 0.14 (both pinned in
pyproject.toml); ``tests/unit/test_lossless_consumer.py`` fails when the Faust code
overridden here changes shape, so an upgrade makes someone read this again.

What went wrong (``make bench-rebalance``: 2-3 of every 6-10 runs lost 8-24k of 96k
events when a second sequencer joined mid-backlog; bench/NOTES.md):

1. **Fetched records dropped.** ``Consumer.getmany`` (faust/transport/consumer.py)
   skips records of partitions that are not active at that moment of a rebalance
   (paused for recovery, revoked) and stops mid-batch when the flow stops or the
   generation changes; ``Consumer._drain_messages`` cancels the delivery callback when
   the flow is suspended but still marks the record read. aiokafka's position has
   moved past all of them (faust-streaming #629, #216, #221).
2. **Nothing rewinds a partition that has no commit.** After a rebalance Faust seeks
   to the committed offsets, but aiokafka's ``seek_to_committed`` seeks only when the
   committed offset is > 0, so a never-committed partition keeps its advanced position.
3. **The commit jumps the hole.** ``Consumer._drain_messages`` records an offset gap
   (``_add_gap``, meant for compacted topics and transaction markers) and
   ``_new_offset`` fills it as if acked; and ``_new_offset`` checks the head of the
   acked offsets only when a commit is known and is not 0, and lets one missing record
   at the head through (``min(acked) - committed > 1``) (faust-streaming #606).

What this consumer does instead:

1. remembers what each ``getmany`` batch fetched and what the delivery callback really
   handed to the streams; a partition still assigned whose records were not all handed
   over is sought back to the first undelivered offset. Faust's ``Stream`` can also pass
   over messages already handed to it (``Stream._c_aiter`` skips them while flow control
   is off or when their generation is not the consumer's): once a second, messages that
   a stream passed over are found (:func:`skipped_by_streams`) and their partitions
   sought back too;
2. seeks partitions of the agents' topics that have no commit to their beginning
   (``consumer_auto_offset_reset`` is ``earliest`` in every recstream app);
3. with ``kafka.fill_offset_gaps: false`` (the default) records no gaps and commits
   only from the committed offset on: a record not acked holds the commit back. Turn
   it on only for topics written by transactional producers or compacted.

Windows and the trainer deduplicate by event id, so a record read twice is harmless;
one never read is what this module exists to prevent.

For the topics an app names in ``batched_topics`` the consumer also hands each
partition's records of a fetch to the streams as one message
(:mod:`stream.kafka.partition_batch`); everything above then works per batch: a batch not
handed over or passed over is re-read from its first record, and acking it acks all
of its records' offsets.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from time import monotonic
from typing import Any, ClassVar

import faust
from aiokafka.errors import IllegalStateError
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.tuples import ack_lock

from stream.kafka.partition_batch import (
    FoldedRecords,
    PartitionBatch,
    first_offset,
    fold_partitions,
    offsets_in,
)

Callback = Callable[[Any], Awaitable[None]]
AUDIT_EVERY_S = 1.0  # how often the messages handed to the streams are checked
POSITION_WAIT_S = 5.0
FULL_FETCH_BYTES = 512 * 1024  # a backlog fills it at once; a live stream waits fetch_wait_ms


def first_undelivered(
    fetched: Mapping[TP, Sequence[Any]], handled_to: Mapping[TP, int]
) -> dict[TP, int]:
    """Per partition of a fetched batch: the lowest offset not handed to the streams.

    ``fetched``: the batch's records by partition (each with ``.offset``, in order);
    ``handled_to``: per partition, the offset just past the records handed over (or
    skipped as already read) without a hole, from the start of the batch.
    """
    out: dict[TP, int] = {}
    for tp, records in fetched.items():
        upto = handled_to.get(tp)
        for record in records:
            if upto is None or record.offset >= upto:
                out[tp] = int(record.offset)
                break
    return out


def skipped_by_streams(handed: Sequence[Any]) -> list[Any]:
    """Messages handed to the streams (oldest first) that a stream passed over.

    A stream marks each message it takes ``tracked`` (and later ``acked``); one queue
    feeds the agent in the order the messages were handed over, so an untracked message
    older than one the stream has taken was dropped by the stream, not still queued.
    """
    last_taken = max((i for i, m in enumerate(handed) if m.tracked or m.acked), default=0)
    return [m for m in handed[:last_taken] if not (m.tracked or m.acked)]


def commit_may_advance(acked: Sequence[int], committed: int | None) -> bool:
    """Whether Faust may compute a new commit from ``acked``: only when the record at
    the committed offset has been acked (no hole at the head)."""
    if not acked or committed is None:
        return bool(acked)
    return min(acked) <= committed


class _FetchTunedThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread; its aiokafka consumer waits for fuller fetches.

    faust's ``_create_worker_consumer`` fixes ``fetch_max_wait_ms`` at 1500 and leaves
    ``fetch_min_bytes`` at 1, so the broker answers as soon as any record arrives;
    aiokafka reads both from the consumer when its fetcher starts (``AIOKafkaConsumer.
    start``), so setting them on the new consumer takes effect."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        created = super()._create_worker_consumer(transport)
        wait_ms: int | None = getattr(self.consumer, "fetch_wait_ms", None)
        # 0 keeps Faust's settings: a max wait of 0 with fetch.min.bytes 1 would have the
        # broker answer every fetch at once, records or not, and the fetcher ask again
        # straight away (a busy loop on both sides).
        if wait_ms:
            created._fetch_max_wait_ms = wait_ms
            created._fetch_min_bytes = FULL_FETCH_BYTES
        return created


class LosslessConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer with the three changes in the module docstring."""

    fill_offset_gaps: ClassVar[bool] = False
    batched_topics: ClassVar[frozenset[str]] = frozenset()
    fetch_wait_ms: ClassVar[int | None] = None  # None: Faust's fetch settings

    def _new_consumer_thread(self) -> Any:
        return _FetchTunedThread(self, loop=self.loop, beacon=self.beacon)

    def __init__(self, *args: Any, callback: Callback, **kwargs: Any) -> None:
        self._batch: Mapping[TP, Sequence[Any]] = {}
        self._last_handed: dict[TP, int] = {}  # offset of the newest record handed over
        self._in_streams: deque[Any] = deque()  # handed over, not yet acked, oldest first
        self._audited_at = 0.0
        self.undelivered_seeks = 0  # partitions sought back so far (tests and logs)

        async def handing_over(message: Any) -> None:
            await callback(message)  # returns only once the streams have the message
            self._last_handed[message.tp] = message.offset
            if acks_enabled_for(message.topic):  # agents' topics: streams track these
                self._in_streams.append(message)

        super().__init__(*args, callback=handing_over, **kwargs)
        acks_enabled_for = self.app.topics.acks_enabled_for

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        records, active = await super()._wait_next_records(timeout)
        self._batch = records or {}
        if records and self.batched_topics:
            records = fold_partitions(records, self.batched_topics)
        return records, active

    def _to_message(self, tp: TP, record: Any) -> Any:
        if isinstance(record, FoldedRecords):
            return PartitionBatch(tp, record.records, self.app.consumer_generation_id)
        return super()._to_message(tp, record)

    def ack(self, message: Any) -> bool:
        if isinstance(message, PartitionBatch):
            with ack_lock:  # Faust's own ack takes it too (reentrant): one step for both
                if not message.acked:
                    self._ack_records_before_newest(message)
                return bool(super().ack(message))
        return bool(super().ack(message))

    def _ack_records_before_newest(self, batch: PartitionBatch) -> None:
        """Faust's ``ack`` files one offset per message: the batch's newest. The others
        are filed here the way it would file them, one by one."""
        if not self.app.topics.acks_enabled_for(batch.topic):
            return
        tp = batch.tp
        committed = self._committed_offset[tp]
        acked_index, acked = self._acked_index[tp], self._acked[tp]
        for offset in offsets_in(batch, self.fill_offset_gaps):
            if offset == batch.offset or offset in acked_index:
                continue
            if committed is None or offset >= committed:
                acked_index.add(offset)
                acked.append(offset)
                self._n_acked += 1

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        handled_to: dict[TP, int] = {}
        holes: set[TP] = set()
        async for tp, message in super().getmany(timeout):
            read_before = self._read_offset[tp]
            yield tp, message  # _drain_messages runs the callback before resuming us
            if tp in holes:
                continue
            # Faust drops a record below its read offset as read already ("DROPPED MESSAGE
            # ROFF"). That holds only below the commit: records of a batch fetched before a
            # seek to the commit can push the read offset past records still to come.
            committed = self._committed_offset[tp]
            already_read = (read_before is not None and message.offset < read_before
                            and committed is not None and message.offset < committed)  # fmt: skip
            if already_read or self._last_handed.get(tp) == message.offset:
                handled_to[tp] = message.offset + 1
            else:
                holes.add(tp)  # cancelled by a flow stop: everything from here is re-read
        # Reached only when the batch was iterated to its end or cut short by Faust (a
        # shutdown closes the generator before this line; restart re-reads from the commit).
        missing = first_undelivered(self._batch, handled_to)
        self._batch = {}
        if self.should_stop:
            return
        await self._rewind(missing, "fetched but not delivered")
        if monotonic() - self._audited_at >= AUDIT_EVERY_S:
            self._audited_at = monotonic()
            await self._rewind(self._skipped_by_streams(), "delivered but skipped by a stream")

    def _skipped_by_streams(self) -> dict[TP, int]:
        """The lowest offset per partition of messages a stream passed over (Faust's
        Stream skips messages while flow control is off or of another generation)."""
        while self._in_streams and self._in_streams[0].acked:
            self._in_streams.popleft()
        handed = list(self._in_streams)
        skipped = skipped_by_streams(handed)
        rewind: dict[TP, int] = {}
        for message in skipped:
            offset = first_offset(message)
            rewind[message.tp] = min(offset, rewind.get(message.tp, offset))
        if rewind:  # everything of those partitions is read again from there
            self._in_streams = deque(m for m in handed if m.tp not in rewind and not m.acked)
        return rewind

    async def _rewind(self, offsets: Mapping[TP, int], why: str) -> None:
        """Seek partitions back to ``offsets``; never forward (a rebalance may have put a
        partition at its commit already, before records it must not jump over). One that
        a rebalance takes away meanwhile is left alone: its new owner reads it from the
        commit, which never passed these records."""
        for tp, offset in offsets.items():
            if tp not in self.assignment():
                continue
            try:
                try:
                    position = await asyncio.wait_for(self.position(tp), POSITION_WAIT_S)
                except TimeoutError:
                    position = None  # unknown: the records were handed, so it is past them
                if position is not None and position <= offset:
                    continue
                await self.seek_wait({tp: offset})
            except IllegalStateError:  # revoked between the check and the seek
                continue
            self.log.info("re-reading %s from offset %d: records %s", tp, offset, why)
            self.undelivered_seeks += 1

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed: Mapping[TP, int] = await super().seek_to_committed()
        acks_enabled_for = self.app.topics.acks_enabled_for
        never = [tp for tp, offset in committed.items()
                 if not offset and acks_enabled_for(tp.topic)]  # fmt: skip
        if never:
            await self._thread.seek_to_beginning(*never)
        return committed

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        if not self.fill_offset_gaps:
            return
        if tp.topic in self.batched_topics:
            # Faust's gap runs to the batch's newest offset (inclusive); the records of
            # the batch (this fetch's, in self._batch) are not missing, only the offsets
            # before its first one are.
            fetched = self._batch.get(tp)
            if fetched:
                offset_to = min(offset_to, int(fetched[0].offset) - 1)
            if offset_to < offset_from:
                return
        await super()._add_gap(tp, offset_from, offset_to)

    def _new_offset(self, tp: TP) -> int | None:
        if not self.fill_offset_gaps and not commit_may_advance(
            self._acked[tp], self._committed_offset[tp]
        ):
            return None
        result: int | None = super()._new_offset(tp)
        return result


class LosslessTransport(faust_aiokafka.Transport):
    Consumer = LosslessConsumer


class LosslessApp(faust.App):
    """A Faust app whose Kafka consumer is :class:`LosslessConsumer`, and whose agents
    crash the worker when they fail."""

    fill_offset_gaps: ClassVar[bool] = False
    batched_topics: ClassVar[frozenset[str]] = frozenset()
    fetch_wait_ms: ClassVar[int | None] = None

    async def _on_agent_error(self, agent: Any, exc: BaseException) -> None:
        # Faust's default only commits, and its supervisor then restarts the agent, which
        # may have dropped the batch it held. Crash instead: the exit watchdog
        # (stream/kafka/exit_watchdog.py) ends the process, and a restart re-reads from the commit.
        self.log.critical("agent %s failed: %r; stopping the worker", agent.name, exc)
        await self.crash(exc)

    def _new_transport(self) -> Any:
        # faust.App._new_transport picks the driver by URL scheme; ours is the same driver.
        consumer = type("LosslessConsumer", (LosslessConsumer,),
                        {"fill_offset_gaps": self.fill_offset_gaps,
                         "batched_topics": self.batched_topics,
                         "fetch_wait_ms": self.fetch_wait_ms})  # fmt: skip
        transport = type("LosslessTransport", (LosslessTransport,), {"Consumer": consumer})
        return transport(self.conf.broker_consumer, self)


def lossless_app(
    app_id: str,
    fill_offset_gaps: bool,
    batched_topics: frozenset[str] = frozenset(),
    fetch_wait_ms: int | None = None,
    **options: Any,
) -> faust.App:
    """``faust.App(app_id, **options)`` reading through :class:`LosslessConsumer`; the
    agents of ``batched_topics`` get one :class:`PartitionBatch` per partition and fetch,
    and with ``fetch_wait_ms`` the broker may hold a fetch that long to fill it."""
    options_of_class = {"fill_offset_gaps": fill_offset_gaps, "batched_topics": batched_topics,
                        "fetch_wait_ms": fetch_wait_ms}  # fmt: skip
    app_class = type("LosslessApp", (LosslessApp,), options_of_class)
    app: faust.App = app_class(app_id, **options)
    return app
