"""Catalogue records: validation with stable reasons, the text the encoder reads,
catalogue files, the encoding cache, and the synthetic catalogue."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import torch

from model.item_content import content_hash
from stream.content.catalog_files import read_catalog
from stream.content.encoding import ContentEncoder
from stream.data.synthetic import SyntheticSpec, item_launches
from stream.data.synthetic_catalog import THEMES, synthetic_catalogue
from stream.messages.catalog import (
    CatalogItem,
    CatalogReason,
    CatalogRejection,
    catalog_record,
    parse_catalog_record,
)
from stream.settings import CatalogLimitsSettings, ContentSettings

LIMITS = CatalogLimitsSettings(max_title_chars=20, max_text_chars=50, max_attributes=2)


def parse(value: object, key: bytes | None = None) -> CatalogItem | CatalogRejection:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    return parse_catalog_record(key, raw, LIMITS, max_id_length=10)


def test_a_full_record_and_an_id_only_record_parse() -> None:
    item = parse({"item_id": "i1", "title": " Red shoes ", "category": "shoes",
                  "text": "for running", "attributes": {"size": 42, "colour": "red"}},
                 key=b"i1")  # fmt: skip
    assert item == CatalogItem("i1", "Red shoes", "shoes", "for running",
                               {"size": 42, "colour": "red"})  # fmt: skip
    assert item.content_text() == "Red shoes. shoes. for running. colour: red; size: 42"
    assert parse({"item_id": "i2"}) == CatalogItem("i2")
    assert CatalogItem("i2").content_text() == ""


@pytest.mark.parametrize(
    ("value", "key", "reason"),
    [
        (b"\xff\xfe", None, CatalogReason.NOT_UTF8),
        (b"{nope", None, CatalogReason.NOT_JSON),
        ([1, 2], None, CatalogReason.NOT_OBJECT),
        ({"title": "x"}, None, CatalogReason.MISSING_FIELD),
        ({"item_id": 5}, None, CatalogReason.WRONG_TYPE),
        ({"item_id": "  "}, None, CatalogReason.EMPTY_ID),
        ({"item_id": "x" * 11}, None, CatalogReason.ID_TOO_LONG),
        ({"item_id": "i", "title": 7}, None, CatalogReason.WRONG_TYPE),
        ({"item_id": "i", "title": "t" * 21}, None, CatalogReason.FIELD_TOO_LONG),
        ({"item_id": "i", "text": "t" * 51}, None, CatalogReason.FIELD_TOO_LONG),
        ({"item_id": "i", "attributes": {"a": 1, "b": 2, "c": 3}}, None,
         CatalogReason.TOO_MANY_ATTRIBUTES),
        ({"item_id": "i", "attributes": {"a": [1]}}, None, CatalogReason.WRONG_TYPE),
        ({"item_id": "i", "attributes": "a"}, None, CatalogReason.WRONG_TYPE),
        ({"item_id": "i", "price": 3}, None, CatalogReason.UNKNOWN_FIELD),
        ({"item_id": "i"}, b"j", CatalogReason.KEY_MISMATCH),
        (b"x" * 70_000, None, CatalogReason.PAYLOAD_TOO_LARGE),
    ],
)  # fmt: skip
def test_bad_records_are_refused_with_their_reason(
    value: object, key: bytes | None, reason: CatalogReason
) -> None:
    limits = LIMITS.model_copy(update={"max_payload_bytes": 65_536})
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    refused = parse_catalog_record(key, raw, limits, max_id_length=10)
    assert isinstance(refused, CatalogRejection) and refused.reason == reason


def test_the_written_record_parses_back() -> None:
    item = CatalogItem("i9", title="Tent", attributes={"people": 2})
    assert parse(orjson.loads(catalog_record(item))) == item


def test_catalogue_files_jsonl_and_csv(tmp_path: Path) -> None:
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text('{"item_id": "a", "title": "A"}\n\n{"item_id": "b"}\n')
    assert read_catalog(jsonl) == [{"item_id": "a", "title": "A"}, {"item_id": "b"}]
    csv = tmp_path / "c.csv"
    csv.write_text("item_id,title,brand\na,Tent,Acme\nb,,\n")
    assert read_catalog(csv) == [{"item_id": "a", "title": "Tent", "attributes": {"brand": "Acme"}},
                                 {"item_id": "b"}]  # fmt: skip
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"item_id": "a"}\n{oops\n')
    with pytest.raises(ValueError, match=r"broken\.jsonl:2"):
        read_catalog(broken)


class CountingEncoder:
    """A stand-in for the text encoder (unit test): counts what it is asked to encode."""

    dim = 4

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode(self, texts: list[str], batch_size: int = 64) -> torch.Tensor:
        self.texts += texts
        return torch.ones(len(texts), self.dim)


def test_the_encoder_cache_and_the_learners_hashes_spare_work() -> None:
    fake = CountingEncoder()
    encoder = ContentEncoder(ContentSettings(), fake)  # type: ignore[arg-type]
    items = [CatalogItem("a", "Tent"), CatalogItem("b", "Tent"), CatalogItem("c")]
    updates = encoder.updates(items)
    assert fake.texts == ["Tent"]  # one text, two items
    assert [(u.item_id, u.hash != 0, u.vector is not None) for u in updates] == [
        ("c", False, False), ("a", True, True), ("b", True, True)]  # fmt: skip
    again = encoder.updates([CatalogItem("a", "Tent")])
    assert fake.texts == ["Tent"] and encoder.stats.cached == 1
    known = encoder.updates([CatalogItem("a", "Tent")], lambda _item: content_hash("Tent"))
    assert known == [] and len(again) == 1


def test_synthetic_titles_follow_the_categories_that_drive_users() -> None:
    spec = SyntheticSpec(items=200, items_per_category=40)
    items = synthetic_catalogue(spec)
    assert [i.item_id for i in items] == [f"i{n}" for n in range(200)]
    categories = 5
    for number, item in enumerate(items):
        theme = set(THEMES[number % categories])
        assert len(theme & set(item.title.split())) >= 2, item.title
    assert synthetic_catalogue(spec) == items  # deterministic
    assert len(item_launches(spec)) == 200
