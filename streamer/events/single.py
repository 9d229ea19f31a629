"""Single-event prediction messages decoded a batch at a time, with few Python steps per message.

Most producers that do not batch send one plain event per message: a model, maybe a version, a
timestamp, flat features and a prediction. :func:`parse_single_events` decodes such messages with the
checks of :func:`~streamer.events.parse.parse_prediction_message` inlined, and the worker's own limits
(feature count, how far ahead of the clock) checked in the same pass. A message it is not sure of
(another form, an unusual field, anything that fails a check) comes back as ``None``: the caller
parses that one message with ``parse_prediction_message``, so a bad message is rejected alone and
with the same reason as before.

>>> events = [b'{"model": "fraud", "timestamp": 1795687200, "features": {"amount": 12.5}, "prediction": 1}',
...           b'{"model": "fraud", "rows": [{"features": {"amount": 1}}]}',
...           b'{"model": "fraud", "features": {"amount": [1, 2]}}']
>>> first, batch, bad = parse_single_events(events, [1795687300.0] * 3)
>>> first.key, first.timestamps_s, first.features, first.predictions
(('fraud', 'default'), [1795687200.0], [{'amount': 12.5}], [1])
>>> batch is None, bad is None
(True, True)

Every message is decoded on its own. One ``orjson.loads`` over the messages joined into a JSON array
would save about a microsecond a message, but two malformed messages can join into valid elements
(``{"a": "`` and ``"}`` make one object), so a count check cannot tell that they were bad.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import orjson

from streamer.batch import Inbound
from streamer.errors import InvalidEventError
from streamer.events.fields import (
    DEFAULT_VERSION,
    MAX_NAME_CHARS,
    MODEL_NAME,
    SCALARS,
    error_of,
    latency_of,
    proba_of,
    request_id_of,
)
from streamer.events.parse import MAX_MESSAGE_BYTES
from streamer.events.rows import PredictionRows
from streamer.events.timestamps import MAX_SECONDS, MIN_SECONDS, parse_timestamp

#: The fields a plain single event may have; a message with any other goes through the full parser.
SINGLE_EVENT_FIELDS = frozenset({"model", "version", "timestamp", "features", "prediction", "prediction_proba",
                                 "latency_ms", "error", "request_id"})
_NUMBERS = (int, float)


def parse_single_events(payloads: Sequence[bytes], record_timestamps_s: Sequence[float], *,
                        max_bytes: int = MAX_MESSAGE_BYTES, max_features: int = 1 << 62,
                        latest_s: float = math.inf) -> list[PredictionRows | None]:
    """Each payload's rows when it is a plain single event within the limits, else ``None`` (parse it alone).

    ``latest_s`` is the latest event time accepted, ``max_features`` the most features an event may have.
    """
    loads, decode_error, fields, scalars = orjson.loads, orjson.JSONDecodeError, SINGLE_EVENT_FIELDS, SCALARS
    models: set[str] = set()  # names already checked in this call
    out: list[PredictionRows | None] = []
    append = out.append
    for payload, record_timestamp_s in zip(payloads, record_timestamps_s, strict=True):
        if not payload or len(payload) > max_bytes:
            append(None)
            continue
        try:
            message = loads(payload)
        except decode_error:
            append(None)
            continue
        if type(message) is not dict or not fields.issuperset(message):
            append(None)
            continue
        get = message.get
        model = get("model")
        if type(model) is not str or model not in models:
            if type(model) is not str or MODEL_NAME.fullmatch(model) is None:
                append(None)
                continue
            models.add(model)
        version = get("version")
        if version is None or version == "":
            version = DEFAULT_VERSION
        elif type(version) is not str or len(version) > MAX_NAME_CHARS:
            if type(version) not in _NUMBERS:
                append(None)
                continue
            version = str(version)
        value = get("timestamp")
        if value is None:
            timestamp_s = float(record_timestamp_s)
        elif type(value) in _NUMBERS:
            timestamp_s = float(value)
            if not MIN_SECONDS <= timestamp_s < MAX_SECONDS:
                append(None)
                continue
        else:
            try:
                timestamp_s = parse_timestamp(value)
            except ValueError:
                append(None)
                continue
        features = get("features")
        if features is None:
            features = {}
        elif (type(features) is not dict or len(features) > max_features
              or not scalars.issuperset(map(type, features.values()))
              or (features and ("" in features or max(map(len, features)) > MAX_NAME_CHARS))):
            append(None)
            continue
        prediction = get("prediction")
        if type(prediction) not in scalars or timestamp_s > latest_s:
            append(None)
            continue
        try:
            proba = None if "prediction_proba" not in message else proba_of(message["prediction_proba"])
            latency_ms = None if "latency_ms" not in message else latency_of(message["latency_ms"], "latency_ms")
            error = None if "error" not in message else error_of(message["error"], "error")
            request_id = None if "request_id" not in message else request_id_of(message["request_id"], "request_id")
        except InvalidEventError:
            append(None)
            continue
        if not features and prediction is None and error is None:
            append(None)
            continue
        append(PredictionRows(model, version, [timestamp_s], [features], [prediction], [proba], [latency_ms],
                              [error], [request_id]))
    return out


def decode_singles(records: Sequence[Inbound], wanted: Callable[[Inbound], bool], *, max_bytes: int,
                   max_features: int, latest_s: float) -> dict[int, PredictionRows]:
    """The rows of the ``wanted`` records that are plain single events, by position in ``records``."""
    picked = [index for index, record in enumerate(records) if wanted(record)]
    parsed = parse_single_events([records[i].value for i in picked], [records[i].timestamp_s for i in picked],
                                 max_bytes=max_bytes, max_features=max_features, latest_s=latest_s)
    return {index: rows for index, rows in zip(picked, parsed, strict=True) if rows is not None}
