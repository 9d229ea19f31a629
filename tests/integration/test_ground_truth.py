"""Ground truth end to end (real broker, real worker): labels before and after their predictions, across a
SIGKILL and restart, join exactly once; closed windows' performance grows; an error-rate jump alerts."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest

from tests.integration.conftest import Broker, get_json, new_deployment, wait_until

pytestmark = pytest.mark.integration

T0 = 1735689600.0
MODEL = "gt"
PER_WINDOW = 200
WINDOWS = 6


def _reference(path: Path, rng: np.random.Generator) -> str:
    p = rng.beta(2, 2, 4000)
    y = (rng.random(4000) < p).astype(int)
    lines = ["x,score,pred,y"] + [f"{rng.normal():.4f},{s:.4f},{int(s >= 0.5)},{v}" for s, v in zip(p, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _traffic(rng: np.random.Generator) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
    predictions, labels = [], []
    for w in range(WINDOWS):
        for i in range(PER_WINDOW):
            n = w * PER_WINDOW + i
            t = T0 + w * 10 + 10 * i / PER_WINDOW
            p = float(rng.beta(2, 2))
            label = int(rng.random() < p)
            if w >= 3:
                label = 1 - label  # the concept changes: inputs and scores stay, outcomes flip
            predictions.append((MODEL.encode(), json.dumps({
                "model": MODEL, "timestamp": t, "request_id": f"r{n}", "features": {"x": float(rng.normal())},
                "prediction": int(p >= 0.5), "prediction_proba": p}).encode()))
            labels.append((MODEL.encode(), json.dumps({
                "model": MODEL, "request_id": f"r{n}", "label": label, "timestamp": t + 30}).encode()))
    return predictions, labels


def _windows(url: str) -> list[dict]:
    status, body = get_json(f"{url}/api/v1/models/{MODEL}/windows?limit=50")
    return body.get("windows", []) if status == 200 else []


def test_labels_join_once_across_a_restart_and_a_concept_change_alerts(broker: Broker, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    dep = new_deployment(broker, tmp_path)
    try:
        built = dep.cli("reference", "build", _reference(tmp_path / "ref.csv", rng), "--model", MODEL,
                        "--prediction", "pred", "--proba", "score", "--label", "y", "--publish")
        assert built.returncode == 0, built.stderr
        url = dep.start_worker("disk-a")
        predictions, labels = _traffic(rng)
        early = labels[:100]  # labels of the first window arrive before their predictions
        dep.produce("STREAMER_TOPIC_LABELS", early)
        dep.produce("STREAMER_TOPIC_PREDICTIONS", predictions)
        wait_until(lambda: len(_windows(url)) == WINDOWS, 60, "every window closed")
        closed = {w["window_start"]: w for w in _windows(url)}
        assert all("performance_estimate" in w for w in closed.values())
        first = closed["2025-01-01T00:00:00.000Z"]
        assert first["performance"]["labelled"] == 100  # the early labels joined before the close

        late = labels[100:]
        # Out of order within each window's labels: a shuffle across all windows would mix the labels from
        # before and after the concept change into one stationary stream, which no detector should call a change.
        order = np.concatenate([s + rng.permutation(min(PER_WINDOW, len(late) - s)) for s in range(0, len(late), PER_WINDOW)])
        half = len(late) // 2
        dep.produce("STREAMER_TOPIC_LABELS", [late[i] for i in order[:half]])
        wait_until(lambda: sum(w.get("performance", {}).get("labelled", 0) for w in _windows(url)) >= 100 + half,
                   60, "the first half of the late labels joined")
        dep.workers[0][0].send_signal(signal.SIGKILL)
        dep.workers[0][0].wait(10)
        url = dep.start_worker("disk-b")  # an empty data dir: the join comes back from the changelog
        dep.produce("STREAMER_TOPIC_LABELS", [late[i] for i in order[half:]])

        def all_joined() -> bool:
            return sum(w.get("performance", {}).get("labelled", 0) for w in _windows(url)) == WINDOWS * PER_WINDOW
        try:
            wait_until(all_joined, 150, "every label joined once")
        except AssertionError:
            print({w["window_start"]: w.get("performance", {}).get("labelled") for w in _windows(url)})
            for log in sorted(tmp_path.glob("worker-*.log")):
                print(log.name, log.read_text()[-3000:])
            raise
        for window in _windows(url):
            assert window["performance"]["labelled"] == PER_WINDOW, window["window_start"]

        alerts = dep.read_topic("STREAMER_TOPIC_ALERTS")
        kinds = {a["kind"] for a in alerts}
        assert "concept_drift_detected" in kinds and "model_performance_degraded" in kinds
        concept = next(a for a in alerts if a["kind"] == "concept_drift_detected")
        assert concept["subject"] == "adwin" and concept["details"]["error_rate_after"] > 0.5
        degraded = {a["window_start"] for a in alerts if a["kind"] == "model_performance_degraded"}
        assert degraded <= {f"2025-01-01T00:00:{10 * w:02d}.000Z" for w in range(3, WINDOWS)}
        assert len(degraded) == 3
    finally:
        dep.stop_all()
