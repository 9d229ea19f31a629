"""End to end: real broker, a real worker process, data sent through Kafka, results read back
from the alerts and dead-letters topics and from the HTTP API."""

from __future__ import annotations

import csv
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from streamer.kafka.topics import partition_for_key
from tests.integration.conftest import Broker, Deployment, get_json, new_deployment, wait_until

pytestmark = pytest.mark.integration

T0 = 1735689600.0  # 2025-01-01T00:00:00Z: a replay of old data
WINDOWS = 6
PER_WINDOW = 400
FEATURES = ("a", "b", "c", "d")


def rows(rng: np.random.Generator, n: int, shift: dict[str, float] | None = None) -> list[dict[str, object]]:
    shift = shift or {}
    a = rng.normal(0, 1, n) + shift.get("a", 0.0)
    b = rng.lognormal(0, 0.5, n)
    c = rng.choice(["x", "y", "z"], n, p=[0.6, 0.3, 0.1] if "c" not in shift else [0.3, 0.3, 0.4])
    d = rng.uniform(0, 10, n)
    return [{"a": float(a[i]), "b": float(b[i]), "c": str(c[i]), "d": float(d[i]),
             "prediction": int(a[i] > 0)} for i in range(n)]


def write_csv(path: Path, table: list[dict[str, object]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)


def replay(rng: np.random.Generator, shift_from_window: int | None, shift: dict[str, float]) -> list[dict[str, object]]:
    """WINDOWS windows of PER_WINDOW rows each, event times spread over each window."""
    table = []
    for w in range(WINDOWS):
        drifted = shift_from_window is not None and w >= shift_from_window
        for i, row in enumerate(rows(rng, PER_WINDOW, shift if drifted else None)):
            table.append({"ts": T0 + w * 10 + 10 * i / PER_WINDOW, **row})
    return table


@pytest.fixture(scope="module")
def monitored(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, str]]:
    tmp = tmp_path_factory.mktemp("monitored")
    dep = new_deployment(broker, tmp)
    url = dep.start_worker()
    rng = np.random.default_rng(42)
    reference = tmp / "reference.csv"
    write_csv(reference, rows(rng, 5000))
    for model in ("steady", "shifty"):
        result = dep.cli("reference", "build", str(reference), "--model", model, "--prediction", "prediction",
                         "--out", str(tmp / f"{model}.json"), "--publish")
        assert result.returncode == 0, result.stderr
        wait_until(lambda m=model: get_json(f"{url}/api/v1/models/{m}/reference")[0] == 200, 30, "reference")
    write_csv(tmp / "steady.csv", replay(rng, None, {}))
    result = dep.cli("send", str(tmp / "steady.csv"), "--model", "steady", "--timestamp", "ts",
                     "--prediction", "prediction")
    assert result.returncode == 0, result.stderr
    shifted = replay(rng, 2, {"a": 1.0, "c": 1.0})
    messages = [(b"shifty", json.dumps({"model": "shifty", "timestamp": r.pop("ts"), "prediction": r.pop("prediction"),
                                        "features": r}).encode()) for r in shifted]
    dep.produce("STREAMER_TOPIC_PREDICTIONS", messages)
    yield dep, url
    dep.stop_all()


def windows_of(url: str, model: str) -> list[dict[str, object]]:
    status, body = get_json(f"{url}/api/v1/models/{model}/windows?limit=100")
    return body["windows"] if status == 200 else []


def all_closed(url: str, model: str) -> list[dict[str, object]]:
    found = windows_of(url, model)
    return found if len(found) == WINDOWS else []


def test_stationary_replay_gives_no_drift_alert_and_closes_windows_by_event_time(monitored: tuple[Deployment, str]) -> None:
    dep, url = monitored
    windows = wait_until(lambda: all_closed(url, "steady"), 90, "six closed windows of 'steady'")
    assert [w["window_start"] for w in reversed(windows)] == [
        f"2025-01-01T00:00:{10 * i:02d}.000Z" for i in range(WINDOWS)]
    # A replay of old data: every window but the newest closed on event time alone.
    assert {w["closed_by"] for w in windows[1:]} == {"watermark"}
    assert windows[0]["closed_by"] == "idle"
    assert all(w["status"] == "ok" for w in windows)
    alerts = [a for a in dep.read_topic("STREAMER_TOPIC_ALERTS") if a["model"] == "steady"]
    assert alerts == []


def test_shifted_inputs_raise_data_drift_naming_exactly_the_shifted_features(monitored: tuple[Deployment, str]) -> None:
    dep, url = monitored
    wait_until(lambda: all_closed(url, "shifty"), 90, "six closed windows of 'shifty'")
    alerts = [a for a in dep.read_topic("STREAMER_TOPIC_ALERTS") if a["model"] == "shifty"]
    detected = [a for a in alerts if a["kind"] == "data_drift_detected"]
    assert sorted(a["window_start"] for a in detected) == [
        f"2025-01-01T00:00:{10 * i:02d}.000Z" for i in range(2, WINDOWS)]
    for alert in detected:
        drifted = sorted(n for n, m in alert["details"]["features"].items() if m["status"] == "detected")
        assert drifted == ["a", "c"], alert["message"]
        assert alert["details"]["drifted_share"] == pytest.approx(0.5)
        assert alert["message"].startswith("2 of 4 features drifted")
    assert not [a for a in alerts if a["window_start"] < "2025-01-01T00:00:20"]
    assert len({a["id"] for a in alerts}) == len(alerts)


def scrape(url: str) -> dict[str, list[Sample]]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_metrics_show_batch_time_consumer_lag_and_alerts_by_kind(monitored: tuple[Deployment, str]) -> None:
    dep, url = monitored
    wait_until(lambda: all_closed(url, "shifty"), 90, "six closed windows of 'shifty'")
    detected = [a for a in dep.read_topic("STREAMER_TOPIC_ALERTS") if a["kind"] == "data_drift_detected"]

    def settled() -> dict[str, list[Sample]] | None:
        found = scrape(url)
        by_kind = {(s.labels["kind"], s.labels["severity"]): s.value for s in found["streamer_alerts_by_kind"]}
        sent = sum(v for (kind, _), v in by_kind.items() if kind == "data_drift_detected")
        return found if sent == len(detected) and found["streamer_consumer_lag"] else None

    found = wait_until(settled, 30, "the alerts sent to be counted by kind, and a consumer lag")
    seconds = {s.name: s.value for s in found["streamer_batch_seconds"] if not s.name.endswith("_bucket")}
    records = {s.name: s.value for s in found["streamer_batch_records"] if not s.name.endswith("_bucket")}
    assert seconds["streamer_batch_seconds_count"] > 0 and seconds["streamer_batch_seconds_sum"] > 0
    # Kafka records: prediction messages (the CLI packs many rows in one) and the idle timer's ticks.
    assert records["streamer_batch_records_sum"] >= found["streamer_messages"][0].value >= WINDOWS * PER_WINDOW
    lag = {s.labels["partition"]: s.value for s in found["streamer_consumer_lag"]}
    assert lag and all(value >= 0 for value in lag.values())
    total = found["streamer_alerts"][0].value
    assert sum(s.value for s in found["streamer_alerts_by_kind"]) == total  # every alert is counted once by kind
    print(f"batches={seconds['streamer_batch_seconds_count']:.0f} "
          f"mean_batch_ms={1000 * seconds['streamer_batch_seconds_sum'] / seconds['streamer_batch_seconds_count']:.2f} "
          f"mean_records={records['streamer_batch_records_sum'] / records['streamer_batch_records_count']:.1f} "
          f"lag={lag}")


def test_event_counts_over_windows_equal_events_sent(monitored: tuple[Deployment, str]) -> None:
    dep, url = monitored
    for model in ("steady", "shifty"):
        windows = wait_until(lambda m=model: all_closed(url, m), 90, f"closed windows of {model}")
        assert sum(w["events"] for w in windows) == WINDOWS * PER_WINDOW
        status, body = get_json(f"{url}/api/v1/models")
        listed = {m["model"]: m for m in body["models"]}
        assert listed[model]["events_total"] == WINDOWS * PER_WINDOW


def test_malformed_messages_go_to_dead_letters_and_later_events_count(monitored: tuple[Deployment, str]) -> None:
    dep, url = monitored
    bad = [b'{"model": "late-good", "features": [1, 2', b'{"features": {"x": 1}}', b"\xff\xfe not utf-8",
           b'{"model": "late-good", "features": {"x": {"nested": 1}}}', b"[1, 2, 3]",
           b'{"model": "late-good", "latency_ms": "fast", "features": {"x": 1}}']
    good = [json.dumps({"model": "late-good", "timestamp": T0 + i * 0.01, "features": {"x": i}}).encode()
            for i in range(50)]
    dep.produce("STREAMER_TOPIC_PREDICTIONS", [(b"late-good", m) for m in bad + good])
    letters = wait_until(lambda: [d for d in dep.read_topic("STREAMER_TOPIC_DEAD_LETTERS")
                                  if d["payload"] in {m.decode("utf-8", "replace") for m in bad}]
                         if len(dep.read_topic("STREAMER_TOPIC_DEAD_LETTERS")) >= len(bad) else None,
                         60, "dead letters")
    assert len(letters) == len(bad)
    for letter in letters:
        assert letter["error"] and letter["topic"] == dep.env["STREAMER_TOPIC_PREDICTIONS"]
        assert isinstance(letter["offset"], int) and "received_at" in letter
    wait_until(lambda: {m["model"]: m for m in get_json(f"{url}/api/v1/models")[1]["models"]}
               .get("late-good", {}).get("events_total") == 50, 30, "50 good events counted")


def test_quiet_model_has_its_last_window_closed_by_the_idle_timer(monitored: tuple[Deployment, str]) -> None:
    dep, url = monitored
    now = time.time()
    messages = [json.dumps({"model": "quiet", "timestamp": now, "features": {"x": float(i)}}).encode()
                for i in range(20)]
    dep.produce("STREAMER_TOPIC_PREDICTIONS", [(b"quiet", m) for m in messages])
    windows = wait_until(lambda: windows_of(url, "quiet"), 40, "the idle close of 'quiet'")
    assert windows[0]["closed_by"] == "idle" and windows[0]["events"] == 20
    # No reference registered: the first window is the baseline, and the model says so.
    assert windows[0]["status"] == "baseline"


def test_unkeyed_messages_are_forwarded_to_their_models_partition(monitored: tuple[Deployment, str]) -> None:
    dep, url = monitored
    wrong_key = next(k for k in (b"k%d" % i for i in range(100)) if partition_for_key(k, 4) != partition_for_key(b"rekeyed", 4))
    messages = [(wrong_key, json.dumps({"model": "rekeyed", "timestamp": T0, "features": {"x": i}}).encode())
                for i in range(30)]
    dep.produce("STREAMER_TOPIC_PREDICTIONS", messages)
    wait_until(lambda: {m["model"]: m for m in get_json(f"{url}/api/v1/models")[1]["models"]}
               .get("rekeyed", {}).get("events_total") == 30, 30, "30 re-keyed events counted")
