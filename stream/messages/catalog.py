"""Parse and validate item catalogue records (``items.catalog``, key = item id).

A record is ``{"item_id": str, "title": str, "category": str, "text": str,
"attributes": {name: str | number | bool}}``, everything optional but the id. Like
events, a bad record is data: :func:`parse_catalog_record` returns a
:class:`CatalogRejection` with a stable reason code instead of raising.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from stream.messages.events import Rejection, decode_object
from stream.settings import CatalogLimitsSettings

TEXT_FIELDS = ("title", "category", "text")


class CatalogReason(StrEnum):
    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    EMPTY_ID = "empty_id"
    ID_TOO_LONG = "id_too_long"
    FIELD_TOO_LONG = "field_too_long"
    TOO_MANY_ATTRIBUTES = "too_many_attributes"
    KEY_MISMATCH = "key_mismatch"  # the key must be the item id (compaction keeps one per item)
    UNKNOWN_FIELD = "unknown_field"


@dataclass(frozen=True, slots=True)
class CatalogRejection:
    reason: CatalogReason
    detail: str


@dataclass(frozen=True, slots=True)
class CatalogItem:
    item_id: str
    title: str = ""
    category: str = ""
    text: str = ""
    attributes: dict[str, str | int | float | bool] = field(default_factory=dict)

    def content_text(self) -> str:
        """What the text encoder reads: the fields in a fixed order, attributes sorted
        (so the same record always hashes alike). Empty: no content."""
        parts = [value for value in (self.title, self.category, self.text) if value]
        if self.attributes:
            parts.append("; ".join(f"{k}: {v}" for k, v in sorted(self.attributes.items())))
        return ". ".join(parts)


def _decode(raw: bytes, limits: CatalogLimitsSettings) -> dict[str, Any] | CatalogRejection:
    payload = decode_object(raw, limits.max_payload_bytes)  # the same checks as events
    if isinstance(payload, Rejection):
        return CatalogRejection(CatalogReason(str(payload.reason)), payload.detail)
    return payload


def _attributes(value: Any, limits: CatalogLimitsSettings) -> dict[str, Any] | CatalogRejection:
    if value is None:
        return {}
    if not isinstance(value, dict):
        return CatalogRejection(CatalogReason.WRONG_TYPE, "attributes must be an object")
    if len(value) > limits.max_attributes:
        return CatalogRejection(
            CatalogReason.TOO_MANY_ATTRIBUTES,
            f"{len(value)} attributes (limit {limits.max_attributes})",
        )
    for name, item in value.items():
        if not isinstance(item, str | int | float | bool) or (
            isinstance(item, float) and not math.isfinite(item)
        ):
            return CatalogRejection(
                CatalogReason.WRONG_TYPE,
                f"attribute {name[:64]!r} must be a string, number or bool",
            )
        if isinstance(item, str) and len(item) > limits.max_title_chars:
            return CatalogRejection(
                CatalogReason.FIELD_TOO_LONG, f"attribute {name[:64]!r} has {len(item)} characters"
            )
    return dict(value)


def parse_catalog_record(
    key: bytes | None, raw: bytes | None, limits: CatalogLimitsSettings, max_id_length: int
) -> CatalogItem | CatalogRejection:
    """One catalogue message (its key and bytes)."""
    payload = _decode(raw if raw is not None else b"", limits)
    if isinstance(payload, CatalogRejection):
        return payload
    return parse_catalog_object(payload, limits, max_id_length, key)


def parse_catalog_object(
    payload: Any, limits: CatalogLimitsSettings, max_id_length: int, key: bytes | None = None
) -> CatalogItem | CatalogRejection:
    """One decoded catalogue record (a message's JSON, or a line of a catalogue file)."""
    if not isinstance(payload, dict):
        return CatalogRejection(CatalogReason.NOT_OBJECT,
                                f"top level is a JSON {type(payload).__name__}")  # fmt: skip
    unknown = set(payload) - {"item_id", "attributes", *TEXT_FIELDS}
    if unknown:
        return CatalogRejection(
            CatalogReason.UNKNOWN_FIELD, f"unknown field {sorted(unknown)[0][:64]!r}"
        )
    item_id = payload.get("item_id")
    if item_id is None:
        return CatalogRejection(CatalogReason.MISSING_FIELD, "item_id is missing")
    if not isinstance(item_id, str):
        return CatalogRejection(CatalogReason.WRONG_TYPE, "item_id must be a string")
    if not item_id.strip():
        return CatalogRejection(CatalogReason.EMPTY_ID, "item_id is empty")
    if len(item_id) > max_id_length:
        return CatalogRejection(
            CatalogReason.ID_TOO_LONG,
            f"item_id has {len(item_id)} characters (limit {max_id_length})",
        )
    if key is not None and key != item_id.encode("utf-8"):
        return CatalogRejection(CatalogReason.KEY_MISMATCH, "the message key is not the item_id")
    texts: dict[str, str] = {}
    for name in TEXT_FIELDS:
        value = payload.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            return CatalogRejection(CatalogReason.WRONG_TYPE, f"{name} must be a string")
        limit = limits.max_text_chars if name == "text" else limits.max_title_chars
        if len(value) > limit:
            return CatalogRejection(
                CatalogReason.FIELD_TOO_LONG, f"{name} has {len(value)} characters (limit {limit})"
            )
        texts[name] = value.strip()
    attributes = _attributes(payload.get("attributes"), limits)
    if isinstance(attributes, CatalogRejection):
        return attributes
    return CatalogItem(item_id=item_id, attributes=attributes, **texts)


def catalog_fields(item: CatalogItem) -> dict[str, Any]:
    """The record a producer writes for ``item``, as a dict (empty fields left out)."""
    data: dict[str, Any] = {"item_id": item.item_id}
    for name in TEXT_FIELDS:
        if getattr(item, name):
            data[name] = getattr(item, name)
    if item.attributes:
        data["attributes"] = item.attributes
    return data


def catalog_record(item: CatalogItem) -> bytes:
    """The JSON a producer writes for ``item``."""
    return orjson.dumps(catalog_fields(item))
