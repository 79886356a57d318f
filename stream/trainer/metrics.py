"""The trainer's Prometheus metrics, created against a registry (tests use a fresh one)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from stream.messages.sequence_decoder import UpdateReason
from stream.trainer.outcome import StepOutcome
from stream.trainer.recent_quality import RecentQuality

# Freshness spans a few ms (idle loop) to minutes (a backlog); the SLO edge is 1 s.
FRESHNESS_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0, 1.25, 1.5,
    2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0,
)  # fmt: skip
_STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
TASKS = ("item", "purchase", "action", "total")


@dataclass(frozen=True)
class TrainerMetrics:
    updates: Counter
    invalid_updates: Counter
    merged_updates: Counter
    steps: Counter
    batch_users: Histogram
    step_seconds: Histogram
    learner_cpu: Counter
    loss: Gauge
    online_hr10: Gauge
    online_ndcg10: Gauge
    ranked_by_age: Counter
    ndcg10_by_age: Counter
    hits10_by_age: Counter
    ranked_events: Counter
    untrained_sequences: Counter
    caught_up_sequences: Counter
    dropped_sequences: Counter
    catch_up_queue: Gauge
    held_sequences: Gauge
    train_limit: Gauge
    model_version: Gauge
    vocabulary_size: Gauge
    recommendations: Counter
    freshness: Histogram
    pending_updates: Gauge
    consumer_lag: Gauge
    last_step: Gauge
    checkpoints: Counter
    checkpoint_seconds: Histogram
    checkpoint_bytes: Gauge
    checkpoint_problems: Counter
    checkpoint_write_failures: Counter
    consolidations: Counter
    rollbacks: Counter
    restored_version: Gauge
    resumed_offset: Gauge

    def record_step(
        self, outcome: StepOutcome, limit: int | None, quality: RecentQuality, now: float
    ) -> None:
        """What one step did: its kind and phases, losses, online quality (``quality``
        already holds the step's ranks), the catch-up queue's choice, freshness."""
        report = outcome.report
        kind = "skipped" if report.skipped else "learned" if outcome.learned else "ranked"
        if kind == "learned" and not outcome.batch and not report.trained_positions:
            kind = "idle"  # a trainer group's step on a rank with nothing to do
        self.steps.labels(outcome=kind).inc()
        if outcome.batch:  # not a step that only caught up
            self.batch_users.observe(len(outcome.batch))
            self.step_seconds.labels(phase="rank").observe(report.eval_s)
        self.step_seconds.labels(phase="train").observe(report.train_s)
        self.step_seconds.labels(phase="total").observe(outcome.wall_s)
        for task, value in report.losses.items():
            self.loss.labels(task=task).set(value)
        if quality.count:
            means = quality.means()
            self.online_hr10.set(means["hr@10"])
            self.online_ndcg10.set(means["ndcg@10"])
        for age, sums in report.per_age.items():  # sums: rate(sum) / rate(count) is the mean
            self.ranked_by_age.labels(age=age).inc(sums.count)
            self.ndcg10_by_age.labels(age=age).inc(sums.ndcg10)
            self.hits10_by_age.labels(age=age).inc(sums.hits10)
        self.ranked_events.inc(report.evaluated)
        self.untrained_sequences.inc(report.untrained_sequences)
        if outcome.choice is not None:
            self.untrained_sequences.inc(outcome.choice.deferred)
            self.caught_up_sequences.inc(outcome.choice.caught_up)
            self.dropped_sequences.inc(outcome.choice.dropped)
        if limit is not None:
            self.train_limit.set(limit)
        self.model_version.set(report.model_version)
        if report.vocab_size:
            self.vocabulary_size.set(report.vocab_size)
        self.recommendations.inc(len(outcome.messages))
        self.merged_updates.inc(sum(len(merged.updates) - 1 for merged in outcome.batch))
        self._record_freshness(outcome)
        self.last_step.set(now)

    def _record_freshness(self, outcome: StepOutcome) -> None:
        published = {message.user_id for message in outcome.messages}
        for merged in outcome.batch:
            if merged.newest.user_id not in published:
                continue
            for update in merged.updates:
                self.freshness.labels(since="event").observe(
                    max(0.0, outcome.published_ts - update.event_ts)
                )
                self.freshness.labels(since="ingest").observe(
                    max(0.0, outcome.published_ts - update.ingest_ts)
                )

    @classmethod
    def create(cls, registry: CollectorRegistry) -> TrainerMetrics:
        r = registry
        metrics = cls(
            updates=Counter("recstream_trainer_sequence_updates",
                            "Sequence updates read from the sequences topic.", registry=r),
            invalid_updates=Counter("recstream_trainer_invalid_updates",
                                    "Sequence updates refused and dead-lettered, by reason "
                                    "(a field that does not validate, or a step that failed "
                                    "on the update alone).", ["reason"], registry=r),
            merged_updates=Counter("recstream_trainer_merged_updates",
                                   "Updates folded into a newer window of the same user "
                                   "before a step (bursts).", registry=r),
            steps=Counter("recstream_trainer_steps", "Learner steps, by outcome (learned; "
                          "ranked only, between training steps; skipped by a guard; or idle, "
                          "a group step without data).",
                          ["outcome"], registry=r),
            batch_users=Histogram("recstream_trainer_batch_users", "Users per step.",
                                  buckets=_BATCH_BUCKETS, registry=r),
            learner_cpu=Counter("recstream_trainer_learner_cpu_seconds",
                                "CPU seconds of the learner thread in steps (ranking and "
                                "training; the step seconds are wall time).", registry=r),
            step_seconds=Histogram("recstream_trainer_step_seconds", "Seconds per step, by "
                                   "phase (rank: forward pass + top-k; train: optimiser "
                                   "step; total).", ["phase"], buckets=_STEP_BUCKETS,
                                   registry=r),
            loss=Gauge("recstream_trainer_loss", "Training loss of the last step, by task.",
                       ["task"], registry=r),
            online_hr10=Gauge("recstream_trainer_online_hr_at_10",
                              "HR@10 of the most recent ranked events, ranked before they "
                              "were learned (test-then-train).", registry=r),
            online_ndcg10=Gauge("recstream_trainer_online_ndcg_at_10",
                                "NDCG@10 of the most recent ranked events (test-then-train).",
                                registry=r),
            ranked_by_age=Counter("recstream_trainer_ranked_by_item_age",
                                  "Ranked events by the target item's age in events (1, 2-5, "
                                  "6-20, 21+): new items are where content helps.", ["age"],
                                  registry=r),
            ndcg10_by_age=Counter("recstream_trainer_ndcg_at_10_by_item_age_sum",
                                  "Sum of NDCG@10 of ranked events by item age: divide its "
                                  "rate by recstream_trainer_ranked_by_item_age's.", ["age"],
                                  registry=r),
            hits10_by_age=Counter("recstream_trainer_hits_at_10_by_item_age",
                                  "Ranked events by item age whose target was in the top 10.",
                                  ["age"], registry=r),
            ranked_events=Counter("recstream_trainer_ranked_events",
                                  "New events ranked before learning (the online metrics' "
                                  "sample).", registry=r),
            untrained_sequences=Counter("recstream_trainer_untrained_sequences",
                                        "Sequences recommended for but left out of their step "
                                        "by the training budget (queued to learn later).",
                                        registry=r),
            caught_up_sequences=Counter("recstream_trainer_caught_up_sequences",
                                        "Over-budget sequences learned by a later step.",
                                        registry=r),
            dropped_sequences=Counter("recstream_trainer_dropped_sequences",
                                      "Over-budget sequences never learned: pushed out of a "
                                      "full catch-up queue (trainer.catch_up_max_events).",
                                      registry=r),
            catch_up_queue=Gauge("recstream_trainer_catch_up_queue",
                                 "Over-budget sequences waiting to be learned.", registry=r),
            held_sequences=Gauge("recstream_trainer_held_sequences",
                                 "Users ranked and published for, their sequences waiting "
                                 "for the next training step (trainer.train_every_ms).",
                                 registry=r),
            train_limit=Gauge("recstream_trainer_train_limit",
                              "Sequences a step may learn within the training budget.",
                              registry=r),
            model_version=Gauge("recstream_trainer_model_version",
                                "Model version: one more per step that publishes (an "
                                "optimiser step; after a step that only ranked, the same "
                                "weights under a new number).", registry=r),
            vocabulary_size=Gauge("recstream_trainer_vocabulary_size",
                                  "Items with an embedding row.", registry=r),
            recommendations=Counter("recstream_trainer_recommendations_published",
                                    "Recommendations handed to the producer.", registry=r),
            freshness=Histogram("recstream_trainer_freshness_seconds",
                                "Seconds from an event to the publication of the first "
                                "recommendation that reflects it, measured since the "
                                "event's ts (since=event) or its Kafka timestamp "
                                "(since=ingest).", ["since"], buckets=FRESHNESS_BUCKETS,
                                registry=r),
            pending_updates=Gauge("recstream_trainer_pending_updates",
                                  "Updates read but not yet learned.", registry=r),
            consumer_lag=Gauge("recstream_trainer_consumer_lag",
                               "Sequence updates not yet committed by the trainer group, by "
                               "partition (log end - committed offset, asked from the broker).",
                               ["partition"], registry=r),
            last_step=Gauge("recstream_trainer_last_step_timestamp_seconds",
                            "Unix time of the last finished step.", registry=r),
            checkpoints=Counter("recstream_trainer_checkpoints", "Checkpoints written, by kind "
                                "(full or delta).", ["kind"], registry=r),
            checkpoint_seconds=Histogram("recstream_trainer_checkpoint_seconds",
                                         "Seconds to write a checkpoint, by kind.", ["kind"],
                                         buckets=_STEP_BUCKETS, registry=r),
            checkpoint_bytes=Gauge("recstream_trainer_checkpoint_bytes",
                                   "Size of the last checkpoint of each kind.", ["kind"],
                                   registry=r),
            checkpoint_problems=Counter("recstream_trainer_checkpoint_problems",
                                        "Corrupt, truncated or missing checkpoint files met "
                                        "while restoring (each one skipped).", registry=r),
            checkpoint_write_failures=Counter("recstream_trainer_checkpoint_write_failures",
                                              "Checkpoint writes that failed (permissions, disk "
                                              "full); retried with backoff, serving goes on.",
                                              registry=r),
            consolidations=Counter("recstream_trainer_consolidations", "Times the adapters "
                                   "were merged into the backbone (model.online: adapters), "
                                   "at a full checkpoint.", registry=r),
            rollbacks=Counter("recstream_trainer_rollbacks", "Automatic rollbacks to the last "
                              "good checkpoint, by reason (quality, guard).", ["reason"],
                              registry=r),
            restored_version=Gauge("recstream_trainer_restored_version",
                                   "Model version of the checkpoint last restored (start-up or "
                                   "rollback); 0: none.", registry=r),
            resumed_offset=Gauge("recstream_trainer_resumed_offset", "Offset of the sequences "
                                 "topic the trainer resumed from at start-up, by partition "
                                 "(from its checkpoint).", ["partition"], registry=r),
        )  # fmt: skip
        for task in TASKS:
            metrics.loss.labels(task=task)
        for outcome in ("learned", "ranked", "skipped", "idle"):
            metrics.steps.labels(outcome=outcome)
        for since in ("event", "ingest"):
            metrics.freshness.labels(since=since)
        for kind in ("full", "delta"):
            metrics.checkpoints.labels(kind=kind)
        for reason in ("quality", "guard"):
            metrics.rollbacks.labels(reason=reason)
        for refusal in UpdateReason:
            metrics.invalid_updates.labels(reason=str(refusal))
        return metrics
