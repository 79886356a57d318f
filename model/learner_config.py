"""The transformer learner's settings and device choice, and their JSON form (saved with
every checkpoint, so a restored learner is built exactly as the saved one was)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from model.adapters import ONLINE_MODES, AdapterConfig
from model.ranking_mixture import MixtureConfig
from model.sequential_recommender import RecommenderConfig
from model.vocabulary import VocabularyConfig

ITEM_ROW_UPDATES = ("all", "sequences", "targets")


@dataclass(frozen=True)
class LearnerConfig:
    model: RecommenderConfig = field(default_factory=RecommenderConfig)
    vocabulary: VocabularyConfig = field(default_factory=VocabularyConfig)
    actions: tuple[str, ...] = ("view", "click", "purchase")
    purchase_action: str = "purchase"
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    full_softmax_max_items: int = 50_000
    num_negatives: int = 1_024
    replay_capacity: int = 10_000
    replay_ratio: float = 0.25  # replayed sequences per batch sequence
    replay_positions: int = 5  # trailing positions trained per replayed sequence
    # New events a step ranks for online HR/NDCG: a uniform sample above this (None: all).
    # Ranking every target is a second pass over the catalogue that a busy step can skip.
    eval_max_events: int | None = None
    task_weights: tuple[float, float, float] = (1.0, 0.5, 0.2)  # next item, purchase, action
    rank_weights: tuple[float, float] = (1.0, 0.2)  # next item, next purchase
    grad_clip: float = 1.0
    snapshot_every: int = 10
    # What online steps train (model/adapters.py): "full" or "adapters" (LoRA on a frozen
    # decoder); the adapters' shape.
    online: str = "full"
    adapters: AdapterConfig = field(default_factory=AdapterConfig)
    # The item rows a step moves (ITEM_ROW_UPDATES): "all" (inputs, targets and every
    # row scored as a negative: the whole catalogue under a full softmax), "sequences"
    # (the rows of the step's own sequences: inputs and targets) or "targets" (the rows
    # the loss predicts; inputs read the table without moving it). Fewer moved rows,
    # smaller delta checkpoints (bench/checkpoints.py).
    item_row_updates: str = "targets"
    # The content prior for young items (model/content_prior.py), with content only:
    # its starting weight (learned from there; 0: off), how many events an item may have
    # had to count as young, and how many of the user's last items describe what they read.
    content_bonus: float = 4.0
    content_young_events: int = 0
    content_recent_items: int = 5
    # The transition bonus (model/transition_prior.py, with model.transition_items > 0):
    # successors kept per item, and the starting weight of the newest item's successors
    # (the j-th newest starts at bonus / j; all learned from there).
    transition_neighbours: int = 32
    transition_bonus: float = 1.0
    # Starting weight of the popularity prior (model.popularity_prior), learned from there,
    # and the half-life of the sightings it reads, in sightings of any item (None: they
    # never fade; model/recent_sightings.py).
    popularity_bonus: float = 0.5
    popularity_half_life: float | None = 1_000.0
    # How the ranking scales the transition bonus and the popularity prior, chosen online
    # by the NDCG of the ranking it serves (model/ranking_mixture.py); None: as learned.
    mixture: MixtureConfig | None = field(default_factory=MixtureConfig)
    device: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.item_row_updates not in ITEM_ROW_UPDATES:
            raise ValueError(f"item_row_updates must be one of {ITEM_ROW_UPDATES}, "
                             f"not {self.item_row_updates!r}")  # fmt: skip
        if self.model.transition_items > 0 and self.transition_neighbours < 1:
            raise ValueError("transition_neighbours must be at least 1 with transition_items")
        if self.online not in ONLINE_MODES:
            raise ValueError(f"online must be one of {ONLINE_MODES}, not {self.online!r}")


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def config_to_json(config: LearnerConfig) -> dict[str, Any]:
    data = dataclasses.asdict(config)
    path = data["model"]["pretrained_path"]
    data["model"]["pretrained_path"] = str(path) if path is not None else None
    return data


def config_from_json(data: dict[str, Any]) -> LearnerConfig:
    model = dict(data["model"])
    # A checkpoint from before the transition bonus has no weights for it: it resumes without.
    model.setdefault("transition_items", 0)
    model.setdefault("popularity_prior", False)
    if model.get("pretrained_path"):
        model["pretrained_path"] = Path(model["pretrained_path"])
    # A checkpoint from before the setting moved every row it read: it resumes so.
    data = {"item_row_updates": "all", **data}
    # A checkpoint from before the ranking mixture ranks as it did.
    mixture = data.get("mixture")
    if mixture is not None:
        mixture = MixtureConfig(
            **{
                "own_items_first": False,  # a checkpoint from before that choice: without it
                "last_item_first": False,  # the same
                "own_items_last": False,  # the same
                **mixture,
                "transition_scales": tuple(mixture["transition_scales"]),
                "popularity_scales": tuple(mixture["popularity_scales"]),
            }
        )
    data = {**data, "mixture": mixture}
    # A checkpoint from before item codes learned whole item rows under adapters.
    adapters = {"item_rank": 0, **(data.get("adapters") or {})}
    if "targets" in adapters:
        adapters["targets"] = tuple(adapters["targets"])
    return LearnerConfig(**{
        **data,
        "adapters": AdapterConfig(**adapters),
        "model": RecommenderConfig(**model),
        "vocabulary": VocabularyConfig(**data["vocabulary"]),
        "actions": tuple(data["actions"]),
        "task_weights": tuple(data["task_weights"]),
        "rank_weights": tuple(data["rank_weights"]),
    })  # fmt: skip
