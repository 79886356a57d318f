"""The catalogue reader's metrics (a trainer with ``content.enabled``)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


@dataclass(frozen=True)
class CatalogMetrics:
    records: Counter
    encoded: Counter
    encode_seconds: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> CatalogMetrics:
        return cls(
            records=Counter("recstream_trainer_catalog_records",
                            "Catalogue records read, by outcome (applied, unchanged, "
                            "tombstone, or the reason it was dead-lettered).",
                            ["outcome"], registry=registry),
            encoded=Counter("recstream_trainer_content_encoded",
                            "Item texts run through the text encoder (not from the cache).",
                            registry=registry),
            encode_seconds=Counter("recstream_trainer_content_encode_seconds",
                                   "Seconds spent in the text encoder.", registry=registry),
        )  # fmt: skip
