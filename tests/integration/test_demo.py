"""``recstream demo`` end to end, shortened: it runs, summarises, and cleans up after itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stream.kafka.topics import admin_client
from stream.settings import Settings
from tests.integration.processes import cli, isolated_settings

pytestmark = pytest.mark.integration


def test_a_short_demo_learns_publishes_and_removes_its_topics(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    config, settings = isolated_settings(kafka_settings, tmp_path, "demo")
    out = tmp_path / "demo-out"
    result = cli(config, "demo", "--synthetic", "--duration", "8", "--rate", "150",
                 "--out-dir", str(out), timeout_s=240)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["produced"] == 1_200 and not summary["interrupted"]
    last = summary["last"]
    assert last["accepted"] == 1_200 and last["dead_letters"] == 0
    assert last["updates_read"] == last["sequences"] > 0
    assert summary["recommendations"] > 0 and last["model_version"] > 0
    assert 0 < summary["freshness_s"]["p50"] <= summary["freshness_s"]["p99"]
    assert (out / "demo.png").stat().st_size > 10_000
    assert "freshness" in result.stdout and "online quality" in result.stdout
    # Its own topics are gone, its state folder too; the configured topics were not touched.
    with admin_client(settings) as admin:
        assert not [name for name in admin.list_topics() if name.startswith("demo-")]
    assert not list((out / "state").glob("*"))
