import gc
import weakref

from streamer.gc_tuning import GEN0_THRESHOLD, settle_heap


def test_settle_heap_freezes_the_live_heap_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        previous = settle_heap()
        assert previous == before
        assert gc.get_threshold() == (GEN0_THRESHOLD, before[1], before[2])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


class Node:
    other: object = None


def test_cyclic_garbage_made_after_settling_is_still_collected() -> None:
    before = gc.get_threshold()
    try:
        settle_heap(gen0_threshold=1000)
        node = Node()
        node.other = node  # a reference cycle: reference counting alone never frees it
        gone = weakref.ref(node)
        del node
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
