"""Prediction and label loggers for model servers; see :mod:`streamer.client` for examples."""

from __future__ import annotations

import asyncio
import atexit
import threading
import time
from collections.abc import Mapping
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from streamer.client.batcher import Key, RowBatcher
from streamer.errors import StreamerError

Scalar = float | int | str | bool | None


class BufferFullError(StreamerError):
    """The logger's buffer stayed full for longer than ``block_timeout_s``: Kafka is not keeping up."""


def _servers(brokers: str | list[str]) -> list[str]:
    urls = brokers.split(",") if isinstance(brokers, str) else brokers
    return [url.strip().split("://", 1)[-1] for url in urls if url.strip()]


class _Logger:
    """Buffering and sending shared by the prediction and label loggers (asyncio)."""

    default_topic = ""

    def __init__(self, brokers: str | list[str] = "127.0.0.1:9092", topic: str | None = None, *,
                 max_rows: int = 500, max_delay_s: float = 0.2, max_buffered_rows: int = 100_000,
                 producer_options: Mapping[str, Any] | None = None) -> None:
        self.brokers = _servers(brokers)
        self.topic = topic or self.default_topic
        self.batcher = RowBatcher(max_rows, max_delay_s, max_buffered_rows)
        self.producer_options = dict(producer_options or {})
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        options = {"linger_ms": 5, "max_request_size": 16 * 1024 * 1024, **self.producer_options}
        self._producer = AIOKafkaProducer(bootstrap_servers=self.brokers, **options)
        await self._producer.start()
        self._task = asyncio.create_task(self._flush_loop())

    async def __aenter__(self) -> _Logger:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _messages(self, key: Key, rows: list[Any]) -> list[bytes]:
        raise NotImplementedError

    async def _send(self, everything: bool = False) -> None:
        assert self._producer is not None, "call start() first"
        for key, rows in self.batcher.take_ready(time.time(), everything):
            for message in self._messages(key, rows):
                await self._producer.send(self.topic, message, key=key[0].encode())

    async def _flush_loop(self) -> None:
        assert self._wake is not None
        while not self._closing:
            try:
                await asyncio.wait_for(self._wake.wait(), self.batcher.max_delay_s / 2)
            except TimeoutError:
                pass
            self._wake.clear()
            await self._send()

    def _nudge(self) -> None:
        """Wake the flush loop (from any thread) when a batch is full or the buffer is."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _add(self, key: Key, row: dict[str, Any]) -> None:
        self.batcher.add(key, row, time.time())
        if self.batcher.buffered >= self.batcher.max_rows:
            self._nudge()

    async def _wait_for_room(self) -> None:
        while self.batcher.full:
            self._nudge()
            await asyncio.sleep(0.001)

    async def flush(self) -> None:
        """Send every buffered row and wait until Kafka has them."""
        await self._send(everything=True)
        assert self._producer is not None
        await self._producer.flush()

    async def close(self) -> None:
        if self._task is not None:
            # Let the loop finish the batch it is sending: cancelling it mid-send would lose those rows.
            self._closing = True
            self._nudge()
            await self._task
            self._task = None
        if self._producer is not None:
            await self.flush()
            await self._producer.stop()
            self._producer = None


class PredictionLogger(_Logger):
    """Batches prediction rows per model and version into CONTRACT 4.1 batch-form messages."""

    default_topic = "predictions"

    def _messages(self, key: Key, rows: list[Any]) -> list[bytes]:
        return [orjson.dumps({"model": key[0], "version": key[1], "rows": rows})]

    async def log(self, model: str, features: Mapping[str, Scalar] | None = None, *, prediction: Scalar = None,
                  proba: float | Mapping[str, float] | None = None, latency_ms: float | None = None,
                  error: str | None = None, request_id: str | None = None, timestamp: float | None = None,
                  version: str = "default") -> None:
        """Buffer one prediction; waits only while the buffer is full."""
        if self.batcher.full:
            await self._wait_for_room()
        self._add((model, version), prediction_row(features, prediction, proba, latency_ms, error, request_id,
                                                   timestamp))


def prediction_row(features: Mapping[str, Scalar] | None, prediction: Scalar, proba: Any, latency_ms: float | None,
                   error: str | None, request_id: str | None, timestamp: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {"timestamp": time.time() if timestamp is None else timestamp}
    if features is not None:
        row["features"] = features
    for name, value in (("prediction", prediction), ("prediction_proba", proba), ("latency_ms", latency_ms),
                        ("error", error), ("request_id", request_id)):
        if value is not None:
            row[name] = value
    return row


def label_row(request_id: str, label: float | int | str | bool, timestamp: float | None) -> dict[str, Any]:
    return {"request_id": request_id, "label": label, "timestamp": time.time() if timestamp is None else timestamp}


class LabelLogger(_Logger):
    """Buffers label events (CONTRACT 4.2); the producer batches them on the wire."""

    default_topic = "labels"

    def _messages(self, key: Key, rows: list[Any]) -> list[bytes]:
        return [orjson.dumps({"model": key[0], "version": key[1], **row}) for row in rows]

    async def log(self, model: str, request_id: str, label: float | int | str | bool, *,
                  timestamp: float | None = None, version: str = "default") -> None:
        if self.batcher.full:
            await self._wait_for_room()
        self._add((model, version), label_row(request_id, label, timestamp))


class _SyncLogger:
    """Runs an asyncio logger on a background thread; ``log`` is thread-safe and blocks only when full."""

    def __init__(self, logger: _Logger, block_timeout_s: float) -> None:
        self._logger = logger
        self.block_timeout_s = block_timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="streamer-logger", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(logger.start(), self._loop).result(timeout=30)
        atexit.register(self.close)
        self._closed = False

    def __enter__(self) -> _SyncLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _room(self) -> None:
        batcher = self._logger.batcher
        with batcher.lock:
            if batcher.full:
                self._logger._nudge()
                if not batcher.lock.wait_for(lambda: not batcher.full, timeout=self.block_timeout_s):
                    raise BufferFullError(f"{batcher.buffered} rows waiting for Kafka after {self.block_timeout_s} s")

    def flush(self, timeout_s: float = 60.0) -> None:
        asyncio.run_coroutine_threadsafe(self._logger.flush(), self._loop).result(timeout=timeout_s)

    def close(self, timeout_s: float = 60.0) -> None:
        """Send what is buffered and stop; called at interpreter exit too."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        try:
            asyncio.run_coroutine_threadsafe(self._logger.close(), self._loop).result(timeout=timeout_s)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()


class SyncPredictionLogger(_SyncLogger):
    def __init__(self, brokers: str | list[str] = "127.0.0.1:9092", topic: str = "predictions", *,
                 max_rows: int = 500, max_delay_s: float = 0.2, max_buffered_rows: int = 100_000,
                 block_timeout_s: float = 30.0, producer_options: Mapping[str, Any] | None = None) -> None:
        super().__init__(PredictionLogger(brokers, topic, max_rows=max_rows, max_delay_s=max_delay_s,
                                          max_buffered_rows=max_buffered_rows, producer_options=producer_options),
                         block_timeout_s)

    def log(self, model: str, features: Mapping[str, Scalar] | None = None, *, prediction: Scalar = None,
            proba: float | Mapping[str, float] | None = None, latency_ms: float | None = None,
            error: str | None = None, request_id: str | None = None, timestamp: float | None = None,
            version: str = "default") -> None:
        self._room()
        self._logger._add((model, version), prediction_row(features, prediction, proba, latency_ms, error,
                                                           request_id, timestamp))


class SyncLabelLogger(_SyncLogger):
    def __init__(self, brokers: str | list[str] = "127.0.0.1:9092", topic: str = "labels", *,
                 max_rows: int = 500, max_delay_s: float = 0.2, max_buffered_rows: int = 100_000,
                 block_timeout_s: float = 30.0, producer_options: Mapping[str, Any] | None = None) -> None:
        super().__init__(LabelLogger(brokers, topic, max_rows=max_rows, max_delay_s=max_delay_s,
                                     max_buffered_rows=max_buffered_rows, producer_options=producer_options),
                         block_timeout_s)

    def log(self, model: str, request_id: str, label: float | int | str | bool, *,
            timestamp: float | None = None, version: str = "default") -> None:
        self._room()
        self._logger._add((model, version), label_row(request_id, label, timestamp))
