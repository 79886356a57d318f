"""Read interaction data sets from disk as events in the topic schema.

The shared data sets live beside the repository in ``../shared/data`` (see its
README); they are read from there, never copied into the project.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from stream.messages.events import RawEvent
from stream.paths import REPO_ROOT

# Taobao behaviour codes onto recstream's actions (../shared/data/README.md).
TAOBAO_ACTIONS = {"pv": "view", "cart": "click", "fav": "click", "buy": "purchase"}


def shared_data_dir() -> Path:
    """``$RECSTREAM_SHARED_DATA`` or the ``shared/data`` folder beside the repository."""
    override = os.environ.get("RECSTREAM_SHARED_DATA")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "data"


def read_taobao(path: Path, limit: int | None = None) -> list[RawEvent]:
    """Taobao UserBehavior CSV rows as events sorted by time (stable for equal ts).

    Rows with an unknown behaviour code are skipped; the file is public data and its
    codes are the four documented ones.
    """
    events: list[RawEvent] = []
    with path.open(newline="", encoding="utf-8") as handle:
        rows: Iterator[list[str]] = csv.reader(handle)
        for row in islice(rows, limit):
            if len(row) != 5 or row[3] not in TAOBAO_ACTIONS:
                continue
            user, item, _category, behaviour, ts = row
            events.append(
                RawEvent(user_id=user, item_id=item, action=TAOBAO_ACTIONS[behaviour], ts=float(ts))
            )
    events.sort(key=lambda event: event["ts"])
    return events


def uniform_events(
    count: int, users: int = 200, items: int = 1_000, seed: int = 0
) -> list[RawEvent]:
    """A structureless random stream (fallback when no data set is present).

    It exercises the plumbing only; a model learns nothing from it.
    """
    import random

    rng = random.Random(seed)
    actions = ["view"] * 90 + ["click"] * 7 + ["purchase"] * 3
    start = 1_700_000_000.0
    return [
        RawEvent(
            user_id=f"u{rng.randrange(users)}",
            item_id=f"i{rng.randrange(items)}",
            action=rng.choice(actions),
            ts=start + index,
        )
        for index in range(count)
    ]


def read_jsonl(path: Path, limit: int | None = None) -> list[RawEvent]:
    """One event per line in the topic schema plus ``action``; sorted by ts.

    ``ts`` may be epoch seconds or ISO-8601 with a zone, as on the topics.
    """
    import orjson

    from stream.messages.events import Rejection, parse_timestamp

    events: list[RawEvent] = []
    with path.open("rb") as handle:
        for number, line in enumerate(islice(handle, limit), start=1):
            if not line.strip():
                continue
            data = orjson.loads(line)
            ts = parse_timestamp(data["ts"])
            if isinstance(ts, Rejection):
                raise ValueError(f"{path}:{number}: {ts.detail}")
            events.append(RawEvent(user_id=str(data["user_id"]), item_id=str(data["item_id"]),
                                   action=str(data.get("action", "view")), ts=ts))  # fmt: skip
    events.sort(key=lambda event: event["ts"])
    return events


def read_pairs(path: Path, limit: int | None = None, action: str = "view") -> list[RawEvent]:
    """``user item`` lines in time order per user, without timestamps: the line number is
    the time, so the stream keeps the file's order."""
    events: list[RawEvent] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(islice(handle, limit)):
            parts = line.split()
            if len(parts) >= 2:
                events.append(RawEvent(user_id=parts[0], item_id=parts[1], action=action,
                                       ts=float(number)))  # fmt: skip
    return events


READERS = {"taobao": read_taobao, "jsonl": read_jsonl, "pairs": read_pairs}


def read_events(path: Path, file_format: str, limit: int | None = None) -> list[RawEvent]:
    try:
        reader = READERS[file_format]
    except KeyError:
        raise ValueError(
            f"unknown format {file_format!r}; choose from {', '.join(READERS)}"
        ) from None
    return reader(path, limit)
