"""Windows are not closed by the idle rule while a recovering worker reads its backlog (no rows turn late)."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.integration.conftest import Broker, get_json, new_deployment, wait_until

pytestmark = pytest.mark.integration

T0 = 1735689600.0
PER_WINDOW = 100


def events(model: str, start: float, stop: float) -> list[tuple[bytes, bytes]]:
    """PER_WINDOW events per 10 s window of event time, from window ``start`` up to ``stop`` (fractions allowed)."""
    first, last = round(start * PER_WINDOW), round(stop * PER_WINDOW)
    return [(model.encode(), json.dumps({"model": model, "timestamp": T0 + 10 * i / PER_WINDOW,
                                         "features": {"x": float(i % 7)}}).encode()) for i in range(first, last)]


def test_a_worker_restarted_after_the_idle_timeout_reads_its_backlog_before_closing_idle_windows(
        broker: Broker, tmp_path: Path) -> None:
    """Killed with window 1 open; while it is down, the rest of window 1 and windows 2-4 are sent; it comes
    back on the same disk later than STREAMER_IDLE_CLOSE_SECONDS, so every model's last event is 'old'."""
    dep = new_deployment(broker, tmp_path, STREAMER_SESSION_TIMEOUT_SECONDS="10")
    names = [f"c{i}" for i in range(8)]
    try:
        url = dep.start_worker("disk")
        dep.produce("STREAMER_TOPIC_PREDICTIONS", [e for n in names for e in events(n, 0, 1.5)])
        wait_until(lambda: all(m["events_total"] == 150 for m in get_json(f"{url}/api/v1/models")[1]["models"])
                   and len(get_json(f"{url}/api/v1/models")[1]["models"]) == len(names), 60, "1.5 windows counted")
        dep.workers[0][0].send_signal(signal.SIGKILL)
        dep.workers[0][0].wait(10)
        dep.produce("STREAMER_TOPIC_PREDICTIONS", [e for n in names for e in events(n, 1.5, 5)])
        time.sleep(5)  # longer than the idle timeout (4 s): the state's last events are older than that
        url = dep.start_worker("disk")

        def windows(name: str) -> list[dict]:
            return get_json(f"{url}/api/v1/models/{name}/windows?limit=50")[1].get("windows", [])
        wait_until(lambda: all(len(windows(n)) == 5 for n in names), 90, "five closed windows for every model")
        for name in names:
            assert sorted(w["events"] for w in windows(name)) == [PER_WINDOW] * 5, name

        def counts() -> dict[str, tuple[int, int]]:
            return {m["model"]: (m["events_total"], m["late_events"]) for m in get_json(f"{url}/api/v1/models")[1]["models"]}
        try:  # the status view follows the status topic: a moment behind the windows
            wait_until(lambda: counts() == {n: (5 * PER_WINDOW, 0) for n in names}, 30, "every event counted, none late")
        except AssertionError:
            print(counts())
            raise
    finally:
        dep.stop_all()


def test_partitions_moving_between_replicas_under_steady_traffic_lose_no_window(broker: Broker, tmp_path: Path) -> None:
    """A window of every model every 2 s of wall time; three replicas share 4 partitions, one is SIGKILLed and
    restarted: the partitions' new owners find models last seen elsewhere, longer ago than the idle timeout."""
    dep = new_deployment(broker, tmp_path)
    names = [f"s{i}" for i in range(8)]
    windows = 12
    try:
        urls = dep.start_workers("disk-a", "disk-b", "disk-c")

        def traffic() -> None:
            for w in range(windows):
                dep.produce("STREAMER_TOPIC_PREDICTIONS", [e for n in names for e in events(n, w, w + 1)])
                time.sleep(2.0)

        producer = threading.Thread(target=traffic)
        producer.start()
        time.sleep(5.0)
        dep.workers[1][0].send_signal(signal.SIGKILL)
        dep.workers[1][0].wait(10)
        urls[1] = dep.start_worker("disk-b")
        producer.join()

        def closed(name: str) -> list[dict]:
            return get_json(f"{urls[0]}/api/v1/models/{name}/windows?limit=100")[1].get("windows", [])
        try:
            wait_until(lambda: all(len(closed(n)) == windows for n in names), 120, f"{windows} closed windows everywhere")
        except AssertionError:
            print({n: [(w["window_start"], w["events"]) for w in closed(n)] for n in names})
            print([{m["model"]: (m["events_total"], m["late_events"], len(m.get("open_windows") or []))
                    for m in get_json(f"{url}/api/v1/models")[1]["models"]} for url in urls])
            raise
        def counts(url: str) -> dict[str, tuple[int, int]]:
            listed = {m["model"]: m for m in get_json(f"{url}/api/v1/models")[1]["models"]}
            return {n: (listed[n]["events_total"], listed[n]["late_events"]) for n in names if n in listed}
        expected = {n: (windows * PER_WINDOW, 0) for n in names}
        for url in urls:  # each replica's status view follows the status topic: a moment behind
            try:
                wait_until(lambda u=url: counts(u) == expected, 30, f"every model's events, none late, at {url}")
            except AssertionError:
                print(counts(url))
                raise
        assert {n: sorted(w["events"] for w in closed(n)) for n in names} == \
            {n: [PER_WINDOW] * windows for n in names}
    finally:
        dep.stop_all()
