"""The collector pacing of a serving process: survivors frozen often, everything reclaimed rarely."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from coordinator import heap


class Node:
    """Something that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.me: Node | None = self


@pytest.fixture
def clock() -> Iterator[list[float]]:
    now = [100.0]
    try:
        yield now
    finally:
        gc.unfreeze()  # leave the test process as it was
        gc.collect()


def test_refreeze_hides_survivors_until_the_full_reclaim(clock: list[float]) -> None:
    pacer = heap.Pacer(clock=lambda: clock[0])
    assert pacer.tick() is None

    node = Node()
    gone = weakref.ref(node)
    clock[0] += heap.REFREEZE_S
    frozen_before = gc.get_freeze_count()
    assert pacer.tick() == "refreeze"
    assert gc.get_freeze_count() > frozen_before  # the survivor left the collector's sight

    del node  # now cyclic garbage, but frozen: a full pass does not walk it
    gc.collect()
    assert gone() is not None

    clock[0] += heap.REFREEZE_S - 1
    assert pacer.tick() is None
    clock[0] = 100.0 + heap.RECLAIM_S
    assert pacer.tick() == "reclaim"
    assert gone() is None  # the full reclaim collected it
    assert gc.get_threshold() == heap.THRESHOLDS

    # Both schedules restart from the reclaim.
    clock[0] += heap.REFREEZE_S - 1
    assert pacer.tick() is None
    clock[0] += 1
    assert pacer.tick() == "refreeze"


def test_young_garbage_is_collected_before_a_refreeze(clock: list[float]) -> None:
    pacer = heap.Pacer(clock=lambda: clock[0])
    gc.collect()
    gc.disable()  # keep the cycle young until the refreeze runs
    try:
        node = Node()
        gone = weakref.ref(node)
        del node
        clock[0] += heap.REFREEZE_S
        assert pacer.tick() == "refreeze"
    finally:
        gc.enable()
    assert gone() is None  # collected with the young generations, not frozen
