"""Read a /metrics endpoint over HTTP and summarise it (the demo, benchmarks, tests).

Quantiles follow Prometheus's ``histogram_quantile``: linear interpolation inside
the bucket that holds the rank, the lower edge of the first bucket being 0.
"""

from __future__ import annotations

import math
import urllib.request
from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]


def scrape(url: str, timeout_s: float = 5.0) -> Samples:
    """One HTTP scrape: {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def metric_sum(samples: Mapping[tuple[str, Labels], float], name: str, **labels: str) -> float:
    """Sum of every sample called ``name`` whose labels include ``labels``."""
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and all(dict(sample_labels).get(k) == v for k, v in labels.items())
    )


def buckets(samples: Samples, histogram: str, **labels: str) -> list[tuple[float, float]]:
    """Cumulative (upper bound, count) pairs of one histogram, sorted by bound."""
    out = []
    for (name, sample_labels), value in samples.items():
        label_map = dict(sample_labels)
        if name != f"{histogram}_bucket":
            continue
        if any(label_map.get(k) != v for k, v in labels.items()):
            continue
        out.append((float(label_map["le"]), value))
    return sorted(out)


def bucket_delta(
    now: list[tuple[float, float]], before: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """The observations between two scrapes (counters only grow)."""
    earlier = dict(before)
    return [(bound, count - earlier.get(bound, 0.0)) for bound, count in now]


def quantile(q: float, cumulative: list[tuple[float, float]]) -> float | None:
    """The q-quantile of a cumulative histogram; None when it holds no observation."""
    if not cumulative or cumulative[-1][1] <= 0:
        return None
    total = cumulative[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in cumulative:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # beyond the last finite bucket: its edge is all we know
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound
