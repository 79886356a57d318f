"""Publish a Faust app's consumer-group lag to a gauge every few seconds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import faust
from kafka.errors import KafkaError

from stream.group_lag import GroupLag
from stream.settings import Settings

log = logging.getLogger(__name__)

SetLag = Callable[[str, int, int], None]  # (topic, partition, messages behind)


def install_lag_timer(
    app: faust.App, settings: Settings, group_id: str, topics: list[str], set_lag: SetLag
) -> None:
    """Measure ``group_id``'s lag on ``topics`` every ``metrics.lag_interval_s``.

    The blocking kafka-python calls run in a thread so the event loop keeps serving
    the agents; a failed measurement is skipped (the gauge keeps its last value).
    """
    state: dict[str, GroupLag] = {}

    def measure() -> dict[tuple[str, int], int]:
        if "lag" not in state:
            state["lag"] = GroupLag(settings)  # lives as long as the process
        return state["lag"].measure(group_id, topics)

    async def record_lag() -> None:
        try:
            lag = await asyncio.to_thread(measure)
        except KafkaError as exc:
            log.debug("consumer lag not measured this time: %s", exc)
            return
        for (topic, partition), behind in lag.items():
            set_lag(topic, partition, behind)

    app.timer(interval=settings.metrics.lag_interval_s)(record_lag)
