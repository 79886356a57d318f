"""The learner's trainable state around the item table: the two optimisers (sparse Adam
for the item rows, AdamW for the dense weights), item sightings, the rows changed since
the last checkpoint, growth as the vocabulary grows, row reuse, and the in-memory
snapshot the learner's guards restore after a bad step."""

from __future__ import annotations

import copy
from typing import Any

import torch

from model.dirty_rows import COUNTS, EMBEDDINGS, WEIGHTS, DirtyRows
from model.recent_sightings import RecentSightings
from model.sequential_recommender import EMBEDDING_STD, SequentialRecommender
from model.state_io import flatten_optimizer, unflatten_optimizer
from model.transition_table import TransitionTable

FAST_PARAMETERS = (
    "content_prior_weight",
    "transition_weights",
    "repeat_distance_bias.weight",
    "popularity_weight",
)
FAST_LR_FACTOR = 30.0
# The model's parameters indexed by item row (grown with the table).
ROW_PARAMETERS = ("item_embeddings", "item_codes.codes")


class ItemTable:
    def __init__(
        self, model: SequentialRecommender, learning_rate: float, weight_decay: float,
        rows_generator: torch.Generator | None = None, transition_width: int = 0,
        recent_sightings: bool = False, half_life: float | None = None,
    ) -> None:  # fmt: skip
        """``rows_generator`` draws new and reused rows; only growth and row reuse use it,
        so replicas that grow and reuse alike draw alike (model/replica_group.py), whatever
        else (dropout, negatives) each has drawn."""
        self.model = model
        self.rows_generator = rows_generator
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        rows, device = model.item_embeddings.shape[0], model.item_embeddings.device
        self.counts = torch.zeros(rows, device=device)  # item sightings
        # Fading sightings for the popularity prior (model/recent_sightings.py), when on.
        self.recent = RecentSightings(rows, half_life, device) if recent_sightings else None
        # New events per item row (trained or not): the item's age when it is a target,
        # so quality can be split by how new an item is (first event, 2-5, ...).
        self.events = torch.zeros(rows, dtype=torch.long, device=device)
        # Which items follow which (model/transition_table.py; width 0: not kept).
        self.transitions = TransitionTable(rows, transition_width) if transition_width else None
        # Item rows changed since the last checkpoint, by kind of row state
        # (model/checkpoints/checkpointer.py).
        self.dirty = DirtyRows(rows, device, slots=transition_width)
        self.build_optimizers()
        self.snapshot = self.take_snapshot()

    def build_optimizers(self) -> None:
        # The dense list is kept: walking named_parameters twice a step was ~0.5 ms of a
        # CPU step. Only the item table is ever replaced (growth), and the dense
        # parameters keep their identity through load_state_dict.
        # Frozen weights (a backbone under adapters) have no optimiser state and no delta.
        sparse = self.model.sparse_table
        self._dense = [p for p in self.model.parameters() if p is not sparse and p.requires_grad]
        self.sparse_optimizer = torch.optim.SparseAdam([sparse], lr=self.learning_rate)
        # foreach: one kernel per step for all ~30 dense tensors instead of a Python loop
        # over them (PyTorch picks it by default only on CUDA).
        # Scalars that calibrate a whole signal (the content prior's weight) learn fast: at
        # the shared rate they would need thousands of steps to find their level.
        fast = [p for n, p in self.model.named_parameters()
                if n in FAST_PARAMETERS and p.requires_grad]  # fmt: skip
        groups: list[dict[str, Any]] = [
            {"params": [p for p in self._dense if all(p is not f for f in fast)]}
        ]
        if fast:
            groups.append({"params": fast, "lr": self.learning_rate * FAST_LR_FACTOR,
                           "weight_decay": 0.0})  # fmt: skip
        self.dense_optimizer = torch.optim.AdamW(
            groups, lr=self.learning_rate, weight_decay=self.weight_decay, foreach=True
        )

    @property
    def dense(self) -> list[torch.nn.Parameter]:
        """Every trainable tensor but the item table."""
        return self._dense

    def zero_grad(self) -> None:
        self.sparse_optimizer.zero_grad(set_to_none=True)
        self.dense_optimizer.zero_grad(set_to_none=True)

    def forget_moments(self, parameters: list[torch.Tensor]) -> None:
        """Drop the dense optimiser's state of ``parameters`` (fresh adapters start anew)."""
        for parameter in parameters:
            self.dense_optimizer.state.pop(parameter, None)

    def count_sightings(self, rows: list[int]) -> None:
        """Item sightings for the sampler's popularity, in one scatter (index_add_ adds
        up repeated rows)."""
        if not rows:
            return
        seen = torch.tensor(rows, device=self.counts.device)
        self.counts.index_add_(0, seen, torch.ones(len(rows), device=self.counts.device))
        self.dirty.mark(COUNTS, seen)
        if self.recent is not None and self.recent.add(seen):
            self.dirty.mark_all(COUNTS)  # rescaled: every row's stored value changed

    def event_ages(self, rows: list[int]) -> list[int]:
        """Each row's age in events, this one included, for events in order (a row may
        repeat), counting none of them yet (:meth:`add_events` does, after the step)."""
        if not rows:
            return []
        before = self.events[torch.tensor(rows, device=self.events.device)].tolist()
        extra: dict[int, int] = {}
        ages = []
        for row, count in zip(rows, before, strict=True):
            extra[row] = extra.get(row, 0) + 1
            ages.append(int(count) + extra[row])
        return ages

    def add_events(self, rows: list[int]) -> None:
        if not rows:
            return
        index = torch.tensor(rows, device=self.events.device)
        self.events.index_add_(0, index, torch.ones_like(index))
        self.dirty.mark(COUNTS, index)

    def add_transitions(self, chains: list[tuple[list[int], int]]) -> None:
        """Count a step's transitions (after the step: what it ranked and trained on did
        not know them yet)."""
        if self.transitions is not None and chains:
            self.dirty.mark_slots(self.transitions.add(chains))

    def step(self, loss: torch.Tensor, max_norm: float) -> str | None:
        """One optimiser step on ``loss``: backward, clip, update, mark the changed rows.
        Returns why the step must be undone (a non-finite gradient or weight), or None."""
        self.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        return self.apply_gradients(max_norm)

    def apply_gradients(self, max_norm: float) -> str | None:
        """Clip and apply the gradients the parameters hold (see :meth:`step`)."""
        if not self._clip_gradients(max_norm):
            return "non-finite gradient"
        self.sparse_optimizer.step()  # type: ignore[no-untyped-call]
        self.dense_optimizer.step()
        grad = self.model.sparse_table.grad
        if grad is not None:  # SparseAdam touched exactly these rows (and their moments)
            moved = grad.coalesce().indices()[0]  # coalesced by the clip
            self.dirty.mark(WEIGHTS, moved)
            if self.model.item_codes is None:  # the table itself moved, not codes over it
                self.dirty.mark(EMBEDDINGS, moved)
        # One norm over every dense tensor (foreach) is non-finite iff some weight is:
        # a check per tensor was ~50 small ops and as many syncs a step.
        if not torch.isfinite(torch.nn.utils.get_total_norm(self._dense)):
            return "non-finite weights after the step"
        return None

    def _clip_gradients(self, max_norm: float) -> bool:
        if not torch.isfinite(torch.nn.utils.clip_grad_norm_(self._dense, max_norm)):
            return False
        grad = self.model.sparse_table.grad
        if grad is None:
            return True
        grad = grad.coalesce()
        values = grad.values()
        norm = values.norm()  # non-finite iff some value is
        if not torch.isfinite(norm):
            return False
        if norm > max_norm:
            grad = torch.sparse_coo_tensor(
                grad.indices(),
                values * (max_norm / (norm + 1e-6)),
                grad.shape,
                check_invariants=False,  # built from a coalesced gradient: already valid
                is_coalesced=True,  # so SparseAdam does not sort and sum it again
            )
        self.model.sparse_table.grad = grad
        return True

    def state_dict(self) -> dict[str, Any]:
        """Sightings and both optimisers' state: named tensors, and their JSON part under
        ``optimizers`` (the weights themselves are the model's)."""
        sparse, sparse_meta = flatten_optimizer("sparse", self.sparse_optimizer.state_dict())
        dense, dense_meta = flatten_optimizer("dense", self.dense_optimizer.state_dict())
        content = self.model.content.state_dict() if self.model.content is not None else {}
        transitions = self.transitions.state_dict() if self.transitions is not None else {}
        recent = self.recent.state_dict() if self.recent is not None else {}
        return {"counts": self.counts, "events": self.events, **content, **transitions, **recent,
                **sparse, **dense,
                "optimizers": {"sparse": sparse_meta, "dense": dense_meta}}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load after the model's weights (optimisers are rebuilt around them); nothing is
        dirty afterwards: the state came from a checkpoint."""
        device = self.model.item_embeddings.device
        self.counts = state["counts"].to(device)
        # Checkpoints from before item ages start every item at age 0.
        events = state.get("events")
        self.events = (events.to(device) if events is not None
                       else torch.zeros_like(self.counts, dtype=torch.long))  # fmt: skip
        if self.model.content is not None and "content.vectors" in state:
            self.model.content.load_state_dict(state)
        if self.transitions is not None:
            self.transitions.load_state_dict(state, self.counts.shape[0])
        if self.recent is not None:
            self.recent.load_state_dict(state, self.counts.shape[0])
        width = self.transitions.width if self.transitions is not None else 0
        self.dirty = DirtyRows(self.counts.shape[0], device, dirty=False, slots=width)
        self.build_optimizers()
        tensors = {k: v.to(device) for k, v in state.items()
                   if torch.is_tensor(v) and k.startswith(("sparse.", "dense."))}  # fmt: skip
        optimizers = state["optimizers"]
        self.sparse_optimizer.load_state_dict(
            unflatten_optimizer("sparse", tensors, optimizers["sparse"])
        )
        self.dense_optimizer.load_state_dict(
            unflatten_optimizer("dense", tensors, optimizers["dense"])
        )
        self.snapshot = self.take_snapshot()

    def grow(self, rows: int) -> None:
        """Enlarge the item table (and its optimiser state) to ``rows``."""
        if rows <= self.model.item_embeddings.shape[0]:
            return
        old_state = self.sparse_optimizer.state.get(self.model.sparse_table, {})
        self.model.grow(rows)
        added = rows - self.counts.shape[0]
        self.counts = torch.cat([self.counts, self.counts.new_zeros(added)])
        self.events = torch.cat([self.events, self.events.new_zeros(added)])
        if self.transitions is not None:
            self.transitions.grow(rows)
        if self.recent is not None:
            self.recent.grow(rows)
        # Zero rows, as a delta's restore pads a grown table: nothing to store until an
        # item takes one (reset_rows marks it then).
        self.dirty.grow(added)
        self.sparse_optimizer = torch.optim.SparseAdam(
            [self.model.sparse_table], lr=self.learning_rate
        )
        if old_state:
            grown = {}
            for key, value in old_state.items():
                if torch.is_tensor(value) and value.dim() == 2:
                    grown[key] = _pad_rows(value, rows)
                else:
                    grown[key] = value
            self.sparse_optimizer.state[self.model.sparse_table] = grown

    def reset_rows(self, rows: list[int]) -> None:
        """Rows start from scratch: a fresh draw (``rows_generator``, in the given order),
        no sightings, no optimiser moments."""
        if not rows:
            return
        table = self.model.item_embeddings
        index = torch.tensor(rows, device=table.device)
        codes = self.model.item_codes
        with torch.no_grad():
            if codes is None:
                table[index] = (
                    torch.randn(len(rows), table.shape[1], device=table.device,
                                generator=self.rows_generator) * EMBEDDING_STD
                )  # fmt: skip
            else:
                # With codes a new item's draw is its code (offsets of the same size: the
                # projection keeps the scale) over a zero table row. A spare row is zero
                # already (TransformerLearner._attach_item_codes), so a delta stores no
                # table row for an item that takes one; only a reused row is zeroed. On
                # Taobao, where almost every event names a new item, those rows were 2.4 of
                # a 5.7 MB adapters delta (bench/NOTES.md).
                reused = index[table[index].ne(0).any(1)]
                table[reused] = 0
                self.dirty.mark(EMBEDDINGS, reused)
                codes.codes[index] = (
                    torch.randn(len(rows), codes.codes.shape[1], device=table.device,
                                generator=self.rows_generator) * EMBEDDING_STD
                )  # fmt: skip
        if self.model.content is not None:
            self.model.content.clear_rows(rows)
        if self.transitions is not None:
            # Only a row that had events can be another item's successor: a fresh row
            # needs no scan of every list.
            used = [row for row, seen in zip(rows, self.events[index].tolist(), strict=True)
                    if seen > 0]  # fmt: skip
            self.dirty.mark_slots(self.transitions.clear(used))
        self.counts[index] = 0
        if self.recent is not None:
            self.recent.clear(index)
        self.events[index] = 0
        for kind in (WEIGHTS, COUNTS):  # the table row: above; successor slots: cleared above
            self.dirty.mark(kind, index)
        if codes is None:
            self.dirty.mark(EMBEDDINGS, index)
        for value in self.sparse_optimizer.state.get(self.model.sparse_table, {}).values():
            if torch.is_tensor(value) and value.dim() == 2:
                value[index] = 0

    def merge_codes(self) -> None:
        """Fold the item codes into the table (consolidation, model/item_codes.py). Their
        moments stay: the codes' gradient is the same function of the loss after the
        merge (the projection is unchanged), so the scale Adam learned for it still holds."""
        codes = self.model.item_codes
        if codes is None:
            return
        moved = codes.merge_into(self.model.item_embeddings.data)
        self.dirty.mark(EMBEDDINGS, moved)
        self.dirty.mark(WEIGHTS, moved)

    def take_snapshot(self) -> dict[str, Any]:
        return {
            "model": copy.deepcopy(self.model.state_dict()),
            "sparse": copy.deepcopy(self.sparse_optimizer.state_dict()),
            "dense": copy.deepcopy(self.dense_optimizer.state_dict()),
        }

    def restore_snapshot(self) -> None:
        """Back to the last snapshot (a grown table keeps its new rows, zeroed)."""
        # Any row's weights may differ from the last checkpoint.
        self.dirty.mark_all(WEIGHTS)
        self.dirty.mark_all(EMBEDDINGS)
        snapshot = self.snapshot
        rows = snapshot["model"]["item_embeddings"].shape[0]
        current = self.model.item_embeddings.shape[0]
        self.model.load_state_dict(
            {
                key: _pad_rows(value, current) if key in ROW_PARAMETERS else value
                for key, value in snapshot["model"].items()
            }
        )
        self.build_optimizers()
        self.dense_optimizer.load_state_dict(snapshot["dense"])
        if rows == current:
            self.sparse_optimizer.load_state_dict(snapshot["sparse"])


def _pad_rows(table: torch.Tensor, rows: int) -> torch.Tensor:
    if table.shape[0] >= rows:
        return table
    return torch.cat([table, table.new_zeros(rows - table.shape[0], table.shape[1])])
