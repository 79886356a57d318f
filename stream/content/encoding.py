"""Catalogue records -> the learner's content updates, through the text encoder, with a
cache by content hash (a record re-sent unchanged, or the catalogue re-read after a
restart, is not encoded again)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from model.item_admission import ContentUpdate
from model.item_content import content_hash
from model.text_encoder import TextEncoder
from stream.messages.catalog import CatalogItem
from stream.settings import ContentSettings


@dataclass
class EncodingStats:
    items: int = 0
    encoded: int = 0  # texts run through the encoder
    cached: int = 0  # found in the cache
    no_content: int = 0  # records with nothing to encode (the id is still admitted)
    seconds: float = 0.0  # in the encoder


class ContentEncoder:
    def __init__(self, settings: ContentSettings, encoder: TextEncoder | None = None) -> None:
        self.settings = settings
        self.encoder = encoder or TextEncoder(
            settings.encoder_path, settings.encoder_device, settings.max_tokens
        )
        self._cache: OrderedDict[int, object] = OrderedDict()  # hash -> (D,) vector
        self.stats = EncodingStats()

    def updates(
        self, items: Sequence[CatalogItem], known: Callable[[str], int] = lambda _item: 0
    ) -> list[ContentUpdate]:
        """One update per record whose content the learner does not hold yet (``known``:
        the hash the learner holds for an item, 0 for none)."""
        out: list[ContentUpdate] = []
        todo: dict[int, str] = {}
        wanted: list[tuple[str, int]] = []
        for item in items:
            self.stats.items += 1
            text = item.content_text()
            if not text:
                self.stats.no_content += 1
                out.append(ContentUpdate(item.item_id, 0))
                continue
            digest = content_hash(text)
            if known(item.item_id) == digest:
                continue
            wanted.append((item.item_id, digest))
            if digest not in self._cache:
                todo[digest] = text
        if todo:
            started = time.perf_counter()
            vectors = self.encoder.encode(list(todo.values()), self.settings.batch_size)
            self.stats.seconds += time.perf_counter() - started
            self.stats.encoded += len(todo)
            for digest, vector in zip(todo, vectors, strict=True):
                self._remember(digest, vector)
        for item_id, digest in wanted:
            if digest not in todo:
                self.stats.cached += 1
            vector = self._cache.get(digest)
            out.append(ContentUpdate(item_id, digest, vector))  # type: ignore[arg-type]
        return out

    def _remember(self, digest: int, vector: object) -> None:
        self._cache[digest] = vector
        self._cache.move_to_end(digest)
        while len(self._cache) > self.settings.cache_items:
            self._cache.popitem(last=False)
