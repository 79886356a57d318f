"""The dead-letter record: what was rejected, why, and exactly where it came from."""

from __future__ import annotations

import base64
from typing import Protocol

import orjson

from stream.messages.events import MessageOrigin


class Refusal(Protocol):
    """A verdict with a stable reason code: a rejected event or sequence update."""

    @property
    def reason(self) -> str: ...

    @property
    def detail(self) -> str: ...


def dead_letter_record(
    rejection: Refusal, raw: bytes | None, origin: MessageOrigin, raw_max_bytes: int
) -> bytes:
    """JSON ``{"reason", "detail", "topic", "partition", "offset", "raw", ...}``.

    ``raw`` is the payload as text when it is UTF-8 and base64 otherwise
    (``raw_encoding`` says which), so no byte is lost; payloads over ``raw_max_bytes``
    are cut (``raw_truncated``) and stay whole at topic/partition/offset upstream.
    """
    data = raw or b""
    truncated = len(data) > raw_max_bytes
    data = data[:raw_max_bytes]
    try:
        text, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(data).decode("ascii"), "base64"
    return orjson.dumps(
        {
            "reason": str(rejection.reason),
            "detail": rejection.detail,
            "topic": origin.topic,
            "partition": origin.partition,
            "offset": origin.offset,
            "raw": text,
            "raw_encoding": encoding,
            "raw_truncated": truncated,
        }
    )
