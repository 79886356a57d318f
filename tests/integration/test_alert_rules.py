"""The shipped Prometheus config and alert rules, checked and unit-tested by promtool.

Each scenario feeds promtool synthetic series and says which alert must fire (with
its labels and rendered summary) or that none may: a threshold or a `for:` that
never fires, or fires on healthy data, fails here.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from stream.local.prometheus import PrometheusTools, install_tools
from stream.settings import load_settings
from tests.conftest import REPO_ROOT, TEST_CONFIG

pytestmark = pytest.mark.integration

PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS_DIR / "rules" / "recstream.rules.yml"
SEQ = 'job="recstream-sequencer",instance="127.0.0.1:9464"'
TRN = 'job="recstream-trainer",instance="127.0.0.1:9465"'
TRN_RANK1 = 'job="recstream-trainer",instance="127.0.0.1:9466"'  # a trainer group's rank 1
SEQ_LAG = f'recstream_sequencer_consumer_lag{{{SEQ},topic="events.view",partition="0"}}'
ACCEPTED = f'recstream_sequencer_events_total{{{SEQ},topic="events.view",outcome="accepted"}}'
REJECTED = f'recstream_sequencer_events_total{{{SEQ},topic="events.view",outcome="deadlettered"}}'
TRAINER_INSTANCE = {"job": "recstream-trainer", "instance": "127.0.0.1:9465"}


@pytest.fixture(scope="module")
def tools() -> PrometheusTools:
    return install_tools(load_settings(TEST_CONFIG).prometheus.cache_dir)


def test_promtool_accepts_the_shipped_config_and_rules(tools: PrometheusTools) -> None:
    for command in (["check", "config", str(PROMETHEUS_DIR / "prometheus.yml")],
                    ["check", "rules", str(RULES)]):  # fmt: skip
        result = subprocess.run([str(tools.promtool), *command], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout


@dataclass
class Scenario:
    alert: str
    series: dict[str, str]  # series selector -> promtool values ("0+200x40")
    eval_at: str
    fires: list[tuple[dict[str, str], str]] = field(default_factory=list)  # labels, summary


def _descriptions() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {
        r["alert"]: r["annotations"]["description"]
        for g in groups
        for r in g["rules"]
        if "alert" in r
    }


def _freshness(le_counts: dict[str, str]) -> dict[str, str]:
    return {f'recstream_trainer_freshness_seconds_bucket{{{TRN},since="ingest",le="{le}"}}': v
            for le, v in le_counts.items()}  # fmt: skip


SCENARIOS = [
    Scenario("RecstreamTargetDown", {f"up{{{TRN}}}": "0x10"}, "5m",
             [({**TRAINER_INSTANCE, "severity": "page"},
               "recstream-trainer at 127.0.0.1:9465 is not answering scrapes")]),
    Scenario("RecstreamTargetDown", {f"up{{{TRN}}}": "1x10"}, "5m"),
    Scenario("RecstreamSequencerLagGrowing",
             {SEQ_LAG: "0+200x40"},
             "30m", [({"job": "recstream-sequencer", "severity": "page"},
                      "Sequencer lag is 6k events and growing")]),
    # A large but steady backlog that is being worked off is not an alert.
    Scenario("RecstreamSequencerLagGrowing",
             {SEQ_LAG: "9000-100x40"},
             "30m"),
    Scenario("RecstreamTrainerLagGrowing",
             {f'recstream_trainer_consumer_lag{{{TRN},partition="0"}}': "0+500x40"},
             "30m", [({"job": "recstream-trainer", "severity": "page"},
                      "Trainer lag is 15k sequence updates and growing")]),
    Scenario("RecstreamTrainerLagGrowing",
             {f'recstream_trainer_consumer_lag{{{TRN},partition="0"}}': "8000x40"}, "30m"),
    Scenario("RecstreamFreshnessP99High",
             _freshness({"0.5": "0x40", "1": "0x40", "2": "0+10x40", "+Inf": "0+10x40"}),
             "30m", [({"job": "recstream-trainer", "severity": "warn"},
                      "Freshness p99 is 1.99s (target 1s)")]),
    Scenario("RecstreamFreshnessP99High",
             _freshness({"0.5": "0+10x40", "1": "0+10x40", "2": "0+10x40", "+Inf": "0+10x40"}),
             "30m"),
    Scenario("RecstreamDeadLetterSpike",
             {ACCEPTED: "0+600x40",
              REJECTED: "0+120x40"},
             "30m", [({"job": "recstream-sequencer", "severity": "warn"},
                      "16.67% of events go to the dead-letter topic")]),
    Scenario("RecstreamDeadLetterSpike",
             {ACCEPTED: "0+600x40",
              REJECTED: "0+6x40"},
             "30m"),
    Scenario("RecstreamOnlineNdcgCollapse",
             {f"recstream_trainer_online_ndcg_at_10{{{TRN}}}": "0.1x400 0.01x60",
              f"recstream_trainer_ranked_events_total{{{TRN}}}": "0+100x460"},
             "440m", [({**TRAINER_INSTANCE, "severity": "page"},
                       "Online NDCG@10 fell to 0.0100")]),
    # The same dip with no events being ranked (no traffic) is not a collapse.
    Scenario("RecstreamOnlineNdcgCollapse",
             {f"recstream_trainer_online_ndcg_at_10{{{TRN}}}": "0.1x400 0.01x60",
              f"recstream_trainer_ranked_events_total{{{TRN}}}": "0+100x400 40000x60"},
             "440m"),
    Scenario("RecstreamNoTrainingStep",
             {f"recstream_trainer_last_step_timestamp_seconds{{{TRN}}}": "60x30",
              f'recstream_trainer_consumer_lag{{{TRN},partition="0"}}': "10x30",
              f"recstream_trainer_pending_updates{{{TRN}}}": "0x30"},
             "20m", [({"job": "recstream-trainer", "severity": "page"},
                      "No training step for 19m 0s while updates wait")]),
    Scenario("RecstreamNoTrainingStep",
             {f"recstream_trainer_last_step_timestamp_seconds{{{TRN}}}": "60x30",
              f'recstream_trainer_consumer_lag{{{TRN},partition="0"}}': "0x30",
              f"recstream_trainer_pending_updates{{{TRN}}}": "0x30"},
             "20m"),
    Scenario("RecstreamRollback",
             {f'recstream_trainer_rollbacks_total{{{TRN},reason="quality"}}': "0 0 0 1 1 1 1 1"},
             "5m", [({"job": "recstream-trainer", "reason": "quality", "severity": "info"},
                     "The trainer rolled back to its last good checkpoint (quality)")]),
    Scenario("RecstreamRollback",
             {f'recstream_trainer_rollbacks_total{{{TRN},reason="quality"}}': "0x60"}, "50m"),
    Scenario("RecstreamReplicasDiverged",
             {f'recstream_trainer_replica_fingerprint{{{TRN},rank="0"}}': "123x10",
              f'recstream_trainer_replica_fingerprint{{{TRN_RANK1},rank="1"}}': "123x2 456x8"},
             "8m", [({"job": "recstream-trainer", "severity": "page"},
                     "The trainer group's replicas differ")]),
    Scenario("RecstreamReplicasDiverged",
             {f'recstream_trainer_replica_fingerprint{{{TRN},rank="0"}}': "123x5 789x5",
              f'recstream_trainer_replica_fingerprint{{{TRN_RANK1},rank="1"}}': "123x5 789x5",
              f'recstream_trainer_replica_divergences_total{{{TRN},rank="0"}}': "0x10"},
             "8m"),
    Scenario("RecstreamCheckpointWritesFailing",
             {f"recstream_trainer_checkpoint_write_failures_total{{{TRN}}}": "0 1 2 3 4 5 6 7 8 9"},
             "8m", [({**TRAINER_INSTANCE, "severity": "warn"},
                     "Checkpoint writes are failing")]),
    Scenario("RecstreamCheckpointWritesFailing",
             {f"recstream_trainer_checkpoint_write_failures_total{{{TRN}}}": "3x40"}, "30m"),
    Scenario("RecstreamCheckpointProblems",
             {f"recstream_trainer_checkpoint_problems_total{{{TRN}}}": "0 0 2 2 2"},
             "4m", [({**TRAINER_INSTANCE, "severity": "warn"},
                     "Corrupt or missing checkpoint files were skipped at restore")]),
    Scenario("RecstreamCheckpointProblems",
             {f"recstream_trainer_checkpoint_problems_total{{{TRN}}}": "2x90"}, "80m"),
]  # fmt: skip


def _promtool_file(scenarios: list[Scenario], out: Path) -> Path:
    descriptions = _descriptions()
    tests: list[dict[str, Any]] = []
    for scenario in scenarios:
        expected = [
            {"exp_labels": labels,
             "exp_annotations": {"summary": summary, "description": descriptions[scenario.alert]}}
            for labels, summary in scenario.fires
        ]  # fmt: skip
        tests.append({
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in scenario.series.items()],
            "alert_rule_test": [{"eval_time": scenario.eval_at, "alertname": scenario.alert,
                                 "exp_alerts": expected}],
        })  # fmt: skip
    path = out / "recstream.rules.test.yml"
    path.write_text(yaml.safe_dump({"rule_files": [str(RULES)], "evaluation_interval": "1m",
                                    "tests": tests}, sort_keys=False))  # fmt: skip
    return path


def test_every_alert_has_a_firing_and_a_quiet_scenario() -> None:
    alerts = set(_descriptions())
    assert {s.alert for s in SCENARIOS if s.fires} == alerts
    assert {s.alert for s in SCENARIOS if not s.fires} == alerts


def test_alerts_fire_on_trouble_and_stay_quiet_otherwise(
    tools: PrometheusTools, tmp_path: Path
) -> None:
    test_file = _promtool_file(SCENARIOS, tmp_path)
    result = subprocess.run([str(tools.promtool), "test", "rules", str(test_file)],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
