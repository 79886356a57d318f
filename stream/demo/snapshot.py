"""What the dashboard shows, computed from two scrapes of each worker's /metrics.

Rates and freshness percentiles cover the interval since the previous snapshot
(what is happening now); totals and gauges are as scraped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stream.metrics.scrape import Samples, bucket_delta, buckets, metric_sum, quantile

FRESHNESS = "recstream_trainer_freshness_seconds"


@dataclass(frozen=True)
class Snapshot:
    elapsed_s: float
    produced: int
    accepted: float
    dead_letters: float
    dead_letters_by_reason: dict[str, float]
    sequences: float
    updates_read: float
    updates_learned: float  # steps finished and recommendations published for them
    steps: float
    model_version: float
    vocabulary: float
    recommendations: float
    lag: float
    pending: float
    loss: dict[str, float]
    hr10: float
    ndcg10: float
    untrained: float
    # over the interval since the previous snapshot
    events_per_s: float = 0.0
    recommendations_per_s: float = 0.0
    batch_users: float | None = None
    step_ms: float | None = None
    fresh_p50: float | None = None
    fresh_p99: float | None = None
    # since the start
    fresh_p50_total: float | None = None
    fresh_p99_total: float | None = None
    freshness_buckets: list[tuple[float, float]] = field(default_factory=list)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def take_snapshot(
    elapsed_s: float, produced: int, sequencer: Samples, trainer: Samples,
    previous: Snapshot | None, previous_trainer: Samples | None,
) -> Snapshot:  # fmt: skip
    reasons = {
        dict(labels)["reason"]: value
        for (name, labels), value in sequencer.items()
        if name == "recstream_sequencer_dead_letters_total" and value > 0
    }
    fresh = buckets(trainer, FRESHNESS, since="event")
    snap = Snapshot(
        elapsed_s=elapsed_s,
        produced=produced,
        accepted=metric_sum(sequencer, "recstream_sequencer_events_total", outcome="accepted"),
        dead_letters=metric_sum(sequencer, "recstream_sequencer_dead_letters_total"),
        dead_letters_by_reason=reasons,
        sequences=metric_sum(sequencer, "recstream_sequencer_sequences_emitted_total"),
        updates_read=metric_sum(trainer, "recstream_trainer_sequence_updates_total"),
        updates_learned=metric_sum(trainer, f"{FRESHNESS}_count", since="event"),
        steps=metric_sum(trainer, "recstream_trainer_steps_total"),
        model_version=metric_sum(trainer, "recstream_trainer_model_version"),
        vocabulary=metric_sum(trainer, "recstream_trainer_vocabulary_size"),
        recommendations=metric_sum(trainer, "recstream_trainer_recommendations_published_total"),
        lag=metric_sum(trainer, "recstream_trainer_consumer_lag"),
        pending=metric_sum(trainer, "recstream_trainer_pending_updates"),
        loss={
            dict(labels)["task"]: value
            for (name, labels), value in trainer.items()
            if name == "recstream_trainer_loss"
        },
        hr10=metric_sum(trainer, "recstream_trainer_online_hr_at_10"),
        ndcg10=metric_sum(trainer, "recstream_trainer_online_ndcg_at_10"),
        untrained=metric_sum(trainer, "recstream_trainer_untrained_sequences_total"),
        fresh_p50_total=quantile(0.5, fresh),
        fresh_p99_total=quantile(0.99, fresh),
        freshness_buckets=fresh,
    )
    if previous is None or previous_trainer is None:
        return snap
    span = max(elapsed_s - previous.elapsed_s, 1e-9)
    interval = bucket_delta(fresh, previous.freshness_buckets)

    def delta(name: str, **labels: str) -> float:
        return metric_sum(trainer, name, **labels) - metric_sum(previous_trainer, name, **labels)

    seen = snap.accepted + snap.dead_letters - previous.accepted - previous.dead_letters
    return Snapshot(
        **{
            **snap.__dict__,
            "events_per_s": seen / span,
            "recommendations_per_s": (snap.recommendations - previous.recommendations) / span,
            "batch_users": _ratio(
                delta("recstream_trainer_batch_users_sum"),
                delta("recstream_trainer_batch_users_count"),
            ),
            "step_ms": _ratio(
                1000 * delta("recstream_trainer_step_seconds_sum", phase="total"),
                delta("recstream_trainer_step_seconds_count", phase="total"),
            ),
            "fresh_p50": quantile(0.5, interval),
            "fresh_p99": quantile(0.99, interval),
        }
    )
