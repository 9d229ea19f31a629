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

Upstream of that queue, Faust's fetcher hands the conductor one message at a time, each inside
``Service.wait_first`` (four asyncio tasks created and cancelled per message, so that a rebalance can
interrupt a delivery). :func:`deliver_in_chunks` replaces the consumer's ``_drain_messages`` with the
same loop delivering up to :data:`CHUNK_MESSAGES` messages inside one ``wait_first``; a rebalance
still interrupts a delivery, and Faust then seeks back to the committed offsets.

It reads Faust internals (the channel queue, the message's ``tracked`` flag, the generation id, the
consumer's read offsets and fetch loop): it is pinned to the faust-streaming version it was written
and tested against.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import MethodType
from typing import Any

import faust
from faust.transport.consumer import CONSUMER_FETCHING

#: The faust-streaming release whose internals this module reads (tests/unit/kafka/test_bulk_stream.py).
FAUST_VERSION = "0.15.3"

if faust.__version__ != FAUST_VERSION:
    raise ImportError(
        f"streamer.kafka.bulk_stream reads faust-streaming {FAUST_VERSION} internals (the agent's channel "
        f"queue and its ack bookkeeping), but faust-streaming {faust.__version__} is installed: "
        f"install faust-streaming=={FAUST_VERSION}, or check this module against the new release first")

#: How long to sleep between looks at an empty queue while a batch is still filling (seconds).
POLL_SECONDS = 0.005
#: Messages the fetcher delivers per ``wait_first`` (Faust yields to the loop every 100 messages too).
CHUNK_MESSAGES = 100


async def drain(stream: Any, max_events: int, within_seconds: float) -> AsyncIterator[list[Any]]:
    """Batches of Faust events from the agent's ``stream``; each batch is acked when the next is asked for."""
    app = stream.app
    consumer = app.consumer
    queue = stream.channel.queue
    acking_topics = app.topics._acking_topics  # noqa: SLF001  (what Faust's iterator checks)
    await stream.maybe_start()
    try:
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
    except StopAsyncIteration:
        # Faust stops an agent's actor by throwing StopAsyncIteration into its channel queue; an async
        # generator must not let it out (CPython turns it into a RuntimeError): end, as Faust's iterator does.
        return
    finally:
        stream._channel_stop_iteration(stream.channel)  # noqa: SLF001  (what Faust's iterator does on its way out)


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


def deliver_in_chunks(consumer: Any) -> Any:
    """Make Faust's ``consumer`` deliver fetched messages a chunk per ``wait_first``; returns the consumer."""
    consumer._drain_messages = MethodType(_drain_messages, consumer)  # noqa: SLF001
    return consumer


async def _drain_messages(self: Any, fetcher: Any) -> None:
    """faust-streaming 0.15.3's ``Consumer._drain_messages``, delivering a chunk of messages per ``wait_first``."""
    callback, getmany = self.callback, self.getmany
    consumer_should_stop, fetcher_should_stop = self._stopped.is_set, fetcher._stopped.is_set
    get_read_offset, set_read_offset = self._read_offset.__getitem__, self._read_offset.__setitem__
    acks_enabled_for = self.app.topics.acks_enabled_for

    async def deliver(chunk: list[tuple[Any, Any]]) -> None:
        for tp, message in chunk:
            offset = message.offset
            r_offset = get_read_offset(tp)
            if r_offset is None or offset >= r_offset:
                if offset - (r_offset or 0) > 1 and r_offset and acks_enabled_for(message.topic):
                    await self._add_gap(tp, r_offset + 1, offset)  # offsets the log does not have
                await callback(message)
                set_read_offset(tp, offset)

    async def deliver_chunk(chunk: list[tuple[Any, Any]]) -> None:
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()
        await self.wait_first(deliver(chunk), self.suspend_flow.wait())

    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            self.diag.set_flag(CONSUMER_FETCHING)
            fetched = getmany(timeout=1.0)
            await self.sleep(0)
            if not self.should_stop:
                chunk: list[tuple[Any, Any]] = []
                async for pair in fetched:
                    chunk.append(pair)
                    if len(chunk) >= CHUNK_MESSAGES:
                        await deliver_chunk(chunk)
                        chunk = []
                if chunk:
                    await deliver_chunk(chunk)
            self.diag.unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            return
        raise
    finally:
        self.diag.unset_flag(CONSUMER_FETCHING)
