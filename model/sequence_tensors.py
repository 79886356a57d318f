"""User sequences -> padded tensors and the (user, position) pairs to score or train.

Layout (right-padded): input position 0 is the start token, position j >= 1 holds
item j - 1. The output at position t therefore predicts item t (for t < n) and the
output at position n is the next-item prediction used for recommendations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from model.contract import UserSequence
from model.vocabulary import BOS, PAD, ItemVocabulary


@dataclass(frozen=True)
class SequenceTensors:
    items: torch.Tensor  # (B, L) rows: BOS, items..., PAD
    actions: torch.Tensor  # (B, L) action ids: 0 for BOS and padding
    ts: torch.Tensor  # (B, L) seconds
    lengths: torch.Tensor  # (B,) items per user (n), so the last output is at index n
    target_rows: list[list[int]]  # per user, the row of each of its n items
    target_actions: list[list[int]]


def to_tensors(
    sequences: Sequence[UserSequence],
    vocab: ItemVocabulary,
    action_ids: Mapping[str, int],
    max_len: int,
    device: torch.device,
) -> SequenceTensors:
    width = 1 + max(min(len(s.items), max_len) for s in sequences)
    # Rows of Python lists, then one tensor per field: a torch.tensor call per user and
    # field was a fifth of the ranking pass at 150 users a step (bench/NOTES.md).
    item_rows: list[list[int]] = []
    action_rows: list[list[int]] = []
    ts_rows: list[list[float]] = []
    lengths, target_rows, target_actions = [], [], []
    for seq in sequences:
        rows = vocab.lookup(seq.items[-max_len:])
        acts = [action_ids.get(a, 0) for a in seq.actions[-max_len:]]
        times = [float(t) for t in seq.ts[-max_len:]]
        n = len(rows)
        pad = width - 1 - n
        item_rows.append([BOS, *rows, *([PAD] * pad)])
        action_rows.append([0, *acts, *([0] * pad)])
        first = times[0] if n else 0.0
        ts_rows.append([first, *times, *([0.0] * pad)])
        lengths.append(n)
        target_rows.append(rows)
        target_actions.append(acts)
    items = torch.tensor(item_rows, dtype=torch.long)
    actions = torch.tensor(action_rows, dtype=torch.long)
    ts = torch.tensor(ts_rows, dtype=torch.float64)
    # Gaps are taken in float64 above, then shifted to start at 0 so float32 keeps them.
    ts = (ts - ts[:, :1]).float()
    return SequenceTensors(
        items.to(device), actions.to(device), ts.to(device),
        torch.tensor(lengths, dtype=torch.long, device=device), target_rows, target_actions,
    )  # fmt: skip


@dataclass(frozen=True)
class Positions:
    """Selected outputs: hidden[user, index] predicts an item with ``target`` row."""

    user: torch.Tensor  # (P,)
    index: torch.Tensor  # (P,)
    target: torch.Tensor  # (P,) rows
    action: torch.Tensor  # (P,) action ids of the targets


def trailing_positions(
    tensors: SequenceTensors, counts: Sequence[int], device: torch.device
) -> Positions:
    """The last ``counts[b]`` item positions of every user b."""
    users, indices, targets, actions = [], [], [], []
    for b, count in enumerate(counts):
        n = len(tensors.target_rows[b])
        for t in range(max(0, n - count), n):
            users.append(b)
            indices.append(t)
            targets.append(tensors.target_rows[b][t])
            actions.append(tensors.target_actions[b][t])
    as_long = {"dtype": torch.long, "device": device}
    return Positions(
        torch.tensor(users, **as_long), torch.tensor(indices, **as_long),  # type: ignore[arg-type]
        torch.tensor(targets, **as_long), torch.tensor(actions, **as_long),  # type: ignore[arg-type]
    )  # fmt: skip
