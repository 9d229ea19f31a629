"""A worker whose broker is replaced under its data dir counts every new event (no silent skip)."""

from __future__ import annotations

import re
import signal
import urllib.request
from pathlib import Path

import pytest

from streamer.broker import free_port, start_broker
from tests.integration.conftest import Broker, Deployment, new_deployment, wait_until
from tests.integration.test_recovery import events, models

pytestmark = pytest.mark.integration


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def stop_worker(dep: Deployment) -> None:
    process, _ = dep.workers.pop()
    process.send_signal(signal.SIGTERM)
    process.wait(60)


def test_a_worker_restarted_on_a_fresh_broker_counts_every_new_event(tmp_path: Path) -> None:
    port = free_port()
    first_broker = start_broker(port, str(tmp_path / "broker-1.log"))
    dep = new_deployment(Broker(port, first_broker), tmp_path)
    names = [f"n{i}" for i in range(3)]
    try:
        url = dep.start_worker("disk")
        dep.produce("STREAMER_TOPIC_PREDICTIONS",
                    [e for i, n in enumerate(names) for e in events(n, range(0, 3), 100, seed=i)])
        wait_until(lambda: all(models(url).get(n, {}).get("events_total") == 300 for n in names), 90,
                   "the first 300 events of every model")
        stop_worker(dep)
        first_broker.terminate()
        first_broker.wait(10)

        second_broker = start_broker(port, str(tmp_path / "broker-2.log"))  # memory-only: every offset starts at 0
        dep.broker = Broker(port, second_broker)
        try:
            url = dep.start_worker("disk")  # the same data dir, with the offsets of the old log
            dep.produce("STREAMER_TOPIC_PREDICTIONS",
                        [e for i, n in enumerate(names) for e in events(n, range(3, 5), 100, seed=10 + i)])
            wait_until(lambda: all(models(url).get(n, {}).get("events_total") == 500 for n in names), 90,
                       "every new event counted on top of the old 300")
            assert metric(url, "streamer_rows_duplicate_total") == 0
            assert metric(url, "streamer_rows_accepted_total") == 600
            assert metric(url, "streamer_log_resets_total") >= 1
        finally:
            dep.stop_all()
            second_broker.terminate()
            second_broker.wait(10)
    finally:
        dep.stop_all()
        if first_broker.poll() is None:
            first_broker.terminate()


def test_sigkill_and_restart_on_the_same_disk_skips_exactly_the_redelivered_events(
        broker: Broker, tmp_path: Path) -> None:
    dep = new_deployment(broker, tmp_path)
    names = [f"k{i}" for i in range(3)]
    try:
        url = dep.start_worker("disk")
        dep.produce("STREAMER_TOPIC_PREDICTIONS",
                    [e for i, n in enumerate(names) for e in events(n, range(0, 3), 100, seed=i)])
        wait_until(lambda: all(models(url).get(n, {}).get("events_total") == 300 for n in names), 90,
                   "the first 300 events of every model")
        process, _ = dep.workers.pop()
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        url = dep.start_worker("disk")
        dep.produce("STREAMER_TOPIC_PREDICTIONS",
                    [e for i, n in enumerate(names) for e in events(n, range(3, 5), 100, seed=10 + i)])
        wait_until(lambda: all(models(url).get(n, {}).get("events_total") == 500 for n in names), 120,
                   "500 events per model, none counted twice")
        assert metric(url, "streamer_log_resets_total") == 0
    finally:
        dep.stop_all()
