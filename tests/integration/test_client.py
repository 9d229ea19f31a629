"""The producer fast path against the real broker: rows arrive batched, complete, per model."""

from __future__ import annotations

import asyncio
import threading

from streamer.client import LabelLogger, PredictionLogger, SyncPredictionLogger
from streamer.client.batcher import RowBatcher
from tests.integration.conftest import Broker, Deployment, new_deployment


def _messages(dep: Deployment, topic: str) -> list[dict]:
    dep.env["STREAMER_TOPIC_CLIENT_TEST"] = topic
    return dep.read_topic("STREAMER_TOPIC_CLIENT_TEST")


def test_sync_logger_from_many_threads_delivers_every_row_in_batches(broker: Broker, tmp_path) -> None:
    dep = new_deployment(broker, tmp_path)
    topic = f"{dep.env['STREAMER_APP_ID']}-client-sync"
    with SyncPredictionLogger(f"127.0.0.1:{broker.port}", topic, max_rows=100, max_delay_s=0.05,
                              max_buffered_rows=300) as logger:
        def serve(thread: int) -> None:
            for i in range(500):
                logger.log(f"m{thread % 2}", {"x": i, "thread": str(thread)}, prediction=i % 2,
                           request_id=f"{thread}-{i}", latency_ms=1.5)
        threads = [threading.Thread(target=serve, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    messages = _messages(dep, topic)
    rows = [(m["model"], row["request_id"]) for m in messages for row in m["rows"]]
    assert len(rows) == len(set(rows)) == 2000
    assert all(len(m["rows"]) <= 100 for m in messages)
    assert len(messages) < 2000 / 10  # batched, not one message per row
    assert {m["model"] for m in messages} == {"m0", "m1"}
    assert all("timestamp" in row and row["latency_ms"] == 1.5 for m in messages for row in m["rows"])


def test_async_loggers_flush_on_close(broker: Broker, tmp_path) -> None:
    dep = new_deployment(broker, tmp_path)
    predictions = f"{dep.env['STREAMER_APP_ID']}-client-predictions"
    labels = f"{dep.env['STREAMER_APP_ID']}-client-labels"

    async def go() -> None:
        async with PredictionLogger(f"127.0.0.1:{broker.port}", predictions, max_rows=1000, max_delay_s=60) as p, \
                LabelLogger(f"127.0.0.1:{broker.port}", labels, max_delay_s=60) as lab:
            for i in range(250):
                await p.log("fraud", {"amount": float(i)}, prediction=1, proba=0.9, request_id=f"r{i}", version="3")
                await lab.log("fraud", f"r{i}", i % 2, version="3")
    asyncio.run(go())
    batches = _messages(dep, predictions)
    assert sum(len(m["rows"]) for m in batches) == 250
    assert all(m["version"] == "3" for m in batches)
    label_messages = _messages(dep, labels)
    assert sorted(m["request_id"] for m in label_messages) == sorted(f"r{i}" for i in range(250))


def test_batcher_bounds_memory() -> None:
    batcher = RowBatcher(max_rows=10, max_delay_s=1.0, max_buffered_rows=20)
    for i in range(20):
        batcher.add(("m", "1"), i, now_s=0.0)
    assert batcher.full
    ready = batcher.take_ready(now_s=0.0)
    assert [len(rows) for _, rows in ready] == [10, 10] and not batcher.full
