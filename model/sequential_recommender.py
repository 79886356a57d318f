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
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import LlamaConfig, LlamaModel

from model.item_codes import ItemCodes
from model.item_content import ItemContent
from model.length_buckets import bucket_rows, plan_buckets

# Small initial item vectors (as GPT-2 and SASRec do): random scores of unseen-in-history
# items stay well below the repeat prior until training gives them meaning.
EMBEDDING_STD = 0.02


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
    # Width of the item content vectors (model/item_content.py; 0: ids only). An item's
    # vector is then its id row + a learned projection of its content, so an item with
    # content but no events yet already sits near items that read alike.
    content_dim: int = 0
    # How many of a user's last items lend their usual successors a ranking bonus, each
    # with its own learned weight (model/transition_prior.py; 0: no transition bonus).
    transition_items: int = 3
    # A learned weight on log(1 + an item's recent sightings) in every score: what is
    # popular now, which item vectors learn slowly in one pass (model/task_losses.py,
    # PopularityTerm; model/recent_sightings.py).
    popularity_prior: bool = True

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
        nn.init.normal_(self.item_embeddings, std=EMBEDDING_STD)
        self.action_embeddings = nn.Embedding(config.num_actions + 1, h, padding_idx=0)
        self.gap_embeddings = nn.Embedding(config.time_gap_buckets, h, padding_idx=0)
        self.input_dropout = nn.Dropout(config.dropout)
        self.decoder = self._build_decoder(config)
        self.purchase_projection = nn.Linear(h, h)  # next purchased item head (B, L, H)
        self.action_head = nn.Linear(h, config.num_actions)  # next action head
        # Repeat head: attention from an output position to the items of its own history
        # gives each of them a bonus (or a penalty), so the model learns when to repeat.
        self.repeat_query = nn.Linear(h, h)
        self.repeat_key = nn.Linear(h, h)
        # A learned bias by distance back in the history, initialised to favour the most
        # recent items: the model starts out like the "recent items" baseline and learns
        # from there when (and what) to repeat.
        self.repeat_distance_bias = nn.Embedding(config.max_len + 2, 1)
        with torch.no_grad():
            distance = torch.arange(config.max_len + 2, dtype=torch.float32)
            self.repeat_distance_bias.weight[:, 0] = 6.0 - 1.0 * torch.log2(1 + distance)
            nn.init.zeros_(self.repeat_query.weight)  # content-based repeat is learned
            nn.init.zeros_(self.repeat_query.bias)
        # Low-rank row updates over a frozen table (adapters mode: attach_item_codes).
        self.item_codes: ItemCodes | None = None
        # Built last, so the other weights draw the same initial values with or without it.
        self.content: ItemContent | None = None
        if config.content_dim > 0:
            self.content = ItemContent(num_rows, config.content_dim)
            self.content_projection = nn.Linear(config.content_dim, h, bias=False)
            # Unit content vectors map to item-sized vectors (rows start at std 0.02).
            nn.init.normal_(self.content_projection.weight, std=EMBEDDING_STD)
            # How much the content prior for young items counts (model/content_prior.py),
            # learned with the rest: the learner sets its starting value.
            self.content_prior_weight = nn.Parameter(torch.zeros(()))
        if config.popularity_prior:
            self.popularity_weight = nn.Parameter(torch.zeros(()))  # the learner sets it
        if config.transition_items > 0:
            # The transition bonus's weight per recency (the learner sets the start). A
            # gate by user state (a linear map of the output state added to these) made
            # no measured difference on the session stream (bench/NOTES.md, issue 20).
            self.transition_weights = nn.Parameter(torch.zeros(config.transition_items))

    def _apply(self, fn: Any, recurse: bool = True) -> Any:
        """``.to()`` and friends move the content vectors too (a plain attribute, kept out
        of the state dict: the learner stores them row-wise)."""
        out = super()._apply(fn, recurse)  # type: ignore[no-untyped-call]
        if self.content is not None:
            self.content.vectors = fn(self.content.vectors)
            self.content.hashes = fn(self.content.hashes)
        return out

    @staticmethod
    def _build_decoder(config: RecommenderConfig) -> LlamaModel:
        if config.pretrained_path is not None:
            # safetensors only: a pickled checkpoint could run code when loaded.
            return LlamaModel.from_pretrained(
                str(config.pretrained_path), attn_implementation="sdpa", use_safetensors=True
            )
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
            attn_implementation="sdpa",  # type: ignore[call-arg]  # a PretrainedConfig kwarg
        )
        return LlamaModel(decoder_config)

    def attach_item_codes(self, rank: int) -> None:
        """Item rows learn ``rank`` floats each from now on, over a frozen table
        (model/item_codes.py); the model computes what it did until they learn."""
        table = self.item_embeddings
        self.item_codes = ItemCodes(table.shape[0], rank, table.shape[1]).to(table.device)
        table.requires_grad_(False)

    @property
    def sparse_table(self) -> nn.Parameter:
        """The row-indexed parameter the sparse optimiser moves: the codes if attached,
        else the table."""
        return self.item_codes.codes if self.item_codes is not None else self.item_embeddings

    def item_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Embedding rows with a sparse gradient: (...,) -> (..., H)."""
        if self.item_codes is None:
            return F.embedding(rows, self.item_embeddings, sparse=True)
        return F.embedding(rows, self.item_embeddings.detach()) + self.item_codes.rows(rows)

    def _fixed_rows(self, rows: torch.Tensor | slice) -> torch.Tensor:
        """(C,) rows (or a slice of them) -> (C, H) vectors without a gradient."""
        vectors = self.item_embeddings.detach()[rows]
        if self.item_codes is None:
            return vectors
        return vectors + self.item_codes.offsets(rows)

    def encode(
        self, items: torch.Tensor, actions: torch.Tensor, ts: torch.Tensor,
        lengths: torch.Tensor | None = None, learnable: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """(B, L) rows, action ids, seconds -> (B, L, H) hidden states. With ``learnable``
        (N,) bool, only those input rows get a gradient (:meth:`candidate_rows`).

        With ``lengths`` (items per row: row b's last input is at index lengths[b]) rows
        of similar length are encoded together, each group only as wide as it needs
        (:mod:`model.length_buckets`). Every real position's output is the same either
        way (right padding and the causal mask: no position sees the padding after it);
        outputs past a row's last input differ, and are padding either way."""
        if lengths is None:
            return self._encode(items, actions, ts, learnable)
        widths = (lengths + 1).tolist()
        groups = bucket_rows(widths, plan_buckets(widths))
        if len(groups) == 1 and groups[0][1] == items.shape[1]:
            return self._encode(items, actions, ts, learnable)
        parts, order = [], []
        for rows, width in groups:
            at = torch.tensor(rows, device=items.device)
            hidden = self._encode(items[at, :width], actions[at, :width], ts[at, :width],
                                  learnable)  # fmt: skip
            parts.append(F.pad(hidden, (0, 0, 0, items.shape[1] - width)))
            order.extend(rows)
        # Rows come out grouped; put each back at its own index.
        back = torch.empty(len(order), dtype=torch.long, device=items.device)
        back[torch.tensor(order, device=items.device)] = torch.arange(
            len(order), device=items.device
        )
        return torch.cat(parts)[back]

    def _encode(
        self, items: torch.Tensor, actions: torch.Tensor, ts: torch.Tensor,
        learnable: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        rows = self.candidate_rows(items.flatten(), learnable).view(*items.shape, -1)
        x = rows + self.action_embeddings(actions)
        if self.config.time_gaps:
            x = x + self.gap_embeddings(time_gap_buckets(ts))
        x = self.input_dropout(x)
        out = self.decoder(inputs_embeds=x)
        hidden: torch.Tensor = out.last_hidden_state
        return hidden

    def candidate_rows(
        self, candidates: torch.Tensor, learnable: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(C,) rows -> (C, H) vectors; with ``learnable`` (N,) bool, only those rows get a
        gradient. The others are read from the detached table, so the sparse gradient
        names only learnable rows (a zero-valued entry would still move SparseAdam's
        moments, and so the row's optimiser state)."""
        if learnable is None:
            return self.with_content(candidates, self.item_rows(candidates))
        keep = learnable[candidates]
        vectors = self._fixed_rows(candidates)
        at = keep.nonzero().squeeze(1)
        return self.with_content(
            candidates, vectors.index_put((at,), self.item_rows(candidates[at]))
        )

    def with_content(self, rows: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """(C,) rows, (C, H) id vectors -> (C, H) item vectors: + the projected content
        of the rows that have some (the projection learns from every such row read)."""
        content = self.content
        if content is None:
            return vectors
        at = content.has[rows].nonzero().squeeze(1)
        if at.numel() == 0:
            return vectors
        projected = self.content_projection(content.vectors[rows[at]])
        return vectors.index_add(0, at, projected.to(vectors.dtype))

    @torch.no_grad()
    def ranked_vectors(self, rows: int) -> torch.Tensor:
        """(rows, H) float32 vectors of the first ``rows`` items, content included."""
        table = self._fixed_rows(slice(0, rows)).float()
        if self.content is None:
            return table
        return self.with_content(torch.arange(rows, device=table.device), table)

    def item_logits(
        self, hidden: torch.Tensor, candidates: torch.Tensor, learnable: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(P, H) states x (C,) candidate rows -> (P, C) next-item scores."""
        return hidden @ self.candidate_rows(candidates, learnable).T

    def purchase_logits(
        self, hidden: torch.Tensor, candidates: torch.Tensor, learnable: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(P, H) x (C,) -> (P, C) next-purchased-item scores."""
        projected: torch.Tensor = self.purchase_projection(hidden)
        return projected @ self.candidate_rows(candidates, learnable).T

    def action_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(P, H) -> (P, num_actions); class k is action id k + 1."""
        logits: torch.Tensor = self.action_head(hidden)
        return logits

    def repeat_logits(
        self, hidden: torch.Tensor, items: torch.Tensor, user: torch.Tensor, index: torch.Tensor,
        first_item_row: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """Bonus logits of the history items of each selected output.

        hidden (B, L, H), items (B, L) input rows; output p = (user[p], index[p]) may
        repeat the items at input positions 1..index[p]. Returns (P, L) logits (-inf
        where not allowed) and the (P, L) rows they belong to.
        """
        query = self.repeat_query(hidden[user, index])  # (P, H)
        keys = self.repeat_key(hidden[user])  # (P, L, H)
        logits = (keys @ query.unsqueeze(-1)).squeeze(-1) / math.sqrt(query.shape[-1])
        rows = items[user]  # (P, L)
        positions = torch.arange(rows.shape[1], device=rows.device)
        distance = (index.unsqueeze(1) - positions).clamp(0, self.config.max_len + 1)
        logits = logits + self.repeat_distance_bias(distance).squeeze(-1)
        allowed = (positions >= 1) & (positions <= index.unsqueeze(1)) & (rows >= first_item_row)
        return logits.float().masked_fill(~allowed, float("-inf")), rows

    def grow(self, num_rows: int) -> None:
        """Make room for ``num_rows`` item rows, keeping the learned ones. The new rows
        are zero: spare room, drawn only when an item takes one (ItemTable.reset_rows)."""
        old = self.item_embeddings.data
        if num_rows <= old.shape[0]:
            return
        spare = old.new_zeros(num_rows - old.shape[0], old.shape[1])
        self.item_embeddings = nn.Parameter(torch.cat([old, spare]),
                                            requires_grad=self.item_codes is None)  # fmt: skip
        if self.item_codes is not None:
            self.item_codes.grow(num_rows)
        if self.content is not None:
            self.content.grow(num_rows)
