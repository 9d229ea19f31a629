"""Typed models of the configuration file's ``channels`` and ``alerting`` sections (CONTRACT 8).

The models are pydantic (strict: unknown keys are mistakes); :mod:`streamer.notify.parse` validates
a file's sections with them and resolves the secrets into a :class:`NotifyConfig`.

Secrets (webhook URLs with tokens, signing secrets, passwords, authorization headers) come only
from the environment (``*_env``, ``{env: NAME}``) or from files (``*_file``, ``{file: PATH}``); they
are read once and kept as :class:`pydantic.SecretStr`, whose ``repr`` and ``str`` hide them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
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
