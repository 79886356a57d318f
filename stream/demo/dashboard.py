"""The demo's live terminal view (rich), from a :class:`Snapshot` and recent messages."""

from __future__ import annotations

import time

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table

from stream.demo.snapshot import Snapshot
from stream.messages.recommendation import RecommendationMessage


def _num(value: float | None, fmt: str = ",.0f", unit: str = "") -> str:
    return "-" if value is None else f"{value:{fmt}}{unit}"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{1000 * seconds:,.0f} ms"


def render(
    title: str, snap: Snapshot | None, total_events: int, recent: list[RecommendationMessage],
) -> RenderableType:  # fmt: skip
    if snap is None:
        return Panel("starting the sequencer and the trainer …", title=title)
    flow = Table.grid(padding=(0, 2))
    flow.add_column(style="bold cyan")
    flow.add_column(justify="right")
    flow.add_column(style="bold cyan")
    flow.add_column(justify="right")
    reasons = ", ".join(f"{r} {n:.0f}" for r, n in sorted(snap.dead_letters_by_reason.items()))
    flow.add_row(
        "produced", f"{snap.produced:,} / {total_events:,}",
        "events/s into the sequencer", _num(snap.events_per_s),
    )  # fmt: skip
    flow.add_row(
        "accepted", _num(snap.accepted),
        "dead letters", f"{snap.dead_letters:,.0f}" + (f" ({reasons})" if reasons else ""),
    )  # fmt: skip
    flow.add_row(
        "sequence updates", _num(snap.sequences),
        "trainer lag / pending", f"{snap.lag:,.0f} / {snap.pending:,.0f}",
    )  # fmt: skip
    flow.add_row(
        "steps (model version)", f"{snap.steps:,.0f} (v{snap.model_version:,.0f})",
        "users per step / step time",
        f"{_num(snap.batch_users)} / {_num(snap.step_ms, unit=' ms')}",
    )  # fmt: skip
    flow.add_row(
        "loss (next item / total)",
        f"{_num(snap.loss.get('item'), '.3f')} / {_num(snap.loss.get('total'), '.3f')}",
        "online HR@10 / NDCG@10", f"{snap.hr10:.3f} / {snap.ndcg10:.3f}",
    )  # fmt: skip
    flow.add_row(
        "vocabulary", _num(snap.vocabulary),
        "recommendations/s", _num(snap.recommendations_per_s),
    )  # fmt: skip
    flow.add_row(
        "freshness p50 / p99 (now)", f"{_ms(snap.fresh_p50)} / {_ms(snap.fresh_p99)}",
        "(whole run)", f"{_ms(snap.fresh_p50_total)} / {_ms(snap.fresh_p99_total)}",
    )  # fmt: skip
    recs = Table("user", "top 5 items", "model", "fresh", box=None)
    now = time.time()
    for message in reversed(recent):
        recs.add_row(
            message.user_id,
            ", ".join(message.items[:5]),
            f"v{message.model_version}",
            f"{1000 * (message.published_ts - message.event_ts):,.0f} ms",
        )
    age = f"{now - recent[-1].published_ts:.1f}s ago" if recent else "none yet"
    return Group(
        Panel(flow, title=f"{title} · {snap.elapsed_s:,.0f}s"),
        Panel(recs, title=f"latest recommendations (last one {age})"),
    )
