import gc
import weakref

from streamer.gc_tuning import GEN0_THRESHOLD, settle_heap


class Node:
    other: object = None


def test_settle_heap_raises_the_young_threshold_and_freezes_nothing() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    try:
        assert settle_heap() == before
        assert gc.get_threshold() == (GEN0_THRESHOLD, before[1], before[2])
        assert gc.get_freeze_count() == frozen  # Faust closes revoked RocksDB handles through gc.collect()
    finally:
        gc.set_threshold(*before)


def test_a_cycle_alive_when_the_heap_settles_is_collected_once_dropped() -> None:
    """Like a partition's RocksDB handle opened at start-up and dropped at a rebalance (Faust then collects)."""
    before = gc.get_threshold()
    try:
        node = Node()
        node.other = node  # a reference cycle: reference counting alone never frees it
        settle_heap()
        gone = weakref.ref(node)
        del node
        gc.collect()
        assert gone() is None
    finally:
        gc.set_threshold(*before)
