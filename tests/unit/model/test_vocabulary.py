"""The item vocabulary: no collisions, amortised growth, admission, eviction and reuse."""

from __future__ import annotations

from model.vocabulary import RESERVED, UNK, ItemVocabulary, VocabularyConfig


def test_every_item_gets_its_own_row_and_capacity_doubles() -> None:
    vocab = ItemVocabulary(VocabularyConfig(initial_capacity=8))
    admitted = vocab.observe([f"i{n}" for n in range(20)], now=0.0)
    assert len(admitted) == 20
    rows = vocab.lookup([f"i{n}" for n in range(20)])
    assert len(set(rows)) == 20 and min(rows) >= RESERVED
    assert vocab.capacity == 32  # 8 -> 16 -> 32: doubled, not grown by one
    assert vocab.lookup(["never-seen"]) == [UNK]


def test_admission_needs_min_count_sightings() -> None:
    vocab = ItemVocabulary(VocabularyConfig(min_count=3))
    assert vocab.observe(["a", "a"], now=0.0) == []
    assert vocab.lookup(["a"]) == [UNK]
    assert vocab.observe(["a"], now=1.0) == ["a"]
    assert vocab.lookup(["a"])[0] >= RESERVED


def test_eviction_frees_rows_for_reuse() -> None:
    vocab = ItemVocabulary(VocabularyConfig(evict_after_s=100.0))
    vocab.observe(["old", "kept"], now=0.0)
    old_row = vocab.lookup(["old"])[0]
    vocab.observe(["kept"], now=150.0)
    assert vocab.evict_stale(now=150.0) == [old_row]
    assert vocab.lookup(["old"]) == [UNK]
    vocab.observe(["new"], now=151.0)
    assert vocab.lookup(["new"]) == [old_row]  # the freed row is reused
    assert vocab.item_at(old_row) == "new"


def test_state_round_trips() -> None:
    vocab = ItemVocabulary(VocabularyConfig(min_count=2, evict_after_s=10.0))
    vocab.observe(["a", "a", "b", "c", "c"], now=5.0)
    vocab.evict_stale(now=100.0)
    vocab.observe(["d", "d"], now=101.0)
    copy = ItemVocabulary.from_state(vocab.to_state())
    assert copy.row_of == vocab.row_of
    assert copy.pending == vocab.pending
    assert copy.free_rows == vocab.free_rows
    assert copy.capacity == vocab.capacity


def test_a_full_vocabulary_refuses_new_ids_until_eviction_frees_rows() -> None:
    vocab = ItemVocabulary(VocabularyConfig(max_items=3, evict_after_s=100.0))
    assert vocab.observe(["a", "b", "c", "d", "e"], now=0.0) == ["a", "b", "c"]
    assert vocab.lookup(["d", "e"]) == [UNK, UNK]
    assert vocab.refused == 2 and vocab.capacity == 1_024  # no growth past the limit
    vocab.observe(["a", "b"], now=150.0)
    vocab.evict_stale(now=150.0)  # "c" is stale: one row free again
    assert vocab.observe(["d"], now=151.0) == ["d"]
    assert len(vocab) == 3
    restored = ItemVocabulary.from_state(vocab.to_state())
    assert restored.config.max_items == 3 and restored.full


def test_live_rows_stay_below_num_rows_so_ranking_can_skip_the_spare_capacity() -> None:
    vocab = ItemVocabulary(VocabularyConfig(initial_capacity=8, evict_after_s=10.0))
    vocab.observe([f"i{n}" for n in range(20)], now=0.0)
    vocab.observe([f"i{n}" for n in range(15, 20)], now=20.0)
    vocab.evict_stale(now=20.0)  # frees i0..i14
    vocab.observe([f"new{n}" for n in range(10)], now=21.0)  # reuses freed rows
    assert vocab.capacity == 32 > vocab.num_rows
    assert max(vocab.live_rows()) < vocab.num_rows
    flags = [row for row, flag in enumerate(vocab.live_flags) if flag]
    assert flags == vocab.live_rows()  # kept in step through admission, eviction and reuse
    restored = ItemVocabulary.from_state(vocab.to_state())
    assert restored.live_flags == vocab.live_flags
