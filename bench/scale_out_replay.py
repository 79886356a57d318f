"""Prequential replay of one event stream through a trainer group of N ranks (gloo, one
process per rank, no Kafka): the quality and training speed side of ``bench.scale_out``.

Every rank walks the same micro-batches in the same order (as the group's steps) and
learns the users it would own (a stable hash of the user id, as Kafka's partitioner
gives a user one partition); each rank ranks its users' events before learning them,
and the group's NDCG is the sum over ranks. With one rank this is the plain replay.
"""

from __future__ import annotations

import json
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from bench.profiles import PROFILES
from model.contract import Learner, StepReport, UserSequence
from model.ranking_metrics import RankingSums
from model.replica_group import ReplicaGroup
from model.transformer_learner import TransformerLearner
from stream.replay.prequential import replay
from stream.settings import load_settings
from stream.trainer.learner_factory import learner_from_settings


def owner(user_id: str, ranks: int) -> int:
    return zlib.crc32(user_id.encode()) % ranks


@dataclass
class RankResult:
    rank: int
    sums: RankingSums
    wall_s: float
    learn_s: float  # inside learn calls (ranking, training, collectives)
    collective_s: float
    exchanged_bytes: int
    steps: int
    trained_positions: int
    fingerprint: int
    threads: int


@dataclass
class ShardedLearner:
    """The learner of one rank: each micro-batch's users it owns, and the group's step."""

    learner: TransformerLearner
    rank: int
    ranks: int
    learn_s: float = 0.0
    collective_s: float = 0.0
    exchanged_bytes: int = 0
    trained_positions: int = 0
    steps: int = 0
    name: str = field(default="transformer-sharded")
    version: int = 0

    def learn(self, batch: Sequence[UserSequence], *_args: Any, **_kwargs: Any) -> StepReport:
        mine = [seq for seq in batch if owner(seq.user_id, self.ranks) == self.rank]
        started = time.perf_counter()
        report = self.learner.learn(mine)
        self.learn_s += time.perf_counter() - started
        group = self.learner.replicas
        if group is not None:
            stats = group.take_stats()
            self.collective_s += stats.seconds
            self.exchanged_bytes += stats.bytes
        self.trained_positions += report.trained_positions
        self.steps += 1
        return report


def _run_rank(
    rank: int, ranks: int, store: str, config: str, profile: str, events: int,
    batch_events: int, out: str,
) -> None:  # fmt: skip
    torch.set_num_threads(1)
    if ranks > 1:
        dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank,
                                world_size=ranks, timeout=timedelta(seconds=300))  # fmt: skip
    settings = load_settings(Path(config))
    settings = settings.model_copy(
        update={"trainer": settings.trainer.model_copy(update={"device": "cpu"})}
    )
    learner = learner_from_settings("transformer", settings, rank_every_event=True)
    assert isinstance(learner, TransformerLearner)
    if ranks > 1:
        learner.replicas = ReplicaGroup(torch.device("cpu"))
    shard = ShardedLearner(learner, rank, ranks)
    stream = PROFILES[profile].events(events)
    window = settings.window
    sharded: Learner = shard  # type: ignore[assignment]  # learn is all replay calls
    result = replay(sharded, stream, batch_events, window.max_events, window.max_age_s)
    outcome = RankResult(rank, result.overall, result.wall_s, shard.learn_s, shard.collective_s,
                         shard.exchanged_bytes, shard.steps, shard.trained_positions,
                         learner.fingerprint(), torch.get_num_threads())  # fmt: skip
    data = asdict(outcome)
    (Path(out) / f"rank{rank}.json").write_text(json.dumps(data))
    if ranks > 1:
        dist.destroy_process_group()


@dataclass(frozen=True)
class GroupReplay:
    ranks: int
    profile: str
    events: int
    ndcg10: float
    hr10: float
    wall_s: float  # the slowest rank
    samples_per_s: float  # trained positions of all ranks / wall
    collective_share: float  # of the time in learn calls, averaged over ranks
    bytes_per_step: float  # sent per rank and step, averaged
    replicas_identical: bool


def group_replay(
    ranks: int, config: Path, profile: str, events: int, batch_events: int
) -> GroupReplay:
    with tempfile.TemporaryDirectory(prefix="recstream-scale-") as tmp:
        args = (ranks, str(Path(tmp) / "store"), str(config), profile, events, batch_events, tmp)
        if ranks == 1:
            _run_rank(0, *args)
        else:
            mp.spawn(_run_rank, args=args, nprocs=ranks)  # type: ignore[attr-defined,no-untyped-call]
        results = [json.loads((Path(tmp) / f"rank{r}.json").read_text()) for r in range(ranks)]
    sums = RankingSums()
    for result in results:
        sums.merge(RankingSums(**result["sums"]))
    means = sums.means()
    wall = max(r["wall_s"] for r in results)
    learn = sum(r["learn_s"] for r in results)
    steps = sum(r["steps"] for r in results)
    return GroupReplay(
        ranks=ranks, profile=profile, events=events, ndcg10=means["ndcg@10"],
        hr10=means["hr@10"], wall_s=wall,
        samples_per_s=sum(r["trained_positions"] for r in results) / max(wall, 1e-9),
        collective_share=sum(r["collective_s"] for r in results) / max(learn, 1e-9),
        bytes_per_step=sum(r["exchanged_bytes"] for r in results) / max(steps, 1),
        replicas_identical=len({r["fingerprint"] for r in results}) == 1,
    )  # fmt: skip
