"""Full and delta checkpoints of a :class:`TransformerLearner` in a :class:`CheckpointStore`.

A learner's state is one flat dict of tensors plus one JSON dict (its ``state_dict``
split by ``state_io.split_state``, as ``TransformerLearner.save`` writes it). A delta

- the item-table rows that changed, each row-indexed tensor at the rows where its kind
  of state changed (model/dirty_rows.py: a row whose sighting count moved stores that
  count, not its embedding and moments; a successor list stores its changed slots),
  found from the learner's masks, not by comparison;
- every other tensor whole when it changed since the base (the dense weights, the
  dense optimiser state, the random-number generators: small next to the table), and
  only its name when it did not (a frozen backbone under adapters, the table's unused
  capacity): bit-equality against a copy kept from the last checkpoint;
- the vocabulary and replay-buffer entries that changed (a diff of their JSON).

Restoring rebuilds the flat state of the newest consistent chain and loads it,
which gives bit-identical weights, optimiser state and generators.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from model.checkpoints.store import CheckpointInfo, CheckpointStore
from model.dirty_rows import TRANSITION_SLOTS, TRANSITIONS, kind_of
from model.state_io import split_state
from model.transformer_learner import TransformerLearner

TABLE = "model.item_embeddings"
CODES = "model.item_codes.codes"


def _row_keys(tensors: dict[str, torch.Tensor], rows: int) -> list[str]:
    """Tensors indexed by item row: the table, the item codes, the sparse-Adam moments,
    the sightings, the item ages, the content vectors, the transition lists and the
    fading sightings."""
    return [
        key for key, t in tensors.items()
        if key in (TABLE, CODES, "counts", "events")
        or (key.startswith(("sparse.", "content.", "transitions.", "recent."))
            and t.dim() >= 1 and t.shape[0] == rows)
    ]  # fmt: skip


def _at(tensor: torch.Tensor, index: torch.Tensor, kind: str) -> torch.Tensor:
    """A row-indexed tensor at a delta's index: rows, or flat slots of the lists."""
    return tensor.reshape(-1)[index] if kind == TRANSITION_SLOTS else tensor[index]


def _dense_copy(tensors: dict[str, torch.Tensor], rows: int) -> dict[str, torch.Tensor]:
    """CPU copies of the tensors a delta stores whole, to see which did not change."""
    keys = set(_row_keys(tensors, rows))
    return {k: v.detach().to("cpu", copy=True) for k, v in tensors.items() if k not in keys}


def _same(before: torch.Tensor | None, now: torch.Tensor) -> bool:
    return (before is not None and before.shape == now.shape and before.dtype == now.dtype
            and torch.equal(before, now.detach().to("cpu")))  # fmt: skip


def _dict_diff(base: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    return {
        "set": {k: v for k, v in now.items() if base.get(k, _MISSING) != v},
        "removed": [k for k in base if k not in now],
    }


def _dict_patch(base: dict[str, Any], diff: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in base.items() if k not in set(diff["removed"])}
    out.update(diff["set"])
    return out


_MISSING = object()


def _vocab_diff(base: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    base_ids, ids = base["id_of"], now["id_of"]
    return {
        "length": len(ids),
        "id_of": {
            str(r): ids[r] for r in range(len(ids)) if r >= len(base_ids) or base_ids[r] != ids[r]
        },
        "last_seen": _dict_diff(base["last_seen"], now["last_seen"]),
        "pending": _dict_diff(base["pending"], now["pending"]),
        "free_rows": now["free_rows"],
        "capacity": now["capacity"],
        "config": now["config"],
    }


def _vocab_patch(base: dict[str, Any], diff: dict[str, Any]) -> dict[str, Any]:
    ids = list(base["id_of"][: diff["length"]])
    ids += [None] * (diff["length"] - len(ids))
    for row, item in diff["id_of"].items():
        ids[int(row)] = item
    return {
        "config": diff["config"],
        "id_of": ids,
        "last_seen": _dict_patch(base["last_seen"], diff["last_seen"]),
        "pending": _dict_patch(base["pending"], diff["pending"]),
        "free_rows": diff["free_rows"],
        "capacity": diff["capacity"],
    }


@dataclass
class _Base:
    """What the previous checkpoint held, for the next delta."""

    info: CheckpointInfo
    vocabulary: dict[str, Any]
    replay_items: list[Any]  # the buffer's sequence objects (compared by identity)
    tensors: dict[str, torch.Tensor]  # every tensor but the row-indexed ones, as written


def open_checkpointer(
    directory: Path, keep_chains: int = 3, full_every: int = 10
) -> LearnerCheckpointer:
    """The checkpointer of the store at ``directory`` (created on the first write):
    ``keep_chains`` full-plus-deltas chains are kept, every ``full_every``-th is full."""
    return LearnerCheckpointer(CheckpointStore(directory, keep_chains), full_every)


class LearnerCheckpointer:
    """Writes a full snapshot every ``full_every`` checkpoints and deltas in between."""

    def __init__(self, store: CheckpointStore, full_every: int = 10) -> None:
        self.store = store
        self.full_every = full_every
        self._base: _Base | None = None
        self._since_full = 0

    @property
    def next_is_full(self) -> bool:
        """Whether the next :meth:`save` writes a full snapshot."""
        return self._base is None or self._since_full + 1 >= self.full_every

    def save(self, learner: TransformerLearner, extra: dict[str, Any]) -> CheckpointInfo:
        full = self.next_is_full
        tensors, meta = split_state(learner.state_dict())
        rows = int(tensors[TABLE].shape[0])
        vocabulary = copy.deepcopy(meta["vocabulary"])
        base = self._base
        changes: dict[str, Any] = {"vocabulary_size": len(learner.vocab)}
        if full:
            info = self.store.write("full", tensors, meta, learner.version, None,
                                    {**extra, "vocabulary": changes})  # fmt: skip
            self._since_full = 0
        else:
            assert base is not None
            dirty = learner.table.dirty
            row_keys = _row_keys(tensors, rows)
            kinds = {key: kind_of(key) for key in row_keys}
            index = {kind: dirty.rows(kind, rows) for kind in set(kinds.values())}
            delta = {f"rows.{key}": _at(tensors[key].to("cpu"), index[kinds[key]], kinds[key])
                     for key in row_keys}  # fmt: skip
            # int32 halves the indices (a 1M-item delta holds ~230k of them); apply_delta
            # reads either width.
            narrow = rows * max(dirty.slots.shape[1], 1) < 2**31
            delta |= {f"rows.index.{kind}": at.to(torch.int32) if narrow else at
                      for kind, at in index.items()}  # fmt: skip
            unchanged = [k for k, v in tensors.items() if k not in row_keys
                         and _same(base.tensors.get(k), v)]  # fmt: skip
            delta.update({k: v for k, v in tensors.items()
                          if k not in row_keys and k not in unchanged})  # fmt: skip
            replay = meta["replay"]
            items = learner.replay.items
            before = base.replay_items
            changed_slots = [i for i, seq in enumerate(items)
                             if i >= len(before) or before[i] is not seq]  # fmt: skip
            vocab_diff = _vocab_diff(base.vocabulary, vocabulary)
            state = {
                **{k: v for k, v in meta.items() if k not in ("vocabulary", "replay")},
                "table_rows": rows,
                "row_keys": row_keys,
                "row_kinds": kinds,
                "unchanged": unchanged,
                "vocabulary_delta": vocab_diff,
                "replay_delta": {
                    **{k: v for k, v in replay.items() if k != "items"},
                    "length": len(items),
                    "slots": {str(i): replay["items"][i] for i in changed_slots},
                },
            }
            changes |= {
                "rows_changed": int(dirty.any_kind(rows).sum()),
                "rows_changed_by_kind": {kind: int(r.numel()) for kind, r in index.items()}
                | {TRANSITIONS: int(dirty.rows(TRANSITIONS, rows).numel())},
                "tensors_unchanged": len(unchanged),
                "ids_assigned": len(vocab_diff["id_of"]),
            }
            info = self.store.write("delta", delta, state, learner.version, base.info,
                                    {**extra, "vocabulary": changes})  # fmt: skip
            self._since_full += 1
        learner.table.dirty.clear()
        self._base = _Base(info, vocabulary, list(learner.replay.items),
                           _dense_copy(tensors, rows))  # fmt: skip
        return info

    def restore(
        self, device: str | None = None, at_most_version: int | None = None
    ) -> tuple[TransformerLearner, CheckpointInfo, list[str]] | None:
        """The newest consistent checkpoint as a learner, its manifest, and the problems
        met on the way (corrupt or missing files of newer checkpoints); None if none."""
        plan = self.store.newest_chain(at_most_version)
        if plan.newest is None:
            return None
        tensors, meta = self.store.read(plan.chain[0])
        for info in plan.chain[1:]:
            delta, state = self.store.read(info)
            tensors, meta = apply_delta(tensors, meta, delta, state)
        learner = TransformerLearner.from_state_dict(tensors | meta, device)
        newest = plan.newest
        self._base = _Base(newest, copy.deepcopy(meta["vocabulary"]), list(learner.replay.items),
                           _dense_copy(tensors, int(tensors[TABLE].shape[0])))  # fmt: skip
        self._since_full = len(plan.chain) - 1
        return learner, newest, plan.problems


def apply_delta(
    tensors: dict[str, torch.Tensor], meta: dict[str, Any],
    delta: dict[str, torch.Tensor], state: dict[str, Any],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:  # fmt: skip
    rows = int(state["table_rows"])
    kinds = state.get("row_kinds")  # deltas before 2026-12-03 have one index for all
    out: dict[str, torch.Tensor] = {}
    for key in state["row_keys"]:
        index = (delta[f"rows.index.{kinds[key]}"] if kinds else delta["rows.index"]).long()
        values = delta[f"rows.{key}"]
        # Not in the base: state that started after it (the item codes' moments, when a
        # learner switched to adapters just before a full snapshot), zero where untouched.
        table = tensors.get(key, values.new_zeros((0, *values.shape[1:])))
        if table.shape[0] < rows:  # the table grew since the base
            pad = table.new_zeros((rows - table.shape[0], *table.shape[1:]))
            table = torch.cat([table, pad])
        else:
            table = table.clone()
        if kinds and kinds[key] == TRANSITION_SLOTS:
            table.view(-1)[index] = values
        else:
            table[index] = values
        out[key] = table
    for key, value in delta.items():
        if not key.startswith("rows."):
            out[key] = value
    for key in state.get("unchanged", []):  # deltas before 2026-12 list none
        out[key] = tensors[key]
    replay_delta = state["replay_delta"]
    items = list(meta["replay"]["items"][: replay_delta["length"]])
    for slot, sequence in replay_delta["slots"].items():
        if int(slot) < len(items):
            items[int(slot)] = sequence
        else:
            items.append(sequence)
    new_meta = {
        **{k: v for k, v in state.items()
           if k not in ("table_rows", "row_keys", "row_kinds", "vocabulary_delta",
                         "replay_delta")},
        "vocabulary": _vocab_patch(meta["vocabulary"], state["vocabulary_delta"]),
        "replay": {**{k: v for k, v in replay_delta.items() if k not in ("length", "slots")},
                   "items": items},
    }  # fmt: skip
    return out, new_meta
