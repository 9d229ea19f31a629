"""Guarantees (CONTRACT 7): state survives SIGKILL through the changelog; replicas share partitions."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.integration.conftest import Broker, get_json, new_deployment, wait_until

pytestmark = pytest.mark.integration

T0 = 1735689600.0


def events(model: str, windows: range, per_window: int, seed: int, shift_from: int = 99) -> list[tuple[bytes, bytes]]:
    rng = np.random.default_rng(seed)
    out = []
    for w in windows:
        for i in range(per_window):
            x = rng.normal(2.0 if w >= shift_from else 0.0, 1.0)
            body = {"model": model, "timestamp": T0 + w * 10 + 10 * i / per_window, "features": {"x": x}}
            out.append((model.encode(), json.dumps(body).encode()))
    return out


def models(url: str) -> dict[str, dict]:
    status, body = get_json(f"{url}/api/v1/models")
    return {m["model"]: m for m in body["models"]} if status == 200 else {}


def test_sigkill_and_restart_on_a_fresh_disk_loses_and_doubles_nothing(broker: Broker, tmp_path: Path) -> None:
    dep = new_deployment(broker, tmp_path)
    try:
        url = dep.start_worker("disk-a")
        names = [f"m{i}" for i in range(4)]
        first = [e for i, n in enumerate(names) for e in events(n, range(0, 3), 200, seed=i, shift_from=2)]
        dep.produce("STREAMER_TOPIC_PREDICTIONS", first)
        wait_until(lambda: all(models(url).get(n, {}).get("events_total") == 600 for n in names), 60,
                   "the first 600 events of every model")
        alerts_before = dep.read_topic("STREAMER_TOPIC_ALERTS")
        dep.workers[0][0].send_signal(signal.SIGKILL)
        dep.workers[0][0].wait(10)
        url = dep.start_worker("disk-b")  # an empty data dir: state must come back from the changelog
        second = [e for i, n in enumerate(names) for e in events(n, range(3, 6), 200, seed=100 + i, shift_from=2)]
        dep.produce("STREAMER_TOPIC_PREDICTIONS", second)

        def closed_everywhere() -> bool:
            return all(len(get_json(f"{url}/api/v1/models/{n}/windows?limit=50")[1].get("windows", [])) == 6
                       for n in names)
        wait_until(closed_everywhere, 90, "six closed windows for every model")
        for name in names:
            windows = get_json(f"{url}/api/v1/models/{name}/windows?limit=50")[1]["windows"]
            assert sum(w["events"] for w in windows) == 1200, name
            assert models(url)[name]["events_total"] == 1200
        alerts = dep.read_topic("STREAMER_TOPIC_ALERTS")
        # Repeats after the crash carry the id of the first; every incident is there.
        incidents = {(a["model"], a["kind"], a["window_start"]): a["id"] for a in alerts}
        assert len({a["id"] for a in alerts}) == len(incidents)
        assert {a["id"] for a in alerts_before} <= set(incidents.values())
        assert all((n, "data_drift_detected", f"2025-01-01T00:00:{10 * w:02d}.000Z") in incidents
                   for n in names for w in range(2, 6))
    finally:
        dep.stop_all()


def test_replicas_come_and_go_under_traffic_and_every_window_counts_what_was_sent(
        broker: Broker, tmp_path: Path) -> None:
    """Three replicas share 4 partitions; one is SIGKILLed and restarted, a fourth joins and leaves (SIGTERM)."""
    dep = new_deployment(broker, tmp_path, STREAMER_SESSION_TIMEOUT_SECONDS="10", STREAMER_HEARTBEAT_INTERVAL_SECONDS="3")
    names = [f"r{i}" for i in range(8)]
    windows, per_window = 16, 50
    try:
        urls = dict(zip("abc", dep.start_workers("disk-a", "disk-b", "disk-c"), strict=True))  # one join for three

        def traffic() -> None:  # one window of every model every 4 s: about a minute of traffic
            for w in range(windows):
                dep.produce("STREAMER_TOPIC_PREDICTIONS",
                            [e for i, n in enumerate(names) for e in events(n, range(w, w + 1), per_window, seed=w * 10 + i)])
                time.sleep(4.0)

        producer = threading.Thread(target=traffic)
        producer.start()
        time.sleep(6.0)
        killed = dep.workers[1][0]
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        urls["b"] = dep.start_worker("disk-b")
        urls["d"] = dep.start_worker("disk-d")
        leaving = dep.workers[-1][0]
        leaving.send_signal(signal.SIGTERM)
        leaving.wait(60)
        del urls["d"]
        producer.join()

        expected = windows * per_window
        for replica, url in urls.items():  # any replica answers for every model
            try:
                wait_until(lambda u=url: all(models(u).get(n, {}).get("events_total") == expected for n in names),
                           120, f"every model's {expected} events seen from replica {replica}")
            except AssertionError:
                print({r: {n: m.get("events_total") for n, m in models(u).items()} for r, u in urls.items()})
                raise
        for name in names:
            closed = wait_until(
                lambda n=name: (w := get_json(f"{urls['a']}/api/v1/models/{n}/windows?limit=100")[1].get("windows"))
                and len(w) == windows and w, 90, f"{windows} closed windows of {name}")
            assert sum(w["events"] for w in closed) == expected, name
        # A window published again (after the crash) carries the same result.
        results: dict[tuple[str, str], set[tuple[int, str]]] = {}
        for summary in dep.read_topic(f"{dep.env['STREAMER_APP_ID']}-windows"):
            results.setdefault((summary["model"], summary["window_start"]), set()).add(
                (summary["events"], summary["status"]))
        assert len(results) == len(names) * windows
        assert all(len(found) == 1 for found in results.values()), {k: v for k, v in results.items() if len(v) > 1}
    finally:
        dep.stop_all()
