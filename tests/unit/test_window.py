"""Per-user windows: time order, dedupe, trimming, and independence from arrival order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.messages.events import Event
from stream.messages.window import Window, apply_events


def ev(eid: str, ts: float, item: str | None = None, action: str = "view") -> Event:
    return Event(user_id="u", item_id=item or f"item-{eid}", action=action, ts=ts, event_id=eid)


def test_out_of_order_events_are_placed_by_ts() -> None:
    change = apply_events(Window(), [ev("a", 10), ev("c", 30), ev("b", 20)], 10, 1e9)
    assert change.window.ids == ["a", "b", "c"]
    assert change.window.ts == [10, 20, 30]
    late = apply_events(change.window, [ev("z", 15)], 10, 1e9)
    assert late.window.ids == ["a", "z", "b", "c"]
    assert late.new_count == 3  # the late event and everything after it


def test_equal_timestamps_are_ordered_by_event_id() -> None:
    one = apply_events(Window(), [ev("b", 5), ev("a", 5)], 10, 1e9).window
    other = apply_events(Window(), [ev("a", 5), ev("b", 5)], 10, 1e9).window
    assert one.ids == other.ids == ["a", "b"]


def test_an_event_id_already_present_is_not_added_again() -> None:
    first = apply_events(Window(), [ev("a", 1), ev("b", 2)], 10, 1e9)
    again = apply_events(first.window, [ev("b", 2), ev("c", 3)], 10, 1e9)
    assert again.window.ids == ["a", "b", "c"]
    assert again.added == 1 and again.duplicates == 1
    # A redelivered event counts as new again: its update may never have been published.
    assert again.new_count == 2


def test_duplicates_within_one_batch_are_dropped() -> None:
    change = apply_events(Window(), [ev("a", 1), ev("a", 1), ev("a", 1)], 10, 1e9)
    assert change.window.ids == ["a"]
    assert change.duplicates == 2


def test_max_events_keeps_the_newest() -> None:
    change = apply_events(Window(), [ev(str(i), float(i)) for i in range(10)], 4, 1e9)
    assert change.window.ids == ["6", "7", "8", "9"]
    assert change.new_count == 4
    stale = apply_events(change.window, [ev("old", 0.5)], 4, 1e9)
    assert stale.window.ids == ["6", "7", "8", "9"]
    assert stale.new_count == 0  # too old for the window: nothing new to learn


def test_max_age_is_measured_from_the_newest_event() -> None:
    window = apply_events(Window(), [ev("a", 0), ev("b", 50), ev("c", 100)], 10, 60).window
    assert window.ids == ["b", "c"]
    newer = apply_events(window, [ev("d", 200)], 10, 60).window
    assert newer.ids == ["d"]


def test_state_round_trips() -> None:
    window = apply_events(Window(), [ev("a", 1, action="click"), ev("b", 2)], 10, 1e9).window
    assert Window.from_state(window.to_state()) == window
    assert Window.from_state(None) == Window()


unique_events = st.lists(
    st.builds(
        ev,
        st.text(alphabet="abcdefgh", min_size=1, max_size=2),
        st.integers(0, 100).map(float),
    ),
    max_size=40,
    unique_by=lambda e: e.event_id,
)


@settings(deadline=None)
@given(unique_events, st.randoms(use_true_random=False), st.integers(1, 8), st.data())
def test_final_window_does_not_depend_on_arrival_order_batching_or_redelivery(
    unique: list[Event], rng: object, batches: int, data: st.DataObject
) -> None:
    reference = apply_events(Window(), unique, 7, 60).window
    redelivered = data.draw(st.lists(st.sampled_from(unique), max_size=10)) if unique else []
    shuffled = unique + redelivered
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    window = Window()
    for start in range(batches):
        window = apply_events(window, shuffled[start::batches], 7, 60).window
    assert window == reference
    assert window.ts == sorted(window.ts)
    assert len(set(window.ids)) == len(window.ids) <= 7
