"""Configuration: one frozen :class:`Settings` built once from the environment and an optional file.

Every key is an environment variable ``STREAMER_<KEY>``; ``STREAMER_CONFIG`` may name a YAML or TOML
file with the same keys in lower case (``window_seconds: 60``) plus per-model overrides under
``models``. The environment wins over the file.

>>> settings = load_settings({"STREAMER_WINDOW_SECONDS": "30"})
>>> settings.window_seconds, settings.broker_urls
(30.0, ('kafka://127.0.0.1:9092',))
>>> settings.drift_policy("fraud").alpha_detected
0.0005
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from streamer.errors import ConfigError
from streamer.labels.policy import GroundTruthPolicy, parse_ground_truth
from streamer.notify.config import NotifyConfig
from streamer.notify.parse import parse_notify

#: CONTRACT 3: where streamer looks for Kafka unless STREAMER_BROKER says otherwise.
DEFAULT_BROKER = "kafka://127.0.0.1:9092"


@dataclass(frozen=True)
class DriftPolicy:
    """How a window's drift metrics become a status; see README "Decision rule".

    ``alpha_*`` are family-wise false-alarm probabilities per window and model: each feature's test
    is held to ``alpha / number_of_features`` (Bonferroni). A feature is flagged only when its test
    is significant *and* its effect reaches a floor, so huge windows do not alarm on shifts too small
    to matter: for numeric features the Wasserstein distance from the bin counts, in reference
    standard deviations, must reach ``min_effect_numeric`` plus the reference's own sampling noise;
    for categorical ones the total variation distance must reach ``min_effect_categorical``.
    See :mod:`streamer.stats.decision`.
    """

    alpha_suspected: float = 0.005
    alpha_detected: float = 0.0005
    min_effect_numeric: float = 0.05
    min_effect_categorical: float = 0.02
    # The model is flagged when at least this many features are flagged.
    min_drifted_features: int = 1
    # Also report ``wasserstein_norm``, the distance between the KLL quantile sketches. It decides
    # nothing (the rule uses the bin counts) and took a fifth of a window close, so it is off by default.
    sketch_wasserstein: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.alpha_detected <= self.alpha_suspected < 1:
            raise ConfigError("drift alphas need 0 < alpha_detected <= alpha_suspected < 1")
        if self.min_effect_numeric < 0 or self.min_effect_categorical < 0:
            raise ConfigError("drift min_effect values must be >= 0")
        if self.min_drifted_features < 1:
            raise ConfigError("drift min_drifted_features must be >= 1")


@dataclass(frozen=True)
class KafkaSecurity:
    """TLS/SASL settings for a production cluster (passed to aiokafka and Faust)."""

    security_protocol: str = "PLAINTEXT"  # PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
    sasl_mechanism: str = "PLAIN"  # PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None


@dataclass(frozen=True)
class Settings:
    broker: str = DEFAULT_BROKER
    app_id: str = "streamer"
    window_seconds: float = 60.0
    allowed_lateness_seconds: float = 10.0
    idle_close_seconds: float = 30.0
    data_dir: str = "./var"
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    partitions: int = 8
    replication_factor: int = 1
    topic_predictions: str = "predictions"
    topic_labels: str = "labels"
    topic_alerts: str = "alerts"
    topic_references: str = "references"
    topic_dead_letters: str = "dead-letters"
    api_token: str | None = None
    label_ttl_seconds: float = 86400.0
    # Table blocks per tracked model holding its pending predictions and labels (streamer.labels.join).
    label_shards: int = 16
    # Models whose pending predictions are kept before their first label (streamer.labels.policy).
    labels_expected: str = ""
    baseline_windows: int = 1
    missing_after_seconds: float = 300.0
    # Closed-window summaries kept per model for the API.
    history_windows: int = 500
    # Recent alerts kept for the API.
    history_alerts: int = 10000
    max_message_bytes: int = 16 * 1024 * 1024
    max_categories: int = 64
    batch_max_events: int = 2000
    batch_within_seconds: float = 0.05
    # Faust consumer tuning (see README "Performance"): records per fetch and per-stream prefetch.
    max_poll_records: int = 2000
    stream_buffer_maxsize: int = 8192
    # How the agent reads its stream: "bulk" drains Faust's queue a batch at a time (streamer.kafka.bulk_stream),
    # "take_events" is Faust's own per-event path (kept for comparison in `make bench`).
    stream_drain: str = "bulk"
    # Operational and data-quality alerts (README "Operational rules"). A threshold of 0 compares with
    # the model's own recent windows instead; ops_alpha is each count test's false-alarm probability.
    latency_p50_threshold_ms: float = 0.0
    latency_p95_threshold_ms: float = 0.0
    latency_p99_threshold_ms: float = 0.0
    latency_min_ratio: float = 2.0
    error_rate_threshold: float = 0.0
    ops_alpha: float = 0.001
    ops_min_history_windows: int = 3
    quality_min_effect: float = 0.05
    max_models: int = 10000  # models per worker with state; rows of further models become dead letters
    max_features: int = 500  # features per event (more: a dead letter) and per window (more: dropped, counted)
    rocksdb_block_cache_mb: int = 16
    rocksdb_write_buffer_mb: int = 8
    # Group membership (README "Replicas"): a stable id per replica (the pod name) makes it a static
    # member, so a restart within the session timeout takes its partitions back without a rebalance.
    instance_id: str | None = None
    standby_replicas: int = 0
    session_timeout_seconds: float = 30.0
    heartbeat_interval_seconds: float = 3.0
    rebalance_timeout_seconds: float = 60.0
    # A clean stop that takes longer ends in a hard exit with every thread's stack logged.
    shutdown_timeout_seconds: float = 25.0
    # Hot models (README "Hot models"): "fraud:4,ads:8" shards those models' windows over 4 and 8
    # partitions; a merged window closes at most this long after its first shard's partial arrived.
    hot_models: str = ""
    hot_model_wait_seconds: float = 60.0
    security: KafkaSecurity = field(default_factory=KafkaSecurity)
    default_drift: DriftPolicy = field(default_factory=DriftPolicy)
    model_drift: Mapping[str, DriftPolicy] = field(default_factory=dict)
    default_ground_truth: GroundTruthPolicy = field(default_factory=GroundTruthPolicy)
    model_ground_truth: Mapping[str, GroundTruthPolicy] = field(default_factory=dict)
    # Channels, alert policies and retraining (CONTRACT 8); see streamer.notify.config.
    notify: NotifyConfig = field(default_factory=NotifyConfig)

    def __post_init__(self) -> None:
        if self.window_seconds <= 0:
            raise ConfigError("STREAMER_WINDOW_SECONDS must be > 0")
        if self.allowed_lateness_seconds < 0 or self.idle_close_seconds <= 0:
            raise ConfigError("lateness must be >= 0 and idle close > 0 seconds")
        if self.partitions < 1:
            raise ConfigError("STREAMER_PARTITIONS must be >= 1")
        if not 1 <= self.label_shards <= 65536:
            raise ConfigError("STREAMER_LABEL_SHARDS must be in 1..65536")
        if self.baseline_windows < 1:
            raise ConfigError("STREAMER_BASELINE_WINDOWS must be >= 1")
        if self.standby_replicas < 0:
            raise ConfigError("STREAMER_STANDBY_REPLICAS must be >= 0")
        if not 0 < self.heartbeat_interval_seconds < self.session_timeout_seconds:
            raise ConfigError("STREAMER_HEARTBEAT_INTERVAL_SECONDS must be > 0 and below STREAMER_SESSION_TIMEOUT_SECONDS")
        if self.shutdown_timeout_seconds <= 0:
            raise ConfigError("STREAMER_SHUTDOWN_TIMEOUT_SECONDS must be > 0")
        if self.stream_drain not in ("bulk", "take_events"):
            raise ConfigError("STREAMER_STREAM_DRAIN must be bulk or take_events")
        if self.hot_model_wait_seconds <= 0:
            raise ConfigError("STREAMER_HOT_MODEL_WAIT_SECONDS must be > 0")
        from streamer.windows.shards import parse_hot_models  # noqa: PLC0415  (shards imports the topics, which import this)
        parse_hot_models(self.hot_models)

    @property
    def broker_urls(self) -> tuple[str, ...]:
        return tuple(url.strip() for url in self.broker.split(",") if url.strip())

    @property
    def bootstrap_servers(self) -> list[str]:
        """host:port pairs for aiokafka (the ``kafka://`` scheme stripped)."""
        return [url.split("://", 1)[-1] for url in self.broker_urls]

    @property
    def internal_topic_prefix(self) -> str:
        return f"{self.app_id}-"

    @property
    def topic_ticks(self) -> str:
        return f"{self.app_id}-ticks"

    @property
    def topic_status(self) -> str:
        return f"{self.app_id}-model-status"

    @property
    def topic_windows(self) -> str:
        return f"{self.app_id}-windows"

    @property
    def topic_partials(self) -> str:
        """Hot models' partial windows, on their way from the shards to the model's partition."""
        return f"{self.app_id}-shard-partials"

    @property
    def topic_notifications(self) -> str:
        """Delivery outcomes of notifications (read back by the notifier and every replica's API)."""
        return f"{self.app_id}-notifications"

    def drift_policy(self, model: str) -> DriftPolicy:
        return self.model_drift.get(model, self.default_drift)

    def ground_truth_policy(self, model: str) -> GroundTruthPolicy:
        return self.model_ground_truth.get(model, self.default_ground_truth)


_SECURITY_KEYS = {f.name for f in fields(KafkaSecurity)}
_DRIFT_KEYS = {f.name for f in fields(DriftPolicy)}
_SETTING_KEYS = {f.name: f for f in fields(Settings) if f.name not in (
    "security", "default_drift", "model_drift", "default_ground_truth", "model_ground_truth", "notify")}
_MODEL_KEYS = {"drift", "ground_truth", "channels", "alerting"}


def _coerce(name: str, raw: Any, kind: Any) -> Any:
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    integer = "int" in kind_name and "float" not in kind_name
    if kind_name == "bool":
        if isinstance(raw, bool) or str(raw).lower() in ("true", "false", "1", "0", "yes", "no"):
            return raw if isinstance(raw, bool) else str(raw).lower() in ("true", "1", "yes")
        raise ConfigError(f"{name}: expected true or false, got {raw!r}")
    if (integer or "float" in kind_name) and not isinstance(raw, bool):
        try:
            number = float(raw)
        except (TypeError, ValueError):
            number = math.nan
        if math.isfinite(number) and (not integer or number.is_integer()):
            return int(number) if integer else number
    if integer or "float" in kind_name:
        raise ConfigError(f"{name}: expected a number, got {raw!r}" + (" (a whole number)" if integer else ""))
    return None if raw in (None, "") and "None" in kind_name else str(raw)


def _read_file(path: str) -> dict[str, Any]:
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read STREAMER_CONFIG {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text) if file.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot parse STREAMER_CONFIG {path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"STREAMER_CONFIG {path}: the top level must be a mapping")
    return data


def _drift_policy(base: DriftPolicy, values: Any, where: str) -> DriftPolicy:
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = set(values) - _DRIFT_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_DRIFT_KEYS)}")
    coerced = {k: _coerce(f"{where}.{k}", v, type(getattr(base, k)).__name__) for k, v in values.items()}
    return replace(base, **coerced)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``env`` (default ``os.environ``) and ``STREAMER_CONFIG``.

    Every mistake in the file is collected before anything is refused, so one :class:`ConfigError`
    lists them all, each with its path in the file.
    """
    env = os.environ if env is None else env
    file_values = _read_file(env["STREAMER_CONFIG"]) if env.get("STREAMER_CONFIG") else {}
    problems: list[str] = []
    values: dict[str, Any] = {}
    security: dict[str, Any] = {}
    for key, raw in file_values.items():
        if key in _SETTING_KEYS:
            values[key] = ",".join(f"{m}:{n}" for m, n in raw.items()) if key == "hot_models" and isinstance(raw, dict) else raw
        elif key in _SECURITY_KEYS:
            security[key] = raw
        elif key not in ("drift", "models", "ground_truth", "channels", "alerting"):
            problems.append(f"STREAMER_CONFIG: unknown key {key!r}")
    for key in list(_SETTING_KEYS) + list(_SECURITY_KEYS):
        env_value = env.get(f"STREAMER_{key.upper()}")
        if env_value is not None:
            (security if key in _SECURITY_KEYS else values)[key] = env_value
    coerced: dict[str, Any] = {}
    for key, value in values.items():
        with _collect(problems):
            coerced[key] = _coerce(f"STREAMER_{key.upper()}", value, _SETTING_KEYS[key].type)
    default_drift, default_ground_truth = DriftPolicy(), GroundTruthPolicy()
    with _collect(problems):
        default_drift = _drift_policy(DriftPolicy(), file_values.get("drift", {}), "drift")
    with _collect(problems):
        default_ground_truth = parse_ground_truth(GroundTruthPolicy(), file_values.get("ground_truth", {}), "ground_truth")
    model_drift, model_ground_truth = {}, {}
    models = file_values.get("models", {}) or {}
    if not isinstance(models, dict):
        problems.append("STREAMER_CONFIG: 'models' must map model names to overrides")
        models = {}
    for model, overrides in models.items():
        overrides = overrides or {}
        if not isinstance(overrides, dict):
            problems.append(f"STREAMER_CONFIG: models.{model} must be a mapping")
            continue
        unknown = set(overrides) - _MODEL_KEYS
        if unknown:
            problems.append(f"STREAMER_CONFIG: models.{model}: unknown keys {sorted(unknown)}; "
                            f"known: {sorted(_MODEL_KEYS)}")
        if "drift" in overrides:
            with _collect(problems):
                model_drift[str(model)] = _drift_policy(default_drift, overrides["drift"], f"models.{model}.drift")
        if "ground_truth" in overrides:
            with _collect(problems):
                model_ground_truth[str(model)] = parse_ground_truth(
                    default_ground_truth, overrides["ground_truth"], f"models.{model}.ground_truth")
    notify, notify_problems = parse_notify(file_values, env)
    problems += notify_problems
    settings = None
    if not problems:
        with _collect(problems):
            settings = Settings(
                **coerced,
                security=KafkaSecurity(**{k: (None if v in ("", None) else str(v)) for k, v in security.items()}),  # type: ignore[arg-type]
                default_drift=default_drift,
                model_drift=model_drift,
                default_ground_truth=default_ground_truth,
                model_ground_truth=model_ground_truth,
                notify=notify,
            )
    if settings is None:
        if len(problems) == 1:
            raise ConfigError(problems[0])
        source = f"STREAMER_CONFIG {env['STREAMER_CONFIG']}" if env.get("STREAMER_CONFIG") else "the environment"
        raise ConfigError(f"{source}: {len(problems)} mistakes:\n" + "\n".join(f"  {p}" for p in problems))
    return settings


@contextmanager
def _collect(problems: list[str]) -> Iterator[None]:
    """Note a :class:`ConfigError` and go on, so every mistake is reported at once."""
    try:
        yield
    except ConfigError as exc:
        problems.append(str(exc))
