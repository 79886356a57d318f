"""A real Prometheus scraping a real sequencer and trainer, and the Grafana dashboard's
queries evaluated by it.

Prometheus comes from Debian's package (installed into the user cache on first use,
as the broker's jars are); it runs the shipped deploy/prometheus/prometheus.yml with
the workers' ports filled in, and the shipped alert rules.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import yaml
from kafka import KafkaProducer

from stream.kafka.client_options import kafka_python_options
from stream.kafka.topics import create_topics
from stream.local.consumer_groups import wait_until_workers_ready
from stream.local.prometheus import LocalPrometheus, PrometheusError
from stream.settings import Settings
from tests.conftest import REPO_ROOT, free_port_pair
from tests.integration.processes import (
    WorkerProcess,
    isolated_settings,
    metric_sum,
    scrape,
    wait_for,
)

pytestmark = pytest.mark.integration

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "dashboards" / "recstream.json"
RULES = REPO_ROOT / "deploy" / "prometheus" / "rules" / "recstream.rules.yml"
VALID, BAD, USERS, ITEMS = 300, 7, 40, 60


@dataclass(frozen=True)
class Monitored:
    settings: Settings
    prometheus: LocalPrometheus
    exposed: set[str]  # sample names the two workers serve on /metrics


def _produce(settings: Settings) -> None:
    rng = random.Random(3)
    now = time.time()
    producer = KafkaProducer(**kafka_python_options(settings.kafka), acks="all", linger_ms=5)
    for n in range(VALID):
        action = rng.choice(["view", "view", "click", "purchase"])
        user = f"u{rng.randrange(USERS)}"
        event = {"user_id": user, "item_id": f"i{rng.randrange(ITEMS)}", "ts": now - 60 + n * 0.1}
        producer.send(settings.topics.events[action], key=user.encode(), value=orjson.dumps(event))
    for n in range(BAD):
        producer.send(settings.topics.events["view"], key=b"mallory", value=b"{broken %d" % n)
    producer.flush()
    producer.close()


@pytest.fixture(scope="module")
def monitored(
    kafka_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Monitored]:
    tmp_path = tmp_path_factory.mktemp("monitoring")
    config, settings = isolated_settings(kafka_settings, tmp_path, "prom")
    data = yaml.safe_load(config.read_text())
    data["prometheus"].update(port=free_port_pair(), data_dir=str(tmp_path / "prometheus"))
    config.write_text(yaml.safe_dump(data))
    settings = Settings(**data)
    create_topics(settings)
    workers = [
        WorkerProcess(role, config, tmp_path / f"{role}.log").start()
        for role in ("sequencer", "trainer")
    ]
    prometheus = LocalPrometheus(settings.prometheus, settings.metrics)
    try:
        wait_until_workers_ready(settings, workers)
        prometheus.start()
        # Prometheus sees every counter at 0 first, as in production, so rate() counts
        # the whole stream.
        wait_for(lambda: len(prometheus.query('up{job=~"recstream-.*"} == 1')) == 2, 60,
                 "Prometheus to scrape both workers")  # fmt: skip
        _produce(settings)
        port = settings.metrics.trainer_port
        wait_for(
            lambda: metric_sum(scrape(port), "recstream_trainer_sequence_updates_total") >= 1
            and metric_sum(scrape(port), "recstream_trainer_pending_updates") == 0
            and metric_sum(scrape(port), "recstream_trainer_model_version") >= 1,
            120, "the trainer to learn the stream", workers[1],
        )  # fmt: skip
        exposed = {
            name
            for role in ("sequencer", "trainer")
            for name, _labels in scrape(getattr(settings.metrics, f"{role}_port"))
        }
        yield Monitored(settings, prometheus, exposed)
    finally:
        prometheus.stop()
        for worker in workers:
            worker.stop()


def _wait_query(
    prometheus: LocalPrometheus, promql: str, ok: Any, what: str
) -> list[dict[str, Any]]:
    """Query until ``ok(result)`` (scrapes run every second); the last result on success."""
    deadline = time.monotonic() + 60
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        result = prometheus.query(promql)
        if ok(result):
            return result
        time.sleep(1)
    raise AssertionError(f"{what}: {promql} gave {result}")


def _value(result: list[dict[str, Any]]) -> float:
    return sum(float(series["value"][1]) for series in result)


def test_prometheus_scrapes_both_workers_with_their_labels(monitored: Monitored) -> None:
    prom, settings = monitored.prometheus, monitored.settings
    up = _wait_query(prom, 'up{job=~"recstream-.*"}',
                     lambda r: len(r) == 2 and _value(r) == 2, "both targets up")  # fmt: skip
    by_job = {series["metric"]["job"]: series["metric"] for series in up}
    assert (
        by_job["recstream-sequencer"]["instance"] == f"127.0.0.1:{settings.metrics.sequencer_port}"
    )
    assert by_job["recstream-trainer"]["instance"] == f"127.0.0.1:{settings.metrics.trainer_port}"

    accepted = _wait_query(
        prom, 'recstream_sequencer_events_total{outcome="accepted"}',
        lambda r: _value(r) == VALID, f"all {VALID} valid events counted",
    )  # fmt: skip
    for series in accepted:
        labels = series["metric"]
        assert labels["job"] == "recstream-sequencer" and labels["role"] == "sequencer"
        assert labels["topic"] in settings.topics.events.values()
    dead = _wait_query(prom, 'sum(recstream_sequencer_dead_letters_total{reason="not_json"})',
                       lambda r: _value(r) == BAD, "dead letters by reason")  # fmt: skip
    assert _value(dead) == BAD

    version = _value(
        _wait_query(
            prom, "recstream_trainer_model_version", lambda r: _value(r) >= 1, "model version"
        )
    )
    assert version >= 1
    vocabulary = _value(prom.query("recstream_trainer_vocabulary_size"))
    assert 1 <= vocabulary <= ITEMS
    for gauge in ("recstream_trainer_online_hr_at_10", "recstream_trainer_online_ndcg_at_10"):
        assert 0.0 <= _value(prom.query(gauge)) <= 1.0
    buckets = 'recstream_trainer_freshness_seconds_bucket{since="ingest"}'
    p99 = _value(prom.query(f"histogram_quantile(0.99, sum by (le) ({buckets}))"))
    assert 0.0 < p99 < 120.0, p99
    losses = {
        s["metric"]["task"]: float(s["value"][1]) for s in prom.query("recstream_trainer_loss")
    }
    assert set(losses) == {"item", "purchase", "action", "total"}
    assert losses["total"] > 0
    lag = _wait_query(
        prom, "recstream_sequencer_consumer_lag", lambda r: len(r) >= 1, "sequencer lag"
    )
    assert {s["metric"]["topic"] for s in lag} <= set(settings.topics.events.values())
    assert all(float(s["value"][1]) >= 0 for s in lag)


def test_every_alert_rule_loads_and_evaluates_against_live_series(monitored: Monitored) -> None:
    shipped = yaml.safe_load(RULES.read_text())
    expected = {
        rule.get("alert") or rule.get("record") for g in shipped["groups"] for rule in g["rules"]
    }

    def evaluated(groups: list[dict[str, Any]]) -> bool:
        rules = [rule for group in groups for rule in group["rules"]]
        return len(rules) == len(expected) and all(
            r.get("lastEvaluation", "").startswith("20") for r in rules
        )

    deadline = time.monotonic() + 60
    groups = monitored.prometheus.api("rules")["groups"]
    while not evaluated(groups) and time.monotonic() < deadline:
        time.sleep(1)
        groups = monitored.prometheus.api("rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {rule["name"] for rule in rules} == expected
    unhealthy = {rule["name"]: rule.get("lastError") for rule in rules if rule["health"] != "ok"}
    assert not unhealthy
    # The recording rules produce series from the live workers.
    assert _wait_query(monitored.prometheus, "recstream:sequencer_events:rate5m",
                       lambda r: len(r) == 1 and _value(r) > 0, "recorded event rate")  # fmt: skip


# -- the Grafana dashboard -------------------------------------------------------

_NAME = re.compile(r"\b((?:recstream|faust)_[a-z0-9_]+|up)\b(?!\s*\()")
_RECORDED = re.compile(r"\brecstream:[a-z0-9_:]+")


def _panel_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel["targets"]
    ]


def _for_prometheus(expr: str) -> str:
    """Grafana's range variables, as Grafana would fill them at a 1 s scrape interval."""
    return expr.replace("$__rate_interval", "30s").replace("$__range", "1h")


def test_dashboard_covers_what_operators_watch() -> None:
    titles = " ".join(title.lower() for title, _expr in _panel_queries())
    for topic in ("events", "lag", "freshness", "loss", "ndcg", "model version", "rollbacks",
                  "dead letters", "vocabulary"):  # fmt: skip
        assert topic in titles, f"no panel about {topic}"


def test_every_dashboard_query_references_exposed_metrics(monitored: Monitored) -> None:
    missing = {}
    for title, expr in _panel_queries():
        names = set(_NAME.findall(expr)) - {"up"}
        assert names or _RECORDED.search(expr) or "up{" in expr, f"{title}: no metric in {expr}"
        absent = sorted(name for name in names if name not in monitored.exposed)
        if absent:
            missing[title] = absent
    assert not missing, f"panels query metrics the workers do not expose: {missing}"


def test_every_dashboard_query_runs_and_returns_series(monitored: Monitored) -> None:
    deadline = time.monotonic() + 60
    pending = _panel_queries()
    while pending and time.monotonic() < deadline:
        still = []
        for title, expr in pending:
            try:
                result = monitored.prometheus.query(_for_prometheus(expr))
            except PrometheusError as exc:  # a PromQL error is a broken panel, not a wait
                raise AssertionError(f"{title}: {exc}") from None
            if not result:
                still.append((title, expr))
        pending = still
        if pending:
            time.sleep(2)
    assert not pending, f"panels without data after the pipeline ran: {[t for t, _ in pending]}"
