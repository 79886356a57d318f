"""bench/gpu.sh's script, exercised on the CPU with tiny sizes (no GPU here)."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from bench.gpu_check import gpu_yaml_learner_config, markdown, throughput
from stream.paths import REPO_ROOT
from stream.settings import load_settings
from stream.trainer.learner_factory import learner_config


def test_the_gpu_check_uses_gpu_yaml_s_model() -> None:
    from_settings = learner_config(load_settings(REPO_ROOT / "configs" / "gpu.yaml"))
    written_out = gpu_yaml_learner_config("cuda")
    model_keys = ("hidden_size", "num_layers", "num_heads", "max_len", "dropout")
    for key in model_keys:
        assert getattr(written_out.model, key) == getattr(from_settings.model, key), key
    for key in ("learning_rate", "full_softmax_max_items", "num_negatives"):
        assert getattr(written_out, key) == getattr(from_settings, key), key


def test_throughput_rows_and_report_on_a_tiny_cpu_run() -> None:
    rows = throughput(catalogue=300, batch_sizes=(2,), peak=1e11, device="cpu")
    measured = rows[0]
    assert measured["batch_size"] == 2 and measured["catalogue"] == 300
    assert measured["seq_per_s"] > 0 and measured["train_samples_per_s"] > 0
    assert measured["gflop_per_step"] > 0  # FlopCounterMode saw the matmuls
    assert measured["mfu"] > 0
    assert measured["mfu"] == pytest.approx(measured["achieved_tflops"] * 1e12 / 1e11)
    result = {
        "gpu": "test", "torch": "x", "measured_bf16_tflops": 0.1, "throughput": rows,
        "correctness": {"max_relative_loss_error": 0.001, "within_bf16_tolerance": True},
    }  # fmt: skip
    text = markdown(result)
    assert "| 2 | 300 |" in text and "within the 2 % bf16 tolerance" in text
    assert asdict(gpu_yaml_learner_config("cpu").model)["hidden_size"] == 256
