"""Histogram quantiles as Prometheus computes them, from scraped buckets."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from stream.metrics.scrape import Samples, bucket_delta, buckets, metric_sum, quantile


def samples_of(registry: CollectorRegistry) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_quantiles_interpolate_inside_the_bucket() -> None:
    registry = CollectorRegistry()
    h = Histogram("lat", "x", ["since"], buckets=(0.1, 0.5, 1.0), registry=registry)
    for value in [0.05] * 50 + [0.3] * 40 + [0.8] * 10:
        h.labels(since="event").observe(value)
    h.labels(since="ingest").observe(5.0)
    samples = samples_of(registry)
    cumulative = buckets(samples, "lat", since="event")
    assert cumulative == [(0.1, 50), (0.5, 90), (1.0, 100), (math.inf, 100)]
    assert quantile(0.5, cumulative) == pytest.approx(0.1)
    assert quantile(0.7, cumulative) == pytest.approx(0.1 + 0.4 * 20 / 40)
    assert quantile(0.99, cumulative) == pytest.approx(0.5 + 0.5 * 9 / 10)
    # Above the last finite bound only that bound is known.
    assert quantile(0.5, buckets(samples, "lat", since="ingest")) == 1.0
    assert quantile(0.5, []) is None
    assert metric_sum(samples, "lat_count") == 101


def test_bucket_delta_covers_only_the_interval() -> None:
    before = [(0.1, 5.0), (1.0, 10.0), (math.inf, 10.0)]
    now = [(0.1, 5.0), (1.0, 30.0), (math.inf, 30.0)]
    assert bucket_delta(now, before) == [(0.1, 0.0), (1.0, 20.0), (math.inf, 20.0)]
    assert quantile(0.5, bucket_delta(now, before)) == pytest.approx(0.1 + 0.9 * 0.5)
