"""Profile the pipeline alone (no broker, no Faust) on the single-event backlog of ``bench/single_events.py``.

``python -m bench.single_events_profile`` feeds the one-event messages over 100 models through
:class:`Pipeline` with an in-memory table, in micro-batches the size the worker takes, and prints the
microseconds a message spent in ``Pipeline.plan`` and ``Pipeline.apply`` and cProfile's top entries.
The worker's figures are in ``python -m bench --only single-events``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from bench.single_events import SCENARIO
from bench.throughput import messages
from streamer.batch import Inbound
from streamer.config import Settings
from streamer.kafka.topics import partition_for_key
from streamer.pipeline import Pipeline
from streamer.reference.registry import ReferenceRegistry

PARTITIONS = 8


def records(settings: Settings, rows: int) -> list[Inbound]:
    """The scenario's messages as the worker reads them: each in its key's partition, offsets counting up."""
    offsets = [0] * PARTITIONS
    out = []
    for key, value in messages(SCENARIO)[:rows]:
        partition = partition_for_key(key, PARTITIONS)
        out.append(Inbound(settings.topic_predictions, partition, offsets[partition], key, value, time.time()))
        offsets[partition] += 1
    return out


def drive(batch_size: int, rows: int, profiler: cProfile.Profile | None = None) -> tuple[float, float, int]:
    """Seconds spent in ``plan`` and in ``apply`` over the backlog, and the rows accepted."""
    settings = Settings(partitions=PARTITIONS, idle_close_seconds=600.0)
    store: dict[tuple[str, bytes], bytes] = {}
    pipeline = Pipeline(settings, ReferenceRegistry(), load=lambda table, key: store.get((table, key)), clock=time.time)
    backlog = records(settings, rows)
    plan_s = apply_s = 0.0
    if profiler is not None:
        profiler.enable()
    for i in range(0, len(backlog), batch_size):
        started = time.perf_counter()
        plan = pipeline.plan(backlog[i : i + batch_size])
        pipeline.positions.settle(plan, {})
        planned = time.perf_counter()
        effects = pipeline.apply(plan)
        for write in effects.writes:
            store[(write.table, write.key)] = write.value
        apply_s += time.perf_counter() - planned
        plan_s += planned - started
    if profiler is not None:
        profiler.disable()
    return plan_s, apply_s, pipeline.counters.rows_accepted


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.single_events_profile")
    parser.add_argument("--batch", type=int, default=2000, help="records per micro-batch")
    parser.add_argument("--rows", type=int, default=SCENARIO.rows)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    profiler = None if args.no_profile else cProfile.Profile()
    plan_s, apply_s, accepted = drive(args.batch, args.rows, profiler)
    print(f"{accepted} single events over {SCENARIO.models} models, batches of {args.batch}: "
          f"plan {plan_s / accepted * 1e6:.1f} us, apply {apply_s / accepted * 1e6:.1f} us a message")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
