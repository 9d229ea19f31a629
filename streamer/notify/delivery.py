"""The background delivery queue: attempts, retries with exponential backoff and jitter, outcomes.

The notifier agent only *submits* deliveries; this queue runs in its own task, so a receiver that
hangs or is down for minutes costs one waiting coroutine per attempt (bounded by the channel's
timeout and a per-channel concurrency limit) and never holds up stream processing.

Every outcome (``delivered``, ``retrying`` with its next attempt, ``failed`` after the last attempt)
is reported as a record; the notifier reads them back to clear its table of pending deliveries.

>>> backoff_seconds(1, 1.0, 300.0, uniform=lambda a, b: b), backoff_seconds(4, 1.0, 300.0, uniform=lambda a, b: a)
(1.0, 4.0)
>>> backoff_seconds(20, 1.0, 300.0, uniform=lambda a, b: b)
300.0
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streamer.errors import NotificationError
from streamer.events.timestamps import format_timestamp

log = logging.getLogger(__name__)
# Attempts in flight per channel: a hanging receiver ties up at most this many coroutines.
CONCURRENCY_PER_CHANNEL = 4


def backoff_seconds(attempts: int, initial_s: float, max_s: float,
                    uniform: Callable[[float, float], float] = random.uniform) -> float:
    """Delay after the ``attempts``-th failure: doubling from ``initial_s``, capped, with equal jitter
    (half fixed, half random) so that many deliveries failing together do not retry together."""
    ceiling = min(max_s, initial_s * 2 ** min(attempts - 1, 30))
    return ceiling / 2 + uniform(0.0, ceiling / 2)


@dataclass
class Delivery:
    """One alert to one channel (``channel`` is the channel's key, see NotifyConfig.channel_key)."""

    alert: dict[str, Any]
    channel: str
    attempts: int = 0
    since_s: float = 0.0
    next_at_s: float = 0.0

    @property
    def id(self) -> str:
        return delivery_id(self.alert["id"], self.channel)

    @property
    def model(self) -> str:
        return str(self.alert["model"])

    def to_dict(self) -> dict[str, Any]:
        return {"alert": self.alert, "channel": self.channel, "attempts": self.attempts, "since_s": self.since_s}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Delivery:
        return cls(dict(data["alert"]), str(data["channel"]), int(data["attempts"]), float(data["since_s"]))


def delivery_id(alert_id: str, channel: str) -> str:
    return f"{alert_id}\x1f{channel}"


@dataclass
class RetryRule:
    timeout_seconds: float
    max_attempts: int
    initial_backoff_seconds: float
    max_backoff_seconds: float
    type: str


@dataclass
class DeliveryCounters:
    delivered: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)  # gave up after max_attempts
    attempts_failed: Counter[str] = field(default_factory=Counter)


class DeliveryQueue:
    """Deliveries due at a time, attempted in the background; outcomes go to ``report``."""

    def __init__(self, send: Callable[[str, dict[str, Any]], Awaitable[str]],
                 report: Callable[[dict[str, Any]], Awaitable[None]], rule: Callable[[str], RetryRule],
                 clock: Callable[[], float]) -> None:
        self.send = send
        self.report = report
        self.rule = rule
        self.clock = clock
        self.counters = DeliveryCounters()
        self.queued: dict[str, Delivery] = {}  # by delivery id: waiting or in flight
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._wake = asyncio.Event()
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, delivery: Delivery) -> bool:
        """Queue ``delivery`` unless it is already queued; it is due at once."""
        if delivery.id in self.queued:
            return False
        self.queued[delivery.id] = delivery
        self._push(delivery, self.clock())
        return True

    def cancel(self, delivery_id: str) -> None:
        """Forget a queued delivery already reported done (by an earlier run, before a restart)."""
        self.queued.pop(delivery_id, None)

    def drop(self, keep: Callable[[Delivery], bool]) -> None:
        """Forget queued deliveries ``keep`` rejects (their partition went to another replica)."""
        for key, delivery in list(self.queued.items()):
            if not keep(delivery):
                del self.queued[key]

    def _push(self, delivery: Delivery, at_s: float) -> None:
        delivery.next_at_s = at_s
        self._seq += 1
        heapq.heappush(self._heap, (at_s, self._seq, delivery.id))
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            now = self.clock()
            while self._heap and self._heap[0][0] <= now:
                _, _, key = heapq.heappop(self._heap)
                delivery = self.queued.get(key)
                if delivery is not None:
                    task = asyncio.create_task(self._attempt(delivery))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            wait_s = self._heap[0][0] - now if self._heap else None
            try:
                await asyncio.wait_for(self._wake.wait(), wait_s)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _attempt(self, delivery: Delivery) -> None:
        rule = self.rule(delivery.channel)
        limit = self._limits.setdefault(delivery.channel, asyncio.Semaphore(CONCURRENCY_PER_CHANNEL))
        async with limit:
            started = self.clock()
            try:
                detail = await self.send(delivery.channel, delivery.alert)
                error = None
            except NotificationError as exc:
                detail, error = None, str(exc)
            except Exception as exc:  # a bug in a channel must not stop the queue; never log the alert's secrets
                log.exception("delivery to %s failed unexpectedly", delivery.channel)
                detail, error = None, f"internal error: {type(exc).__name__}"
        delivery.attempts += 1
        now = self.clock()
        record = {"alert_id": delivery.alert["id"], "model": delivery.model, "kind": delivery.alert.get("kind"),
                  "channel": delivery.channel, "channel_type": rule.type, "attempts": delivery.attempts,
                  "at": format_timestamp(now), "at_s": now, "since_s": delivery.since_s,
                  "duration_ms": round((now - started) * 1000, 1), "detail": detail, "error": error,
                  "window_end": delivery.alert.get("window_end"), "next_retry_at": None}
        if error is None:
            record["status"] = "delivered"
            self.counters.delivered[delivery.channel] += 1
            self.queued.pop(delivery.id, None)
        else:
            self.counters.attempts_failed[delivery.channel] += 1
            if delivery.attempts >= rule.max_attempts:
                record["status"] = "failed"
                self.counters.failed[delivery.channel] += 1
                self.queued.pop(delivery.id, None)
                log.warning("giving up on %s to %s after %d attempts: %s", delivery.alert["id"], delivery.channel,
                            delivery.attempts, error)
            else:
                delay = backoff_seconds(delivery.attempts, rule.initial_backoff_seconds, rule.max_backoff_seconds)
                record["status"] = "retrying"
                record["next_retry_at"] = format_timestamp(now + delay)
                if delivery.id in self.queued:  # not dropped by a rebalance meanwhile
                    self._push(delivery, now + delay)
        try:
            await self.report(record)
        except Exception:  # the outcome is lost: the delivery stays pending and is repeated after a restart
            log.exception("cannot report the delivery outcome of %s to %s", delivery.alert["id"], delivery.channel)
