"""Save and restore a TransformerLearner: weights, optimiser state, vocabulary, replay
buffer and counters, as safetensors + JSON (never pickle)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from model.replay_buffer import ReservoirBuffer
from model.sequential_recommender import RecommenderConfig
from model.state_io import flatten_optimizer, read_state, unflatten_optimizer, write_state
from model.transformer_learner import LearnerConfig, TransformerLearner
from model.vocabulary import ItemVocabulary, VocabularyConfig


def learner_to_flat(learner: TransformerLearner) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Everything a learner is, as named tensors and JSON: weights, optimiser state,
    vocabulary, replay buffer, counters and every random-number generator."""
    tensors = {f"model.{k}": v for k, v in learner.model.state_dict().items()}
    tensors["counts"] = learner.counts
    sparse_t, sparse_meta = flatten_optimizer("sparse", learner.sparse_optimizer.state_dict())
    dense_t, dense_meta = flatten_optimizer("dense", learner.dense_optimizer.state_dict())
    tensors |= sparse_t | dense_t
    # Dropout draws from torch's global generator, negatives from the learner's own.
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.negatives"] = learner.generator.get_state()
    if learner.device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(learner.device)
    version, internal, gauss = learner.subsample_rng.getstate()
    meta = {
        "kind": learner.name,
        "config": config_to_json(learner.config),
        "vocabulary": learner.vocab.to_state(),
        "replay": learner.replay.to_state(),
        "version": learner.version,
        "steps_skipped": learner.steps_skipped,
        "optimizers": {"sparse": sparse_meta, "dense": dense_meta},
        "subsample_rng": [version, list(internal), gauss],
    }
    return tensors, meta


def learner_from_flat(
    tensors: dict[str, torch.Tensor], meta: dict[str, Any], device: str | None = None
) -> TransformerLearner:
    config = config_from_json(meta["config"])
    if device is not None:
        config = dataclasses.replace(config, device=device)
    learner = TransformerLearner(config, ItemVocabulary.from_state(meta["vocabulary"]))
    _load_tensors(learner, tensors, meta)
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"].to("cpu"))
        learner.generator.set_state(tensors["rng.negatives"].to("cpu"))
        if "rng.cuda" in tensors and learner.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng.cuda"].to("cpu"), learner.device)
    if "subsample_rng" in meta:
        version, internal, gauss = meta["subsample_rng"]
        learner.subsample_rng.setstate((version, tuple(internal), gauss))
    return learner


def save_transformer(learner: TransformerLearner, directory: Path) -> None:
    tensors, meta = learner_to_flat(learner)
    write_state(directory, tensors, meta)


def load_transformer(directory: Path, device: str | None = None) -> TransformerLearner:
    tensors, meta = read_state(directory)
    return learner_from_flat(tensors, meta, device)


def _load_tensors(
    learner: TransformerLearner, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    model_state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    learner.model.grow(model_state["item_embeddings"].shape[0])
    learner.model.load_state_dict(model_state)
    learner.model.to(learner.device)
    learner.counts = tensors["counts"].to(learner.device)
    learner.dirty_rows = torch.zeros(
        learner.counts.shape[0], dtype=torch.bool, device=learner.device
    )
    learner._build_optimizers()
    on_device = {k: v.to(learner.device) for k, v in tensors.items() if not k.startswith("rng.")}
    optimizers = meta["optimizers"]
    learner.sparse_optimizer.load_state_dict(
        unflatten_optimizer("sparse", on_device, optimizers["sparse"])
    )
    learner.dense_optimizer.load_state_dict(
        unflatten_optimizer("dense", on_device, optimizers["dense"])
    )
    learner.replay = ReservoirBuffer.from_state(meta["replay"])
    learner.version = int(meta["version"])
    learner.steps_skipped = int(meta["steps_skipped"])
    learner._snapshot = learner._take_snapshot()


def config_to_json(config: LearnerConfig) -> dict[str, Any]:
    data = dataclasses.asdict(config)
    path = data["model"]["pretrained_path"]
    data["model"]["pretrained_path"] = str(path) if path is not None else None
    return data


def config_from_json(data: dict[str, Any]) -> LearnerConfig:
    model = dict(data["model"])
    if model.get("pretrained_path"):
        model["pretrained_path"] = Path(model["pretrained_path"])
    return LearnerConfig(**{
        **data,
        "model": RecommenderConfig(**model),
        "vocabulary": VocabularyConfig(**data["vocabulary"]),
        "actions": tuple(data["actions"]),
        "task_weights": tuple(data["task_weights"]),
        "rank_weights": tuple(data["rank_weights"]),
    })  # fmt: skip
