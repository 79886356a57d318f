"""The CPU-per-event table of the freshness benchmark, from process CPU and scrapes."""

from __future__ import annotations

from bench.cpu_budget import cpu_budget
from stream.metrics.scrape import Samples


def test_stages_split_each_process_and_the_rest_is_the_framework() -> None:
    seq: Samples = {
        ("recstream_sequencer_stage_cpu_seconds_total", (("stage", "process"),)): 0.5,
        ("recstream_sequencer_stage_cpu_seconds_total", (("stage", "table"),)): 0.25,
        ("recstream_sequencer_stage_cpu_seconds_total", (("stage", "publish"),)): 0.25,
    }
    trainer: Samples = {
        ("recstream_trainer_step_seconds_sum", (("phase", "rank"),)): 2.0,
        ("recstream_trainer_step_seconds_sum", (("phase", "train"),)): 1.0,
        ("recstream_trainer_step_seconds_sum", (("phase", "total"),)): 3.5,
        ("recstream_trainer_learner_cpu_seconds_total", ()): 1.5,  # waited half the time
        ("recstream_trainer_batch_users_sum", ()): 800.0,
        ("recstream_trainer_untrained_sequences_total", ()): 400.0,
        ("recstream_trainer_caught_up_sequences_total", ()): 100.0,
    }
    budget = cpu_budget(
        1_000, {"sequencer": 2.0, "trainer": 4.0, "broker": 1.0}, seq, trainer,
        {"events": 1_000, "changelog": 900, "sequences": 900, "recommendations": 800},
    )  # fmt: skip
    assert budget.sequencer_us == 2_000 and budget.sequencer_process_us == 500
    assert budget.sequencer_faust_us == 1_000  # 2 s of process CPU, 1 s in the stages
    assert budget.trainer_rank_us == 1_000 and budget.trainer_train_us == 500
    assert budget.trainer_faust_us == 2_500  # 4 s of process CPU, 1.5 s in the learner
    assert budget.rank_us_per_user == 1_250  # 1 s over 800 users ranked
    assert budget.train_us_per_sequence == 1_000  # 0.5 s over 800 - 400 + 100 learned
    assert budget.total_us == 7_000
    assert budget.messages_per_event["changelog"] == 0.9
