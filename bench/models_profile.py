"""Profile the pipeline alone (no broker, no Faust) on the many-models replay of ``bench/models.py``.

``python -m bench.models_profile --models 1000`` runs the replay through :class:`Pipeline` with an
in-memory table, in micro-batches as the worker takes them, and prints cProfile's top entries and
the rows/s of the pipeline's own work. The worker's figures are in ``python -m bench --only models``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from typing import Any

from bench.models import Replay, closing_messages, replay_messages
from streamer.batch import Inbound
from streamer.config import Settings
from streamer.kafka.topics import partition_for_key
from streamer.pipeline import Pipeline
from streamer.reference.registry import ReferenceRegistry

PARTITIONS = 8


def drive(replay: Replay, batch_size: int = 2000, burst: cProfile.Profile | None = None,
          time_burst: bool = False) -> tuple[float, Pipeline]:
    """Seconds the pipeline spent on the replay, or with ``burst`` on the closing rows after it (profiled)."""
    settings = Settings(partitions=PARTITIONS, idle_close_seconds=600.0)
    store: dict[tuple[str, bytes], bytes] = {}
    pipeline = Pipeline(settings, ReferenceRegistry(), load=lambda table, key: store.get((table, key)), clock=time.time)
    offsets = [0] * PARTITIONS

    def records(messages: list[tuple[bytes, bytes]]) -> list[Inbound]:
        out = []
        for key, value in messages:
            partition = partition_for_key(key, PARTITIONS)
            out.append(Inbound(settings.topic_predictions, partition, offsets[partition], key, value, time.time()))
            offsets[partition] += 1
        return out

    def run(batch: list[Inbound]) -> float:
        started = time.process_time()
        for i in range(0, len(batch), batch_size):
            effects = pipeline.process(batch[i : i + batch_size])
            for write in effects.writes:
                store[(write.table, write.key)] = write.value
        return time.process_time() - started

    elapsed = run(records(list(replay_messages(replay))))
    if burst is not None or time_burst:
        closing = records(closing_messages(replay))
        if burst is not None:
            burst.enable()
        elapsed = run(closing)
        if burst is not None:
            burst.disable()
    return elapsed, pipeline


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.models_profile")
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--batch", type=int, default=2000, help="records per micro-batch")
    parser.add_argument("--burst", action="store_true", help="time (and profile) only the closes after the replay")
    args = parser.parse_args()
    replay = Replay(models=args.models)
    profiler = cProfile.Profile()
    if args.burst:
        elapsed, pipeline = drive(replay, args.batch, burst=None if args.no_profile else profiler,
                                 time_burst=True)
    else:
        if not args.no_profile:
            profiler.enable()
        elapsed, pipeline = drive(replay, args.batch)
        profiler.disable()
    counters: Any = pipeline.counters
    if args.burst:
        print(f"{args.models} models closing together: {elapsed:.2f} s for the closes of "
              f"{args.models} windows; {counters.alerts} alerts in all")
    else:
        print(f"{args.models} models: {replay.rows} rows in {elapsed:.2f} s = {replay.rows / elapsed:.0f} rows/s, "
              f"{counters.windows_closed} windows closed")
    if not args.no_profile:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
