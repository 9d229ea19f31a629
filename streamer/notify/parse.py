"""Validate the ``channels`` and ``alerting`` sections of a config file and resolve their secrets.

:func:`parse_notify` validates both sections, globally and under ``models.<name>``, and returns
every mistake with its path in the file, so one run of ``streamer config check`` lists them all:

>>> config, problems = parse_notify({
...     "channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:1/x", "secret": "hunter2"}},
...     "alerting": {"routes": [{"kinds": ["data_drift_detected"], "channels": ["hook", "pagr"]}]},
... }, env={})
>>> for line in problems: print(line)
channels.hook.secret: secrets are not accepted in plain text; use secret_env or secret_file
alerting.routes[0].channels[1]: no channel named 'pagr'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from streamer.notify.config import (
    CHANNEL_TYPES,
    Alerting,
    AlertingOverride,
    Channel,
    HttpChannel,
    NotifyConfig,
    SecretRef,
)


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

