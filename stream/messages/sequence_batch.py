"""The message on ``recstream.sequences``: the updates of one sequencer micro-batch and
partition, ``{"updates": [SequenceUpdate, ...]}``, in the partition of the events.

One Kafka message per user cost a Faust produce path in the sequencer, a broker
append and a Faust consume path in the trainer per update: ~350 µs of the trainer's
CPU per event at 1,000 events/s (bench/NOTES.md). A batch pays those once for
hundreds of users. A user's updates still share one partition (the sequencer sends a
batch to the partition number its events came from; the topics are co-partitioned),
so one trainer sees a user's updates in order.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from stream.messages.sequence_update import SequenceUpdate

# Below the broker's and the producers' default 1 MiB message limit with room to spare;
# a micro-batch of long windows is split into several messages.
MAX_BATCH_BYTES = 512 * 1024
_HEAD, _TAIL = b'{"updates":[', b"]}"


def encode_batches(
    updates: Iterable[SequenceUpdate], max_bytes: int = MAX_BATCH_BYTES
) -> list[bytes]:
    """The messages that carry ``updates`` in order, each at most ``max_bytes`` (an
    update larger than that alone still gets a message of its own)."""
    messages: list[bytes] = []
    parts: list[bytes] = []
    size = len(_HEAD) + len(_TAIL)
    for update in updates:
        part = update.to_json()
        if parts and size + len(part) + 1 > max_bytes:
            messages.append(_HEAD + b",".join(parts) + _TAIL)
            parts, size = [], len(_HEAD) + len(_TAIL)
        parts.append(part)
        size += len(part) + 1
    if parts:
        messages.append(_HEAD + b",".join(parts) + _TAIL)
    return messages


def read_updates(value: bytes) -> list[SequenceUpdate]:
    """Every update in a message of the topic: a batch, or one bare update (what
    sequencers before batching wrote). For readers that trust the topic (tests, the
    accounting); the trainer checks every field with
    :func:`stream.messages.sequence_decoder.decode_message`."""
    data = orjson.loads(value)
    if isinstance(data, dict) and "updates" in data:
        return [SequenceUpdate(**update) for update in data["updates"]]
    return [SequenceUpdate(**data)]
