"""What a transformer learner is, as one flat state: to checkpoint, restore, compare.

A mixin of :class:`model.transformer_learner.TransformerLearner` (which owns the state
named below): the learner's learning and ranking halves were past this project's size
rule with it in the same file.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch

from model.item_table import ItemTable
from model.learner_config import LearnerConfig, config_to_json
from model.ranking_mixture import RankingMixture
from model.replay_buffer import ReservoirBuffer
from model.replica_group import fingerprint
from model.sequential_recommender import SequentialRecommender
from model.state_io import split_state, write_state
from model.vocabulary import ItemVocabulary


class LearnerState:
    name: str
    config: LearnerConfig
    device: torch.device
    vocab: ItemVocabulary
    model: SequentialRecommender
    table: ItemTable
    mixture: RankingMixture
    replay: ReservoirBuffer
    generator: torch.Generator
    rows_generator: torch.Generator
    subsample_rng: random.Random
    version: int
    steps_skipped: int
    _valid_cache: tuple[tuple[int, int], torch.Tensor] | None

    def state_dict(self) -> dict[str, Any]:
        """Everything the learner is, as one flat dict: tensors under dotted names
        (weights, optimiser state, sightings, random generators) and JSON values (config,
        vocabulary, replay buffer, counters). Checkpoints store it as safetensors + JSON
        (``model.state_io.split_state``)."""
        state: dict[str, Any] = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        state |= self.table.state_dict()
        state |= self.mixture.state_dict()
        # Dropout draws from torch's global generator, negatives from the learner's own.
        state["rng.torch"] = torch.get_rng_state()
        state["rng.negatives"] = self.generator.get_state()
        state["rng.rows"] = self.rows_generator.get_state()
        if self.device.type == "cuda":
            state["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        version, internal, gauss = self.subsample_rng.getstate()
        return state | {
            "kind": self.name,
            "config": config_to_json(self.config),
            "vocabulary": self.vocab.to_state(),
            "replay": self.replay.to_state(),
            "version": self.version,
            "steps_skipped": self.steps_skipped,
            "subsample_rng": [version, list(internal), gauss],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Become the learner ``state`` describes (built with the same config)."""
        self.vocab = ItemVocabulary.from_state(state["vocabulary"])
        self._valid_cache = None
        weights = {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")}
        self.model.grow(weights["item_embeddings"].shape[0])
        self.model.load_state_dict(weights)
        self.model.to(self.device)
        self.table.load_state_dict(state)
        self.mixture.load_state_dict(state)
        self.replay = ReservoirBuffer.from_state(state["replay"])
        self.version = int(state["version"])
        self.steps_skipped = int(state["steps_skipped"])
        if "rng.torch" in state:
            torch.set_rng_state(state["rng.torch"].to("cpu"))
            self.generator.set_state(state["rng.negatives"].to("cpu"))
            if "rng.rows" in state:  # checkpoints before trainer groups have none
                self.rows_generator.set_state(state["rng.rows"].to("cpu"))
            if "rng.cuda" in state and self.device.type == "cuda":
                torch.cuda.set_rng_state(state["rng.cuda"].to("cpu"), self.device)
        if "subsample_rng" in state:
            version, internal, gauss = state["subsample_rng"]
            self.subsample_rng.setstate((version, tuple(internal), gauss))

    def fingerprint(self) -> int:
        """Equal on two learners with the same weights, vocabulary and version."""
        return fingerprint(self.model, self.vocab.id_of, self.version)

    def save(self, directory: Path) -> None:
        write_state(directory, *split_state(self.state_dict()))
