"""Prediction messages in all three forms of CONTRACT 4.1, and every rejection reason."""

from __future__ import annotations

import math

import orjson
import pytest

from streamer.errors import InvalidEventError
from streamer.events.parse import parse_prediction_message

RECORD_TS = 1795687200.0  # 2026-11-26T10:00:00Z


def parse(message: object, **kwargs: object):
    return parse_prediction_message(orjson.dumps(message), RECORD_TS, **kwargs)


def test_single_event_all_fields():
    rows = parse({
        "model": "fraud", "version": "3", "timestamp": "2026-11-26T10:00:00.123Z", "request_id": "r-81731",
        "features": {"amount": 12.5, "country": "DE", "is_new": True, "age": None, "count": 3},
        "prediction": 1, "prediction_proba": 0.87, "latency_ms": 12.3, "error": None,
    })
    assert rows.key == ("fraud", "3")
    assert len(rows) == 1
    assert rows.timestamps_s == [1795687200.123]
    assert rows.features == [{"amount": 12.5, "country": "DE", "is_new": True, "age": None, "count": 3}]
    assert type(rows.features[0]["count"]) is int and type(rows.features[0]["amount"]) is float
    assert rows.predictions == [1]
    assert rows.probas == [0.87]
    assert rows.latencies_ms == [12.3]
    assert rows.errors == [None]
    assert rows.request_ids == ["r-81731"]


def test_single_event_defaults():
    rows = parse({"model": "fraud", "features": {"amount": 1}})
    assert rows.key == ("fraud", "default")
    assert rows.timestamps_s == [RECORD_TS]
    assert rows.predictions == [None] and rows.probas == [None] and rows.latencies_ms == [None]
    assert rows.errors == [None] and rows.request_ids == [None]


def test_numeric_version_and_request_id_become_text():
    rows = parse({"model": "fraud", "version": 3, "request_id": 17, "prediction": "yes"})
    assert rows.version == "3" and rows.request_ids == ["17"] and rows.predictions == ["yes"]


def test_failed_request_needs_no_features_or_prediction():
    rows = parse({"model": "fraud", "error": "timeout", "latency_ms": 0})
    assert rows.errors == ["timeout"] and rows.features == [{}] and rows.latencies_ms == [0]


def test_empty_error_means_no_error():
    rows = parse({"model": "fraud", "prediction": 0, "error": ""})
    assert rows.errors == [None]


def test_proba_object_and_boolean_prediction():
    rows = parse({"model": "m", "prediction": True, "prediction_proba": {"cat": 0.25, "dog": 0.75}})
    assert rows.predictions == [True] and rows.probas == [{"cat": 0.25, "dog": 0.75}]


def test_batch_defaults_and_overrides():
    rows = parse({
        "model": "fraud", "version": "3", "timestamp": "2026-11-26T10:00:00Z", "latency_ms": 5,
        "features": {"amount": 1.0, "country": "DE"}, "prediction": 0,
        "rows": [
            {"request_id": "a"},
            {"request_id": "b", "features": {"amount": 2.0}, "prediction": 1, "timestamp": 1795687201.5},
            {"request_id": "c", "error": "boom", "latency_ms": 99.5, "prediction_proba": 0.2},
            {"request_id": "d", "features": None, "prediction": None, "error": "failed"},
        ],
    })
    assert rows.key == ("fraud", "3") and len(rows) == 4
    assert rows.request_ids == ["a", "b", "c", "d"]
    assert rows.timestamps_s == [RECORD_TS, 1795687201.5, RECORD_TS, RECORD_TS]
    # a row's features replace the defaults rather than merging with them
    assert rows.features == [{"amount": 1.0, "country": "DE"}, {"amount": 2.0},
                             {"amount": 1.0, "country": "DE"}, {}]
    assert rows.predictions == [0, 1, 0, None]
    assert rows.probas == [None, None, 0.2, None]
    assert rows.latencies_ms == [5, 5, 99.5, 5]
    assert rows.errors == [None, None, "boom", "failed"]


def test_batch_without_top_level_timestamp_uses_record_time():
    rows = parse({"model": "m", "rows": [{"prediction": 1}, {"prediction": 2, "timestamp": "2026-11-26T10:00:01Z"}]})
    assert rows.timestamps_s == [RECORD_TS, RECORD_TS + 1]


def test_mlrun_list_inputs_with_reference_names():
    calls = []

    def names(model: str, version: str) -> list[str]:
        calls.append((model, version))
        return ["amount", "country"]

    rows = parse({
        "class": "ClassifierModel", "worker": 0, "model": "churn", "version": "v2", "host": "h",
        "function_uri": "proj/serving", "op": "infer", "when": "2026-11-26 10:00:00.250000+00:00",
        "microsec": 2500, "request": {"id": "req-1", "inputs": [[1.5, "DE"], [2.5, "FR", 9]]},
        "resp": {"id": "req-1", "model_name": "churn", "outputs": [0, 1]},
    }, feature_names=names)
    assert calls == [("churn", "v2")]
    assert rows.key == ("churn", "v2")
    assert rows.features == [{"amount": 1.5, "country": "DE"}, {"amount": 2.5, "country": "FR", "f2": 9}]
    assert rows.predictions == [0, 1]
    assert rows.timestamps_s == [RECORD_TS + 0.25] * 2
    assert rows.latencies_ms == [2.5, 2.5]
    assert rows.request_ids == ["req-1", "req-1"]
    assert rows.errors == [None, None]


def test_mlrun_list_inputs_without_names_and_without_version():
    rows = parse({"model": "fraud:v2", "when": "2026-11-26 10:00:00.000000", "microsec": 100,
                  "request": {"inputs": [[1, 2, 3]]}, "resp": {"outputs": [[0.5]]}},
                 feature_names=lambda model, version: None)
    assert rows.key == ("fraud:v2", "default")
    assert rows.features == [{"f0": 1, "f1": 2, "f2": 3}]
    assert rows.predictions == [0.5]  # a one-element output list is unwrapped
    assert rows.timestamps_s == [RECORD_TS]  # no offset: UTC


def test_mlrun_version_from_response_and_input_schema_names():
    rows = parse({"model": "m", "version": None, "request": {"id": "x", "inputs": [[1, 2]],
                                                             "input_schema": ["a", "b"]},
                  "resp": {"outputs": [1], "model_version": "7"}, "error": None})
    assert rows.key == ("m", "7") and rows.features == [{"a": 1, "b": 2}]


def test_mlrun_dict_inputs():
    rows = parse({"model": "m", "version": "1", "when": "2026-11-26T10:00:00Z", "microsec": 0,
                  "request": {"id": "r", "inputs": [{"amount": 1, "country": "DE"}, {"amount": None}]},
                  "resp": {"outputs": ["a", "b"]}})
    assert rows.features == [{"amount": 1, "country": "DE"}, {"amount": None}]
    assert rows.predictions == ["a", "b"] and rows.latencies_ms == [0.0, 0.0]


def test_mlrun_flat_inputs_are_one_row():
    rows = parse({"model": "m", "request": {"inputs": [1, 2, 3]}, "resp": {"outputs": [0]}})
    assert rows.features == [{"f0": 1, "f1": 2, "f2": 3}] and rows.predictions == [0]


def test_mlrun_flat_inputs_with_one_output_each_are_rows():
    rows = parse({"model": "m", "request": {"inputs": [1, 2]}, "resp": {"outputs": [0, 1]}})
    assert rows.features == [{"f0": 1}, {"f0": 2}] and rows.predictions == [0, 1]


def test_mlrun_error_record():
    rows = parse({"model": "m", "version": "1", "when": "2026-11-26 10:00:01.000000+00:00", "op": "infer",
                  "request": {"id": "r-9", "inputs": [[1, 2], [3, 4]]}, "error": "ValueError: bad input"})
    assert len(rows) == 2
    assert rows.errors == ["ValueError: bad input"] * 2
    assert rows.predictions == [None, None] and rows.latencies_ms == [None, None]
    assert rows.features == [{"f0": 1, "f1": 2}, {"f0": 3, "f1": 4}]
    assert rows.request_ids == ["r-9", "r-9"] and rows.timestamps_s == [RECORD_TS + 1] * 2


def test_mlrun_error_record_without_inputs_is_one_failed_row():
    rows = parse({"model": "m", "request": {"id": "r"}, "error": "model not ready"})
    assert len(rows) == 1 and rows.errors == ["model not ready"] and rows.features == [{}]


def test_mlrun_shape_needs_request_beside_resp_or_error():
    # A single event that merely has a "request" field is not an MLRun record.
    rows = parse({"model": "m", "request": {"inputs": [[1]]}, "prediction": 1})
    assert rows.features == [{}] and rows.predictions == [1]


def test_input_lists_are_not_mutated():
    reference = ["a"]
    parse({"model": "m", "request": {"inputs": [[1, 2]]}, "resp": {"outputs": [0]}},
          feature_names=lambda model, version: reference)
    assert reference == ["a"]


BAD = [
    # JSON and shape
    (b"not json", "not valid JSON"),
    (b'{"model": "m", "prediction": NaN}', "prediction must be a finite number"),
    (b"[1, 2]", "JSON array, not an object"),
    (b'"text"', "JSON string, not an object"),
    (b"", "payload is empty"),
    # model
    ({"prediction": 1}, "model is missing"),
    ({"model": 7, "prediction": 1}, "model must be a string, got number"),
    ({"model": "", "prediction": 1}, "model is empty"),
    ({"model": "a b", "prediction": 1}, "characters other than letters"),
    ({"model": "x" * 201, "prediction": 1}, "longer than 200"),
    # version
    ({"model": "m", "version": {"v": 1}, "prediction": 1}, "version must be a string or number, got object"),
    ({"model": "m", "version": True, "prediction": 1}, "version must be a string or number, got boolean"),
    # timestamp
    ({"model": "m", "timestamp": "yesterday", "prediction": 1}, "timestamp is not an RFC 3339 date-time"),
    ({"model": "m", "timestamp": "2026-W48-4T10:00:00Z", "prediction": 1}, "not an RFC 3339"),
    ({"model": "m", "timestamp": True, "prediction": 1}, "timestamp must be RFC 3339 text or epoch seconds"),
    ({"model": "m", "timestamp": "1969-12-31T23:59:59Z", "prediction": 1}, "outside the years 1970 to 2200"),
    ({"model": "m", "timestamp": "2201-01-01T00:00:00Z", "prediction": 1}, "outside the years 1970 to 2200"),
    ({"model": "m", "timestamp": 1795687200123, "prediction": 1}, "epoch milliseconds?"),
    ({"model": "m", "timestamp": -5, "prediction": 1}, "outside the years"),
    # features
    ({"model": "m", "features": [1, 2]}, "features must be an object, got array"),
    ({"model": "m", "features": {"a": {"b": 1}}}, "features.a must be a number, string, boolean or null, got object"),
    ({"model": "m", "features": {"ok": 1, "tags": ["x"]}}, "features.tags must be"),
    ({"model": "m", "features": {"": 1}}, "empty feature name"),
    ({"model": "m", "features": {"x" * 201: 1}}, "feature name longer than 200"),
    # prediction, proba, latency, error, request id
    ({"model": "m", "prediction": [1]}, "prediction must be a number, string, boolean or null, got array"),
    ({"model": "m", "prediction": 1, "prediction_proba": 1.5}, "prediction_proba must be between 0 and 1"),
    ({"model": "m", "prediction": 1, "prediction_proba": -0.1}, "prediction_proba must be between 0 and 1"),
    ({"model": "m", "prediction": 1, "prediction_proba": "high"}, "prediction_proba must be a number"),
    ({"model": "m", "prediction": 1, "prediction_proba": True}, "prediction_proba must be a number"),
    ({"model": "m", "prediction": 1, "prediction_proba": {}}, "non-empty object"),
    ({"model": "m", "prediction": 1, "prediction_proba": {"a": "x"}}, "prediction_proba.a must be a number"),
    ({"model": "m", "prediction": 1, "prediction_proba": {"a": 2}}, "prediction_proba.a must be a number"),
    ({"model": "m", "prediction": 1, "latency_ms": -1}, "latency_ms must be a non-negative number, got -1"),
    ({"model": "m", "prediction": 1, "latency_ms": "12"}, "latency_ms must be a non-negative number"),
    ({"model": "m", "prediction": 1, "latency_ms": False}, "latency_ms must be a non-negative number"),
    ({"model": "m", "prediction": 1, "error": 500}, "error must be a string or null, got number"),
    ({"model": "m", "prediction": 1, "error": False}, "error must be a string or null, got boolean"),
    ({"model": "m", "prediction": 1, "request_id": ["a"]}, "request_id must be a string, got array"),
    # nothing to record
    ({"model": "m"}, "event has neither features, prediction nor a non-empty error"),
    ({"model": "m", "features": {}, "prediction": None, "error": ""}, "event has neither"),
    ({"model": "m", "headers": ["request"], "values": [[{}]]}, "batched records"),
    # batch
    ({"model": "m", "rows": {"a": 1}}, "rows must be a list of objects, got object"),
    ({"model": "m", "rows": []}, "rows is empty"),
    ({"model": "m", "rows": [{"prediction": 1}, 3]}, "rows[1] must be an object, got number"),
    ({"model": "m", "rows": [{"prediction": 1}, {"request_id": "x"}]}, "rows[1] has neither features"),
    ({"model": "m", "rows": [{"prediction": 1}, {"features": {"a": [1]}}]}, "rows[1].features.a must be"),
    ({"model": "m", "rows": [{"prediction": 1, "timestamp": "soon"}]}, "rows[0].timestamp is not an RFC 3339"),
    ({"model": "m", "features": 3, "rows": [{"prediction": 1}]}, "features must be an object"),
    # MLRun
    ({"model": "m", "request": {"inputs": [[1]]}, "resp": [0]}, "resp must be an object, got array"),
    ({"model": "m", "request": {"inputs": []}, "resp": {"outputs": []}}, "request.inputs must be a non-empty list"),
    ({"model": "m", "request": {}, "resp": {"outputs": [1]}}, "request.inputs must be a non-empty list, got null"),
    ({"model": "m", "request": {"inputs": [[1], [2]]}, "resp": {"outputs": [1]}},
     "resp.outputs has 1 entries but request.inputs has 2"),
    ({"model": "m", "request": {"inputs": [[1]]}, "resp": {}}, "resp.outputs must be a list, got null"),
    ({"model": "m", "request": {"inputs": [[1, [2]]]}, "resp": {"outputs": [1]}},
     "request.inputs[0][1] (f1) must be a number, string, boolean or null, got array"),
    ({"model": "m", "request": {"inputs": [{"a": {}}]}, "resp": {"outputs": [1]}}, "request.inputs[0].a must be"),
    ({"model": "m", "request": {"inputs": [[1], 2]}, "resp": {"outputs": [1, 2]}},
     "request.inputs[1] must be an array or object, got number"),
    ({"model": "m", "request": {"inputs": [[1]]}, "resp": {"outputs": [[0.2, 0.8]]}},
     "resp.outputs[0] must be a number, string, boolean or null or a one-element array, got array"),
    ({"model": "m", "request": {"inputs": [[1]]}, "resp": {"outputs": [1]}, "microsec": -3},
     "microsec must be a non-negative number"),
    ({"model": "m", "request": {"inputs": [[1]]}, "resp": {"outputs": [1]}, "when": "noon"}, "when is not an RFC"),
    ({"model": "m", "request": {"inputs": [[1]], "input_schema": [1]}, "resp": {"outputs": [1]}},
     "request.input_schema must be a list of feature names"),
    ({"request": {"inputs": [[1]]}, "resp": {"outputs": [1]}}, "model is missing"),
]


@pytest.mark.parametrize(("message", "reason"), BAD, ids=[reason for _, reason in BAD])
def test_rejections(message, reason):
    payload = message if isinstance(message, bytes) else orjson.dumps(message)
    with pytest.raises(InvalidEventError) as caught:
        parse_prediction_message(payload, RECORD_TS)
    assert reason in str(caught.value)


def test_too_many_rows():
    rows = [{"prediction": i} for i in range(11)]
    with pytest.raises(InvalidEventError, match="rows has 11 rows, more than the limit of 10"):
        parse({"model": "m", "rows": rows}, max_rows=10)
    with pytest.raises(InvalidEventError, match="request.inputs has 11 rows"):
        parse({"model": "m", "request": {"inputs": [[i] for i in range(11)]}, "resp": {"outputs": list(range(11))}},
              max_rows=10)


def test_oversized_payload():
    payload = orjson.dumps({"model": "m", "features": {"text": "x" * 2000}})
    with pytest.raises(InvalidEventError, match=rf"payload of {len(payload)} bytes is larger than the limit of 1000"):
        parse_prediction_message(payload, RECORD_TS, max_bytes=1000)


@pytest.mark.parametrize("payload", [b'{"model": "m", "features": {"city": "K\xf6ln"}}', b"\xff\xfe{}",
                                     b'{"model": "\xed\xa0\x80"}'])
def test_not_utf8(payload):
    with pytest.raises(InvalidEventError, match="payload is not UTF-8"):
        parse_prediction_message(payload, RECORD_TS)


@pytest.mark.parametrize(("timestamp", "expected"), [
    ("2026-11-26T10:00:00Z", RECORD_TS),
    ("2026-11-26T10:00:00.5Z", RECORD_TS + 0.5),
    ("2026-11-26t10:00:00.5z", RECORD_TS + 0.5),
    ("2026-11-26T11:30:00+01:30", RECORD_TS),
    ("2026-11-26T05:00:00-05:00", RECORD_TS),
    ("2026-11-26T10:00:00.123456789Z", RECORD_TS + 0.123456),
    ("2026-11-26 10:00:00+00:00", RECORD_TS),
    (1795687260, RECORD_TS + 60),
    (1795687260.25, RECORD_TS + 60.25),
    (None, RECORD_TS),
])
def test_timestamps(timestamp, expected):
    message = {"model": "m", "prediction": 1}
    if timestamp is not None:
        message["timestamp"] = timestamp
    rows = parse_prediction_message(orjson.dumps(message), RECORD_TS)
    assert rows.timestamps_s == [pytest.approx(expected, abs=1e-6)]


def test_absent_timestamp_uses_record_time():
    rows = parse_prediction_message(b'{"model": "m", "prediction": 1}', 1234567890.5)
    assert rows.timestamps_s == [1234567890.5]


def test_nan_and_infinity_in_features_are_read_as_non_finite_numbers():
    """Python's json and pandas write NaN and Infinity; CONTRACT 4.1 reads NaN as a missing value."""
    rows = parse_prediction_message(b'{"model": "m", "features": {"a": NaN, "b": Infinity, "c": 1e999, "d": 1}}', 0.0)
    a, b, c, d = (rows.features[0][k] for k in "abcd")
    assert math.isnan(a) and b == math.inf and c == math.inf and d == 1
