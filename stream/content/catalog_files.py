"""Catalogue files: JSON lines (one record per line) or CSV (columns item_id, title,
category, text; any other column is an attribute). Records are passed on as they
are: the trainer validates them and dead-letters the bad ones, as it would a
producer's."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer

from stream.kafka.client_options import kafka_python_options
from stream.messages.catalog import TEXT_FIELDS
from stream.settings import Settings


def read_catalog(path: Path) -> list[dict[str, Any]]:
    """Records of a ``.jsonl``/``.json`` or ``.csv`` file; a line that is not JSON is an
    error naming the line (a file is the operator's, not a producer's, input)."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return [_csv_record(row) for row in csv.DictReader(handle)]
    records = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc})") from None
    return records


def _csv_record(row: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {"item_id": row.get("item_id", "")}
    for name in TEXT_FIELDS:
        if row.get(name):
            record[name] = row[name]
    attributes = {k: v for k, v in row.items()
                  if k not in ("item_id", *TEXT_FIELDS) and k and v}  # fmt: skip
    if attributes:
        record["attributes"] = attributes
    return record


def produce_catalog(settings: Settings, records: list[dict[str, Any]]) -> int:
    """Send ``records`` to the catalogue topic (key = item id, as given); returns how many.
    Records are sent as they are: the trainer validates them (and dead-letters)."""
    producer = KafkaProducer(**kafka_python_options(settings.kafka), acks="all", linger_ms=5)
    try:
        for record in records:
            key = record.get("item_id") if isinstance(record, dict) else None
            producer.send(settings.topics.catalog, key=str(key).encode() if key else None,
                          value=orjson.dumps(record))  # fmt: skip
        producer.flush()
    finally:
        producer.close()
    return len(records)


def taobao_catalogue(path: Path) -> list[dict[str, Any]]:
    """The Taobao sample's one piece of item metadata, its category id, as catalogue records
    (the public data sets here carry no titles: this is the content a real stream has)."""
    records: dict[str, dict[str, Any]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            if len(row) >= 3 and row[1] not in records:
                records[row[1]] = {"item_id": row[1], "category": f"category {row[2]}"}
    return list(records.values())
