"""Property-based tests: any input parses into valid rows or raises InvalidEventError, nothing else."""

from __future__ import annotations

import math
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamer.errors import InvalidEventError
from streamer.events.parse import parse_label_message, parse_prediction_message
from streamer.events.rows import PredictionRows

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                    st.text(max_size=30))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                           max_leaves=20)
FIELDS = ("model", "version", "timestamp", "features", "prediction", "prediction_proba", "latency_ms", "error",
          "request_id", "rows", "request", "resp", "when", "microsec", "label")
field_values = st.one_of(
    json_values, st.sampled_from(["fraud", "m-1", "", "x" * 201, "2026-11-26T10:00:00Z", "not a time"]),
    st.dictionaries(st.text(max_size=8), scalars, max_size=5), st.floats(min_value=0, max_value=4e9),
)
messages = st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=8)
rows_messages = st.builds(lambda top, rows: {**top, "model": "fraud", "rows": rows}, messages,
                          st.lists(messages, max_size=5))


def check_rows(rows: PredictionRows) -> None:
    n = len(rows)
    assert n >= 1
    for column in (rows.features, rows.predictions, rows.probas, rows.latencies_ms, rows.errors, rows.request_ids):
        assert len(column) == n
    assert all(isinstance(t, float) and math.isfinite(t) for t in rows.timestamps_s)
    assert all(isinstance(f, dict) for f in rows.features)
    for features in rows.features:
        assert all(type(v) in (int, float, str, bool, type(None)) for v in features.values())
    assert all(latency is None or latency >= 0 for latency in rows.latencies_ms)
    assert 1 <= len(rows.model) <= 200
    orjson.dumps([rows.model, rows.version, rows.features, rows.predictions, rows.probas, rows.errors,
                  rows.request_ids])  # everything a summary or an alert may quote is encodable


def parse_or_reject(payload: bytes) -> None:
    try:
        rows = parse_prediction_message(payload, 1795687200.0)
    except InvalidEventError as exc:
        assert str(exc)
        return
    check_rows(rows)


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_become_a_dead_letter(payload: bytes):
    parse_or_reject(payload)
    try:
        parse_label_message(payload, 0.0)
    except InvalidEventError:
        pass


@SETTINGS
@given(st.one_of(messages, rows_messages))
def test_any_json_object_parses_or_becomes_a_dead_letter(message: dict[str, Any]):
    try:
        payload = orjson.dumps(message)
    except (TypeError, orjson.JSONEncodeError):
        return  # not encodable (huge integers): nothing a producer can send
    parse_or_reject(payload)
    try:
        label = parse_label_message(payload, 0.0)
    except InvalidEventError:
        return
    assert label.request_id and label.label is not None and math.isfinite(label.timestamp_s)


@SETTINGS
@given(st.text(max_size=200))
def test_any_text_with_json_punctuation_parses_or_becomes_a_dead_letter(text: str):
    parse_or_reject(("{" + text).encode("utf-8", "surrogatepass"))
    parse_or_reject(b'{"model": "m", "features": {"a": ' + text.encode("utf-8", "surrogatepass") + b"}}")


def test_lone_surrogates_are_a_dead_letter_also_beside_nan():
    parse_or_reject(b'{"model": "m", "features": {"a": NaN, "\\ud800": 1}}')
    parse_or_reject(b'{"model": "m", "features": {"a": Infinity, "b": "\\udfff"}}')


def test_deep_nesting_is_a_dead_letter():
    for depth in (100, 5000, 100_000):
        parse_or_reject(b'{"model": "m", "features": ' + b"[" * depth + b"]" * depth + b"}")
        parse_or_reject(b'{"model": "m", "e": 1, "features": ' + b"[" * depth + b"}")


def test_a_non_finite_label_is_a_dead_letter():
    for payload in (b'{"model": "m", "request_id": "r", "label": NaN}', b'{"model": "m", "request_id": "r", "label": -Infinity}'):
        try:
            parse_label_message(payload, 0.0)
        except InvalidEventError as exc:
            assert "finite" in str(exc)
        else:
            raise AssertionError("accepted a non-finite label")
