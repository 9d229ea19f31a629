"""Templates, signatures, CloudEvents, Slack and e-mail content (CONTRACT 8)."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from streamer.notify.channels import ChannelSender
from streamer.notify.messages import (
    cloud_event,
    email_message,
    render_template,
    signature_header,
    slack_message,
    url_template,
    verify_signature,
)
from streamer.notify.parse import parse_notify

ALERT = {
    "id": "5f1c00", "kind": "data_drift_detected", "severity": "critical", "model": "fraud", "version": "3",
    "window_start": "2026-11-26T10:00:00Z", "window_end": "2026-11-26T10:01:00Z", "subject": None,
    "value": 0.25, "threshold": 0.1, "message": "2 of 4 features drifted: amount, country",
    "details": {"features": {
        "amount": {"status": "detected", "tvd": 0.31, "hellinger": 0.29, "ks_pvalue": 1e-9},
        "country": {"status": "suspected", "tvd": 0.05, "chi2_pvalue": 0.001},
        "age": {"status": "ok", "tvd": 0.01}}},
    "created_at": "2026-11-26T10:01:10.402Z",
}


@pytest.mark.parametrize(("template", "expected"), [
    ("{model}/{version}/{kind}/{id}", "fraud/3/data_drift_detected/5f1c00"),
    ("{window_start}..{window_end}", "2026-11-26T10:00:00Z..2026-11-26T10:01:00Z"),
    ("{subject} {{model}} {Model} { model } {}", "{subject} {fraud} {Model} { model } {}"),
    ("${{ github.event.inputs.model }}", "${{ github.event.inputs.model }}"),
])
def test_only_the_six_names_are_replaced_and_every_other_brace_stays(template, expected):
    assert render_template(template, ALERT) == expected


def test_values_are_json_escaped_inside_a_json_body():
    alert = {**ALERT, "model": 'a"b\\c\nd'}
    body = render_template('{"inputs": {"model": "{model}", "note": "{not_a_name}"}}', alert, json_body=True)
    assert json.loads(body) == {"inputs": {"model": 'a"b\\c\nd', "note": "{not_a_name}"}}


def test_url_templates_percent_encode_values():
    assert url_template("https://ci/x?model={model}", {**ALERT, "model": "a b/c"}) == "https://ci/x?model=a%20b%2Fc"


def test_signature_verifies_and_fails_when_the_body_time_or_secret_differ():
    body = cloud_event(ALERT, "streamer")
    now = int(time.time())
    header = signature_header("s3cret", body, now)
    assert verify_signature("s3cret", body, header, now_s=now)
    assert not verify_signature("s3cret", body + b" ", header, now_s=now)
    assert not verify_signature("other", body, header, now_s=now)
    assert not verify_signature("s3cret", body, header, now_s=now + 3600)  # replayed an hour later
    assert not verify_signature("s3cret", body, "v1=abc", now_s=now)


def test_cloud_event_is_structured_mode_with_the_alert_as_data():
    event = json.loads(cloud_event(ALERT, "mon"))
    assert (event["specversion"], event["id"], event["type"], event["source"]) == (
        "1.0", "5f1c00", "streamer.alert.data_drift_detected", "streamer/mon")
    assert event["time"] == ALERT["created_at"] and event["data"] == ALERT


def test_slack_message_names_model_version_kind_severity_features_and_dashboard_link():
    message = slack_message(ALERT, "http://127.0.0.1:6066/")
    text = json.dumps(message)
    assert "fraud" in message["text"] and "data_drift_detected" in message["text"]
    for needle in ("*Version*\\n3", "*Severity*\\ncritical", "`amount` detected: tvd 0.31, hellinger 0.29",
                   "`country` suspected", "http://127.0.0.1:6066/?model=fraud"):
        assert needle in text
    assert "`age`" not in text  # features without drift are left out


def test_email_has_plain_text_and_html_and_a_subject_naming_model_and_kind():
    message = email_message(ALERT, "streamer@example.com", ["a@example.com", "b@example.com"], "http://h:1")
    assert "data_drift_detected" in message["Subject"] and "fraud" in message["Subject"]
    assert message["To"] == "a@example.com, b@example.com"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "amount (detected): tvd 0.31" in plain and "http://h:1/?model=fraud" in plain
    assert "<code>amount</code>" in html


def test_http_channel_request_renders_url_headers_and_body():
    config, problems = parse_notify({"channels": {"ci": {
        "type": "http", "url_env": "CI_URL", "method": "POST",
        "headers": {"Authorization": {"env": "CI_TOKEN"}, "X-Model": "{model}"},
        "body": '{"ref": "main", "inputs": {"model": "{model}", "alert": "{id}"}}'}}},
        env={"CI_URL": "https://ci.test/repos/o/r/dispatches?m={model}", "CI_TOKEN": "Bearer t0k"})
    assert problems == []

    async def build() -> tuple[str, str, dict[str, str], bytes | None]:
        async with aiohttp.ClientSession() as session:
            return ChannelSender(config, "mon", "http://h", session, time.time).request("ci", ALERT)

    method, url, headers, body = asyncio.run(build())
    assert (method, url) == ("POST", "https://ci.test/repos/o/r/dispatches?m=fraud")
    assert headers["Authorization"] == "Bearer t0k" and headers["X-Model"] == "fraud"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body or b"") == {"ref": "main", "inputs": {"model": "fraud", "alert": "5f1c00"}}
