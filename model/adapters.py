"""Parameter-efficient online learning: LoRA adapters (``peft``) on the decoder's
attention and MLP projections, the decoder's own weights frozen, and consolidation (the
adapters merged into the backbone, fresh adapters from there).

What each online mode trains (``LearnerConfig.online``):

- ``full``: every weight (the decoder, the item table, the input embeddings, the heads).
- ``adapters``: the LoRA matrices of the decoder's projections, the item rows (items
  arrive all day: their rows are the model's memory of them) through low-rank codes over
  the frozen table (``item_rank`` floats per row, model/item_codes.py; 0: whole rows,
  64 floats), the action and time-gap
  embeddings and the heads (next purchase, next action, repeat): small, and what ties
  the backbone's states to today's items. The decoder's projections and norms, the
  backbone a pretraining built, stay frozen, so online updates cannot overwrite what it
  learned from the long history (Hu et al., "LoRA: Low-Rank Adaptation of Large
  Language Models", 2021).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from peft import LoraConfig, inject_adapter_in_model
from peft.tuners.lora import LoraLayer
from torch import nn

ONLINE_MODES = ("full", "adapters")
# Llama's attention and MLP projections (transformers' LlamaAttention / LlamaMLP names).
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class AdapterConfig:
    rank: int = 8
    alpha: int = 16  # LoRA scale = alpha / rank
    dropout: float = 0.0
    targets: tuple[str, ...] = PROJECTIONS
    # Floats each item row learns online (model/item_codes.py); 0: the whole row learns.
    item_rank: int = 8


def attach_adapters(decoder: nn.Module, config: AdapterConfig) -> None:
    """Inject LoRA layers into ``decoder`` in place; peft freezes every other weight of
    the decoder (and only of it: the caller's item table and heads stay trainable).
    Each adapter starts as A random, B zero: the decoder computes what it did."""
    lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=list(config.targets), bias="none")  # fmt: skip
    inject_adapter_in_model(lora, decoder)


def has_adapters(model: nn.Module) -> bool:
    return any(isinstance(module, LoraLayer) for module in model.modules())


def adapter_layers(model: nn.Module) -> list[LoraLayer]:
    return [module for module in model.modules() if isinstance(module, LoraLayer)]


@torch.no_grad()
def consolidate_adapters(model: nn.Module) -> list[torch.Tensor]:
    """Merge every adapter into its base weight (W += scale * B @ A) and start fresh
    adapters: B zero (the product is 0 again), A kept as the starting projection, so no
    random draw is needed and replicas of a trainer group stay identical. The model
    computes the same function before and after, up to float rounding. Returns the
    adapter parameters whose optimiser state must be reset."""
    reset: list[torch.Tensor] = []
    for layer in adapter_layers(model):
        layer.merge(safe_merge=True)  # raises on a non-finite merge, leaving W untouched
        # The product now lives in the base weight; with B zero the adapter adds nothing,
        # so the layer is "unmerged" again (forward adds the adapter's zero).
        layer.merged_adapters.clear()
        for name in layer.lora_B:
            a, b = layer.lora_A[name], layer.lora_B[name]
            assert isinstance(a, nn.Linear) and isinstance(b, nn.Linear)
            nn.init.zeros_(b.weight)
            reset.extend([a.weight, b.weight])
    return reset


def trainable_parameter_names(model: nn.Module) -> list[str]:
    return [name for name, p in model.named_parameters() if p.requires_grad]
