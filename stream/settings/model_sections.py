"""The settings sections of the model and of the baselines it is compared with (split from
:mod:`stream.settings.sections` by job; every field's docstring is its description in the
README's configuration reference)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from stream.settings.sections import _Section


class ModelSettings(_Section):
    """Size of the transformer sequential recommender."""

    hidden_size: int = Field(64, ge=8, le=16_384)
    """Width of the transformer and the item embeddings."""
    num_layers: int = Field(2, ge=1, le=128)
    """Transformer layers."""
    num_heads: int = Field(2, ge=1, le=256)
    """Attention heads (must divide hidden_size)."""
    max_len: int = Field(50, ge=2, le=8_192)
    """Longest sequence fed to the model (capped by window.max_events)."""
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    """Dropout in the transformer."""
    learning_rate: float = Field(1e-3, gt=0.0, le=1.0)
    """Optimiser learning rate (AdamW for dense weights, SparseAdam for embedding rows)."""
    weight_decay: float = Field(0.01, ge=0.0, le=1.0)
    """AdamW weight decay of the dense weights."""
    grad_clip: float = Field(1.0, gt=0.0)
    """Gradient norm clip per step."""
    time_gaps: bool = True
    """Feed the time between events as an input feature."""
    full_softmax_max_items: int = Field(5_000, ge=1)
    """Full softmax up to this many items, sampled softmax beyond."""
    num_negatives: int = Field(1_024, ge=1)
    """Negatives per step for the sampled softmax."""
    replay_capacity: int = Field(10_000, ge=0)
    """Sequences kept in the replay reservoir (against forgetting); 0: no replay."""
    replay_ratio: float = Field(0.25, ge=0.0, le=10.0)
    """Replayed sequences per new sequence in a step."""
    replay_positions: int = Field(5, ge=1)
    """Trailing positions of a replayed sequence that are trained."""
    eval_max_events: int | None = Field(32, ge=1)
    """New events a live trainer's step ranks for online HR/NDCG (a uniform sample above it);
    each ranked event is a pass over the catalogue, so a large step under load measures a
    sample (at five steps a second, 32 is 160 events/s: ~2,400 per 15 s scrape). ``recstream
    replay`` and ``evaluate`` always rank every event. null: all."""
    task_weights: tuple[float, float, float] = (1.0, 0.5, 0.2)
    """Loss weights: next item, next purchased item, next action."""
    rank_weights: tuple[float, float] = (1.0, 0.2)
    """Ranking score = weighted next-item + next-purchase heads."""
    vocab_min_count: int = Field(1, ge=1)
    """Sightings before an item gets its own embedding row (until then: the unknown row)."""
    vocab_max_items: int | None = Field(2_000_000, ge=1)
    """Items with an embedding row at most: input must not decide how much memory the tables take.
    New ids beyond it share the unknown row until eviction frees rows. null: no limit."""
    vocab_evict_after_s: float | None = Field(None, gt=0)
    """Evict items not seen for this long and reuse their rows; null: never."""
    seed: int = 0
    """Seed of the model's initial weights."""
    pretrained_path: Path | None = None
    """Folder of a Hugging Face Llama-style decoder (config.json + safetensors) to start the
    transformer from; never downloaded, never pickle."""
    online: Literal["full", "adapters"] = "full"
    """What online steps train: ``full`` (every weight) or ``adapters`` (LoRA adapters on the
    decoder's projections, whose own weights stay frozen, plus item rows, input embeddings
    and heads). ``adapters`` suits a backbone pretrained offline (``recstream pretrain``,
    then ``worker trainer --init-from``)."""
    adapter_rank: int = Field(8, ge=1, le=1_024)
    """LoRA rank of each adapter (``online: adapters``)."""
    adapter_alpha: int = Field(16, ge=1)
    """LoRA alpha: an adapter's output is scaled by alpha / rank."""
    adapter_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    """Dropout on the adapters' input."""
    adapter_item_rank: int = Field(8, ge=0, le=1_024)
    """Floats each item row learns under ``online: adapters``: low-rank codes over the frozen
    item table, merged into it at consolidation; a delta stores 96 bytes per moved row at 8
    instead of 768. 0: the whole row learns."""
    item_row_updates: Literal["all", "sequences", "targets"] = "targets"
    """The item rows a step moves: ``targets`` (the rows it predicts; inputs read the table
    without moving it), ``sequences`` (the rows of its own sequences: inputs and targets) or
    ``all`` (also every row scored as a negative). Fewer moved rows make smaller delta
    checkpoints; ``all`` also lost 30 % of NDCG@10 on Amazon Beauty (bench/NOTES.md)."""
    transition_items: int = Field(3, ge=0, le=16)
    """How many of a user's last items give their usual successors a ranking bonus (item-to-item
    transitions counted as the stream goes, the bonus's weight learned per recency; README,
    "Transitions in the ranking"). 0: off."""
    transition_neighbours: int = Field(32, ge=1, le=256)
    """Successors kept per item (the most frequent, Space-Saving); memory is 8 bytes each per
    item row."""
    popularity_prior: bool = True
    """Add a learned weight x log(1 + the item's recent sightings) to every score: what is
    popular now, which item vectors learn slowly in one pass (README, "The model")."""
    popularity_bonus: float = Field(0.5, ge=0.0, le=100.0)
    """Starting weight of that popularity prior; learned from there."""
    popularity_half_life: float | None = Field(1_000.0, gt=0)
    """Sightings (new events, of any item) after which a sighting counts half in the popularity
    prior; null: sightings never fade (popularity since the start)."""
    transition_bonus: float = Field(1.0, ge=0.0, le=100.0)
    """Starting weight of the transition bonus for the newest item's successors (the j-th
    newest starts at this / j); learned from there."""

    ranking_mixture: bool = True
    """Rank with the transition bonus and the popularity prior scaled by the pair of scales
    whose ranking has served best so far (NDCG@10 of sampled events before each step,
    fading); the weights themselves are learned by the loss (README, "The ranking
    mixture"). false: rank with the learned weights as they are."""
    mixture_transition_scales: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    """The transition bonus scales the ranking mixture chooses from (must include 1)."""
    mixture_popularity_scales: tuple[float, ...] = (0.0, 1.0)
    """The popularity prior scales it chooses from (must include 1)."""
    mixture_half_life_events: float = Field(20_000.0, gt=0)
    """Ranked events after which an observation counts half in the mixture's choice."""
    mixture_sample: int = Field(8, ge=1, le=4096)
    """Events per step ranked under every choice of the grid (the choice's cost)."""
    mixture_own_items_first: bool = True
    """Also choose from the same grid with the user's own items ranked first, newest first
    (the own-recent baseline's order), everything else below as the model ranks it."""
    mixture_last_item_first: bool = True
    """Also choose from the same grid with only the item of the user's last event ranked
    first (a click after a view, a purchase after a click), everything else as the model
    ranks it."""
    mixture_own_items_last: bool = True
    """Also choose from the same grid with the user's own items ranked below every other
    item (streams where nobody takes the same item twice, such as reviews)."""

    @field_validator("mixture_transition_scales", "mixture_popularity_scales")
    @classmethod
    def _scales_include_one(cls, scales: tuple[float, ...]) -> tuple[float, ...]:
        if 1.0 not in scales or min(scales) < 0:
            raise ValueError("scales must be non-negative and include 1.0 (the learned weight)")
        return scales

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> ModelSettings:
        if self.hidden_size % self.num_heads:
            raise ValueError("hidden_size must be divisible by num_heads")
        return self


class BaselineSettings(_Section):
    """The reference models ``recstream replay`` compares the transformer with."""

    popularity_half_life_s: float = Field(86_400.0, gt=0)
    """Half-life of the popularity baseline's decayed counts."""
    trending_half_life_events: float = Field(1_000.0, gt=0)
    """Half-life of the trending baseline's counts, in events of any item (the memory of the
    transformer's popularity prior, ``model.popularity_half_life``)."""
    frozen_warmup_events: int = Field(10_000, ge=0)
    """Events the frozen baseline trains on before it stops learning."""
    retrain_every_events: int = Field(50_000, ge=1)
    """The periodic-retrain baseline retrains from scratch after this many events."""
    retrain_epochs: int = Field(2, ge=1, le=100)
    """Epochs per retrain."""
    retrain_batch_size: int = Field(128, ge=1)
    """Sequences per retrain batch."""
    retrain_positions: int | None = Field(5, ge=1)
    """Trailing positions per window and epoch in a retrain; null: all."""
