"""Follow the recommendations topic in a background thread: the most recent messages."""

from __future__ import annotations

import threading
from collections import deque

from stream.kafka.topic_reader import assigned_consumer
from stream.messages.recommendation import RecommendationMessage
from stream.settings import Settings


class RecommendationTail:
    def __init__(self, settings: Settings, recent: int = 6) -> None:
        self.settings = settings
        self.recent: deque[RecommendationMessage] = deque(maxlen=recent)
        self.freshness: list[float] = []  # published - event ts, one per message
        self.count = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="recommendation-tail", daemon=True)
        self._ready = threading.Event()

    def start(self) -> RecommendationTail:
        self._thread.start()
        self._ready.wait(30)  # positioned at the end before anything is produced
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def snapshot(self) -> list[RecommendationMessage]:
        with self._lock:
            return list(self.recent)

    def _run(self) -> None:
        topic = self.settings.topics.recommendations
        consumer, _partitions = assigned_consumer(self.settings, topic, from_beginning=False)
        try:
            self._ready.set()
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=200).values():
                    for record in records:
                        message = RecommendationMessage.from_json(record.value)
                        with self._lock:
                            self.recent.append(message)
                            self.freshness.append(message.published_ts - message.event_ts)
                            self.count += 1
        finally:
            self._ready.set()
            consumer.close()
