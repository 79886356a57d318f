"""Which rows of a right-padded batch to encode together, and how wide.

A micro-batch pads every window to its longest one, and on real traffic most windows
are short: on a 1,000 events/s step a third of the padded positions hold an event on
Taobao, a seventh on YOOCHOOSE sessions (bench/NOTES.md), so most of the encoder's work
was padding. Rows sorted by length and cut into a few groups, each padded only to its
own longest row, cost sum(rows x width); every extra group costs one more encoder call.
The cut is chosen exactly by dynamic programming over the distinct widths (at most the
window length plus one), which is microseconds next to an encoder call.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter

# One encoder call's fixed cost in padded positions: a Hugging Face decoder call on
# a handful of rows costs about as much as ~256 positions of a full one on the CPU.
CALL_COST_POSITIONS = 256


def plan_buckets(widths: list[int], call_cost: int = CALL_COST_POSITIONS) -> list[int]:
    """The widths to cut at (ascending; the last is max(widths)): rows of width w go to
    the first bucket whose width is >= w. Minimises sum(rows x bucket width) plus
    ``call_cost`` per bucket."""
    if not widths:
        return []
    counts = Counter(widths)
    distinct = sorted(counts)
    # best[i]: cheapest cover of the rows with the first i distinct widths.
    best = [0.0] + [float("inf")] * len(distinct)
    cut_from = [0] * (len(distinct) + 1)
    for end in range(1, len(distinct) + 1):
        width, rows = distinct[end - 1], 0
        for start in range(end - 1, -1, -1):
            rows += counts[distinct[start]]
            cost = best[start] + rows * width + call_cost
            if cost < best[end]:
                best[end], cut_from[end] = cost, start
    cuts, end = [], len(distinct)
    while end:
        cuts.append(distinct[end - 1])
        end = cut_from[end]
    return cuts[::-1]


def bucket_rows(widths: list[int], cuts: list[int]) -> list[tuple[list[int], int]]:
    """(row indices, width) per bucket of ``cuts``, in ascending width, empty ones left out."""
    groups: dict[int, list[int]] = {cut: [] for cut in cuts}
    for row, width in enumerate(widths):
        groups[cuts[bisect_left(cuts, width)]].append(row)
    return [(rows, cut) for cut, rows in groups.items() if rows]
