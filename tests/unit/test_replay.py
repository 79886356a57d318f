"""The replay runner: micro-batches as the trainer forms them, nothing filtered silently."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from model.registry import build_learner
from stream.cli.main import app
from stream.data.event_files import read_events
from stream.messages.events import RawEvent
from stream.replay.prequential import micro_batches, replay
from tests.unit.model.helpers import tiny_config


def events(n: int, users: int = 5, items: int = 12) -> list[RawEvent]:
    return [
        RawEvent(user_id=f"u{i % users}", item_id=f"i{(i * 7) % items}", action="view", ts=float(i))
        for i in range(n)
    ]


def test_batches_close_when_a_user_fills_a_window() -> None:
    stream = [
        RawEvent(user_id="heavy", item_id=f"i{i}", action="view", ts=float(i)) for i in range(25)
    ]
    sizes = [(len(batch), size) for batch, size in micro_batches(stream, 100, 10, 1e9)]
    assert [size for _, size in sizes] == [10, 10, 5]
    for batch, _ in micro_batches(stream, 100, 10, 1e9):
        assert all(seq.new_count <= 10 for seq in batch)


def test_every_event_is_evaluated_and_cold_ones_are_counted() -> None:
    stream = events(300)
    for name in ("recent", "transformer"):
        result = replay(build_learner(name, tiny_config()), stream, 16, 12, 1e9)
        assert result.evaluated == len(stream)
        assert result.cold == 12  # each item's first appearance
        assert result.overall.count == len(stream)
        assert result.curve and result.curve[-1]["events"] == len(stream)


def test_replay_command_writes_a_report_and_a_plot(tmp_path: Path) -> None:
    data = tmp_path / "events.jsonl"
    data.write_text("\n".join(json.dumps(dict(e)) for e in events(200)) + "\n")
    assert len(read_events(data, "jsonl")) == 200
    report, plot = tmp_path / "r.json", tmp_path / "p.png"
    result = CliRunner().invoke(app, [
        "replay", "--file", str(data), "--format", "jsonl", "--model", "cooc",
        "--report", str(report), "--plot", str(plot), "--config", "configs/test.yaml",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    written = json.loads(report.read_text())
    assert written["model"] == "cooc" and written["events"] == 200
    assert set(written["metrics"]["overall"]) == {
        "hr@10",
        "ndcg@10",
        "mrr@10",
        "hr@20",
        "ndcg@20",
        "mrr@20",
    }
    assert written["throughput"]["events_per_s"] > 0 and written["peak_rss_mb"] > 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_replay_checkpoint_warm_starts_the_trainer(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry

    from stream.settings import load_settings
    from stream.trainer.metrics import TrainerMetrics
    from stream.trainer.startup import prepare_learner

    data = tmp_path / "events.jsonl"
    data.write_text("\n".join(json.dumps(dict(e)) for e in events(300)) + "\n")
    warm = tmp_path / "warm"
    result = CliRunner().invoke(app, [
        "replay", "--file", str(data), "--format", "jsonl", "--model", "transformer",
        "--report", str(tmp_path / "r.json"), "--save-checkpoint", str(warm),
        "--config", "configs/test.yaml",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "--init-from" in result.output
    settings = load_settings("configs/test.yaml", checkpoints={"dir": str(tmp_path / "own")})
    metrics = TrainerMetrics.create(CollectorRegistry())
    start = prepare_learner(settings, "transformer", metrics, init_from=warm)
    version = getattr(start.learner, "version", 0)
    assert version > 0 and start.offsets == {} and "warm start" in start.origin
    assert start.lifecycle is not None
    # Once the trainer has checkpoints of its own, they win over --init-from.
    written = start.lifecycle.checkpoint(start.learner, {})
    assert written is not None and written.model_version == version
    again = prepare_learner(settings, "transformer", metrics, init_from=warm)
    assert again.origin.startswith("checkpoint") and getattr(again.learner, "version", 0) == version
    elsewhere = load_settings("configs/test.yaml", checkpoints={"dir": str(tmp_path / "none")})
    fresh = prepare_learner(elsewhere, "transformer", metrics)
    assert getattr(fresh.learner, "version", -1) == 0 and fresh.origin == "fresh"
    assert fresh.from_start  # no checkpoint: the group's commits are not what it learned


def test_offline_replay_ranks_every_event_where_the_live_trainer_samples() -> None:
    from stream.settings import load_settings
    from stream.trainer.learner_factory import learner_from_settings

    settings = load_settings(Path("configs/test.yaml"))
    settings = settings.model_copy(
        update={"model": settings.model.model_copy(update={"eval_max_events": 4})}
    )
    stream = events(200)
    live = replay(learner_from_settings("transformer", settings), stream, 40, 12, 1e9)
    offline = learner_from_settings("transformer", settings, rank_every_event=True)
    assert live.evaluated == 4 * live.steps < len(stream)
    assert replay(offline, stream, 40, 12, 1e9).evaluated == len(stream)


def test_a_pretrained_backbone_starts_an_adapters_trainer_that_merges_at_full_checkpoints(
    tmp_path: Path,
) -> None:
    from prometheus_client import CollectorRegistry

    from model.adapters import has_adapters
    from model.transformer_learner import TransformerLearner
    from stream.settings import load_settings
    from stream.trainer.metrics import TrainerMetrics
    from stream.trainer.startup import prepare_learner

    data = tmp_path / "events.jsonl"
    data.write_text("\n".join(json.dumps(dict(e)) for e in events(300)) + "\n")
    backbone = tmp_path / "backbone"
    result = CliRunner().invoke(app, [
        "pretrain", "--file", str(data), "--format", "jsonl", "--out", str(backbone),
        "--epochs", "2", "--config", "configs/test.yaml",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "pass 2: NDCG@10" in result.output and "--init-from" in result.output
    settings = load_settings(
        "configs/test.yaml", model={"online": "adapters", "item_row_updates": "sequences"},
        checkpoints={"dir": str(tmp_path / "own"), "full_every": 1},
    )  # fmt: skip
    registry = CollectorRegistry()
    start = prepare_learner(settings, "transformer", TrainerMetrics.create(registry), backbone)
    learner = start.learner
    assert isinstance(learner, TransformerLearner) and learner.version > 0
    assert learner.config.online == "adapters" and has_adapters(learner.model)
    assert learner.config.item_row_updates == "sequences"  # the trainer's, not the backbone's
    assert start.lifecycle is not None
    start.lifecycle.checkpoint(learner, {})  # full: the adapters merge first
    assert registry.get_sample_value("recstream_trainer_consolidations_total") == 1
    # Its own adapters checkpoint restores as an adapters learner.
    again = prepare_learner(settings, "transformer", TrainerMetrics.create(CollectorRegistry()))
    assert isinstance(again.learner, TransformerLearner)
    assert again.learner.fingerprint() == learner.fingerprint()
