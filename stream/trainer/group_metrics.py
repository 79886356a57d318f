"""Prometheus metrics of one rank of a trainer group (``rank`` label): its steps, what
the collectives cost, its replica's fingerprint and the partitions it reads."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from model.replica_group import ExchangeStats

_SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                    2.5, 5.0, 10.0, 30.0)  # fmt: skip
_BYTES_BUCKETS = (1e3, 1e4, 3e4, 1e5, 3e5, 1e6, 3e6, 1e7, 3e7, 1e8)


@dataclass(frozen=True)
class GroupMetrics:
    rank: str
    size: Gauge
    steps: Counter
    collective_seconds: Histogram
    exchanged_bytes: Histogram
    fingerprint: Gauge
    divergences: Counter
    partition_owned: Gauge
    read_updates: Counter

    def record_exchange(self, stats: ExchangeStats) -> None:
        self.steps.labels(rank=self.rank).inc()
        self.collective_seconds.labels(rank=self.rank).observe(stats.seconds)
        self.exchanged_bytes.labels(rank=self.rank).observe(stats.bytes)

    def owns(self, partitions: set[int], owned: bool) -> None:
        for partition in partitions:
            self.partition_owned.labels(rank=self.rank, partition=str(partition)).set(owned)

    @classmethod
    def create(cls, registry: CollectorRegistry, rank: int, world_size: int) -> GroupMetrics:
        r, labels = registry, ["rank"]
        metrics = cls(
            rank=str(rank),
            size=Gauge("recstream_trainer_group_size", "Ranks in the trainer group.", labels,
                       registry=r),
            steps=Counter("recstream_trainer_group_steps", "Group steps taken (every rank "
                          "takes each one, with or without data).", labels, registry=r),
            collective_seconds=Histogram(
                "recstream_trainer_group_collective_seconds", "Seconds per step in the "
                "group's collectives (waiting for the slowest rank, and the transfer).",
                labels, buckets=_SECONDS_BUCKETS, registry=r),
            exchanged_bytes=Histogram(
                "recstream_trainer_group_exchanged_bytes", "Bytes this rank sent per step "
                "(gradients, item rows, admissions, votes).", labels,
                buckets=_BYTES_BUCKETS, registry=r),
            fingerprint=Gauge("recstream_trainer_replica_fingerprint", "Digest of this "
                              "replica's weights, vocabulary and version (48 bits): equal on "
                              "every rank while the replicas are identical.", labels,
                              registry=r),
            divergences=Counter("recstream_trainer_replica_divergences", "Times the "
                                "replicas' fingerprints differed (the group then restarts "
                                "from its last checkpoint).", labels, registry=r),
            partition_owned=Gauge("recstream_trainer_group_partition_owned", "1 while this "
                                  "rank is assigned the partition of the sequences topic.",
                                  ["rank", "partition"], registry=r),
            read_updates=Counter("recstream_trainer_group_read_updates", "Sequence updates "
                                 "this rank read, by partition.", ["rank", "partition"],
                                 registry=r),
        )  # fmt: skip
        metrics.size.labels(rank=metrics.rank).set(world_size)
        for counter in (metrics.steps, metrics.divergences):
            counter.labels(rank=metrics.rank)
        return metrics
