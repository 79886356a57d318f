"""The online-modes bench runs its variants in lockstep (bench/online_modes.py): every
variant learns every micro-batch, in a rotating order, and keeps only its own figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from bench.online_modes import AfterHalf, Lockstep
from model.contract import Learner, StepReport, UserSequence
from model.ranking_metrics import RankingSums


class Recording:
    """A learner that notes the order of calls and reports a fixed training time."""

    def __init__(self, name: str, calls: list[tuple[str, str]], train_s: float) -> None:
        self.name, self.calls, self.train_s = name, calls, train_s

    def learn(self, batch: Sequence[UserSequence], *_args: Any, **_kwargs: Any) -> StepReport:
        self.calls.append((self.name, batch[0].user_id))
        sums = RankingSums()
        sums.add(0 if self.name == "a" else 12)  # a ranks the target first, b 13th
        return StepReport(0, len(batch), overall=sums, train_s=self.train_s)


def _batch(user: str) -> list[UserSequence]:
    return [UserSequence(user, ["i1"], ["view"], [0.0], 1)]


def test_every_variant_learns_every_batch_in_a_rotating_order() -> None:
    calls: list[tuple[str, str]] = []
    # The recorders have the one method AfterHalf calls.
    a = AfterHalf(cast(Learner, Recording("a", calls, 0.01)), split=1, variant="full, target rows")
    b = AfterHalf(cast(Learner, Recording("b", calls, 0.03)), split=1, variant="retrain")
    lockstep = Lockstep([a, b])
    reports = [lockstep.learn(_batch(user)) for user in ("u0", "u1", "u2", "u3")]

    assert calls == [("a", "u0"), ("b", "u0"), ("b", "u1"), ("a", "u1"),
                     ("a", "u2"), ("b", "u2"), ("b", "u3"), ("a", "u3")]  # fmt: skip
    # The replay's report is the first variant's; each variant keeps its own figures
    # after the split (the first batch is before it).
    assert all(r.overall.means()["mrr@10"] == 1.0 for r in reports)
    assert (a.steps, b.steps) == (3, 3)
    assert a.after.means()["mrr@10"] == 1.0 and b.after.means()["mrr@10"] == 0.0
    assert round(a.train_s, 6) == 0.03 and round(b.train_s, 6) == 0.09
