"""A streamer worker that SIGKILLs itself between a micro-batch's state write and its offset commit.

``python worker_killed_before_commit.py <min events> <report.json> worker --web-port ...``

It wraps :func:`streamer.kafka.bulk_stream.drain`. The agent asks for its next batch only after the
pipeline applied the last one and wrote it (table entries, messages sent); that is where the wrapper
stands, before the batch is acked, so before Faust can commit its offsets. Once the worker has applied
at least ``min events`` predictions, the wrapper flushes the producer (the changelog now holds the
batch's state), writes the offsets of that last batch to ``report.json`` and kills its own process.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

from streamer.cli.main import main
from streamer.kafka import bulk_stream

drain = bulk_stream.drain


async def drain_then_die(stream: Any, max_events: int, within_seconds: float) -> AsyncIterator[list[Any]]:
    min_events, report = int(os.environ["KILL_AFTER_EVENTS"]), os.environ["KILL_REPORT"]
    topic, applied = os.environ["STREAMER_TOPIC_PREDICTIONS"], 0
    async for batch in drain(stream, max_events, within_seconds):
        yield batch
        # Back here, the batch is applied and written, and not acked yet.
        offsets = [(e.message.partition, e.message.offset) for e in batch if e.message.topic == topic]
        applied += len(offsets)
        if applied >= min_events and offsets:
            await stream.app.producer.flush()
            with open(report, "w") as file:
                json.dump({"applied": applied, "last_batch": offsets}, file)
            os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":  # pytest's doctest collection imports this file: only a run patches and starts
    os.environ["KILL_AFTER_EVENTS"], os.environ["KILL_REPORT"] = sys.argv[1], sys.argv[2]
    del sys.argv[1:3]
    bulk_stream.drain = drain_then_die  # type: ignore[assignment]
    main()
