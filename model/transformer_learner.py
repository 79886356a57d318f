"""The incremental learner: test-then-train on micro-batches of user sequences.

One ``learn`` call: (1) with the current weights, one forward pass ranks every new
event (its prefix is the history) and gives each user's top-k; (2) the vocabulary
admits new items; (3) one optimiser step on the new positions of the batch plus a
reservoir sample of older sequences. Guards skip a step whose loss or gradient is
not finite, or that leaves non-finite weights, and restore the last good snapshot.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from model.adapters import AdapterConfig, attach_adapters, consolidate_adapters, has_adapters
from model.content_prior import ContentPrior
from model.contract import RecommendationSink, StepReport, UserSequence
from model.dirty_rows import EMBEDDINGS
from model.item_admission import ContentQueue, ContentUpdate, apply_content, event_ages
from model.item_table import ItemTable
from model.learner_config import LearnerConfig, config_from_json, pick_device
from model.learner_losses import LearnerLosses
from model.learner_state import LearnerState
from model.ranking_mixture import RankingMixture
from model.replay_buffer import ReservoirBuffer
from model.replica_group import ReplicaGroup
from model.sequential_recommender import SequentialRecommender
from model.state_io import read_state
from model.vocabulary import ItemVocabulary


class TransformerLearner(LearnerLosses, LearnerState):
    name = "transformer"

    def __init__(self, config: LearnerConfig, vocab: ItemVocabulary | None = None) -> None:
        self.config = config
        self.device = pick_device(config.device)
        torch.manual_seed(config.seed)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.vocab = vocab or ItemVocabulary(config.vocabulary)
        self.action_ids = {name: i + 1 for i, name in enumerate(config.actions)}
        self.model = SequentialRecommender(config.model, self.vocab.capacity)
        if config.online == "adapters":
            attach_adapters(self.model.decoder, config.adapters)
            if config.adapters.item_rank:
                self._attach_item_codes(config.adapters.item_rank)
        self.model.to(self.device)
        self.rows_generator = torch.Generator(device=self.device).manual_seed(config.seed + 1)
        transitions = config.transition_neighbours if config.model.transition_items else 0
        self.table = ItemTable(self.model, config.learning_rate, config.weight_decay,
                               self.rows_generator, transitions, config.model.popularity_prior,
                               config.popularity_half_life)  # fmt: skip
        if config.model.popularity_prior:
            with torch.no_grad():
                self.model.popularity_weight.fill_(config.popularity_bonus)
        if transitions:
            with torch.no_grad():
                recency = torch.arange(1, config.model.transition_items + 1, dtype=torch.float32)
                self.model.transition_weights.copy_(config.transition_bonus / recency)
        self.mixture = RankingMixture(config.mixture, bool(transitions),
                                      config.model.popularity_prior)  # fmt: skip
        self.replay = ReservoirBuffer(config.replay_capacity, config.seed)
        self.subsample_rng = random.Random(config.seed)  # which sequences a bounded step learns
        self.version = 0
        self.steps_skipped = 0
        self._valid_cache: tuple[tuple[int, int], torch.Tensor] | None = None
        self._steps_since_snapshot = 0
        # Set when this learner is one of several identical replicas (model/replica_group.py):
        # every learn call is then a group step, data or not.
        self.replicas: ReplicaGroup | None = None
        self.content_queue = ContentQueue()  # catalogue content for the next step
        self.content_prior = (
            ContentPrior(config.model.content_dim, config.content_young_events,
                         config.content_recent_items, seed=config.seed, device=self.device)
            if config.model.content_dim > 0 and config.content_bonus > 0 else None
        )  # fmt: skip
        if self.content_prior is not None:
            with torch.no_grad():
                self.model.content_prior_weight.fill_(config.content_bonus)
        self._last_now = 0.0  # the newest event time seen (a step without events has none)
        self._event_rows: list[int] = []  # the step's events, counted once it is done
        self._chains: list[tuple[list[int], int]] = []  # its transitions, counted then too

    def grow_to_vocabulary(self) -> None:
        """Give every row the vocabulary may hand out an embedding (after ``vocab.observe``)."""
        self.table.grow(self.vocab.capacity)

    # -- learning -------------------------------------------------------------

    def learn(
        self,
        batch: Sequence[UserSequence],
        k: int = 0,
        on_recommendations: RecommendationSink | None = None,
        train_limit: int | None = None,
        train: Sequence[UserSequence] | None = None,
    ) -> StepReport:
        report = StepReport(model_version=self.version, sequences=len(batch))
        group = self.replicas
        if not batch and not train and group is None and not len(self.content_queue):
            return report
        started = time.perf_counter()
        admitted, ages = self._admit(batch)
        report.eval_s = time.perf_counter() - started
        # In a group a failure is raised only after this rank's part in the step's
        # collectives: the others would wait for it in vain.
        failure: Exception | None = None
        try:
            if batch:
                self._rank(batch, k, report, on_recommendations, admitted, ages)
        except Exception as exc:
            if group is None:
                raise
            failure = exc
        started = time.perf_counter()
        if train is not None:
            learned = list(train)
        else:
            learned = list(batch)
            if train_limit is not None and len(learned) > train_limit:
                learned = self.subsample_rng.sample(learned, max(train_limit, 1))
                report.untrained_sequences = len(batch) - len(learned)
        # New targets first: replay only fills what the limit leaves.
        replays = round(self.config.replay_ratio * len(learned))
        if train_limit is not None:
            replays = min(replays, max(0, train_limit - len(learned)))
        replayed = self.replay.sample(replays)
        for seq in batch:
            self.replay.offer(UserSequence(seq.user_id, seq.items, seq.actions, seq.ts))
        if group is not None:
            self._group_train_step(group, learned, replayed, report, failure)
        elif learned or replayed:
            self._train_step(learned, replayed, report)
        self.table.add_events(self._event_rows)
        self.table.add_transitions(self._chains)
        self._event_rows, self._chains = [], []
        report.vocab_size = len(self.vocab)
        report.model_version = self.version
        report.train_s = time.perf_counter() - started
        return report

    def _admit(self, batch: Sequence[UserSequence]) -> tuple[set[str], list[int]]:
        """Evict stale items, apply the catalogue's content and admit the batch's new
        items (in a group: every rank's, in rank order, so an item has the same row and
        content everywhere); returns the ids admitted from events and the ages of this
        batch's new events. Before ranking, so a user's earlier events in this batch can
        be repeated; targets that were unknown before the batch still count as missed."""
        now = max((s.ts[-1] for s in batch if s.ts), default=self._last_now)
        own = [item for s in batch for item in s.items[len(s.items) - s.new_count :]]
        content = self.content_queue.take()
        chains = self._chain_items(batch)
        if self.replicas is not None:
            everyone = self.replicas.gather((now, own, content, chains))
            now = max(part[0] for part in everyone)
            seen = [part[1] for part in everyone]
            contents = [part[2] for part in everyone]
            chains = [chain for part in everyone for chain in part[3]]
            mine = self.replicas.rank
        elif not batch and not content:
            return set(), []
        else:
            seen, contents, mine = [own], [content], 0
        self._last_now = now
        self.table.reset_rows(self.vocab.evict_stale(now))
        for updates in contents:
            apply_content(self.vocab, self.table, updates, now)
        admitted: list[str] = []
        ages: list[list[int]] = []
        for items in seen:
            admitted += self.add_items(items, now)
        self._event_rows = []
        for items in seen:  # after every admission: the rows are final
            items_ages, rows = event_ages(self.vocab, self.table, items)
            ages.append(items_ages)
            self._event_rows += rows
        self._chains = [(self.vocab.lookup(items), new) for items, new in chains]
        return set(admitted), ages[mine]

    def _chain_items(self, batch: Sequence[UserSequence]) -> list[tuple[list[str], int]]:
        """Each sequence's new items and the few before them that pair with them."""
        if self.table.transitions is None:
            return []
        reach = self.table.transitions.distance
        chains = []
        for s in batch:
            new = min(s.new_count, len(s.items))
            if new:
                chains.append((list(s.items[max(0, len(s.items) - new - reach) :]), new))
        return chains

    def queue_content(self, updates: Sequence[ContentUpdate]) -> None:
        """Catalogue content (any thread); the next ``learn`` call applies it."""
        self.content_queue.put(updates)

    def content_hash_of(self, item_id: str) -> int:
        """The hash of the content the item's row holds (0: none, or unknown item)."""
        row = self.vocab.row_of.get(item_id)
        content = self.model.content
        return content.hash_at(row) if row is not None and content is not None else 0

    @property
    def content_dim(self) -> int:
        return self.config.model.content_dim

    def add_items(self, item_ids: Sequence[str], now: float) -> list[str]:
        """Count sightings of ``item_ids``; those admitted get a row, drawn afresh in
        admission order (the table grows with zero rows: a row is drawn when an item takes
        it, so a delta checkpoint holds the rows items took, not the table's spare room).
        Returns the admitted ids."""
        admitted = self.vocab.observe(item_ids, now)
        self.grow_to_vocabulary()
        self.table.reset_rows(self.vocab.lookup(admitted))
        return admitted

    def _rank(
        self, batch: Sequence[UserSequence], k: int, report: StepReport,
        on_recommendations: RecommendationSink | None, admitted: set[str], ages: list[int],
    ) -> None:  # fmt: skip
        """Rank the batch's new events, hand over the top-k."""
        started = time.perf_counter()
        report.recommendations = self._score(batch, k, report, admitted, ages, observe=True)
        report.eval_s += time.perf_counter() - started
        if on_recommendations is not None and report.recommendations:
            on_recommendations(report.recommendations, self.version)

    def _train_step(
        self, batch: Sequence[UserSequence], replayed: list[UserSequence], report: StepReport
    ) -> None:
        total, _sightings = self._loss(batch, replayed, report, count_sightings=True)
        if total is None:
            return
        if not torch.isfinite(total):
            return self._skip(report, "non-finite loss")
        self._stepped(self.table.step(total, self.config.grad_clip), report)

    def _group_train_step(
        self, group: ReplicaGroup, batch: Sequence[UserSequence],
        replayed: list[UserSequence], report: StepReport, failure: Exception | None,
    ) -> None:  # fmt: skip
        """This rank's loss and gradients, the group's sum, the same step everywhere.
        Sightings count after the exchange (every rank's), so this step's negatives are
        drawn without them; a local failure is raised after the exchange."""
        total: torch.Tensor | None = None
        sightings: list[int] = []
        finite = True
        self.table.zero_grad()
        if failure is None and (batch or replayed):
            try:
                total, sightings = self._loss(batch, replayed, report, count_sightings=False)
                finite = total is None or bool(torch.isfinite(total))
                if total is not None and finite:
                    total.backward()  # type: ignore[no-untyped-call]
            except Exception as exc:  # noqa: BLE001 - raised below, after the exchange
                failure, total, sightings = exc, None, []
                self.table.zero_grad()
        mine = report.trained_positions if total is not None and finite else 0
        summed = group.sum_gradients(
            self.table.dense, self.model.sparse_table, mine, not finite, sightings
        )
        self.table.count_sightings(summed.sightings)
        if summed.non_finite:
            self._skip(report, "non-finite loss" if not finite else "non-finite loss on a peer")
        elif summed.positions:
            self._stepped(self.table.apply_gradients(self.config.grad_clip), report)
        if failure is not None:
            raise failure

    def _stepped(self, problem: str | None, report: StepReport) -> None:
        """After an optimiser step: undo it if it went bad, else count it."""
        if problem:
            return self._skip(report, problem)
        self.version += 1
        # Counted in optimiser steps: the trainer also renumbers the weights after a
        # step that only ranked, so the version alone does not say how many steps ran.
        self._steps_since_snapshot += 1
        if self._steps_since_snapshot >= self.config.snapshot_every:
            self.table.snapshot = self.table.take_snapshot()
            self._steps_since_snapshot = 0

    def _skip(self, report: StepReport, reason: str) -> None:
        self.table.restore_snapshot()
        self.steps_skipped += 1
        report.skipped = True
        report.skip_reason = reason

    def evaluate(self, batch: Sequence[UserSequence], admit_items: bool = False) -> StepReport:
        """Rank the new events without learning anything (for tests and frozen models).
        ``admit_items``: new items get rows first, as a serving trainer's would between
        steps (so a repeat of an item first seen now can be ranked), and nothing else
        changes: no step, no item ages, no transitions. Not in a trainer group, where
        admission is a collective every rank takes part in."""
        if admit_items and self.replicas is not None:
            raise ValueError("evaluate(admit_items=True) admits alone; a trainer group admits "
                             "together, in its steps")  # fmt: skip
        report = StepReport(model_version=self.version, sequences=len(batch))
        if batch and admit_items:
            admitted, _ages = self._admit(batch)
            self._event_rows, self._chains = [], []
            self._score(batch, 0, report, admitted)
        elif batch:
            self._score(batch, 0, report)
        return report

    # -- online modes ---------------------------------------------------------

    def use_adapters(self, adapters: AdapterConfig | None = None) -> None:
        """From now on learn in ``adapters`` mode: LoRA on the frozen decoder (a learner
        built, or restored, in ``full`` mode: a pretrained backbone). The dense optimiser
        starts anew around the trainable weights; the item rows keep theirs."""
        if self.config.online == "adapters":
            return
        adapters = adapters or self.config.adapters
        attach_adapters(self.model.decoder, adapters)
        if adapters.item_rank:
            spare = self._attach_item_codes(adapters.item_rank)
            self.table.dirty.mark(EMBEDDINGS, spare)
        self.model.to(self.device)
        self.config = dataclasses.replace(self.config, online="adapters", adapters=adapters)
        sparse = self.table.sparse_optimizer.state_dict()
        self.table.build_optimizers()
        if not adapters.item_rank:  # the table's rows go on learning, with their moments
            self.table.sparse_optimizer.load_state_dict(sparse)
        self.table.snapshot = self.table.take_snapshot()

    def _attach_item_codes(self, rank: int) -> torch.Tensor:
        """Item rows learn as codes from now on (model/item_codes.py). The spare rows no
        item holds yet become zero: an item that takes one draws its code, not its row,
        so a delta holds no table row for it (ItemTable.reset_rows). Returns those rows."""
        self.model.attach_item_codes(rank)
        table = self.model.item_embeddings
        spare = torch.arange(self.vocab.num_rows, table.shape[0])
        with torch.no_grad():
            table[self.vocab.num_rows :] = 0
        return spare

    def consolidate(self) -> bool:
        """Merge the adapters into the backbone and start fresh ones (the function the
        model computes is unchanged up to float rounding). False in ``full`` mode."""
        if not has_adapters(self.model):
            return False
        self.table.forget_moments(consolidate_adapters(self.model))
        self.table.merge_codes()
        self.table.snapshot = self.table.take_snapshot()
        return True

    # -- state (the rest: model/learner_state.py) -------------------------------

    @classmethod
    def from_state_dict(
        cls, state: dict[str, Any], device: str | None = None
    ) -> TransformerLearner:
        """A learner built from the config ``state`` carries (on ``device`` if given)."""
        config = config_from_json(state["config"])
        if device is not None:
            config = dataclasses.replace(config, device=device)
        learner = cls(config)  # load_state_dict brings the vocabulary and grows the table
        learner.load_state_dict(state)
        return learner

    @classmethod
    def load(cls, directory: Path, device: str | None = None) -> TransformerLearner:
        tensors, meta = read_state(directory)
        return cls.from_state_dict(tensors | meta, device)
