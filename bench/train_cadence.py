"""Learner CPU when training runs every N ranking steps (``trainer.train_every_ms``).

    python -m bench.train_cadence [--users 100 200] [--every 1 2 3 5] [--steps 40]

The learner alone on one thread, as the trainer runs it: every step ranks its users
(test-then-train) and publishes; every N-th step also learns all the windows held
since the last training step, merged per user, as the trainer loop does. Steps of
100 users are 500 events/s at five steps a second, 200 users 1,000/s. Both traffic
profiles; the first 30,000 events of each warm the vocabulary and the weights, and
every cadence starts from the same warmed learner state (a fresh learner, the same
warm-up). Prints a table, writes bench/results/train_cadence-<time>.json.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass

from rich.console import Console
from rich.table import Table

from bench.common import write_result
from bench.profiles import PROFILES
from model.contract import UserSequence
from model.runtime import configure_threads
from model.transformer_learner import TransformerLearner
from stream.messages.events import RawEvent
from stream.replay.prequential import micro_batches
from stream.settings import load_settings
from stream.trainer.catch_up import merge_by_user
from stream.trainer.learner_factory import learner_config

console = Console(width=160)
WARM_EVENTS = 30_000
WINDOW_S = 30 * 86400.0


@dataclass
class CadenceResult:
    profile: str
    users_per_step: float
    train_every: int  # ranking steps per training step
    steps: int
    cpu_ms_per_step: float  # learner thread CPU, ranking and training
    rank_ms_per_step: float
    train_ms_per_step: float


def batches(events: list[RawEvent], users: int, steps: int) -> list[list[UserSequence]]:
    stream = events[WARM_EVENTS : WARM_EVENTS + users * (steps + 10)]
    return [b for b, _ in micro_batches(stream, users, 50, WINDOW_S)][:steps]


def warmed(events: list[RawEvent]) -> TransformerLearner:
    learner = TransformerLearner(learner_config(load_settings()))
    for batch, _ in micro_batches(events[:WARM_EVENTS], 200, 50, WINDOW_S):
        learner.learn(batch, k=20)
    return learner


def measure(profile: str, steps: list[list[UserSequence]], every: int,
            learner: TransformerLearner) -> CadenceResult:  # fmt: skip
    held: list[UserSequence] = []
    rank = train = 0.0
    started = time.thread_time()
    for index, batch in enumerate(steps):
        held.extend(batch)
        learns = (index + 1) % every == 0
        report = learner.learn(batch, k=20, train=merge_by_user(held) if learns else [])
        if learns:
            held = []
        rank += report.eval_s
        train += report.train_s
    cpu = time.thread_time() - started
    n = len(steps)
    users = sum(len(b) for b in steps) / n
    return CadenceResult(profile, users, every, n, 1e3 * cpu / n, 1e3 * rank / n, 1e3 * train / n)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[100, 200])
    parser.add_argument("--every", type=int, nargs="+", default=[1, 2, 3, 5])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--profile", choices=list(PROFILES), nargs="+", default=list(PROFILES))
    args = parser.parse_args()
    configure_threads(1)
    results: list[CadenceResult] = []
    for profile in args.profile:
        profile_events = PROFILES[profile].events(WARM_EVENTS + max(args.users) * (args.steps + 10))
        # Re-timed copies, a live stream's spacing (1,000 events/s): a wrapped profile
        # repeats event objects.
        events = [RawEvent(**{**e, "ts": 1.7e9 + i * 0.001}) for i, e in enumerate(profile_events)]
        for users in args.users:
            steps = batches(events, users, args.steps)
            for every in args.every:
                with console.status(f"{profile}, {users} users a step, train every {every}"):
                    results.append(measure(profile, steps, every, warmed(events)))
    table = Table(title="learner CPU per step by training cadence (one thread)")
    for column in ("profile", "users/step", "train every", "CPU ms/step", "vs every step",
                   "rank ms", "train ms"):  # fmt: skip
        table.add_column(column, justify="right")
    for r in results:
        base = next(b for b in results if b.profile == r.profile
                    and b.users_per_step == r.users_per_step and b.train_every == 1)  # fmt: skip
        table.add_row(r.profile, f"{r.users_per_step:.0f}", str(r.train_every),
                      f"{r.cpu_ms_per_step:.1f}", f"{r.cpu_ms_per_step / base.cpu_ms_per_step:.2f}",
                      f"{r.rank_ms_per_step:.1f}", f"{r.train_ms_per_step:.1f}")  # fmt: skip
    console.print(table)
    out = write_result("train_cadence", {"results": [asdict(r) for r in results]})
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
