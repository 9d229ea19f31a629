"""Bulk draining of the agent's queue, against faust-streaming's own stream, messages and ack bookkeeping.

Messages are put on the agent stream's channel queue as Faust's conductor does (``ConsumerMessage``,
one reference per subscribing channel); what Faust's consumer would commit is read back with its own
``_new_offset`` (the highest contiguous acked offset of a partition).
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import faust
import pytest
from faust.events import Event
from faust.transport.consumer import ConsumerMessage
from faust.types.tuples import TP

from streamer.kafka import bulk_stream

TOPIC = "predictions"
TP0 = TP(TOPIC, 0)


def new_stream() -> Any:
    app = faust.App("bulk-stream-test", broker="kafka://127.0.0.1:9", store="memory://")
    stream = app.stream(app.topic(TOPIC, key_serializer="raw", value_serializer="raw").clone(is_iterator=False))
    app.topics._acking_topics.add(TOPIC)  # what the conductor does once the agent subscribes
    app.flow_control.resume()  # as after partitions are assigned
    return stream


def deliver(stream: Any, offsets: range, generation_id: int | None = None) -> list[Any]:
    """Queue one event per offset on the agent's channel, as Faust's conductor does."""
    app = stream.app
    events = []
    for offset in offsets:
        message = ConsumerMessage(TOPIC, 0, offset, 0.0, 0, None, b"m", b"{}", None,
                                  generation_id=app.consumer_generation_id if generation_id is None else generation_id)
        message.incref(1)
        event = Event(app, b"m", b"{}", None, message)
        stream.channel.queue.put_nowait(event)
        events.append(event)
    return events


def committable(stream: Any) -> int | None:
    """The offset Faust's consumer would commit for partition 0 now."""
    return stream.app.consumer._new_offset(TP0)  # type: ignore[no-any-return]


def test_a_batch_takes_what_is_queued_and_is_acked_only_when_the_next_is_asked_for() -> None:
    async def go() -> None:
        stream = new_stream()
        deliver(stream, range(0, 5))
        batches = bulk_stream.drain(stream, 3, 0.01)
        first = await batches.__anext__()
        assert [e.message.offset for e in first] == [0, 1, 2]
        assert all(e.message.tracked for e in first)  # a graceful stop waits for them
        assert len(stream.app.consumer.unacked) == 3
        assert committable(stream) is None  # applied or not, nothing of the batch may be committed yet
        second = await batches.__anext__()  # the caller is done with the first batch
        assert [e.message.offset for e in second] == [3, 4]  # what was queued, without waiting for more
        assert committable(stream) == 3
        deliver(stream, range(5, 6))
        await batches.__anext__()
        assert committable(stream) == 5
        await batches.aclose()
    asyncio.run(go())


def test_a_batch_waits_up_to_within_seconds_for_more_events() -> None:
    async def go() -> None:
        stream = new_stream()
        deliver(stream, range(0, 1))
        asyncio.get_running_loop().call_later(0.02, deliver, stream, range(1, 3))
        batch = await bulk_stream.drain(stream, 10, 0.5).__anext__()
        assert [e.message.offset for e in batch] == [0, 1, 2]
    asyncio.run(go())


def test_a_batch_whose_processing_raises_is_never_acked() -> None:
    async def go() -> None:
        stream = new_stream()
        deliver(stream, range(0, 4))
        with pytest.raises(RuntimeError):
            async for _batch in bulk_stream.drain(stream, 10, 0.01):
                raise RuntimeError("the pipeline failed on this batch")
        assert committable(stream) is None
        assert not stream.app.consumer._acked_index[TP0]
    asyncio.run(go())


def test_an_actor_stopped_by_faust_ends_the_batches_after_acking_the_applied_one() -> None:
    """Faust stops an agent's actor by throwing StopAsyncIteration into its channel queue (Actor.cancel)."""
    async def go() -> None:
        stream = new_stream()
        deliver(stream, range(0, 2))
        batches = []
        stream.channel._throw(StopAsyncIteration())
        async for batch in bulk_stream.drain(stream, 10, 0.01):  # no RuntimeError: the iteration just ends
            batches.append([e.message.offset for e in batch])
            stream.channel._throw(StopAsyncIteration())
        assert batches in ([], [[0, 1]])
        if batches:
            assert committable(stream) == 1  # the applied batch is acked on the way out
    asyncio.run(go())


def test_events_fetched_before_a_rebalance_are_dropped_unacked() -> None:
    async def go() -> None:
        stream = new_stream()
        stream.app.consumer_generation_id = 2
        stale = deliver(stream, range(0, 3), generation_id=1)
        deliver(stream, range(3, 5))
        batches = bulk_stream.drain(stream, 10, 0.01)
        batch = await batches.__anext__()
        assert [e.message.offset for e in batch] == [3, 4]
        with pytest.raises(asyncio.TimeoutError):  # asking for the next batch acks this one, then waits
            await asyncio.wait_for(batches.__anext__(), 0.05)
        assert not any(e.message.acked or e.message.tracked for e in stale)
        # Offsets 3 and 4 are acked, but 0..2 never were: the committed offset cannot pass them.
        assert sorted(stream.app.consumer._acked_index[TP0]) == [3, 4]
    asyncio.run(go())


def test_the_module_refuses_another_faust_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faust, "__version__", "0.16.0")
    with pytest.raises(ImportError, match=r"faust-streaming==0\.15\.3"):
        importlib.reload(bulk_stream)
    monkeypatch.undo()
    importlib.reload(bulk_stream)
    assert bulk_stream.FAUST_VERSION == faust.__version__


def test_the_worker_app_delivers_fetched_messages_in_chunks(tmp_path: Any) -> None:
    from streamer.config import Settings
    from streamer.topology import create_app

    bulk = create_app(Settings(data_dir=str(tmp_path / "a")))
    assert bulk.consumer._drain_messages.__func__ is bulk_stream._drain_messages
    faust_path = create_app(Settings(data_dir=str(tmp_path / "b"), stream_drain="take_events"))
    assert getattr(faust_path.consumer._drain_messages, "__func__", None) is not bulk_stream._drain_messages


def test_the_fetcher_delivers_each_fetched_message_once_in_order_a_chunk_per_wait_first() -> None:
    async def go() -> None:
        app = faust.App("bulk-fetch-test", broker="kafka://127.0.0.1:9", store="memory://")
        consumer = bulk_stream.deliver_in_chunks(app.consumer)
        fetcher = type("Fetcher", (), {"_stopped": asyncio.Event()})()
        delivered: list[int] = []
        waits: list[int] = []
        fetches = [list(range(0, 250)), list(range(250, 260))]

        async def getmany(timeout: float) -> Any:
            for offset in fetches.pop(0) if fetches else ():
                yield TP0, ConsumerMessage(TOPIC, 0, offset, 0.0, 0, None, b"m", b"{}", None)
            if not fetches:
                fetcher._stopped.set()

        async def callback(message: Any) -> None:
            delivered.append(message.offset)

        wait_first = consumer.wait_first

        async def counted_wait_first(*coros: Any) -> Any:
            waits.append(len(delivered))
            return await wait_first(*coros)

        consumer.getmany, consumer.callback, consumer.wait_first = getmany, callback, counted_wait_first
        await asyncio.wait_for(consumer._drain_messages(fetcher), 5)
        assert delivered == list(range(260))
        assert waits == [0, 100, 200, 250]  # chunks of 100 within a fetch, the rest of each fetch after
        assert consumer._read_offset[TP0] == 259
    asyncio.run(go())
