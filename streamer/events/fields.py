"""Checks of single fields of prediction and label messages (CONTRACT 4.1, 4.2), each raising
:class:`~streamer.errors.InvalidEventError` with a text that says what is wrong and where.

>>> model_of("fraud"), version_of(3), kind_of([1])
('fraud', '3', 'array')
>>> model_of("bad name!")
Traceback (most recent call last):
...
streamer.errors.InvalidEventError: model 'bad name!' has characters other than letters, digits and _ . : -
"""

from __future__ import annotations

import re
from typing import Any

from streamer.errors import InvalidEventError
from streamer.events.timestamps import parse_timestamp

MAX_NAME_CHARS = 200
DEFAULT_VERSION = "default"
MODEL_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
SCALARS = frozenset({int, float, str, bool, type(None)})
SCALAR_TEXT = "a number, string, boolean or null"
KINDS = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean",
         type(None): "null"}


def model_of(value: Any) -> str:
    if type(value) is str and MODEL_NAME.fullmatch(value) is not None:
        return value
    if value is None:
        raise InvalidEventError("model is missing")
    if type(value) is not str:
        raise InvalidEventError(f"model must be a string, got {kind_of(value)}")
    if not value:
        raise InvalidEventError("model is empty")
    if len(value) > MAX_NAME_CHARS:
        raise InvalidEventError(f"model is longer than {MAX_NAME_CHARS} characters")
    raise InvalidEventError(f"model {value!r} has characters other than letters, digits and _ . : -")


def version_of(value: Any) -> str:
    kind = type(value)
    if kind is str:
        if len(value) <= MAX_NAME_CHARS:
            return value or DEFAULT_VERSION
        raise InvalidEventError(f"version is longer than {MAX_NAME_CHARS} characters")
    if value is None:
        return DEFAULT_VERSION
    if kind is int or kind is float:
        return str(value)
    raise InvalidEventError(f"version must be a string or number, got {kind_of(value)}")


def timestamp_of(value: Any, field: str) -> float:
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise InvalidEventError(f"{field} {exc}") from exc


def check_features(features: Any, field: str) -> None:
    if type(features) is not dict:
        raise InvalidEventError(f"{field} must be an object, got {kind_of(features)}")
    if not SCALARS.issuperset(map(type, features.values())):
        for name, value in features.items():
            if type(value) not in SCALARS:
                raise InvalidEventError(f"{field}.{name[:MAX_NAME_CHARS]} must be {SCALAR_TEXT}, "
                                        f"got {kind_of(value)}")
    if features and ("" in features or max(map(len, features)) > MAX_NAME_CHARS):
        if "" in features:
            raise InvalidEventError(f"{field} has an empty feature name")
        longest = max(features, key=len)
        raise InvalidEventError(f"{field} has a feature name longer than {MAX_NAME_CHARS} characters: "
                                f"{longest[:60]!r}...")


def proba_of(value: Any) -> Any:
    kind = type(value)
    if kind is float or kind is int:
        if 0 <= value <= 1:
            return value
        raise InvalidEventError(f"prediction_proba must be between 0 and 1, got {value!r}")
    if value is None:
        return None
    if kind is dict and value:
        for name, probability in value.items():
            if not (type(probability) in (float, int) and 0 <= probability <= 1):
                raise InvalidEventError(f"prediction_proba.{name[:MAX_NAME_CHARS]} must be a number between 0 "
                                        f"and 1, got {describe(probability)}")
        return value
    raise InvalidEventError("prediction_proba must be a number between 0 and 1 or a non-empty object of "
                            f"class to probability, got {describe(value)}")


def latency_of(value: Any, field: str) -> Any:
    kind = type(value)
    if (kind is float or kind is int) and value >= 0:
        return value
    if value is None:
        return None
    raise InvalidEventError(f"{field} must be a non-negative number, got {describe(value)}")


def error_of(value: Any, field: str) -> str | None:
    if type(value) is str:
        return value or None
    if value is None:
        return None
    raise InvalidEventError(f"{field} must be a string or null, got {kind_of(value)}")


def request_id_of(value: Any, field: str) -> str | None:
    kind = type(value)
    if kind is str:
        return value or None
    if value is None:
        return None
    if kind is int:
        return str(value)
    raise InvalidEventError(f"{field} must be a string, got {kind_of(value)}")


def kind_of(value: Any) -> str:
    return KINDS.get(type(value), type(value).__name__)


def describe(value: Any) -> str:
    kind = type(value)
    if kind is int or kind is float:
        return repr(value)
    if kind is str:
        return f"string {value[:60]!r}"
    if kind is dict and not value:
        return "empty object"
    if kind is list and not value:
        return "empty array"
    return kind_of(value)
