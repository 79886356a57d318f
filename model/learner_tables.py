"""The learner's item table and its optimisers: growth, row reuse, and the in-memory
snapshot the guards restore. A mixin of :class:`TransformerLearner`, kept apart so
the learner file holds ranking and learning."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import torch

from model.sequential_recommender import EMBEDDING_STD, SequentialRecommender
from model.vocabulary import ItemVocabulary

if TYPE_CHECKING:
    from model.transformer_learner import LearnerConfig


class ItemTableState:
    config: LearnerConfig
    device: torch.device
    vocab: ItemVocabulary
    model: SequentialRecommender
    counts: torch.Tensor
    dirty_rows: torch.Tensor
    sparse_optimizer: torch.optim.SparseAdam
    _dense: list[torch.nn.Parameter]
    dense_optimizer: torch.optim.AdamW
    _snapshot: dict[str, Any]

    def _dense_parameters(self) -> list[torch.nn.Parameter]:
        # Built once per optimiser build: walking named_parameters twice a step was
        # ~0.5 ms of a CPU step. Only the item table is ever replaced (growth), and the
        # dense parameters keep their identity through load_state_dict.
        return self._dense

    def _build_optimizers(self) -> None:
        cfg = self.config
        self._dense = [p for n, p in self.model.named_parameters() if n != "item_embeddings"]
        self.sparse_optimizer = torch.optim.SparseAdam(
            [self.model.item_embeddings], lr=cfg.learning_rate
        )
        # foreach: one kernel per step for all ~30 dense tensors instead of a Python loop
        # over them (PyTorch picks it by default only on CUDA).
        self.dense_optimizer = torch.optim.AdamW(
            self._dense_parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay,
            foreach=True,
        )  # fmt: skip

    def _grow(self) -> None:
        """Enlarge the item table (and its optimiser state) to the vocabulary's capacity."""
        rows = self.vocab.capacity
        if rows <= self.model.item_embeddings.shape[0]:
            return
        old_state = self.sparse_optimizer.state.get(self.model.item_embeddings, {})
        self.model.grow(rows)
        added = rows - self.counts.shape[0]
        self.counts = torch.cat([self.counts, self.counts.new_zeros(added)])
        self.dirty_rows = torch.cat([self.dirty_rows, self.dirty_rows.new_ones(added)])
        self.sparse_optimizer = torch.optim.SparseAdam(
            [self.model.item_embeddings], lr=self.config.learning_rate
        )
        if old_state:
            grown = {}
            for key, value in old_state.items():
                if torch.is_tensor(value) and value.dim() == 2:
                    pad = value.new_zeros(rows - value.shape[0], value.shape[1])
                    grown[key] = torch.cat([value, pad])
                else:
                    grown[key] = value
            self.sparse_optimizer.state[self.model.item_embeddings] = grown

    def _reset_rows(self, rows: list[int]) -> None:
        """Freed rows start from scratch when a new item reuses them."""
        if not rows:
            return
        index = torch.tensor(rows, device=self.device)
        with torch.no_grad():
            fresh = torch.randn(len(rows), self.model.item_embeddings.shape[1], device=self.device)
            self.model.item_embeddings[index] = fresh * EMBEDDING_STD
        self.counts[index] = 0
        self.dirty_rows[index] = True
        for value in self.sparse_optimizer.state.get(self.model.item_embeddings, {}).values():
            if torch.is_tensor(value) and value.dim() == 2:
                value[index] = 0

    def _take_snapshot(self) -> dict[str, Any]:
        return {
            "model": copy.deepcopy(self.model.state_dict()),
            "sparse": copy.deepcopy(self.sparse_optimizer.state_dict()),
            "dense": copy.deepcopy(self.dense_optimizer.state_dict()),
        }

    def _restore_snapshot(self) -> None:
        self.dirty_rows[:] = True  # any row may differ from the last checkpoint now
        snapshot = self._snapshot
        rows = snapshot["model"]["item_embeddings"].shape[0]
        current = self.model.item_embeddings.shape[0]
        self.model.load_state_dict(
            {
                **snapshot["model"],
                "item_embeddings": self._pad_rows(snapshot["model"]["item_embeddings"], current),
            }
        )
        self._build_optimizers()
        self.dense_optimizer.load_state_dict(snapshot["dense"])
        if rows == current:
            self.sparse_optimizer.load_state_dict(snapshot["sparse"])

    @staticmethod
    def _pad_rows(table: torch.Tensor, rows: int) -> torch.Tensor:
        if table.shape[0] >= rows:
            return table
        return torch.cat([table, table.new_zeros(rows - table.shape[0], table.shape[1])])
