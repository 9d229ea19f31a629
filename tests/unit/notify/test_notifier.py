"""The notifier's logic without Kafka: pending deliveries kept until their outcome, retries, restarts."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from streamer.errors import NotificationError
from streamer.notify.delivery import Delivery, DeliveryQueue, RetryRule
from streamer.notify.notifier import Notifier, NotifyState
from streamer.notify.parse import parse_notify
from tests.unit.notify.test_policy import alert

CONFIG, PROBLEMS = parse_notify({
    "channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/x", "max_attempts": 3,
                          "initial_backoff_seconds": 0.01, "max_backoff_seconds": 0.02}},
    "alerting": {"routes": [{"kinds": ["data_drift_detected"], "channels": ["hook"], "cooldown_seconds": 0}],
                 "retrain": {"min_occurrences": 1, "within_windows": 1, "channel": "hook"},
                 "max_alert_age_seconds": 1e12},
}, env={})


def notifier(table: dict[bytes, bytes]) -> Notifier:
    return Notifier(CONFIG, 60.0, "alerts", load=table.get, clock=lambda: 1000.0)


def apply(n: Notifier, table: dict[bytes, bytes], topic: str, doc: dict[str, Any]) -> Any:
    effects = n.handle(topic, orjson.dumps(doc))
    if effects.write:
        table[effects.write[0]] = effects.write[1]
    return effects


def test_a_delivery_stays_pending_until_its_outcome_and_survives_a_restart():
    assert PROBLEMS == []
    table: dict[bytes, bytes] = {}
    first = notifier(table)
    effects = apply(first, table, "alerts", alert("data_drift_detected", 0))
    assert [d.channel for d in effects.deliveries] == ["hook"]
    assert len(effects.publish) == 1 and effects.publish[0]["kind"] == "retrain_requested"
    # A restart: a new notifier over the same table finds the delivery still pending.
    second = notifier(table)
    pending = second.pending_in(lambda: table.items(), lambda model: True)
    assert [d.id for d in pending] == [effects.deliveries[0].id]
    # The redelivered alert decides nothing new.
    assert apply(second, table, "alerts", alert("data_drift_detected", 0)).deliveries == []
    outcome = {"alert_id": pending[0].alert["id"], "model": "fraud", "channel": "hook", "status": "delivered"}
    assert apply(second, table, "notifications", outcome).finished == [pending[0].id]
    assert NotifyState.from_bytes(table[b"fraud"]).pending == {}
    assert notifier(table).pending_in(lambda: table.items(), lambda model: True) == []


def test_the_retrain_request_comes_back_and_goes_to_its_channel():
    table: dict[bytes, bytes] = {}
    n = notifier(table)
    request = apply(n, table, "alerts", alert("data_drift_detected", 0)).publish[0]
    assert [d.channel for d in apply(n, table, "alerts", request).deliveries] == ["hook"]


def test_old_alerts_are_recorded_but_not_notified():
    table: dict[bytes, bytes] = {}
    n = Notifier(CONFIG, 60.0, "alerts", load=table.get, clock=lambda: 1e13)
    effects = apply(n, table, "alerts", alert("data_drift_detected", 0))
    assert effects.deliveries == [] and effects.publish == []


def run_queue(fail_times: int, max_attempts: int = 3) -> tuple[list[dict[str, Any]], int]:
    calls = [0]
    reports: list[dict[str, Any]] = []

    async def send(channel: str, doc: dict[str, Any]) -> str:
        calls[0] += 1
        if calls[0] <= fail_times:
            raise NotificationError("HTTP 503: try later")
        return "HTTP 200"

    async def report(record: dict[str, Any]) -> None:
        reports.append(record)

    async def go() -> None:
        loop = asyncio.get_running_loop()
        queue = DeliveryQueue(send, report, lambda key: RetryRule(1.0, max_attempts, 0.01, 0.02, "webhook"), loop.time)
        runner = asyncio.create_task(queue.run())
        queue.submit(Delivery(alert("data_drift_detected", 0), "hook"))
        assert not queue.submit(Delivery(alert("data_drift_detected", 0), "hook"))  # already queued
        while not reports or reports[-1]["status"] == "retrying":
            await asyncio.sleep(0.01)
        runner.cancel()
        await queue.stop()

    asyncio.run(go())
    return reports, calls[0]


def test_a_receiver_failing_twice_then_succeeding_gets_it():
    reports, calls = run_queue(fail_times=2)
    assert calls == 3
    assert [r["status"] for r in reports] == ["retrying", "retrying", "delivered"]
    assert reports[0]["error"] == "HTTP 503: try later" and reports[0]["next_retry_at"]


def test_a_receiver_failing_every_time_is_given_up_after_max_attempts():
    reports, calls = run_queue(fail_times=99, max_attempts=3)
    assert calls == 3 and [r["status"] for r in reports] == ["retrying", "retrying", "failed"]
