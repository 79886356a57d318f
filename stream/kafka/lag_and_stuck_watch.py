"""Every few seconds: publish a Faust app's consumer-group lag, and re-read partitions
that a rebalance left read-but-unprocessed (see :mod:`stream.kafka.stuck_partitions`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import faust
from aiokafka.errors import KafkaError as AIOKafkaError
from kafka.errors import KafkaError

from stream.kafka.group_lag import GroupLag, PartitionOffsets
from stream.kafka.stuck_partitions import StuckPartitions
from stream.settings import Settings

log = logging.getLogger(__name__)

SetLag = Callable[[str, int, int], None]  # (topic, partition, messages behind)
OnRewind = Callable[[str, int, int], None]  # (topic, partition, offset re-read from)
Processed = Callable[[], int]  # messages this worker has processed so far


def watch_lag_and_stuck_partitions(
    app: faust.App,
    settings: Settings,
    group_id: str,
    topics: list[str],
    set_lag: SetLag,
    on_rewind: OnRewind | None = None,
    processed: Processed | None = None,
) -> None:
    """Measure ``group_id``'s offsets on ``topics`` every ``metrics.lag_interval_s``.

    The blocking kafka-python calls run in a thread so the event loop keeps serving
    the agents; a failed measurement is skipped (the gauge keeps its last value).
    With ``on_rewind`` and ``processed``, partitions of this worker that stay read to
    their end but uncommitted while it is idle are sought back to their committed
    offset (and reported through ``on_rewind``).
    """
    state: dict[str, GroupLag] = {}
    stuck = StuckPartitions()
    last_processed = [-1]

    def measure() -> dict[tuple[str, int], PartitionOffsets]:
        if "lag" not in state:
            state["lag"] = GroupLag(settings)  # lives as long as the process
        return state["lag"].measure(group_id, topics)

    async def record_lag() -> None:
        try:
            offsets = await asyncio.to_thread(measure)
        except KafkaError as exc:
            log.debug("consumer lag not measured this time: %s", exc)
            return
        for (topic, partition), known in offsets.items():
            set_lag(topic, partition, known.lag)
        if on_rewind is not None and processed is not None:
            count = processed()
            idle, last_processed[0] = count == last_processed[0], count
            try:
                await rewind_stuck(offsets, on_rewind, idle)
            except (TimeoutError, AIOKafkaError) as exc:
                # A rebalance between assignment() and position(), or a position not
                # known yet: try again next time; a timer that raises would stop Faust.
                log.debug("stuck-partition check skipped this time: %r", exc)

    async def rewind_stuck(
        offsets: dict[tuple[str, int], PartitionOffsets], report: OnRewind, idle: bool
    ) -> None:
        consumer = app.consumer
        assigned = {tp: (tp.topic, tp.partition) for tp in consumer.assignment()}
        positions = {
            key: await asyncio.wait_for(consumer.position(tp), timeout=5.0)
            for tp, key in assigned.items()
            if key in offsets
        }
        by_key = {key: tp for tp, key in assigned.items()}
        now = time.monotonic()
        for (topic, partition), offset in stuck.observe(offsets, positions, now, idle).items():
            tp = by_key[(topic, partition)]
            log.warning(
                "%s[%d] was read to its end (%d) but never processed: re-reading from "
                "offset %d (records dropped during a rebalance; faust-streaming #629)",
                topic, partition, offsets[(topic, partition)].end, offset,
            )  # fmt: skip
            await consumer.seek_wait({tp: offset})
            report(topic, partition, offset)

    app.timer(interval=settings.metrics.lag_interval_s)(record_lag)
