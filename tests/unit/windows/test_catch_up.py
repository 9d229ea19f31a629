"""The catch-up rule: no idle time while a worker reads a partition's backlog, none before it took the partition."""

from __future__ import annotations

import math

from streamer.windows.catch_up import CatchUp, idle_for_s


def test_idle_time_counts_from_the_latest_of_last_event_assignment_and_catch_up():
    assert idle_for_s(100.0, 50.0, now_s=130.0) == 30.0  # the last event is the latest
    assert idle_for_s(100.0, 120.0, now_s=130.0) == 10.0  # taken (or caught up) after it
    assert idle_for_s(-math.inf, -math.inf, now_s=130.0) == math.inf
    assert idle_for_s(100.0, None, now_s=10_000.0) == 0.0  # catching up: never idle


def test_a_partition_is_held_back_until_the_agent_reaches_the_log_end():
    catch_up = CatchUp(settle_seconds=2.0, unknown_end_seconds=30.0)
    catch_up.assigned([3], now_s=1000.0)
    assert catch_up.idle_origin_s(3, now_s=1001.0) is None
    for now_s, processed in ((1001.0, 10), (1005.0, 400), (1050.0, 999)):  # behind, for longer than the fallback
        catch_up.observe(3, processed=processed, consumer=None, log_end=1000, now_s=now_s)
        assert catch_up.idle_origin_s(3, now_s=now_s) is None
    catch_up.observe(3, processed=1000, consumer=None, log_end=1200, now_s=1060.0)  # the log grew meanwhile
    assert catch_up.idle_origin_s(3, now_s=1060.0) is None
    catch_up.observe(3, processed=1200, consumer=None, log_end=1200, now_s=1061.0)
    assert catch_up.idle_origin_s(3, now_s=1070.0) == 1061.0
    # Caught up once, it stays so: steady traffic keeps the agent a few records behind.
    catch_up.observe(3, processed=1200, consumer=None, log_end=1210, now_s=1080.0)
    assert catch_up.idle_origin_s(3, now_s=1080.0) == 1061.0


def test_the_consumer_position_stands_in_only_after_it_settled_at_the_log_end():
    catch_up = CatchUp(settle_seconds=2.0, unknown_end_seconds=30.0)
    catch_up.assigned([0], now_s=1000.0)
    catch_up.observe(0, processed=None, consumer=50, log_end=50, now_s=1001.0)  # Faust may hold 50 unprocessed
    assert catch_up.idle_origin_s(0, now_s=1001.0) is None
    catch_up.observe(0, processed=None, consumer=50, log_end=50, now_s=1003.0)
    assert catch_up.idle_origin_s(0, now_s=1003.0) == 1003.0


def test_an_unknown_log_end_falls_back_after_a_bounded_time_from_the_assignment():
    catch_up = CatchUp(settle_seconds=2.0, unknown_end_seconds=30.0)
    catch_up.assigned([1], now_s=1000.0)
    catch_up.observe(1, processed=None, consumer=None, log_end=None, now_s=1010.0)
    assert catch_up.idle_origin_s(1, now_s=1029.0) is None
    assert catch_up.idle_origin_s(1, now_s=1030.0) == 1030.0


def test_a_new_assignment_keeps_when_a_kept_partition_was_taken_but_asks_again_for_its_catch_up():
    catch_up = CatchUp(settle_seconds=2.0, unknown_end_seconds=30.0)
    catch_up.assigned([0, 1], now_s=1000.0)
    for partition in (0, 1):
        catch_up.observe(partition, processed=5, consumer=None, log_end=5, now_s=1001.0)
    catch_up.assigned([1, 2], now_s=1100.0)
    assert catch_up.idle_origin_s(1, now_s=1100.0) is None and catch_up.idle_origin_s(2, now_s=1100.0) is None
    catch_up.observe(1, processed=9, consumer=None, log_end=9, now_s=1101.0)
    catch_up.observe(2, processed=9, consumer=None, log_end=9, now_s=1101.0)
    assert catch_up.idle_origin_s(1, now_s=1101.0) == 1101.0
    assert catch_up.idle_origin_s(2, now_s=1101.0) == 1101.0
    assert catch_up.idle_origin_s(0, now_s=1101.0) == -math.inf  # no longer owned: not held back (not ticked either)


def test_the_fallback_waits_for_the_table_recovery_to_end():
    catch_up = CatchUp(settle_seconds=2.0, unknown_end_seconds=30.0)
    catch_up.assigned([1], now_s=1000.0)
    catch_up.recovering(now_s=1040.0)  # the agent reads nothing while tables recover: no log end is fetched
    assert catch_up.idle_origin_s(1, now_s=1050.0) is None
    assert catch_up.idle_origin_s(1, now_s=1070.0) == 1070.0
