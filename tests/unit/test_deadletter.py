"""Dead-letter records keep every byte they can and say where the message came from."""

from __future__ import annotations

import base64

import orjson

from stream.messages.dead_letter import dead_letter_record
from stream.messages.events import MessageOrigin, Reason, Rejection

ORIGIN = MessageOrigin("events.click", 2, 99, None)
REJECTION = Rejection(Reason.NOT_UTF8, "invalid UTF-8 at byte 0")


def test_text_payload_is_kept_as_text() -> None:
    record = orjson.loads(dead_letter_record(REJECTION, b'{"a": 1}', ORIGIN, 1_024))
    assert record == {
        "reason": "not_utf8",
        "detail": "invalid UTF-8 at byte 0",
        "topic": "events.click",
        "partition": 2,
        "offset": 99,
        "raw": '{"a": 1}',
        "raw_encoding": "utf-8",
        "raw_truncated": False,
    }


def test_binary_payload_is_kept_as_base64() -> None:
    payload = b"\xff\xfe\x00binary"
    record = orjson.loads(dead_letter_record(REJECTION, payload, ORIGIN, 1_024))
    assert record["raw_encoding"] == "base64"
    assert base64.b64decode(record["raw"]) == payload


def test_oversized_payload_is_cut_and_says_so() -> None:
    record = orjson.loads(dead_letter_record(REJECTION, b"x" * 5_000, ORIGIN, 1_000))
    assert record["raw"] == "x" * 1_000
    assert record["raw_truncated"] is True


def test_missing_payload_is_an_empty_string() -> None:
    record = orjson.loads(dead_letter_record(REJECTION, None, ORIGIN, 1_000))
    assert record["raw"] == ""
