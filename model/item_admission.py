"""Items entering the vocabulary between steps: from events (after ``min_count``
sightings) and from the catalogue (at once, with their content vectors), and each
new event's item age (how many events of the item the learner has seen, this one
included) for quality by item age."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from model.dirty_rows import WEIGHTS
from model.item_table import ItemTable
from model.vocabulary import UNK, ItemVocabulary


@dataclass(frozen=True)
class ContentUpdate:
    """An item's content: its hash (model.item_content.content_hash) and vector
    (None: the item is known to the catalogue, but the learner reads no content)."""

    item_id: str
    hash: int
    vector: torch.Tensor | None = None  # (D,) float32


class ContentQueue:
    """Content handed over by another thread (the catalogue reader), applied by the
    next step, so rows only change between steps."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._updates: list[ContentUpdate] = []

    def put(self, updates: Sequence[ContentUpdate]) -> None:
        with self._lock:
            self._updates.extend(updates)

    def take(self) -> list[ContentUpdate]:
        with self._lock:
            updates, self._updates = self._updates, []
        return updates

    def __len__(self) -> int:
        return len(self._updates)


def apply_content(
    vocab: ItemVocabulary, table: ItemTable, updates: Sequence[ContentUpdate], now: float
) -> list[str]:
    """Admit the catalogue's items and set the content of those whose content changed
    (the newest update of an item wins); returns the newly admitted ids. New rows are
    drawn in update order, so replicas applying the same updates stay equal."""
    newest = {update.item_id: update for update in updates}
    admitted = vocab.admit(newest, now)
    table.grow(vocab.capacity)
    table.reset_rows(vocab.lookup(admitted))
    content = table.model.content
    if content is None:
        return admitted
    rows, vectors, hashes = [], [], []
    for update in newest.values():
        row = vocab.row_of.get(update.item_id)  # None: refused (a full vocabulary)
        if update.vector is not None and row is not None and content.hash_at(row) != update.hash:
            rows.append(row)
            vectors.append(update.vector)
            hashes.append(update.hash)
    if rows:
        content.set_rows(rows, torch.stack(vectors), hashes)
        table.dirty.mark(WEIGHTS, rows)  # the content vectors
    return admitted


def event_ages(
    vocab: ItemVocabulary, table: ItemTable, items: Sequence[str]
) -> tuple[list[int], list[int]]:
    """Ages of the events' items, in order (after the events were observed), and the
    rows to count them on once the step is done: until then the step (ranking and
    training alike) sees each item as old as it was before the batch. An item still
    waiting for admission is as old as its sightings so far."""
    rows = vocab.lookup(items)
    known = [row for row in rows if row != UNK]
    aged = iter(table.event_ages(known))
    ages = [next(aged) if row != UNK else vocab.pending.get(item, 1)
            for item, row in zip(items, rows, strict=True)]  # fmt: skip
    return ages, known
