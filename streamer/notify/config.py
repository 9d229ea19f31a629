"""Typed models of the configuration file's ``channels`` and ``alerting`` sections (CONTRACT 8).

:func:`parse_notify` validates both sections, globally and under ``models.<name>``, and returns
every mistake with its path in the file, so one run of ``streamer config check`` lists them all:

>>> config, problems = parse_notify({
...     "channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:1/x", "secret": "hunter2"}},
...     "alerting": {"routes": [{"kinds": ["data_drift_detected"], "channels": ["hook", "pagr"]}]},
... }, env={})
>>> for line in problems: print(line)
channels.hook.secret: secrets are not accepted in plain text; use secret_env or secret_file
alerting.routes[0].channels[1]: no channel named 'pagr'

Secrets (webhook URLs with tokens, signing secrets, passwords, authorization headers) come only
from the environment (``*_env``, ``{env: NAME}``) or from files (``*_file``, ``{file: PATH}``); they
are read once here and kept as :class:`pydantic.SecretStr`, whose ``repr`` and ``str`` hide them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from streamer.alerts.alert import KINDS

if TYPE_CHECKING:
    Kind = str
else:
    Kind = Literal[KINDS + ("resolved",)]
Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
# Header names whose values are credentials: plain text is refused for them.
_SECRET_HEADER = re.compile(r"authorization|token|secret|password|api[-_]?key|cookie", re.IGNORECASE)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SecretRef(_Strict):
    """``{env: NAME}`` or ``{file: PATH}``: where a secret value is read from."""

    env: str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self


def _no_plain_secret(name: str) -> Any:
    """A field validator refusing a secret written in plain text."""

    def check(cls: Any, value: Any) -> Any:
        if value is not None:
            raise ValueError(f"secrets are not accepted in plain text; use {name}_env or {name}_file")
        return value

    return field_validator(name, mode="before")(check)


class _Channel(_Strict):
    timeout_seconds: float = Field(default=10.0, gt=0, description="per delivery attempt")
    max_attempts: int = Field(default=8, ge=1)
    initial_backoff_seconds: float = Field(default=1.0, gt=0)
    max_backoff_seconds: float = Field(default=300.0, gt=0)


class SlackChannel(_Channel):
    type: Literal["slack"]
    # A Slack incoming-webhook URL is itself the credential.
    url: str | None = None
    url_env: str | None = None
    url_file: str | None = None
    _plain_url = _no_plain_secret("url")


class WebhookChannel(_Channel):
    type: Literal["webhook"]
    url: str | None = None
    url_env: str | None = None
    url_file: str | None = None
    secret: str | None = None
    secret_env: str | None = None
    secret_file: str | None = None
    _plain_secret = _no_plain_secret("secret")


class EmailChannel(_Channel):
    type: Literal["email"]
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False  # implicit TLS (port 465)
    ca_file: str | None = None  # trust this CA bundle (a private relay's certificate)
    username: str | None = None
    username_env: str | None = None
    username_file: str | None = None
    password: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    _plain_password = _no_plain_secret("password")


class HttpChannel(_Channel):
    type: Literal["http"]
    url: str | None = None
    url_env: str | None = None
    url_file: str | None = None
    method: Literal["GET", "POST", "PUT", "PATCH"] = "POST"
    headers: dict[str, str | SecretRef] = Field(default_factory=dict)
    body: str | None = None

    @field_validator("headers")
    @classmethod
    def _secret_headers(cls, headers: dict[str, str | SecretRef]) -> dict[str, str | SecretRef]:
        for name, value in headers.items():
            if isinstance(value, str) and _SECRET_HEADER.search(name):
                raise ValueError(f"header {name!r} carries a credential: give it as {{env: NAME}} or {{file: PATH}}")
        return headers


Channel = SlackChannel | WebhookChannel | EmailChannel | HttpChannel
CHANNEL_TYPES: dict[str, type[_Channel]] = {
    "slack": SlackChannel, "webhook": WebhookChannel, "email": EmailChannel, "http": HttpChannel}


class Route(_Strict):
    kinds: list[Kind] = Field(min_length=1)
    channels: list[str] = Field(min_length=1)
    cooldown_seconds: float = Field(default=3600.0, ge=0)
    min_occurrences: int = Field(default=1, ge=1)
    within_windows: int = Field(default=1, ge=1)
    min_severity: Severity = "info"

    @model_validator(mode="after")
    def _reachable(self) -> Route:
        if self.min_occurrences > self.within_windows:
            raise ValueError("min_occurrences cannot exceed within_windows")
        return self


class Retrain(_Strict):
    kinds: list[Kind] = Field(default_factory=lambda: ["data_drift_detected", "model_performance_degraded"],
                              min_length=1)
    min_occurrences: int = Field(default=2, ge=1)
    within_windows: int = Field(default=3, ge=1)
    channel: str | None = None
    cooldown_seconds: float = Field(default=86400.0, ge=0)
    enabled: bool = True

    @model_validator(mode="after")
    def _reachable(self) -> Retrain:
        if self.min_occurrences > self.within_windows:
            raise ValueError("min_occurrences cannot exceed within_windows")
        return self


class RetrainOverride(_Strict):
    """A model's changes to the global retrain policy; unset fields keep the global value."""

    kinds: list[Kind] | None = Field(default=None, min_length=1)
    min_occurrences: int | None = Field(default=None, ge=1)
    within_windows: int | None = Field(default=None, ge=1)
    channel: str | None = None
    cooldown_seconds: float | None = Field(default=None, ge=0)
    enabled: bool | None = None


class Alerting(_Strict):
    enabled: bool = True
    disabled_kinds: list[Kind] = Field(default_factory=list)
    severity: dict[Kind, Severity] = Field(default_factory=dict)  # overrides the alert's own severity
    routes: list[Route] = Field(default_factory=list)
    retrain: Retrain | None = None
    dashboard_url: str | None = None  # base of the dashboard links; default the worker's own address
    # Alerts older than this when the notifier first reads them (a new deployment reading a week of
    # alerts topic) are recorded but not notified.
    max_alert_age_seconds: float = Field(default=3600.0, gt=0)

    def severity_of(self, alert: Mapping[str, Any]) -> str:
        return self.severity.get(alert["kind"], alert.get("severity") or "info")


class AlertingOverride(_Strict):
    """``models.<name>.alerting``: routes replace the global ones, the rest is merged field by field."""

    enabled: bool | None = None
    disabled_kinds: list[Kind] | None = None
    severity: dict[Kind, Severity] | None = None
    routes: list[Route] | None = None
    retrain: RetrainOverride | None = None

    def apply(self, base: Alerting) -> Alerting:
        changes: dict[str, Any] = {k: getattr(self, k) for k in ("enabled", "disabled_kinds", "routes")
                                   if getattr(self, k) is not None}
        if self.severity is not None:
            changes["severity"] = {**base.severity, **self.severity}
        if self.retrain is not None:
            retrain = (base.retrain or Retrain.model_validate({})).model_dump()
            retrain.update(self.retrain.model_dump(exclude_none=True))
            changes["retrain"] = Retrain(**retrain)
        return base.model_copy(update=changes)


@dataclass(frozen=True)
class NotifyConfig:
    """Channels and policies, resolved: per-model channels and alerting merged over the global ones."""

    channels: Mapping[str, Channel] = field(default_factory=dict)
    secrets: Mapping[str, Mapping[str, SecretStr]] = field(default_factory=dict)  # channel key -> field -> value
    alerting: Alerting = field(default_factory=Alerting)
    model_channels: Mapping[str, Mapping[str, Channel]] = field(default_factory=dict)
    model_alerting: Mapping[str, Alerting] = field(default_factory=dict)

    def for_model(self, model: str) -> Alerting:
        return self.model_alerting.get(model, self.alerting)

    def channel_key(self, model: str, name: str) -> str:
        """The key of the channel ``name`` as ``model`` sees it: its own channels shadow global ones."""
        return f"{model}/{name}" if name in self.model_channels.get(model, {}) else name

    def channel(self, key: str) -> Channel:
        model, _, name = key.rpartition("/")
        return self.model_channels[model][name] if model else self.channels[name]

    def secret(self, key: str, name: str) -> str | None:
        value = self.secrets.get(key, {}).get(name)
        return value.get_secret_value() if value is not None else None

    def all_secrets(self) -> list[str]:
        """Every secret value, longest first, for redaction."""
        values = {s.get_secret_value() for fields in self.secrets.values() for s in fields.values()}
        return sorted((v for v in values if v), key=len, reverse=True)

    @property
    def active(self) -> bool:
        return bool(self.channels or self.model_channels or self.alerting.routes or self.alerting.retrain
                    or self.model_alerting)


# -- validation ------------------------------------------------------------------------------------


def _path(prefix: str, loc: tuple[int | str, ...]) -> str:
    text = prefix
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required"
    if error["type"] == "literal_error":
        return f"unknown value {error['input']!r}; expected {error['ctx']['expected']}"
    return str(error["msg"]).removeprefix("Value error, ")


def _validate(model: type[BaseModel], value: Any, where: str, problems: list[str]) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            problems.append(f"{_path(where, loc)}: {_message(error)}")
        return None


def _read_secret(env_where: str, file_where: str, env_name: str | None, file_name: str | None, env: Mapping[str, str],
                 problems: list[str]) -> SecretStr | None:
    if env_name is not None:
        value = env.get(env_name)
        if not value:
            problems.append(f"{env_where}: environment variable {env_name} is not set")
            return None
        return SecretStr(value)
    if file_name is not None:
        try:
            return SecretStr(Path(file_name).read_text().strip())
        except OSError as exc:
            problems.append(f"{file_where}: cannot read {file_name}: {exc.strerror}")
    return None


def _channels(raw: Any, where: str, scope: str, env: Mapping[str, str], problems: list[str],
              secrets: dict[str, dict[str, SecretStr]], declared: set[str]) -> dict[str, Channel]:
    """The valid channels of ``raw``; every name written, valid or not, goes to ``declared``."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping of channel names to channels")
        return {}
    found: dict[str, Channel] = {}
    declared.update(str(name) for name in raw)
    for name, spec in raw.items():
        at = f"{where}.{name}"
        if "/" in str(name):
            problems.append(f"{at}: a channel name cannot contain '/'")
            continue
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind not in CHANNEL_TYPES:
            problems.append(f"{at}.type: " + ("required" if kind is None else f"unknown channel type {kind!r}")
                            + f"; known: {', '.join(CHANNEL_TYPES)}")
            continue
        channel = _validate(CHANNEL_TYPES[kind], spec, at, problems)
        if channel is None:
            continue
        key = f"{scope}/{name}" if scope else str(name)
        values = secrets.setdefault(key, {})
        for secret in ("url", "secret", "username", "password"):
            if not hasattr(channel, f"{secret}_env"):
                continue
            env_name, file_name = getattr(channel, f"{secret}_env"), getattr(channel, f"{secret}_file")
            if env_name is not None and file_name is not None:
                problems.append(f"{at}.{secret}_env: give one of {secret}_env and {secret}_file")
            value = _read_secret(f"{at}.{secret}_env", f"{at}.{secret}_file", env_name, file_name, env, problems)
            if value is not None:
                values[secret] = value
            elif secret == "url" and getattr(channel, "url", None) is None and env_name is None and file_name is None:
                problems.append(f"{at}: give url_env or url_file" + ("" if kind == "slack" else " or url"))
        if isinstance(channel, HttpChannel):
            for header, ref in channel.headers.items():
                if isinstance(ref, SecretRef):
                    read = _read_secret(f"{at}.headers.{header}.env", f"{at}.headers.{header}.file", ref.env, ref.file, env, problems)
                    if read is not None:
                        values[f"header:{header}"] = read
        found[str(name)] = channel
    return found


def _check_refs(raw: Any, where: str, known: set[str], problems: list[str]) -> None:
    """Channel names used by routes and retrain in the raw ``alerting`` section that name no channel.

    Checked on the raw text, so a mistake elsewhere in the section hides none of these.
    """
    if not isinstance(raw, dict):
        return
    routes = raw.get("routes")
    for i, route in enumerate(routes if isinstance(routes, list) else ()):
        names = route.get("channels") if isinstance(route, dict) else None
        for j, name in enumerate(names if isinstance(names, list) else ()):
            if isinstance(name, str) and name not in known:
                problems.append(f"{where}.routes[{i}].channels[{j}]: no channel named {name!r}")
    retrain = raw.get("retrain")
    name = retrain.get("channel") if isinstance(retrain, dict) else None
    if isinstance(name, str) and name not in known:
        problems.append(f"{where}.retrain.channel: no channel named {name!r}")


def parse_notify(file_values: Mapping[str, Any], env: Mapping[str, str]) -> tuple[NotifyConfig, list[str]]:
    """The notification settings of a config file, and every mistake found in them."""
    problems: list[str] = []
    secrets: dict[str, dict[str, SecretStr]] = {}
    declared: set[str] = set()
    channels = _channels(file_values.get("channels"), "channels", "", env, problems, secrets, declared)
    alerting = _validate(Alerting, file_values.get("alerting") or {}, "alerting", problems) or Alerting()
    _check_refs(file_values.get("alerting"), "alerting", declared, problems)
    model_channels: dict[str, dict[str, Channel]] = {}
    model_alerting: dict[str, Alerting] = {}
    models = file_values.get("models")
    for model, overrides in (models.items() if isinstance(models, dict) else ()):
        if not isinstance(overrides, dict):
            continue  # reported by streamer.config
        where = f"models.{model}"
        own_declared = set(declared)
        own = _channels(overrides.get("channels"), f"{where}.channels", str(model), env, problems, secrets,
                        own_declared)
        if own:
            model_channels[str(model)] = own
        override = _validate(AlertingOverride, overrides.get("alerting") or {}, f"{where}.alerting", problems)
        _check_refs(overrides.get("alerting"), f"{where}.alerting", own_declared, problems)
        if override is None:
            continue
        merged = override.apply(alerting)
        if override.model_fields_set or own:
            model_alerting[str(model)] = merged
    return NotifyConfig(channels, secrets, alerting, model_channels, model_alerting), problems

