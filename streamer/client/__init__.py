"""Producer fast path for model servers: batch prediction rows per model into batch-form messages.

Asyncio::

    from streamer.client import PredictionLogger

    async with PredictionLogger("127.0.0.1:9092") as logger:
        await logger.log("fraud", {"amount": 12.5, "country": "DE"}, prediction=1, proba=0.87, latency_ms=12.3)

Plain (thread-safe, for scripts, Flask, Django or any thread pool)::

    from streamer.client import SyncPredictionLogger

    with SyncPredictionLogger("127.0.0.1:9092") as logger:
        logger.log("fraud", {"amount": 12.5}, prediction=1)

Both flush a model's rows when ``max_rows`` are waiting or ``max_delay_s`` has passed, keep at most
``max_buffered_rows`` rows in memory (``log`` then waits: back-pressure), and flush everything on
close. :class:`LabelLogger` and :class:`SyncLabelLogger` do the same for label events.
"""

from streamer.client.loggers import (
    BufferFullError,
    LabelLogger,
    PredictionLogger,
    SyncLabelLogger,
    SyncPredictionLogger,
)

__all__ = ["BufferFullError", "LabelLogger", "PredictionLogger", "SyncLabelLogger", "SyncPredictionLogger"]
