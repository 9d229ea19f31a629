"""Notifications end to end: a real worker routes a drift incident to real local receivers (an aiohttp
server for Slack, signed webhooks and a CI trigger; an aiosmtpd server for e-mail), retries a
receiver that fails twice, requests retraining exactly once, and never shows a secret."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamer.notify.messages import verify_signature
from tests.integration.conftest import Broker, Deployment, get_json, new_deployment, wait_until
from tests.integration.receivers import HttpReceiver, SmtpReceiver
from tests.integration.test_pipeline import rows, write_csv

pytestmark = pytest.mark.integration

T0 = 1735689600.0
WINDOWS, PER_WINDOW = 5, 400
SECRETS = {"SLACK_WEBHOOK_URL": None, "WEBHOOK_SECRET": "whsec-2b7e151628aed2a6",
           "SMTP_USER": "mailer", "SMTP_PASSWORD": "smtp-pw-3c4f9d", "CI_TOKEN": "Bearer ci-tok-9f86d081",
           "RETRAIN_URL": None}
CONFIG = """
channels:
  team-slack: {type: slack, url_env: SLACK_WEBHOOK_URL}
  pager: {type: webhook, url: "HTTP/hook", secret_env: WEBHOOK_SECRET}
  flaky: {type: webhook, url: "HTTP/fail-2/flaky", secret_env: WEBHOOK_SECRET, initial_backoff_seconds: 0.5}
  stuck: {type: webhook, url: "HTTP/hang/stuck", timeout_seconds: 3, max_attempts: 2, initial_backoff_seconds: 0.5}
  oncall: {type: email, host: 127.0.0.1, port: SMTP_PORT, starttls: true, ca_file: "CA_FILE",
           username_env: SMTP_USER, password_env: SMTP_PASSWORD,
           from: streamer@example.com, to: [ml-oncall@example.com]}
  ci: {type: http, url_env: RETRAIN_URL, method: POST, headers: {Authorization: {env: CI_TOKEN}},
       body: '{"ref": "main", "inputs": {"model": "{model}", "alert": "{id}", "keep": "${{ x }}"}}'}
alerting:
  routes:
    - kinds: [data_drift_detected, model_performance_degraded, concept_drift_detected]
      channels: [team-slack, pager, oncall, flaky, stuck]
      cooldown_seconds: 3600
  retrain:
    kinds: [data_drift_detected, model_performance_degraded]
    min_occurrences: 2
    within_windows: 3
    channel: ci
    cooldown_seconds: 86400
"""


@pytest.fixture(scope="module")
def incident(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("notify")
    http = HttpReceiver(hang_seconds=60).start()
    smtp = SmtpReceiver(tmp, SECRETS["SMTP_USER"] or "", SECRETS["SMTP_PASSWORD"] or "").start()
    secrets = {**SECRETS, "SLACK_WEBHOOK_URL": f"{http.url}/slack/T0001/B0001/xoxb-slack-secret-token",
               "RETRAIN_URL": f"{http.url}/ci/dispatches"}
    config = tmp / "streamer.yaml"
    config.write_text(CONFIG.replace("HTTP", http.url).replace("SMTP_PORT", str(smtp.port))
                      .replace("CA_FILE", str(smtp.cert_file)))
    dep = new_deployment(broker, tmp, STREAMER_CONFIG=str(config), **{k: str(v) for k, v in secrets.items()})
    url = dep.start_worker()
    rng = np.random.default_rng(7)
    write_csv(tmp / "reference.csv", rows(rng, 5000))
    result = dep.cli("reference", "build", str(tmp / "reference.csv"), "--model", "shifty", "--prediction",
                     "prediction", "--out", str(tmp / "shifty.json"), "--publish")
    assert result.returncode == 0, result.stderr
    wait_until(lambda: get_json(f"{url}/api/v1/models/shifty/reference")[0] == 200, 30, "reference")
    messages = []
    for w in range(WINDOWS):  # window 0 as the reference, windows 1.. shifted
        for i, row in enumerate(rows(rng, PER_WINDOW, {"a": 1.0, "c": 1.0} if w >= 1 else None)):
            messages.append((b"shifty", json.dumps({"model": "shifty", "timestamp": T0 + w * 10 + 10 * i / PER_WINDOW,
                                                    "prediction": row.pop("prediction"), "features": row}).encode()))
    dep.produce("STREAMER_TOPIC_PREDICTIONS", messages)
    yield {"dep": dep, "url": url, "http": http, "smtp": smtp, "secrets": secrets, "tmp": tmp}
    dep.stop_all()
    smtp.stop()


def drift_alerts(dep: Deployment) -> list[dict[str, Any]]:
    return sorted((a for a in dep.read_topic("STREAMER_TOPIC_ALERTS") if a["kind"] == "data_drift_detected"),
                  key=lambda a: a["window_start"])


def test_a_drift_incident_reaches_every_channel_once_within_the_cooldown(incident: dict[str, Any]) -> None:
    dep, http, smtp = incident["dep"], incident["http"], incident["smtp"]
    alerts = wait_until(lambda: (lambda found: found if len(found) == WINDOWS - 1 else None)(drift_alerts(dep)),
                        120, "four drift alerts")
    first = alerts[0]
    slack = wait_until(lambda: http.on("/slack/"), 60, "the Slack message")
    hooks = wait_until(lambda: http.on("/hook"), 60, "the webhook")
    mails = wait_until(lambda: smtp.inbox.messages, 60, "the e-mail")
    time.sleep(3)  # anything sent for the later windows would have arrived by now
    # One per channel: the later windows' alerts fall within the route's cooldown.
    assert len(http.on("/slack/")) == len(http.on("/hook")) == len(smtp.inbox.messages) == 1
    message = json.loads(slack[0].body)
    text = json.dumps(message)
    assert "shifty" in message["text"] and "data_drift_detected" in message["text"]
    for needle in ("*Version*", "*Severity*\\ncritical", "`a` detected: tvd", "`c` detected", "/?model=shifty"):
        assert needle in text
    hook = hooks[0]
    assert hook.headers["Content-Type"] == "application/cloudevents+json"
    assert verify_signature(incident["secrets"]["WEBHOOK_SECRET"], hook.body, hook.headers["X-Streamer-Signature"],
                            now_s=time.time())
    event = json.loads(hook.body)
    assert (event["specversion"], event["id"], event["type"]) == ("1.0", first["id"], "streamer.alert.data_drift_detected")
    assert event["source"] == f"streamer/{dep.env['STREAMER_APP_ID']}" and event["data"]["id"] == first["id"]
    mail = mails[0]
    assert "shifty" in mail["Subject"] and "data_drift_detected" in mail["Subject"]
    assert {part.get_content_type() for part in mail.walk()} >= {"text/plain", "text/html"}
    assert smtp.inbox.envelopes[0] == ("streamer@example.com", ["ml-oncall@example.com"])


def test_a_receiver_failing_twice_then_succeeding_gets_it_once_per_alert_id(incident: dict[str, Any]) -> None:
    http = incident["http"]
    wait_until(lambda: len(http.on("/fail-2/flaky")) >= 3, 90, "three attempts at the flaky receiver")
    time.sleep(3)
    attempts = http.on("/fail-2/flaky")
    assert len(attempts) == 3  # two refused, the third accepted, no more
    ids = {json.loads(a.body)["id"] for a in attempts}
    assert len(ids) == 1  # every attempt carries the same alert id: the receiver keeps it once
    assert attempts[1].at_s > attempts[0].at_s + 0.2  # backed off


def test_a_drift_incident_produces_exactly_one_retraining_call(incident: dict[str, Any]) -> None:
    dep, http = incident["dep"], incident["http"]
    calls = wait_until(lambda: http.on("/ci/"), 90, "the retraining call")
    time.sleep(3)
    assert len(http.on("/ci/")) == 1
    call = calls[0]
    assert call.headers["Authorization"] == incident["secrets"]["CI_TOKEN"]
    requests = [a for a in dep.read_topic("STREAMER_TOPIC_ALERTS") if a["kind"] == "retrain_requested"]
    assert len(requests) == 1
    request = requests[0]
    assert json.loads(call.body) == {"ref": "main", "inputs": {"model": "shifty", "alert": request["id"],
                                                              "keep": "${{ x }}"}}
    drift = drift_alerts(dep)
    assert request["details"]["triggered_by"] == [drift[0]["id"], drift[1]["id"]]


def test_the_api_shows_deliveries_failures_and_open_alerts(incident: dict[str, Any]) -> None:
    url = incident["url"]

    def failed_stuck() -> Any:
        _, body = get_json(f"{url}/api/v1/notifications?limit=100")
        return body if body["channels"].get("stuck", {}).get("failed") else None

    body = wait_until(failed_stuck, 90, "the hanging receiver to be given up")
    assert body["channels"]["pager"]["delivered"] == 1
    assert body["channels"]["flaky"]["failed_attempts"] == 2 and body["channels"]["flaky"]["delivered"] == 1
    assert body["channels"]["stuck"]["last_error"] == "no answer within 3 s"
    assert any(r["status"] == "retrying" and r["next_retry_at"] for r in body["failures"])
    status, alerts = get_json(f"{url}/api/v1/alerts?open=true&kind=data_drift_detected&limit=100")
    assert status == 200 and len(alerts["alerts"]) == WINDOWS - 1
    first = min(alerts["alerts"], key=lambda a: a["window_start"])
    delivered = {d["channel"]: d["status"] for d in first["deliveries"]}
    assert delivered == {"team-slack": "delivered", "pager": "delivered", "oncall": "delivered",
                         "flaky": "delivered", "stuck": "failed"}
    assert get_json(f"{url}/api/v1/alerts?open=maybe")[0] == 400
    with __import__("urllib.request").request.urlopen(f"{url}/metrics", timeout=5) as response:
        metrics = response.read().decode()
    assert 'streamer_notifications_delivered_total{channel="pager"} 1' in metrics
    assert 'streamer_notifications_failed_total{channel="stuck"} 1' in metrics
    assert "streamer_notifications_retrain_requested_total 1" in metrics


def test_secrets_never_appear_in_logs_topics_or_api_answers(incident: dict[str, Any]) -> None:
    dep, url, tmp = incident["dep"], incident["url"], incident["tmp"]
    wait_until(lambda: incident["http"].on("/ci/"), 90, "the retraining call")
    shown = json.dumps(get_json(f"{url}/api/v1/notifications?limit=1000")[1])
    shown += json.dumps(get_json(f"{url}/api/v1/alerts?limit=1000")[1])
    shown += json.dumps(dep.read_topic("STREAMER_TOPIC_ALERTS"))
    shown += "".join(path.read_text(errors="replace") for path in Path(tmp).glob("worker-*.log"))
    for name in ("WEBHOOK_SECRET", "SMTP_PASSWORD", "CI_TOKEN"):
        assert incident["secrets"][name] not in shown, name
    assert "xoxb-slack-secret-token" not in shown


def test_a_worker_killed_mid_delivery_delivers_what_was_pending_after_a_restart(
        broker: Broker, tmp_path: Path) -> None:
    http = HttpReceiver().start()
    http.down.set()
    config = tmp_path / "streamer.yaml"
    config.write_text(f"""
channels:
  hook: {{type: webhook, url: "{http.url}/down/hook", initial_backoff_seconds: 0.5, max_backoff_seconds: 2,
          max_attempts: 1000}}
alerting:
  routes: [{{kinds: [data_drift_detected], channels: [hook]}}]
""")
    dep = new_deployment(broker, tmp_path, STREAMER_CONFIG=str(config))
    try:
        dep.start_worker()
        alert = {"id": "a" * 32, "kind": "data_drift_detected", "severity": "critical", "model": "m1",
                 "version": "1", "window_start": "2026-01-01T00:00:00Z", "window_end": "2026-01-01T00:00:10Z",
                 "subject": None, "value": 1.0, "threshold": 0.5, "message": "drift", "details": {},
                 "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        dep.produce("STREAMER_TOPIC_ALERTS", [(b"m1", json.dumps(alert).encode())])
        wait_until(lambda: len(http.on("/down/hook")) >= 2, 60, "failed attempts while the receiver is down")
        process, _ = dep.workers[-1]
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        http.down.clear()
        refused = len(http.on("/down/hook"))
        dep.start_worker()
        wait_until(lambda: len(http.on("/down/hook")) > refused, 150, "the pending delivery after the restart")
        time.sleep(3)
        delivered = http.on("/down/hook")[refused:]
        assert {json.loads(r.body)["id"] for r in delivered} == {alert["id"]}
        assert len(delivered) == 1
    finally:
        dep.stop_all()
