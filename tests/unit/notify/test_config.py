"""The ``channels`` and ``alerting`` sections (CONTRACT 8): every mistake reported with its path, secrets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streamer.config import load_settings
from streamer.errors import ConfigError

CONTRACT_EXAMPLE = """
channels:
  team-slack: {type: slack, url_env: SLACK_WEBHOOK_URL}
  pager: {type: webhook, url: "https://hooks.example.com/streamer", secret_env: WEBHOOK_SECRET}
  oncall: {type: email, host: smtp.example.com, port: 587, starttls: true,
           username_env: SMTP_USER, password_env: SMTP_PASSWORD,
           from: streamer@example.com, to: [ml-oncall@example.com]}
  ci: {type: http, url_env: RETRAIN_URL, method: POST, headers: {Authorization: {env: CI_TOKEN}},
       body: '{"ref": "main", "inputs": {"model": "{model}", "alert": "{id}"}}'}
alerting:
  routes:
    - kinds: [data_drift_detected, model_performance_degraded, concept_drift_detected]
      channels: [team-slack, pager, oncall]
      cooldown_seconds: 3600
      min_occurrences: 1
      within_windows: 1
  retrain:
    kinds: [data_drift_detected, model_performance_degraded]
    min_occurrences: 2
    within_windows: 3
    channel: ci
    cooldown_seconds: 86400
models:
  fraud:
    alerting: {retrain: {min_occurrences: 1}}
"""
SECRETS = {"SLACK_WEBHOOK_URL": "https://hooks.slack.test/T0/B0/slack-token-123",
           "WEBHOOK_SECRET": "whsec-456", "SMTP_USER": "mailer", "SMTP_PASSWORD": "smtp-pw-789",
           "RETRAIN_URL": "https://ci.example.com/dispatch", "CI_TOKEN": "Bearer ci-token-000"}

FIVE_MISTAKES = """
channels:
  pager: {type: webhook, url: "https://hooks.example.com/x", secret: "plain-text-secret"}
  oncall: {type: email, host: smtp.example.com, to: [a@example.com]}
alerting:
  routes:
    - kinds: [data_drift_detected]
      channels: [pager]
      cooldown_seconds: -5
  retrain: {channel: ci, min_occurrences: 2, within_windows: 3}
models:
  fraud:
    alerting:
      routes:
        - kinds: [data_drift_detected]
          channels: [pager, pagr]
"""


def write(tmp_path: Path, text: str, name: str = "streamer.yaml") -> dict[str, str]:
    path = tmp_path / name
    path.write_text(text)
    return {"STREAMER_CONFIG": str(path)}


def test_the_contract_example_loads_with_model_overrides_merged(tmp_path):
    settings = load_settings({**write(tmp_path, CONTRACT_EXAMPLE), **SECRETS})
    notify = settings.notify
    assert set(notify.channels) == {"team-slack", "pager", "oncall", "ci"}
    assert notify.secret("team-slack", "url") == SECRETS["SLACK_WEBHOOK_URL"]
    assert notify.secret("ci", "header:Authorization") == "Bearer ci-token-000"
    assert notify.channel("oncall").sender == "streamer@example.com"  # type: ignore[union-attr]
    fraud, other = notify.for_model("fraud"), notify.for_model("churn")
    assert fraud.retrain is not None and other.retrain is not None
    assert (fraud.retrain.min_occurrences, fraud.retrain.within_windows, fraud.retrain.channel) == (1, 3, "ci")
    assert (other.retrain.min_occurrences, other.retrain.cooldown_seconds) == (2, 86400)
    assert fraud.routes == other.routes and len(fraud.routes) == 1


def test_a_file_with_five_different_mistakes_reports_all_five(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, FIVE_MISTAKES))
    message = str(caught.value)
    assert "5 mistakes" in message
    expected = [
        "channels.pager.secret: secrets are not accepted in plain text",
        "channels.oncall.from: required",
        "alerting.routes[0].cooldown_seconds: Input should be greater than or equal to 0",
        "alerting.retrain.channel: no channel named 'ci'",
        "models.fraud.alerting.routes[0].channels[1]: no channel named 'pagr'",
    ]
    for line in expected:
        assert line in message
    assert "plain-text-secret" not in message


def test_toml_files_take_the_same_sections(tmp_path):
    text = """
[channels.hook]
type = "webhook"
url = "http://127.0.0.1:9/in"
secret_file = "SECRET_PATH"

[[alerting.routes]]
kinds = ["latency_high"]
channels = ["hook"]
min_severity = "critical"
"""
    secret = tmp_path / "secret.txt"
    secret.write_text("file-secret\n")
    settings = load_settings(write(tmp_path, text.replace("SECRET_PATH", str(secret)), "c.toml"))
    assert settings.notify.secret("hook", "secret") == "file-secret"
    assert settings.notify.alerting.routes[0].min_severity == "critical"


@pytest.mark.parametrize(("text", "message"), [
    ("channels:\n  s: {type: slack, url: 'https://hooks.slack.com/services/T/B/tok'}\n",
     "channels.s.url: secrets are not accepted in plain text; use url_env or url_file"),
    ("channels:\n  m: {type: email, host: h, from: a@b, to: [c@d], password: pw}\n",
     "channels.m.password: secrets are not accepted in plain text"),
    ("channels:\n  c: {type: http, url: 'http://x', headers: {Authorization: 'Bearer tok'}}\n",
     "channels.c.headers: header 'Authorization' carries a credential"),
    ("channels:\n  s: {type: slack, url_env: NOT_SET_ANYWHERE}\n",
     "channels.s.url_env: environment variable NOT_SET_ANYWHERE is not set"),
    ("channels:\n  s: {type: slack}\n", "channels.s: give url_env or url_file"),
    ("channels:\n  s: {type: sms}\n", "channels.s.type: unknown channel type 'sms'"),
    ("channels:\n  w: {type: webhook, url: 'http://x', secret_file: /no/such/secret}\n",
     "channels.w.secret_file: cannot read /no/such/secret"),
    ("alerting:\n  routes: [{kinds: [drift], channels: [x]}]\n", "alerting.routes[0].kinds[0]: unknown value 'drift'"),
    ("alerting:\n  routes: [{kinds: [latency_high], channels: []}]\n", "alerting.routes[0].channels: List should have"),
    ("alerting:\n  retrain: {min_occurrences: 4, within_windows: 3}\n",
     "alerting.retrain: min_occurrences cannot exceed within_windows"),
    ("alerting:\n  severity: {latency_high: urgent}\n", "alerting.severity.latency_high: unknown value 'urgent'"),
    ("alerting:\n  rutes: []\n", "alerting.rutes: unknown key"),
    ("models:\n  fraud:\n    alerting: {retrain: {chanel: ci}}\n", "models.fraud.alerting.retrain.chanel: unknown key"),
    ("models:\n  fraud:\n    colour: blue\n", "models.fraud: unknown keys ['colour']"),
])
def test_mistakes_are_named_by_their_path(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert message in str(caught.value)


def test_secrets_never_appear_in_errors_or_reprs(tmp_path):
    settings = load_settings({**write(tmp_path, CONTRACT_EXAMPLE), **SECRETS})
    shown = repr(settings) + str(settings.notify)
    for name in ("SLACK_WEBHOOK_URL", "WEBHOOK_SECRET", "SMTP_PASSWORD", "CI_TOKEN"):
        assert SECRETS[name] not in shown
    bad = CONTRACT_EXAMPLE.replace("cooldown_seconds: 3600", "cooldown_seconds: soon")
    with pytest.raises(ConfigError) as caught:
        load_settings({**write(tmp_path, bad), **SECRETS})
    assert not any(value in str(caught.value) for value in SECRETS.values())


def run_check(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streamer.cli.main", "config", "check", str(path)],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **env}, timeout=60)


def test_config_check_exits_0_for_a_good_file_and_1_listing_every_mistake(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(CONTRACT_EXAMPLE)
    result = run_check(good, **SECRETS)
    assert result.returncode == 0, result.stderr
    assert "ok (4 channel(s), 1 global route(s), retrain on, 1 model override(s))" in result.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(FIVE_MISTAKES)
    result = run_check(bad)
    assert result.returncode == 1
    assert "5 mistakes" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("\n  ") == 5


def test_a_worker_given_a_bad_file_does_not_start_and_lists_every_mistake(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(FIVE_MISTAKES)
    result = subprocess.run([sys.executable, "-m", "streamer.cli.main", "worker"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "STREAMER_CONFIG": str(bad),
                                 "STREAMER_BROKER": "kafka://127.0.0.1:1", "STREAMER_DATA_DIR": str(tmp_path)},
                            timeout=60)
    assert result.returncode == 1
    assert "5 mistakes" in result.stderr and result.stderr.count("\n  ") == 5
    assert "Traceback" not in result.stderr and "plain-text-secret" not in result.stderr
