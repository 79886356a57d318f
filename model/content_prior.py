"""A ranking prior for young items: "reads like what you just looked at".

An item with few events has an id row that has not learned much yet, and the
learned content projection needs many steps to place it well; this prior needs none.
Each item's content vector is reduced to a short code by a fixed random projection
(Johnson-Lindenstrauss: cosines survive up to ~1/sqrt(dim) noise), a user's code is
the mean code of their last few items, and a young item (at most ``young_events``
events before this step; 0: none yet) scores w x cosine(user code, item code) on top
of its model score.
w is a weight of the model, learned by the same losses as everything else (the
training scores carry the prior too), so on a stream where new items do not follow
their content it shrinks instead of costing quality. Implemented as extra columns of
the ranking table and queries, so the chunked top-k and target ranking stay one dot
product per (user, item).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from model.item_content import ItemContent


class ContentPrior:
    def __init__(
        self, content_dim: int, young_events: int, recent_items: int,
        code_dim: int = 32, seed: int = 0, device: torch.device | str = "cpu",
    ) -> None:  # fmt: skip
        generator = torch.Generator().manual_seed(seed + 7)
        self.projection = torch.randn(content_dim, code_dim, generator=generator).to(device)
        self.young_events = young_events
        self.recent_items = recent_items
        self._codes: tuple[tuple[int, int], torch.Tensor] | None = None

    def codes(self, content: ItemContent) -> torch.Tensor:
        """(N, code_dim) unit codes (zero for rows without content), cached until the
        content changes."""
        key = (content.revision, content.hashes.shape[0])
        if self._codes is None or self._codes[0] != key:
            codes = F.normalize(content.vectors @ self.projection, dim=-1)
            self._codes = (key, codes * content.has.unsqueeze(1))
        return self._codes[1]

    def table_columns(self, content: ItemContent, events: torch.Tensor, rows: int) -> torch.Tensor:
        """(rows, code_dim): the codes of young items (``events``: each row's events
        before this step), zero for the others."""
        young = events[:rows] <= self.young_events
        return self.codes(content)[:rows] * young.unsqueeze(1)

    def query_columns(
        self, content: ItemContent, items: torch.Tensor, user: torch.Tensor, index: torch.Tensor
    ) -> torch.Tensor:
        """(P, code_dim): the unit mean code of each output's last ``recent_items``
        input items (items (B, L) rows; output p reads inputs up to index[p]); the
        caller scales it by the learned weight."""
        codes = self.codes(content)
        back = torch.arange(self.recent_items, device=items.device)
        at = (index.unsqueeze(1) - back).clamp(min=0)  # (P, m) positions, newest first
        rows = items[user.unsqueeze(1), at]  # (P, m)
        valid = (index.unsqueeze(1) - back) >= 1  # position 0 is the start token
        recent = codes[rows] * valid.unsqueeze(-1)  # (P, m, code_dim)
        return F.normalize(recent.sum(1), dim=-1)
