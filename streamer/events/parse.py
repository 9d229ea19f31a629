"""Prediction and label messages (CONTRACT 4.1, 4.2) checked and decoded into column form.

Each failure raises :class:`~streamer.errors.InvalidEventError` whose text says what is wrong and
where; it becomes the message's dead-letter reason. A prediction message comes in three forms.

A single event:

>>> rows = parse_prediction_message(
...     b'{"model": "fraud", "features": {"amount": 12.5, "country": "DE"}, "prediction": 1}', 1795687200.0)
>>> rows.key, rows.timestamps_s, rows.features
(('fraud', 'default'), [1795687200.0], [{'amount': 12.5, 'country': 'DE'}])

A batch, whose top-level fields are each row's defaults (a row's ``features`` replace the default ones):

>>> rows = parse_prediction_message(b'''{"model": "fraud", "version": 3, "timestamp": "2026-11-26T10:00:00Z",
...     "rows": [{"features": {"amount": 1}, "prediction": 0},
...              {"features": {"amount": 2}, "prediction": 1, "timestamp": 1795687201}]}''', 0.0)
>>> rows.version, rows.timestamps_s, rows.predictions
('3', [1795687200.0, 1795687201.0], [0, 1])

A record of MLRun's serving graph, one row per element of ``request.inputs``:

>>> record = b'''{"model": "churn", "version": "v2", "when": "2026-11-26 10:00:00.000000+00:00",
...     "microsec": 1500, "request": {"id": "r-1", "inputs": [[1.0, "DE"], [2.0, "FR"]]},
...     "resp": {"outputs": [0, 1]}}'''
>>> rows = parse_prediction_message(record, 0.0, feature_names=lambda model, version: ["amount", "country"])
>>> rows.features, rows.predictions, rows.latencies_ms
([{'amount': 1.0, 'country': 'DE'}, {'amount': 2.0, 'country': 'FR'}], [0, 1], [1.5, 1.5])

>>> parse_prediction_message(b'{"model": "fraud", "features": {"amount": [1, 2]}}', 0.0)
Traceback (most recent call last):
...
streamer.errors.InvalidEventError: features.amount must be a number, string, boolean or null, got array

Feature mappings are stored as decoded, not copied: a batch's default ``features`` object is shared by
the rows that use it, so consumers must not change them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from streamer.errors import InvalidEventError
from streamer.events.fields import (
    MAX_NAME_CHARS,
    SCALAR_TEXT,
    SCALARS,
    check_features,
    describe,
    error_of,
    kind_of,
    latency_of,
    model_of,
    proba_of,
    request_id_of,
    timestamp_of,
    version_of,
)
from streamer.events.labels import LabelEvent
from streamer.events.rows import PredictionRows, Scalar
from streamer.events.timestamps import parse_timestamp

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MAX_ROWS = 100_000

#: ``feature_names(model, version)``: the names of list-shaped MLRun inputs, or None when unknown.
FeatureNames = Callable[[str, str], list[str] | None]

# One row in column order: timestamp_s, features, prediction, proba, latency_ms, error, request_id.
_Row = tuple[float, dict[str, Any], Any, Any, Any, str | None, str | None]

_ABSENT: Any = object()


def parse_prediction_message(
    payload: bytes,
    record_timestamp_s: float,
    *,
    max_bytes: int = MAX_MESSAGE_BYTES,
    max_rows: int = MAX_ROWS,
    feature_names: FeatureNames | None = None,
) -> PredictionRows:
    """The rows of one prediction message; ``record_timestamp_s`` stands in for absent timestamps."""
    message = _decode(payload, max_bytes)
    model = model_of(message.get("model"))
    request = message.get("request")
    if type(request) is dict and ("resp" in message or "error" in message):
        return _parse_mlrun(message, model, request, float(record_timestamp_s), max_rows, feature_names)
    version = version_of(message.get("version"))
    rows = message.get("rows")
    no_defaults: _Row = (float(record_timestamp_s), {}, None, None, None, None, None)
    if rows is None:
        row = _parse_row(message, no_defaults)
        if not row[1] and row[2] is None and row[5] is None:
            if "headers" in message and "values" in message:
                raise InvalidEventError("MLRun batched records (headers and values) are not supported")
            raise InvalidEventError("event has neither features, prediction nor a non-empty error")
        return _columns(model, version, [row])

    defaults = _parse_row(message, no_defaults)
    if type(rows) is not list:
        raise InvalidEventError(f"rows must be a list of objects, got {kind_of(rows)}")
    if not rows:
        raise InvalidEventError("rows is empty")
    if len(rows) > max_rows:
        raise InvalidEventError(f"rows has {len(rows)} rows, more than the limit of {max_rows}")
    parsed = []
    for index, row in enumerate(rows):
        if type(row) is not dict:
            raise InvalidEventError(f"rows[{index}] must be an object, got {kind_of(row)}")
        try:
            fields = _parse_row(row, defaults)
        except InvalidEventError as exc:
            raise InvalidEventError(f"rows[{index}].{exc}") from None
        if not fields[1] and fields[2] is None and fields[5] is None:
            raise InvalidEventError(f"rows[{index}] has neither features, prediction nor a non-empty error")
        parsed.append(fields)
    return _columns(model, version, parsed)


def parse_label_message(payload: bytes, record_timestamp_s: float, *,
                        max_bytes: int = MAX_MESSAGE_BYTES) -> LabelEvent:
    """The label event in ``payload``; ``record_timestamp_s`` stands in for an absent timestamp.

    >>> parse_label_message(b'{"model": "fraud", "request_id": "r-81731", "label": 0}', 1795687200.0)
    LabelEvent(model='fraud', version='default', request_id='r-81731', label=0, timestamp_s=1795687200.0)
    """
    message = _decode(payload, max_bytes)
    model = model_of(message.get("model"))
    version = version_of(message.get("version"))
    request_id = request_id_of(message.get("request_id"), "request_id")
    if request_id is None:
        raise InvalidEventError("request_id is missing")
    label = message.get("label")
    if label is None:
        raise InvalidEventError("label is missing" if "label" not in message else "label is null")
    if type(label) not in SCALARS:
        raise InvalidEventError(f"label must be a number, string or boolean, got {kind_of(label)}")
    if type(label) is float and not math.isfinite(label):
        raise InvalidEventError(f"label must be a finite number, got {label}")
    value = message.get("timestamp")
    timestamp_s = float(record_timestamp_s) if value is None else timestamp_of(value, "timestamp")
    return LabelEvent(model=model, version=version, request_id=request_id, label=label, timestamp_s=timestamp_s)


def _decode(payload: bytes, max_bytes: int) -> dict[str, Any]:
    if not payload:
        raise InvalidEventError("payload is empty")
    if len(payload) > max_bytes:
        raise InvalidEventError(f"payload of {len(payload)} bytes is larger than the limit of {max_bytes} bytes")
    try:
        message = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        try:
            text = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as utf8_exc:
            raise InvalidEventError(f"payload is not UTF-8: {utf8_exc.reason} at byte {utf8_exc.start}") from exc
        message = _decode_non_finite(text)
        if message is None:
            raise InvalidEventError(f"payload is not valid JSON: {exc}") from exc
    if type(message) is not dict:
        raise InvalidEventError(f"payload is a JSON {kind_of(message)}, not an object")
    return message


def _decode_non_finite(text: str) -> Any:
    """JSON with NaN, Infinity or numbers too large for a double (as Python's json and pandas write
    them): decoded with the standard library, which reads them as non-finite floats; None otherwise."""
    try:
        message = json.loads(text)
        orjson.dumps(message)  # what orjson rejects besides these (lone surrogates) stays rejected
    except (ValueError, RecursionError, TypeError):
        return None
    return message


def _parse_row(row: dict[str, Any], defaults: _Row) -> _Row:
    """One row's fields; a field the row lacks takes its value from ``defaults``."""
    get = row.get
    value = get("timestamp")
    timestamp_s = defaults[0] if value is None else timestamp_of(value, "timestamp")
    features = get("features", _ABSENT)
    if features is _ABSENT:
        features = defaults[1]
    elif features is None:
        features = {}
    else:
        check_features(features, "features")
    prediction = get("prediction", _ABSENT)
    if prediction is _ABSENT:
        prediction = defaults[2]
    elif type(prediction) not in SCALARS:
        raise InvalidEventError(f"prediction must be {SCALAR_TEXT}, got {kind_of(prediction)}")
    elif type(prediction) is float and not math.isfinite(prediction):
        raise InvalidEventError(f"prediction must be a finite number, got {prediction}")
    value = get("prediction_proba", _ABSENT)
    proba = defaults[3] if value is _ABSENT else proba_of(value)
    value = get("latency_ms", _ABSENT)
    latency_ms = defaults[4] if value is _ABSENT else latency_of(value, "latency_ms")
    value = get("error", _ABSENT)
    error = defaults[5] if value is _ABSENT else error_of(value, "error")
    value = get("request_id", _ABSENT)
    request_id = defaults[6] if value is _ABSENT else request_id_of(value, "request_id")
    return (timestamp_s, features, prediction, proba, latency_ms, error, request_id)


def _columns(model: str, version: str, rows: list[_Row]) -> PredictionRows:
    if len(rows) == 1:
        timestamp_s, features_, prediction, proba, latency_ms, error, request_id = rows[0]
        return PredictionRows(model=model, version=version, timestamps_s=[timestamp_s], features=[features_],
                              predictions=[prediction], probas=[proba], latencies_ms=[latency_ms], errors=[error],
                              request_ids=[request_id])
    timestamps, features, predictions, probas, latencies, errors, request_ids = map(list, zip(*rows, strict=True))
    return PredictionRows(model=model, version=version, timestamps_s=timestamps, features=features,
                          predictions=predictions, probas=probas, latencies_ms=latencies, errors=errors,
                          request_ids=request_ids)


def _parse_mlrun(message: dict[str, Any], model: str, request: dict[str, Any], record_timestamp_s: float,
                 max_rows: int, feature_names: FeatureNames | None) -> PredictionRows:
    """A record of MLRun's serving graph (``mlrun.serving.v2_serving._ModelLogPusher``)."""
    resp = message.get("resp")
    if resp is None:
        resp = {}
    elif type(resp) is not dict:
        raise InvalidEventError(f"resp must be an object, got {kind_of(resp)}")
    version = message.get("version")
    version = version_of(resp.get("model_version") if version is None or version == "" else version)
    when = message.get("when")
    timestamp_s = record_timestamp_s if when is None else timestamp_of(when, "when")
    microsec = message.get("microsec")
    latency_ms = None if microsec is None else latency_of(microsec, "microsec") / 1000.0
    error = error_of(message.get("error"), "error")
    request_id = request.get("id")
    request_id = request_id_of(resp.get("id") if request_id is None else request_id, "request.id")
    inputs = request.get("inputs")
    outputs = resp.get("outputs")

    if error is not None and not inputs:
        features: list[Mapping[str, Scalar]] = [{}]
        predictions: list[Any] = [None]
    else:
        if type(inputs) is not list or not inputs:
            raise InvalidEventError(f"request.inputs must be a non-empty list, got {describe(inputs)}")
        if len(inputs) > max_rows:
            raise InvalidEventError(f"request.inputs has {len(inputs)} rows, more than the limit of {max_rows}")
        if not any(type(element) is list or type(element) is dict for element in inputs):
            # Only scalars: one row of features, as MLRun itself reads it, unless the outputs say
            # that each scalar is a row of its own.
            if type(outputs) is list and len(outputs) == len(inputs) > 1:
                inputs = [[element] for element in inputs]
            else:
                inputs = [inputs]
        features = _mlrun_features(inputs, request, model, version, feature_names)
        predictions = _mlrun_predictions(outputs, len(inputs), error)
    count = len(features)
    return PredictionRows(model=model, version=version, timestamps_s=[timestamp_s] * count, features=features,
                          predictions=predictions, probas=[None] * count, latencies_ms=[latency_ms] * count,
                          errors=[error] * count, request_ids=[request_id] * count)


def _mlrun_features(inputs: list[Any], request: dict[str, Any], model: str, version: str,
                    feature_names: FeatureNames | None) -> list[Mapping[str, Scalar]]:
    names: list[str] | None = None
    rows: list[Mapping[str, Scalar]] = []
    for index, element in enumerate(inputs):
        kind = type(element)
        if kind is list:
            if names is None:
                names = _input_names(request, model, version, feature_names)
            if len(element) > len(names):
                names.extend(f"f{position}" for position in range(len(names), len(element)))
            if not SCALARS.issuperset(map(type, element)):
                for position, value in enumerate(element):
                    if type(value) not in SCALARS:
                        raise InvalidEventError(f"request.inputs[{index}][{position}] ({names[position]}) "
                                                f"must be {SCALAR_TEXT}, got {kind_of(value)}")
            rows.append(dict(zip(names, element, strict=False)))
        elif kind is dict:
            check_features(element, f"request.inputs[{index}]")
            rows.append(element)
        else:
            raise InvalidEventError(f"request.inputs[{index}] must be an array or object, got {kind_of(element)}")
    return rows


def _input_names(request: dict[str, Any], model: str, version: str,
                 feature_names: FeatureNames | None) -> list[str]:
    """Names for list-shaped inputs: the reference's, else MLRun's ``input_schema``, else none (f0, f1, ...)."""
    names = feature_names(model, version) if feature_names is not None else None
    if names:
        return list(names)
    schema = request.get("input_schema")
    if schema is None:
        return []
    if type(schema) is not list or not all(type(name) is str and 0 < len(name) <= MAX_NAME_CHARS
                                           for name in schema):
        raise InvalidEventError("request.input_schema must be a list of feature names")
    return list(schema)


def _mlrun_predictions(outputs: Any, count: int, error: str | None) -> list[Any]:
    if type(outputs) is not list or len(outputs) != count:
        if error is not None:
            return [None] * count
        if type(outputs) is not list:
            raise InvalidEventError(f"resp.outputs must be a list, got {describe(outputs)}")
        raise InvalidEventError(f"resp.outputs has {len(outputs)} entries but request.inputs has {count}")
    if SCALARS.issuperset(map(type, outputs)):
        return outputs
    predictions = []
    for index, output in enumerate(outputs):
        if type(output) is list and len(output) == 1 and type(output[0]) in SCALARS:
            output = output[0]
        elif type(output) not in SCALARS:
            raise InvalidEventError(f"resp.outputs[{index}] must be {SCALAR_TEXT} or a one-element array, "
                                    f"got {describe(output)}")
        predictions.append(output)
    return predictions


_LABEL_TYPES = (int, float, str, bool)


def _row_label(row: dict[str, Any], model: str, version: str, default_time_s: float) -> LabelEvent:
    request_id = row.get("request_id")
    if type(request_id) is int:
        request_id = str(request_id)
    if type(request_id) is not str or not request_id:
        raise InvalidEventError("request_id is missing" if request_id in (None, "") else "request_id must be a string")
    label = row.get("label")
    if label is None:
        raise InvalidEventError("label is missing" if "label" not in row else "label is null")
    if type(label) not in _LABEL_TYPES:
        raise InvalidEventError(f"label must be a number, string or boolean, got {type(label).__name__}")
    value = row.get("timestamp")
    try:
        time_s = default_time_s if value is None else parse_timestamp(value)
    except ValueError as exc:
        raise InvalidEventError(f"timestamp {exc}") from exc
    return LabelEvent(model=model, version=version, request_id=request_id, label=label, timestamp_s=time_s)


def parse_labels(payload: bytes, record_timestamp_s: float, max_bytes: int) -> list[LabelEvent]:
    """The label events of one message, single or batch form (CONTRACT 4.2); one bad row rejects the message.

    >>> [(x.request_id, x.label) for x in parse_labels(b'{"model": "m", "rows": [{"request_id": "a", "label": 1}]}',
    ...                                                0.0, 1000)]
    [('a', 1)]
    """
    try:
        message = orjson.loads(payload) if len(payload) <= max_bytes else None
    except orjson.JSONDecodeError:
        message = None
    if not isinstance(message, dict) or "rows" not in message:
        return [parse_label_message(payload, record_timestamp_s, max_bytes=max_bytes)]
    # The top-level fields are checked as the single form checks them, then each row on its own.
    head = parse_label_message(orjson.dumps({**{k: v for k, v in message.items() if k != "rows"},
                                             "request_id": "-", "label": 0}), record_timestamp_s, max_bytes=max_bytes)
    rows = message["rows"]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InvalidEventError("rows must be a list of objects")
    defaults = {k: message[k] for k in ("label", "timestamp") if k in message}
    return [_row_label({**defaults, **row} if defaults else row, head.model, head.version, head.timestamp_s)
            for row in rows]
