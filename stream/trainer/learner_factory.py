"""Settings -> the model package's plain configs (model/ never sees settings or Kafka)."""

from __future__ import annotations

from model.adapters import AdapterConfig
from model.baselines.retrain import RetrainSchedule
from model.contract import Learner
from model.learner_config import LearnerConfig
from model.ranking_mixture import MixtureConfig
from model.registry import BaselineOptions, build_learner
from model.sequential_recommender import RecommenderConfig
from model.vocabulary import VocabularyConfig
from stream.settings import Settings


def learner_config(settings: Settings, rank_every_event: bool = False) -> LearnerConfig:
    """``rank_every_event``: offline quality (replay, evaluation) ranks every new event;
    only the live trainer measures its online HR/NDCG on a sample (``eval_max_events``)."""
    m = settings.model
    return LearnerConfig(
        model=RecommenderConfig(
            hidden_size=m.hidden_size, num_layers=m.num_layers, num_heads=m.num_heads,
            max_len=min(m.max_len, settings.window.max_events), dropout=m.dropout,
            num_actions=len(settings.topics.events), time_gaps=m.time_gaps,
            pretrained_path=m.pretrained_path,
            content_dim=content_dim(settings), transition_items=m.transition_items,
            popularity_prior=m.popularity_prior,
        ),
        vocabulary=VocabularyConfig(
            min_count=m.vocab_min_count, evict_after_s=m.vocab_evict_after_s,
            max_items=m.vocab_max_items,
        ),
        actions=tuple(settings.topics.events),
        learning_rate=m.learning_rate, weight_decay=m.weight_decay,
        full_softmax_max_items=m.full_softmax_max_items, num_negatives=m.num_negatives,
        replay_capacity=m.replay_capacity, replay_ratio=m.replay_ratio,
        replay_positions=m.replay_positions,
        eval_max_events=None if rank_every_event else m.eval_max_events,
        task_weights=m.task_weights,
        rank_weights=m.rank_weights, grad_clip=m.grad_clip,
        device=settings.trainer.device, seed=m.seed,
        online=m.online,
        adapters=AdapterConfig(rank=m.adapter_rank, alpha=m.adapter_alpha,
                               dropout=m.adapter_dropout, item_rank=m.adapter_item_rank),
        item_row_updates=m.item_row_updates,
        content_bonus=settings.content.prior_weight,
        content_young_events=settings.content.young_events,
        content_recent_items=settings.content.recent_items,
        transition_neighbours=m.transition_neighbours, transition_bonus=m.transition_bonus,
        popularity_bonus=m.popularity_bonus,
        popularity_half_life=m.popularity_half_life,
        mixture=MixtureConfig(
            transition_scales=m.mixture_transition_scales,
            popularity_scales=m.mixture_popularity_scales,
            half_life_events=m.mixture_half_life_events, sample=m.mixture_sample,
            own_items_first=m.mixture_own_items_first,
            last_item_first=m.mixture_last_item_first,
            own_items_last=m.mixture_own_items_last,
        ) if m.ranking_mixture else None,
    )  # fmt: skip


def content_dim(settings: Settings) -> int:
    """Width of the content vectors the model reads (0: content off)."""
    if not settings.content.enabled:
        return 0
    from model.text_encoder import encoder_dim

    return encoder_dim(settings.content.encoder_path)


def baseline_options(settings: Settings) -> BaselineOptions:
    b = settings.baselines
    return BaselineOptions(
        popularity_half_life_s=b.popularity_half_life_s,
        trending_half_life_events=b.trending_half_life_events,
        frozen_warmup_events=b.frozen_warmup_events,
        retrain=RetrainSchedule(
            b.retrain_every_events, b.retrain_epochs, b.retrain_batch_size, b.retrain_positions
        ),
    )


def learner_from_settings(name: str, settings: Settings, rank_every_event: bool = False) -> Learner:
    config = learner_config(settings, rank_every_event)
    return build_learner(name, config, baseline_options(settings))
