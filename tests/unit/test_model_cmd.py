"""``recstream model list|show|rollback`` on a real checkpoint folder."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml
from typer.testing import CliRunner

from model.checkpoints.checkpointer import LearnerCheckpointer
from model.checkpoints.store import CheckpointStore
from model.transformer_learner import TransformerLearner
from stream.cli.main import app
from tests.unit.model.helpers import cycle_batches, tiny_config


def setup(tmp_path: Path) -> tuple[Path, CheckpointStore, list[int]]:
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump({
        "kafka": {"bootstrap_servers": "127.0.0.1:1"},  # nothing listens: no trainer check
        "checkpoints": {"dir": str(tmp_path / "ckpt")},
    }))  # fmt: skip
    torch.manual_seed(0)
    learner = TransformerLearner(tiny_config())
    store = CheckpointStore(tmp_path / "ckpt")
    checkpointer = LearnerCheckpointer(store, full_every=10)
    versions = []
    for batch in cycle_batches(users=4, rounds=4):
        learner.learn(batch)
        info = checkpointer.save(learner, {"metrics": {"ndcg@10": 0.25, "hr@10": 0.5}})
        versions.append(info.model_version)
    return config, store, versions


def test_list_show_and_rollback(tmp_path: Path) -> None:
    config, store, versions = setup(tmp_path)
    runner = CliRunner()
    listed = runner.invoke(app, ["model", "list", "--config", str(config)],
                           env={"COLUMNS": "200"})  # fmt: skip
    assert listed.exit_code == 0, listed.output
    assert all(info.name in listed.output for info in store.checkpoints())
    assert "0.2500" in listed.output

    shown = runner.invoke(app, ["model", "show", str(versions[2]), "--config", str(config)])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["model_version"] == versions[2] and data["restorable"] is True

    rolled = runner.invoke(app, ["model", "rollback", "--to", str(versions[1]), "--config",
                                 str(config)], env={"COLUMNS": "200"})  # fmt: skip
    assert rolled.exit_code == 0, rolled.output
    assert [i.model_version for i in store.checkpoints()] == versions[:2]
    assert len(list((store.root / "rolled-back").glob("*/*"))) == 2  # set aside, not deleted
    restored = LearnerCheckpointer(store).restore()
    assert restored is not None and restored[0].version == versions[1]

    nothing = runner.invoke(app, ["model", "rollback", "--to", "0", "--config", str(config)])
    assert nothing.exit_code != 0 and "no restorable checkpoint" in nothing.output
    missing = runner.invoke(app, ["model", "show", "999", "--config", str(config)])
    assert missing.exit_code != 0
