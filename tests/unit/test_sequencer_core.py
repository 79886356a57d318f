"""One micro-batch through the sequencer's plain core: coalescing, dead letters, counts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from stream.messages.events import Reason
from stream.messages.sequence_update import SequenceUpdate
from stream.sequencer.batch import RawMessage, process_batch
from stream.settings import EventLimitsSettings, WindowSettings

NOW = 1_800_000_000.0
ACTIONS = {"events.view": "view", "events.click": "click", "events.purchase": "purchase"}


def msg(offset: int, value: Any, topic: str = "events.view", key: str | None = None) -> RawMessage:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    user = key if key is not None else (value.get("user_id") if isinstance(value, dict) else "x")
    return RawMessage(topic, 0, offset, NOW - 1, str(user).encode(), raw)


def run(messages: list[RawMessage], store: dict[str, Any] | None = None) -> Any:
    store = {} if store is None else store
    loaded: dict[str, Any] = store

    def load(user_id: str, index: int) -> Any:
        # The index is one of the user's own messages: its partition holds the window.
        assert orjson.loads(messages[index].value or b"{}")["user_id"] == user_id
        return loaded.get(user_id)

    result = process_batch(
        messages, ACTIONS, load, EventLimitsSettings(), WindowSettings(max_events=5), NOW
    )
    for write in result.writes:
        store[write.user_id] = write.state
    return result


def test_many_events_of_one_user_coalesce_into_one_update() -> None:
    messages = [
        msg(0, {"user_id": "a", "item_id": "i1", "ts": NOW - 30}),
        msg(1, {"user_id": "b", "item_id": "i2", "ts": NOW - 20}),
        msg(2, {"user_id": "a", "item_id": "i3", "ts": NOW - 10}, topic="events.click"),
    ]
    result = run(messages)
    updates = {u.user_id: u for u in result.updates}
    assert set(updates) == {"a", "b"}
    assert updates["a"].items == ["i1", "i3"]
    assert updates["a"].actions == ["view", "click"]
    assert updates["a"].new_count == 2
    assert updates["a"].event_id == "events.click/0/2"
    assert updates["a"].ingest_ts == NOW - 1
    assert result.accepted == {"events.view": 2, "events.click": 1}
    assert [w.message_index for w in result.writes if w.user_id == "a"] == [2]


def test_bad_messages_become_dead_letters_and_good_ones_still_flow() -> None:
    messages = [
        msg(0, b"\x00\x01garbage", key="k"),
        msg(1, {"user_id": "a", "item_id": "i1", "ts": NOW - 5}),
        msg(2, {"user_id": "a", "item_id": "i1", "ts": NOW - 5}, key="not-a"),
        msg(3, {"user_id": "b", "item_id": "i2", "ts": NOW, "action": "view"}, "events.purchase"),
    ]
    result = run(messages)
    assert [letter.reason for letter in result.dead_letters] == [
        Reason.NOT_JSON,
        Reason.KEY_MISMATCH,
        Reason.ACTION_MISMATCH,
    ]
    record = orjson.loads(result.dead_letters[0].record)
    assert record["topic"] == "events.view" and record["offset"] == 0
    assert record["reason"] == "not_json"
    assert result.dead_letters[0].key == b"k"
    assert [u.user_id for u in result.updates] == ["a"]


def test_redelivered_batch_changes_nothing_but_republishes() -> None:
    store: dict[str, Any] = {}
    messages = [msg(i, {"user_id": "a", "item_id": f"i{i}", "ts": NOW - 10 + i}) for i in range(3)]
    first = run(messages, store)
    state = dict(store["a"])
    again = run(messages, store)
    assert store["a"] == state
    assert again.writes == []
    assert again.duplicates == 3
    assert again.updates[0].new_count == 3
    assert again.updates[0].items == first.updates[0].items


def test_sequence_update_round_trips_through_json() -> None:
    update = run([msg(0, {"user_id": "a", "item_id": "i", "ts": NOW - 1})]).updates[0]
    assert SequenceUpdate.from_json(update.to_json()) == update


def test_updates_go_to_the_partition_their_events_came_from() -> None:
    messages = [
        replace(msg(0, {"user_id": "a", "item_id": "i1", "ts": NOW - 30}), partition=2),
        replace(msg(0, {"user_id": "b", "item_id": "i2", "ts": NOW - 20}), partition=0),
        replace(msg(1, {"user_id": "c", "item_id": "i3", "ts": NOW - 10}), partition=2),
    ]
    by_partition = run(messages).updates_by_partition()
    assert {p: [u.user_id for u in us] for p, us in by_partition.items()} == {
        2: ["a", "c"], 0: ["b"]}  # fmt: skip
