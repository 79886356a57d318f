"""The trainer's catalogue reader: the whole ``items.catalog`` topic at every start, then
each new record, validated (bad records dead-lettered with a reason), encoded off the
step path (this thread, in batches, cached by content hash) and handed to the learner,
which applies it at its next step.

Why a group-less consumer and not a Faust agent: every trainer (every rank of a
group) needs the whole catalogue from the beginning at every start, which is Faust's
GlobalTable, and faust-streaming's GlobalTable warns of an infinite recovery loop
with several app instances (faust/tables/globaltable.py), which a trainer group is.
Read whole each start, the catalogue needs no committed offsets: nothing accepted is
lost by a restart, and content the restored model already holds (same hash) is
skipped without being encoded. In a group each rank reads it all; a step applies the
union of the ranks' updates in rank order (model/item_admission.py), so rows match.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

from stream.content.encoding import ContentEncoder
from stream.content.metrics import CatalogMetrics
from stream.kafka.client_options import kafka_python_options
from stream.kafka.topic_reader import assigned_consumer
from stream.messages.catalog import CatalogItem, CatalogRejection, parse_catalog_record
from stream.messages.dead_letter import dead_letter_record
from stream.messages.events import MessageOrigin
from stream.settings import Settings

log = logging.getLogger(__name__)


class CatalogReader:
    def __init__(
        self, settings: Settings, learner: Any, registry: CollectorRegistry,
        encoder: ContentEncoder | None = None,
    ) -> None:  # fmt: skip
        """``learner``: has ``queue_content`` and ``content_hash_of`` (the transformer)."""
        self.settings = settings
        self.learner = learner
        self.metrics = CatalogMetrics.create(registry)
        self.encoder = encoder or ContentEncoder(settings.content)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="catalog-reader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        topic = self.settings.topics.catalog
        producer = KafkaProducer(**kafka_python_options(self.settings.kafka), acks="all")
        try:
            while not self._stop.is_set():
                consumer, partitions = assigned_consumer(self.settings, topic, True)
                try:
                    if not partitions:  # not created yet: look again soon
                        self._stop.wait(5.0)
                        continue
                    most = self.settings.content.batch_size * 4
                    while not self._stop.is_set():
                        polled = consumer.poll(timeout_ms=500, max_records=most)
                        records = [r for batch in polled.values() for r in batch]
                        if records:
                            self._handle(records, producer)
                finally:
                    consumer.close()
        except Exception:
            log.exception("the catalogue reader failed; content stops updating")
            raise
        finally:
            producer.close()

    def _handle(self, records: list[Any], producer: KafkaProducer) -> None:
        items: list[CatalogItem] = []
        limits, id_limit = self.settings.catalog, self.settings.events.max_id_length
        refused = 0
        for record in records:
            if record.value is None:  # a compaction tombstone: the item left the catalogue
                self.metrics.records.labels(outcome="tombstone").inc()
                continue
            parsed = parse_catalog_record(record.key, record.value, limits, id_limit)
            if isinstance(parsed, CatalogRejection):
                self._dead_letter(record, parsed, producer)
                refused += 1
                continue
            items.append(parsed)
        if refused:
            producer.flush()  # once per poll, not per refused record
        before = self.encoder.stats.encoded, self.encoder.stats.seconds
        updates = self.encoder.updates(items, self.learner.content_hash_of)
        self.metrics.encoded.inc(self.encoder.stats.encoded - before[0])
        self.metrics.encode_seconds.inc(self.encoder.stats.seconds - before[1])
        self.metrics.records.labels(outcome="applied").inc(len(updates))
        self.metrics.records.labels(outcome="unchanged").inc(len(items) - len(updates))
        if updates:
            self.learner.queue_content(updates)

    def _dead_letter(
        self, record: Any, rejection: CatalogRejection, producer: KafkaProducer
    ) -> None:
        self.metrics.records.labels(outcome=str(rejection.reason)).inc()
        origin = MessageOrigin(record.topic, record.partition, record.offset,
                               record.timestamp / 1000 if record.timestamp else None)  # fmt: skip
        value = dead_letter_record(rejection, record.value, origin,
                                   self.settings.events.deadletter_raw_max_bytes)  # fmt: skip
        producer.send(self.settings.topics.deadletter, key=record.key, value=value)
