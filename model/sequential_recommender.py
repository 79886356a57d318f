"""The transformer sequential recommender: item + action (+ time-gap) embeddings fed as
``inputs_embeds`` to a Hugging Face causal decoder (Llama blocks: rotary positions,
RMSNorm, SwiGLU, SDPA attention), with three heads sharing the encoder.

Shapes: B users, L positions (L = window + 1 for the start token), H hidden, N rows.
Sequences are right-padded, so a causal mask alone keeps real positions from seeing
padding and no row of attention is ever fully masked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import LlamaConfig, LlamaModel


@dataclass(frozen=True)
class RecommenderConfig:
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 2
    max_len: int = 50  # window length; the model sees max_len + 1 positions
    dropout: float = 0.1
    num_actions: int = 3  # view, click, purchase (ids 1..num_actions; 0 is padding)
    time_gaps: bool = True  # add a learned embedding of log2(seconds since previous event)
    pretrained_path: Path | None = None  # a local transformers checkpoint for the decoder

    @property
    def time_gap_buckets(self) -> int:
        return 34  # 0 padding, 1..33 for floor(log2(1 + gap_s)) clamped to 32


def time_gap_buckets(ts: torch.Tensor) -> torch.Tensor:
    """(B, L) float seconds -> (B, L) bucket ids; position 0 (no predecessor) gets 1."""
    gaps = torch.zeros_like(ts)
    gaps[:, 1:] = (ts[:, 1:] - ts[:, :-1]).clamp(min=0)
    return torch.log2(1 + gaps).floor().clamp(max=32).long() + 1


class SequentialRecommender(nn.Module):
    def __init__(self, config: RecommenderConfig, num_rows: int) -> None:
        super().__init__()
        self.config = config
        h = config.hidden_size
        # Item rows are updated sparsely (SparseAdam): the table is a bare parameter read
        # through F.embedding(sparse=True) both for inputs and for scored candidates.
        self.item_embeddings = nn.Parameter(torch.empty(num_rows, h))
        nn.init.normal_(self.item_embeddings, std=1 / math.sqrt(h))
        self.action_embeddings = nn.Embedding(config.num_actions + 1, h, padding_idx=0)
        self.gap_embeddings = nn.Embedding(config.time_gap_buckets, h, padding_idx=0)
        self.input_dropout = nn.Dropout(config.dropout)
        self.decoder = self._build_decoder(config)
        self.purchase_projection = nn.Linear(h, h)  # next purchased item head (B, L, H)
        self.action_head = nn.Linear(h, config.num_actions)  # next action head

    @staticmethod
    def _build_decoder(config: RecommenderConfig) -> LlamaModel:
        if config.pretrained_path is not None:
            return LlamaModel.from_pretrained(str(config.pretrained_path), attn_implementation="sdpa")
        decoder_config = LlamaConfig(
            vocab_size=1,  # unused: items arrive as inputs_embeds
            hidden_size=config.hidden_size,
            intermediate_size=config.hidden_size * 4,
            num_hidden_layers=config.num_layers,
            num_attention_heads=config.num_heads,
            num_key_value_heads=config.num_heads,
            max_position_embeddings=config.max_len + 1,
            attention_dropout=config.dropout,
            use_cache=False,
            bos_token_id=None,
            eos_token_id=None,
            pad_token_id=None,
            attn_implementation="sdpa",
        )
        return LlamaModel(decoder_config)

    def item_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Embedding rows with a sparse gradient: (...,) -> (..., H)."""
        return F.embedding(rows, self.item_embeddings, sparse=True)

    def encode(self, items: torch.Tensor, actions: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
        """(B, L) rows, action ids, seconds -> (B, L, H) hidden states."""
        x = self.item_rows(items) + self.action_embeddings(actions)
        if self.config.time_gaps:
            x = x + self.gap_embeddings(time_gap_buckets(ts))
        x = self.input_dropout(x)
        out = self.decoder(inputs_embeds=x)
        hidden: torch.Tensor = out.last_hidden_state
        return hidden

    def item_logits(self, hidden: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """(P, H) states x (C,) candidate rows -> (P, C) next-item scores."""
        return hidden @ self.item_rows(candidates).T

    def purchase_logits(self, hidden: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """(P, H) x (C,) -> (P, C) next-purchased-item scores."""
        return self.purchase_projection(hidden) @ self.item_rows(candidates).T

    def action_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(P, H) -> (P, num_actions); class k is action id k + 1."""
        logits: torch.Tensor = self.action_head(hidden)
        return logits

    def grow(self, num_rows: int) -> None:
        """Make room for ``num_rows`` item rows, keeping the learned ones."""
        old = self.item_embeddings.data
        if num_rows <= old.shape[0]:
            return
        fresh = torch.empty(num_rows - old.shape[0], old.shape[1], device=old.device, dtype=old.dtype)
        nn.init.normal_(fresh, std=1 / math.sqrt(old.shape[1]))
        self.item_embeddings = nn.Parameter(torch.cat([old, fresh]))
