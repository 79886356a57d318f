"""Many users' updates per message on the sequences topic: split by size, read back in
order, and a bad update refused alone while the rest of its message is learned."""

from __future__ import annotations

import orjson

from stream.messages.sequence_batch import encode_batches, read_updates
from stream.messages.sequence_decoder import UpdateReason, decode_message
from stream.messages.sequence_update import SequenceUpdate
from tests.unit.test_sequence_update import GOOD, LIMITS, POISON


def user(n: int) -> SequenceUpdate:
    return SequenceUpdate(**(GOOD.as_dict() | {"user_id": f"u{n}"}))


def test_a_batch_reads_back_as_its_updates_in_order() -> None:
    updates = [user(n) for n in range(5)]
    [message] = encode_batches(updates)
    assert read_updates(message) == updates
    decoded = decode_message(message, LIMITS)
    assert decoded.updates == updates and decoded.rejected == []


def test_a_large_batch_is_split_into_messages_under_the_limit() -> None:
    updates = [user(n) for n in range(40)]
    size = len(updates[0].to_json())
    messages = encode_batches(updates, max_bytes=10 * size)
    assert len(messages) >= 4 and all(len(m) <= 10 * size for m in messages)
    assert [u for m in messages for u in read_updates(m)] == updates
    # One update larger than the limit still travels, alone.
    assert [read_updates(m) for m in encode_batches(updates[:2], max_bytes=10)] == [
        [updates[0]], [updates[1]]]  # fmt: skip


def test_a_bad_update_is_refused_alone_with_its_own_bytes() -> None:
    poison, reason, _where = POISON[0]
    message = b'{"updates":[' + b",".join([user(1).to_json(), poison, user(2).to_json()]) + b"]}"
    decoded = decode_message(message, LIMITS)
    assert [u.user_id for u in decoded.updates] == ["u1", "u2"]
    [(raw, rejection)] = decoded.rejected
    assert rejection.reason is reason and orjson.loads(raw) == orjson.loads(poison)


def test_an_inconsistent_update_in_a_valid_batch_is_refused_alone() -> None:
    broken = SequenceUpdate(**(GOOD.as_dict() | {"user_id": "bad", "new_count": 7}))
    decoded = decode_message(encode_batches([user(1), broken])[0], LIMITS)
    assert [u.user_id for u in decoded.updates] == ["u1"]
    [(raw, rejection)] = decoded.rejected
    assert rejection.reason is UpdateReason.INCONSISTENT
    assert orjson.loads(raw)["user_id"] == "bad"


def test_a_bare_update_still_decodes_and_non_batches_are_refused_whole() -> None:
    assert decode_message(GOOD.to_json(), LIMITS).updates == [GOOD]  # older sequencers
    for raw, reason in [(b"not json", UpdateReason.NOT_JSON),
                        (b'{"updates": 3}', UpdateReason.WRONG_TYPE),
                        (b"[1, 2]", UpdateReason.WRONG_TYPE)]:  # fmt: skip
        decoded = decode_message(raw, LIMITS)
        assert decoded.updates == [] and [(r, j.reason) for r, j in decoded.rejected] == [
            (raw, reason)]  # fmt: skip
