"""Operational alerts end to end: one worker, several models, each with its incident.

One deployment (one worker start-up) carries:

- ``steady``: ten steady windows: no operational alert at all;
- ``slow``: latency x10 in window 7: ``latency_high`` (p50, p95, p99), then ``resolved``;
- ``failing``: 30% failed requests in window 7: ``error_rate_high``, then ``resolved``;
- ``dropping``: 20 events instead of 200 in window 7: ``throughput_anomaly`` (``drop``), then ``resolved``;
- ``sloppy``: feature ``x`` 45% missing in window 7 (10% in the reference): ``data_quality``;
- ``silent``: four windows, then nothing: ``data_missing`` once, ``resolved`` when it sends again;
- 10,000 hostile messages and a cardinality attack mixed in: every bad message in dead-letters with its
  reason, counted by reason in /metrics; the models past the limit refused; the worker's memory stays bounded.

Windows are replayed in event time (10 s windows of old data), so they close by the watermark as
the replay goes; the models that keep "sending" afterwards do so with late events (applied to no
window, yet proof of life), so only ``silent`` is missing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamer.reference.profile import ReferenceProfile
from tests.integration.conftest import Broker, Deployment, get_json, new_deployment, wait_until

pytestmark = pytest.mark.integration

T0 = 1735689600.0  # 2025-01-01T00:00:00Z
WINDOWS, PER_WINDOW, INCIDENT = 10, 200, 7
MISSING_AFTER_S = 8
MODELS = ("steady", "slow", "failing", "dropping", "sloppy", "silent")
INCIDENTS: dict[str, dict[str, float]] = {"slow": {"latency_factor": 10.0}, "failing": {"error_share": 0.3},
                                          "dropping": {"n": 20}, "sloppy": {"missing_share": 0.45}}
MAX_MODELS = 40
ATTACK_MODELS = 3000


def events(rng: np.random.Generator, model: str, window: int, *, n: float = PER_WINDOW, latency_factor: float = 1.0,
           error_share: float = 0.01, missing_share: float = 0.1) -> list[dict[str, Any]]:
    count = int(n)
    out = []
    for i in range(count):
        event: dict[str, Any] = {
            "model": model, "timestamp": T0 + window * 10 + 10 * i / count,
            "features": {"x": None if rng.random() < missing_share else round(float(rng.normal()), 4),
                         "country": str(rng.choice(["DE", "FR", "US"]))},
            "prediction": int(rng.random() < 0.3), "latency_ms": round(float(rng.gamma(4.0, 3.0) * latency_factor), 3)}
        if rng.random() < error_share:
            event["error"] = "timeout"
        out.append(event)
    return out


def reference(rng: np.random.Generator, model: str) -> bytes:
    sample = events(rng, model, 0, n=4000)
    features = {name: [e["features"][name] for e in sample] for name in ("x", "country")}
    return ReferenceProfile.from_columns(model, None, features, {"prediction": [e["prediction"] for e in sample]},
                                         source="test").to_json()


HOSTILE: list[bytes] = [
    b"", b"\xff\xfe\x00", b"{", b"[1, 2]", b'"text"', b"null", b'{"features": {"x": 1}}',
    b'{"model": "", "prediction": 1}', b'{"model": "bad name!", "prediction": 1}',
    b'{"model": "hostile", "features": {"x": [1, 2]}}', b'{"model": "hostile", "timestamp": "yesterday", "prediction": 1}',
    b'{"model": "hostile", "latency_ms": -5, "prediction": 1}', b'{"model": "hostile", "rows": []}',
    b'{"model": "hostile", "features": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    json.dumps({"model": "hostile", "features": {f"f{i}": i for i in range(1500)}}).encode(),
    b'{"model": "hostile", "prediction": NaN}', b'{"model": "hostile", "timestamp": 9999999999, "prediction": 1}',
    b'{"model": "hostile", "features": {"\\ud800": 1}}', b'{"model": "hostile", "prediction_proba": 1.5, "prediction": 1}',
]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.fixture(scope="module")
def run(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("operations")
    dep = new_deployment(broker, tmp, STREAMER_MISSING_AFTER_SECONDS=str(MISSING_AFTER_S),
                         STREAMER_MAX_MODELS=str(MAX_MODELS))
    url = dep.start_worker()
    rng = np.random.default_rng(7)
    dep.produce("STREAMER_TOPIC_REFERENCES", [(m.encode(), reference(rng, m)) for m in MODELS])
    for model in MODELS:
        wait_until(lambda m=model: get_json(f"{url}/api/v1/models/{m}/reference")[0] == 200, 30, f"{model} reference")
    replay = []
    for window in range(WINDOWS):
        for model in MODELS:
            if model == "silent" and window >= 4:
                continue
            incident = INCIDENTS.get(model, {}) if window == INCIDENT else {}
            replay += [(model.encode(), json.dumps(e).encode()) for e in events(rng, model, window, **incident)]
    hostile = [HOSTILE[i % len(HOSTILE)] for i in range(10_000)]
    mixed = replay[: len(replay) // 2] + [(b"hostile", h) for h in hostile] + replay[len(replay) // 2 :]
    dep.produce("STREAMER_TOPIC_PREDICTIONS", mixed)

    stop = threading.Event()

    def keep_alive() -> None:  # late events: proof of life that changes no window
        while not stop.is_set():
            dep.produce("STREAMER_TOPIC_PREDICTIONS", [
                (m.encode(), json.dumps({"model": m, "timestamp": T0, "prediction": 0}).encode())
                for m in MODELS if m != "silent"])
            stop.wait(1.0)

    thread = threading.Thread(target=keep_alive, daemon=True)
    thread.start()
    try:
        wait_until(lambda: wanted(dep), 120, "each model's alert")
        pid = dep.workers[0][0].pid
        before_kb = rss_kb(pid)
        attack = [(f"attack-{i}".encode(), json.dumps({
            "model": f"attack-{i}", "timestamp": T0, "features": {f"name-{i}-{j}": f"value-{i}-{j}" for j in range(50)},
            "prediction": 1}).encode()) for i in range(ATTACK_MODELS)]
        dep.produce("STREAMER_TOPIC_PREDICTIONS", attack)
        status, worker = wait_until(lambda: (lambda s, b: (s, b) if s == 200 and b["counters"]["messages"] >= len(
            mixed) + ATTACK_MODELS else None)(*get_json(f"{url}/api/v1/worker")), 120, "the attack to be read")
        after_kb = rss_kb(pid)
        time.sleep(MISSING_AFTER_S * 2)  # data_missing must not repeat
        alerts_before_return = dep.read_topic("STREAMER_TOPIC_ALERTS")
        dep.produce("STREAMER_TOPIC_PREDICTIONS", [(b"silent", json.dumps(events(rng, "silent", 30, n=1)[0]).encode())])
        wait_until(lambda: [a for a in dep.read_topic("STREAMER_TOPIC_ALERTS")
                            if a["model"] == "silent" and a["kind"] == "resolved"], 30, "silent's resolved alert")
        metrics = _text(f"{url}/metrics")
        yield {"dep": dep, "url": url, "alerts": dep.read_topic("STREAMER_TOPIC_ALERTS"),
               "alerts_before_return": alerts_before_return, "hostile": hostile, "worker": worker,
               "rss_before_kb": before_kb, "rss_after_kb": after_kb, "metrics": metrics,
               "dead_letters": dep.read_topic("STREAMER_TOPIC_DEAD_LETTERS"),
               "sent_good": {m: sum(key == m.encode() for key, _ in replay) for m in MODELS}}
    finally:
        stop.set()
        thread.join(5)
        dep.stop_all()


def _text(url: str) -> str:
    import urllib.request
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def operational(alerts: list[dict[str, Any]], model: str) -> list[tuple[str, str | None]]:
    """(kind, subject) of a model's alerts, drift excluded (the drift rule has its own tests)."""
    return sorted((a["kind"], a["subject"]) for a in alerts if a["model"] == model and "drift" not in a["kind"])


def wanted(dep: Deployment) -> bool:
    alerts = dep.read_topic("STREAMER_TOPIC_ALERTS")
    kinds = {(a["model"], a["kind"]) for a in alerts}
    return {("slow", "resolved"), ("failing", "resolved"), ("dropping", "resolved"), ("sloppy", "data_quality"),
            ("silent", "data_missing")} <= kinds


def test_each_model_raises_exactly_its_alert(run):
    alerts = run["alerts"]
    assert operational(alerts, "steady") == []
    assert operational(alerts, "slow") == [("latency_high", "p50"), ("latency_high", "p95"), ("latency_high", "p99"),
                                           ("resolved", "p50"), ("resolved", "p95"), ("resolved", "p99")]
    assert operational(alerts, "failing") == [("error_rate_high", None), ("resolved", None)]
    assert operational(alerts, "dropping") == [("resolved", "drop"), ("throughput_anomaly", "drop")]
    sloppy = [a for a in alerts if a["model"] == "sloppy" and a["kind"] == "data_quality"]
    assert [(a["subject"], a["details"]["problem"]) for a in sloppy] == [("x", "missing")]
    assert operational(alerts, "sloppy") == [("data_quality", "x"), ("resolved", "x")]
    incident_start = "2025-01-01T00:01:10.000Z"
    for kind in ("latency_high", "error_rate_high", "throughput_anomaly", "data_quality"):
        assert {a["window_start"] for a in alerts if a["kind"] == kind and a["model"] in MODELS} == {incident_start}
    resolved = {a["details"]["resolves"] for a in alerts if a["kind"] == "resolved"}
    opened = {a["id"] for a in alerts if a["model"] in MODELS and a["kind"] not in ("resolved",)
              and "drift" not in a["kind"]}
    assert opened <= resolved


def test_data_missing_fires_once_for_the_silent_model_and_resolves(run):
    before = [a for a in run["alerts_before_return"] if a["kind"] == "data_missing" and a["model"] in MODELS]
    assert [a["model"] for a in before] == ["silent"]
    assert before[0]["details"]["silent_for_s"] >= MISSING_AFTER_S and before[0]["details"]["last_event_at"]
    assert operational(run["alerts"], "silent") == [("data_missing", None), ("resolved", None)]


def test_hostile_messages_are_dead_letters_with_reasons_and_counted(run):
    letters = [d for d in run["dead_letters"] if not d["error"].startswith("too many models")]
    assert len(letters) == len(run["hostile"])
    assert all(d["error"] for d in letters)
    counted = sum(float(line.rsplit(" ", 1)[1]) for line in run["metrics"].splitlines()
                  if line.startswith("streamer_dead_letters_by_reason_total{"))
    assert counted == len(run["dead_letters"])
    reasons = {line.split('"')[1] for line in run["metrics"].splitlines()
               if line.startswith("streamer_dead_letters_by_reason_total{")}
    assert len(reasons) <= 10  # bounded label values
    status, models = get_json(f"{run['url']}/api/v1/models")
    totals = {m["model"]: m["events_total"] for m in models["models"]}
    # Every good row counted once, late keep-alive rows never (+1: silent's return).
    assert {m: totals[m] for m in MODELS} == {m: n + (m == "silent") for m, n in run["sent_good"].items()}


def test_a_cardinality_attack_is_capped_counted_and_memory_stays_bounded(run):
    counters = run["worker"]["counters"]
    assert run["worker"]["models_with_state"] <= MAX_MODELS
    assert counters["models_refused"] >= ATTACK_MODELS - MAX_MODELS
    refused = [d for d in run["dead_letters"] if d["error"].startswith("too many models")]
    assert len(refused) == counters["models_refused"]
    print(f"worker RSS before the attack {run['rss_before_kb']} kB, after {run['rss_after_kb']} kB")
    assert run["rss_after_kb"] - run["rss_before_kb"] < 200 * 1024
