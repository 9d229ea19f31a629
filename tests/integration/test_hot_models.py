"""Hot models on two replicas: a model sharded over 4 partitions counts exactly, survives a SIGKILL of
a replica, and alerts as the same data does for a model that is not sharded."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest

from streamer.events.timestamps import format_timestamp
from streamer.reference.profile import ReferenceProfile
from tests.integration.conftest import Broker, get_json, new_deployment, wait_until

pytestmark = pytest.mark.integration

T0 = 1735689600.0
WINDOWS, PER_WINDOW, DRIFT_FROM = 8, 400, 4
MODELS = ("hot", "plain")  # the same events for both; only "hot" is sharded


def events(windows: range) -> list[tuple[bytes, bytes]]:
    rng = np.random.default_rng(5)
    columns = [rng.normal(1.5 if w >= DRIFT_FROM else 0.0, 1.0, PER_WINDOW) for w in range(WINDOWS)]
    out = []
    for w in windows:
        for i, x in enumerate(columns[w].tolist()):
            for model in MODELS:
                body = {"model": model, "timestamp": T0 + w * 10 + 10 * i / PER_WINDOW, "features": {"x": x},
                        "prediction": int(x > 0), "latency_ms": 3.0 + i % 5}
                out.append((model.encode(), json.dumps(body).encode()))
    return out


def windows_of(url: str, model: str) -> list[dict]:
    status, body = get_json(f"{url}/api/v1/models/{model}/windows?limit=100")
    return body["windows"] if status == 200 else []


def test_a_hot_model_sharded_over_two_replicas_counts_exactly_and_alerts_like_one_model(
        broker: Broker, tmp_path: Path) -> None:
    # The replica restarted on an empty disk rejoins, recovers its tables and reads its backlog before its
    # shards report: a longer merge wait than the default 60 s, since this test checks exact counts, not the wait.
    dep = new_deployment(broker, tmp_path, STREAMER_HOT_MODELS="hot:4", STREAMER_SESSION_TIMEOUT_SECONDS="10",
                         STREAMER_IDLE_CLOSE_SECONDS="6", STREAMER_HOT_MODEL_WAIT_SECONDS="120")
    try:
        first = [dep.launch_worker(f"disk-{r}") for r in "ab"]
        for _, url in first:
            wait_until(lambda u=url: dep.ready(u), 150, f"worker {url} to be ready")
        url = first[0][1]
        rng = np.random.default_rng(99)
        x = rng.normal(0.0, 1.0, 5000)
        for model in MODELS:
            profile = ReferenceProfile.from_columns(model, None, features={"x": x},
                                                    outputs={"prediction": (x > 0).astype(int).tolist()})
            dep.produce("STREAMER_TOPIC_REFERENCES", [(model.encode(), profile.to_json())])
        for model in MODELS:
            wait_until(lambda m=model: get_json(f"{url}/api/v1/models/{m}/reference")[0] == 200, 30, "reference")
        dep.produce("STREAMER_TOPIC_PREDICTIONS", events(range(0, WINDOWS // 2)))
        wait_until(lambda: len(windows_of(url, "hot")) >= 2, 90, "the first merged windows of the hot model")
        first[1][0].send_signal(signal.SIGKILL)  # a replica holding shards dies mid-stream
        first[1][0].wait(10)
        dep.start_worker("disk-c")  # and comes back on an empty disk: state from the changelogs
        dep.produce("STREAMER_TOPIC_PREDICTIONS", events(range(WINDOWS // 2, WINDOWS)))
        wait_until(lambda: all(len(windows_of(url, m)) == WINDOWS for m in MODELS), 200, "every window closed")

        hot, plain = windows_of(url, "hot"), windows_of(url, "plain")
        assert [w["events"] for w in hot] == [PER_WINDOW] * WINDOWS  # exact: no row lost or counted twice
        assert [w["events"] for w in plain] == [PER_WINDOW] * WINDOWS
        assert all(w["shards"]["merged"] == [0, 1, 2, 3] and not w["shards"]["timed_out"] for w in hot)
        assert [w["status"] for w in hot] == [w["status"] for w in plain]
        for h, p in zip(hot, plain, strict=True):  # histogram drift statistics are exact after the merge
            assert h["features"]["x"]["tvd"] == pytest.approx(p["features"]["x"]["tvd"], abs=1e-12)
        status, body = get_json(f"{url}/api/v1/models")
        listed = [m for m in body["models"] if m["model"] == "hot"]
        assert status == 200 and len(listed) == 1 and listed[0]["events_total"] == PER_WINDOW * WINDOWS

        alerts = dep.read_topic("STREAMER_TOPIC_ALERTS")
        incidents = {m: {(a["kind"], a["window_start"]) for a in alerts if a["model"] == m} for m in MODELS}
        assert incidents["hot"] == incidents["plain"]
        assert {("data_drift_detected", format_timestamp(T0 + 10 * w)) for w in range(DRIFT_FROM, WINDOWS)} \
            <= incidents["hot"]
    finally:
        dep.stop_all()
