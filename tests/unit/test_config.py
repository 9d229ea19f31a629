"""Configuration (CONTRACT 3): environment variables, YAML and TOML files, per-model drift overrides."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from streamer.config import DEFAULT_BROKER, DriftPolicy, Settings, load_settings
from streamer.errors import ConfigError


def write(tmp_path: Path, name: str, text: str) -> dict[str, str]:
    path = tmp_path / name
    path.write_text(text)
    return {"STREAMER_CONFIG": str(path)}


def test_contract_defaults():
    settings = load_settings({})
    assert settings.broker_urls == (DEFAULT_BROKER,)  # the literal is checked in config.py's doctest
    assert settings.app_id == "streamer"
    assert (settings.window_seconds, settings.allowed_lateness_seconds, settings.idle_close_seconds) == (60, 10, 30)
    assert (settings.data_dir, settings.web_port, settings.partitions) == ("./var", 6066, 8)
    assert (settings.topic_predictions, settings.topic_labels, settings.topic_alerts, settings.topic_references,
            settings.topic_dead_letters) == ("predictions", "labels", "alerts", "references", "dead-letters")
    assert settings.api_token is None
    assert (settings.label_ttl_seconds, settings.baseline_windows, settings.missing_after_seconds) == (86400, 1, 300)
    assert settings == Settings()


def test_environment_values_are_parsed_to_their_types():
    settings = load_settings({
        "STREAMER_BROKER": "kafka://a:9092, kafka://b:9092,",
        "STREAMER_APP_ID": "mon",
        "STREAMER_WINDOW_SECONDS": "30",
        "STREAMER_ALLOWED_LATENESS_SECONDS": "2.5",
        "STREAMER_IDLE_CLOSE_SECONDS": "7",
        "STREAMER_DATA_DIR": "/data",
        "STREAMER_WEB_PORT": "8080",
        "STREAMER_PARTITIONS": "12",
        "STREAMER_TOPIC_PREDICTIONS": "preds",
        "STREAMER_TOPIC_DEAD_LETTERS": "dlq",
        "STREAMER_API_TOKEN": "s3cret",
        "STREAMER_LABEL_TTL_SECONDS": "3600",
        "STREAMER_BASELINE_WINDOWS": "3",
        "STREAMER_MISSING_AFTER_SECONDS": "120",
        "STREAMER_SECURITY_PROTOCOL": "SASL_SSL",
        "STREAMER_SASL_MECHANISM": "SCRAM-SHA-512",
        "STREAMER_SASL_USERNAME": "svc",
        "STREAMER_SASL_PASSWORD": "pw",
        "UNRELATED": "ignored",
    })
    assert settings.broker_urls == ("kafka://a:9092", "kafka://b:9092")
    assert settings.bootstrap_servers == ["a:9092", "b:9092"]
    assert settings.app_id == "mon" and settings.topic_ticks == "mon-ticks" and settings.topic_status == "mon-model-status"
    assert settings.window_seconds == 30.0 and type(settings.window_seconds) is float
    assert settings.allowed_lateness_seconds == 2.5 and settings.idle_close_seconds == 7.0
    assert settings.web_port == 8080 and type(settings.web_port) is int
    assert settings.partitions == 12 and type(settings.partitions) is int
    assert (settings.data_dir, settings.topic_predictions, settings.topic_dead_letters) == ("/data", "preds", "dlq")
    assert settings.topic_labels == "labels"
    assert settings.api_token == "s3cret"
    assert (settings.label_ttl_seconds, settings.baseline_windows, settings.missing_after_seconds) == (3600, 3, 120)
    assert settings.security.security_protocol == "SASL_SSL"
    assert settings.security.sasl_mechanism == "SCRAM-SHA-512"
    assert (settings.security.sasl_username, settings.security.sasl_password) == ("svc", "pw")
    assert settings.security.ssl_cafile is None


def test_an_empty_token_means_no_token():
    assert load_settings({"STREAMER_API_TOKEN": ""}).api_token is None


def test_yaml_file_with_per_model_drift_overrides(tmp_path):
    env = write(tmp_path, "streamer.yaml", """
window_seconds: 15
partitions: 3
api_token: from-file
sasl_username: yaml-user
drift:
  alpha_suspected: 0.01
  min_effect_numeric: 0.1
models:
  fraud:
    drift:
      alpha_detected: 0.0001
      min_drifted_features: 2
  churn:
""")
    settings = load_settings(env)
    assert (settings.window_seconds, settings.partitions, settings.api_token) == (15.0, 3, "from-file")
    assert settings.security.sasl_username == "yaml-user"
    default = DriftPolicy(alpha_suspected=0.01, min_effect_numeric=0.1)
    assert settings.default_drift == default
    assert settings.drift_policy("fraud") == dataclasses.replace(default, alpha_detected=0.0001, min_drifted_features=2)
    assert settings.drift_policy("churn") == default  # no drift overrides: the file's defaults
    assert settings.drift_policy("other") == default


def test_toml_file_with_per_model_drift_overrides(tmp_path):
    env = write(tmp_path, "streamer.toml", """
window_seconds = 20
allowed_lateness_seconds = 4
topic_alerts = "model-alerts"

[drift]
min_effect_categorical = 0.05

[models.fraud.drift]
alpha_suspected = 0.001
alpha_detected = 0.0002

[models."fraud:v2".drift]
min_drifted_features = 3
""")
    settings = load_settings(env)
    assert (settings.window_seconds, settings.allowed_lateness_seconds) == (20.0, 4.0)
    assert settings.topic_alerts == "model-alerts"
    assert settings.drift_policy("fraud") == DriftPolicy(alpha_suspected=0.001, alpha_detected=0.0002,
                                                         min_effect_categorical=0.05)
    assert settings.drift_policy("fraud:v2").min_drifted_features == 3
    assert settings.drift_policy("churn") == DriftPolicy(min_effect_categorical=0.05)


def test_the_environment_wins_over_the_file(tmp_path):
    env = write(tmp_path, "c.yml", "window_seconds: 15\npartitions: 3\n")
    settings = load_settings({**env, "STREAMER_WINDOW_SECONDS": "45"})
    assert (settings.window_seconds, settings.partitions) == (45.0, 3)


def test_an_empty_file_gives_the_defaults(tmp_path):
    assert load_settings(write(tmp_path, "empty.yaml", "")) == Settings()


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "message"), [
    ({"STREAMER_WINDOW_SECONDS": "abc"}, "STREAMER_WINDOW_SECONDS: expected a number, got 'abc'"),
    ({"STREAMER_WINDOW_SECONDS": ""}, "STREAMER_WINDOW_SECONDS: expected a number"),
    ({"STREAMER_PARTITIONS": "4.5"}, "STREAMER_PARTITIONS: expected a number, got '4.5'"),
    ({"STREAMER_WEB_PORT": "http"}, "STREAMER_WEB_PORT: expected a number"),
    ({"STREAMER_WINDOW_SECONDS": "0"}, "STREAMER_WINDOW_SECONDS must be > 0"),
    ({"STREAMER_WINDOW_SECONDS": "-60"}, "STREAMER_WINDOW_SECONDS must be > 0"),
    ({"STREAMER_ALLOWED_LATENESS_SECONDS": "-1"}, "lateness must be >= 0"),
    ({"STREAMER_IDLE_CLOSE_SECONDS": "0"}, "idle close > 0"),
    ({"STREAMER_PARTITIONS": "0"}, "STREAMER_PARTITIONS must be >= 1"),
    ({"STREAMER_BASELINE_WINDOWS": "0"}, "STREAMER_BASELINE_WINDOWS must be >= 1"),
])
def test_bad_environment_numbers_raise_config_error(env, message):
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert message in str(caught.value)


@pytest.mark.parametrize(("text", "message"), [
    ("window_seconds: abc\n", "STREAMER_WINDOW_SECONDS: expected a number, got 'abc'"),
    ("window_size: 10\n", "unknown key 'window_size'"),
    ("drift:\n  alpha: 0.1\n", "drift: unknown keys ['alpha']"),
    ("drift:\n  alpha_detected: lots\n", "drift.alpha_detected: expected a number, got 'lots'"),
    ("drift:\n  alpha_detected: 0.1\n  alpha_suspected: 0.01\n", "0 < alpha_detected <= alpha_suspected < 1"),
    ("drift:\n  min_effect_numeric: -1\n", "min_effect values must be >= 0"),
    ("drift: [1, 2]\n", "drift: expected a mapping"),
    ("models:\n  fraud:\n    drift:\n      alpha_suspected: 2\n", "alpha_suspected < 1"),
    ("models:\n  fraud:\n    drift:\n      min_drifted: 2\n", "models.fraud.drift: unknown keys ['min_drifted']"),
    ("models:\n  fraud:\n    drift:\n      min_drifted_features: 0\n", "min_drifted_features must be >= 1"),
    ("models: [fraud]\n", "'models' must map model names to overrides"),
    ("- just\n- a list\n", "the top level must be a mapping"),
    ("window_seconds: [\n", "cannot parse STREAMER_CONFIG"),
])
def test_bad_yaml_files_raise_config_error(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "bad.yaml", text))
    assert message in str(caught.value)


@pytest.mark.parametrize(("text", "message"), [
    ("window_seconds = \"soon\"\n", "expected a number, got 'soon'"),
    ("colour = \"blue\"\n", "unknown key 'colour'"),
    ("[models.fraud.drift]\nalpha = 0.1\n", "models.fraud.drift: unknown keys ['alpha']"),
    ("window_seconds = \n", "cannot parse STREAMER_CONFIG"),
])
def test_bad_toml_files_raise_config_error(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "bad.toml", text))
    assert message in str(caught.value)


def test_a_missing_config_file_raises_config_error(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="cannot read STREAMER_CONFIG .*nope.yaml"):
        load_settings({"STREAMER_CONFIG": str(missing)})


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_non_finite_window_seconds_raise_config_error(value):
    with pytest.raises(ConfigError):
        load_settings({"STREAMER_WINDOW_SECONDS": value})


@pytest.mark.parametrize("value", ["4.5", "true"])
def test_a_whole_number_key_refuses_fractions_and_booleans_from_a_file(tmp_path, value):
    with pytest.raises(ConfigError):
        load_settings(write(tmp_path, "c.yaml", f"partitions: {value}\n"))


@pytest.mark.parametrize("text", ["models:\n  fraud:\n    drfit:\n      alpha_detected: 0.001\n",
                                  "models:\n  fraud: drift\n"], ids=["misspelt-key", "not-a-mapping"])
def test_bad_per_model_overrides_raise_config_error(tmp_path, text):
    with pytest.raises(ConfigError):
        load_settings(write(tmp_path, "c.yaml", text))


def test_membership_and_shutdown_settings():
    settings = load_settings({"STREAMER_INSTANCE_ID": "streamer-0", "STREAMER_STANDBY_REPLICAS": "1"})
    assert (settings.instance_id, settings.standby_replicas) == ("streamer-0", 1)
    assert load_settings({}).instance_id is None
    with pytest.raises(ConfigError, match="HEARTBEAT"):
        load_settings({"STREAMER_HEARTBEAT_INTERVAL_SECONDS": "40"})
    with pytest.raises(ConfigError, match="STANDBY"):
        load_settings({"STREAMER_STANDBY_REPLICAS": "-1"})
