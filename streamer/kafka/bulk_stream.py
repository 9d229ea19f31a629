"""Drain a Faust agent's incoming events a batch at a time; ack each batch once streamer has applied it.

Faust hands an agent one event per loop turn: ``stream.take_events()`` runs every event through the
stream iterator, the stream's processors and a buffer of its own, which cost more per event than
streamer's whole pipeline. :func:`drain` reads the agent's channel queue itself (where Faust's
conductor puts each fetched event): it waits for one event, then takes every event already queued,
and polls for more until ``max_events`` are in hand or ``within_seconds`` have passed.

It keeps the guarantees of Faust's own iterator, and one stricter:

- an event is tracked as unacked (``Consumer.track_message``) before it is handed out, so a graceful
  stop waits for it;
- a batch is acked only when the caller asks for the next one, so after its state was written
  (table writes go to the changelog through the producer) and its messages sent. Faust's consumer
  commits, per partition, the highest contiguous acked offset, after flushing the producer: offsets
  are committed only after the state they produced is written;
- a batch whose processing raises is never acked (the generator is closed at its ``yield``);
- an event fetched before a rebalance (an older consumer generation), or while flow control is
  suspended, is dropped without an ack. After a rebalance Faust seeks every partition back to its
  committed offset, so the new assignment reads it again. (Faust's iterator acks such events; an
  ack for an event never applied could let the committed offset pass it.)

It reads Faust internals (the channel queue, the message's ``tracked`` flag, the generation id): it
is pinned to the faust-streaming version it was written and tested against.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import faust

#: The faust-streaming release whose internals this module reads (tests/unit/kafka/test_bulk_stream.py).
FAUST_VERSION = "0.15.3"

if faust.__version__ != FAUST_VERSION:
    raise ImportError(
        f"streamer.kafka.bulk_stream reads faust-streaming {FAUST_VERSION} internals (the agent's channel "
        f"queue and its ack bookkeeping), but faust-streaming {faust.__version__} is installed: "
        f"install faust-streaming=={FAUST_VERSION}, or check this module against the new release first")

#: How long to sleep between looks at an empty queue while a batch is still filling (seconds).
POLL_SECONDS = 0.005


async def drain(stream: Any, max_events: int, within_seconds: float) -> AsyncIterator[list[Any]]:
    """Batches of Faust events from the agent's ``stream``; each batch is acked when the next is asked for."""
    app = stream.app
    consumer = app.consumer
    queue = stream.channel.queue
    acking_topics = app.topics._acking_topics  # noqa: SLF001  (what Faust's iterator checks)
    await stream.maybe_start()
    while not stream.should_stop:
        batch: list[Any] = []
        first = await queue.get()
        deadline = time.monotonic() + within_seconds
        _take(first, batch, app, consumer, acking_topics)
        while len(batch) < max_events:
            if queue.empty():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                await asyncio.sleep(min(remaining, POLL_SECONDS))
                continue
            _take(queue.get_nowait(), batch, app, consumer, acking_topics)
        if not batch:
            continue
        yield batch
        # Reached only when the caller asks for the next batch: this one is applied.
        for event in batch:
            event.ack()


def _take(item: Any, batch: list[Any], app: Any, consumer: Any, acking_topics: Any) -> None:
    """Add ``item`` (an event from the channel queue) to ``batch``, tracked for its ack; drop a stale one."""
    message = getattr(item, "message", None)
    if message is None:
        return  # not a Kafka event (the source is a topic: everything queued is one)
    if not app.flow_control.is_active() or message.generation_id != app.consumer_generation_id:
        return  # fetched before the rebalance: read again from the committed offset
    if message.topic in acking_topics and not message.tracked:
        message.tracked = True
        consumer.track_message(message)
    batch.append(item)
