"""The sequencer's job written on quixstreams: the peer a user would compare us with.

    python bench/quix_peer.py BOOTSTRAP TOPICS OUTPUT GROUP PORT STATE_DIR

Runs in its own virtual environment (``bench/quix_peer.sh`` makes it: quixstreams
pins its own pydantic), so it imports nothing of recstream. Per event: parse the
JSON, keep the user's window of the last 50 events in RocksDB state (de-duplicated by
event id, or topic/partition/offset when the event has none), and publish the whole
window to OUTPUT, one message per event. Events read are counted on a Prometheus
counter (``bench_quix_peer_events_total``) so bench.ingest times it like the others.
The event topics are merged with ``StreamingDataFrame.concat`` (same key, same
partition count), so a user's window spans every action, as the sequencer's does.
"""

from __future__ import annotations

import sys
from typing import Any

from prometheus_client import Counter, start_http_server
from quixstreams import Application, State, message_context

WINDOW = 50


def main(bootstrap: str, topics: str, output: str, group: str, port: int, state: str) -> None:
    seen = Counter("bench_quix_peer_events", "Events read and windowed.")
    start_http_server(port, addr="127.0.0.1")
    app = Application(
        broker_address=bootstrap, consumer_group=group, auto_offset_reset="earliest",
        state_dir=state, loglevel="WARNING",
    )  # fmt: skip
    out = app.topic(output, value_serializer="json")
    names = topics.split(",")
    frames = [app.dataframe(app.topic(name, value_deserializer="json")) for name in names]
    sdf = frames[0]
    for other in frames[1:]:
        sdf = sdf.concat(other)

    def window(event: dict[str, Any], state: State) -> Any:
        events: list[dict[str, Any]] = state.get("window", [])
        where = message_context()
        event_id = event.get("event_id") or f"{where.topic}:{where.partition}:{where.offset}"
        if all(e["event_id"] != event_id for e in events):
            events.append({"event_id": event_id, "item_id": event["item_id"], "ts": event["ts"]})
            events.sort(key=lambda e: (e["ts"], e["event_id"]))
            del events[:-WINDOW]
            state.set("window", events)
        seen.inc()
        return {"user_id": event["user_id"], "events": events}

    sdf = sdf.apply(window, stateful=True)
    sdf.to_topic(out)
    app.run()


if __name__ == "__main__":
    bootstrap, topics, output, group, port, state = sys.argv[1:7]
    main(bootstrap, topics, output, group, int(port), state)
