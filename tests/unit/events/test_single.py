"""Single events decoded in bulk: the same rows as the full parser, or left to it (never a different answer)."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from streamer.errors import InvalidEventError
from streamer.events.parse import parse_prediction_message
from streamer.events.single import parse_single_events
from tests.unit.events.test_parse_properties import SETTINGS, messages, scalars

T_RECORD = 1795687200.0
plain_events = st.fixed_dictionaries(
    {"model": st.sampled_from(["fraud", "m-1", "bad name", "", 3])},
    optional={"version": st.one_of(st.none(), st.sampled_from(["", "v2", "x" * 201]), st.integers(), st.booleans()),
              "timestamp": st.one_of(st.none(), st.floats(0, 1e13), st.integers(-5, 10**13),
                                     st.sampled_from(["2026-11-26T10:00:00Z", "soon", "2026-11-26"])),
              "features": st.one_of(st.none(), st.dictionaries(st.text(max_size=3), scalars, max_size=4),
                                    st.just({"x": [1]}), st.just({"x" * 201: 1}), st.just([1])),
              "prediction": st.one_of(scalars, st.just([1])),
              "prediction_proba": st.one_of(st.floats(-1, 2), st.just({"a": 0.5}), st.just({})),
              "latency_ms": st.one_of(st.floats(-5, 5), st.none()),
              "error": st.one_of(st.none(), st.text(max_size=3), st.just(1)),
              "request_id": st.one_of(st.none(), st.text(max_size=3), st.integers(), st.just(1.5))})


def full_parse(payload: bytes) -> object:
    try:
        return parse_prediction_message(payload, T_RECORD)
    except InvalidEventError as exc:
        return exc


def encode(message: dict) -> bytes:
    try:
        return orjson.dumps(message)
    except TypeError:  # integers past 64 bits: the standard library writes them
        import json
        return json.dumps(message).encode()


@SETTINGS
@given(st.lists(st.one_of(plain_events, messages), max_size=6))
def test_bulk_rows_are_the_full_parsers_rows_or_left_to_it(batch: list[dict]):
    payloads = [encode(message) for message in batch]
    for payload, rows in zip(payloads, parse_single_events(payloads, [T_RECORD] * len(payloads)), strict=True):
        if rows is not None:
            assert full_parse(payload) == rows


@SETTINGS
@given(st.lists(st.binary(max_size=40), max_size=5))
def test_any_bytes_are_decoded_alone(payloads: list[bytes]):
    for payload, rows in zip(payloads, parse_single_events(payloads, [T_RECORD] * len(payloads)), strict=True):
        if rows is not None:
            assert full_parse(payload) == rows


def test_plain_events_take_the_bulk_path():
    payloads = [b'{"model": "fraud", "timestamp": 1795687200, "features": {"amount": 1.5}, "prediction": 0}',
                b'{"model": "fraud", "features": {"amount": 2}, "prediction_proba": 0.2, "latency_ms": 3, '
                b'"request_id": 7, "error": ""}',
                b'{"model": "fraud", "timestamp": "2026-11-26T10:00:01Z", "prediction": 1}']
    parsed = parse_single_events(payloads, [T_RECORD] * 3)
    assert all(rows is not None for rows in parsed)
    assert parsed == [full_parse(payload) for payload in payloads]


def test_what_the_limits_or_other_forms_concern_is_left_to_the_full_parser():
    payloads = [b'{"model": "fraud", "features": {"a": 1, "b": 2}}',  # more features than allowed
                b'{"model": "fraud", "timestamp": 1795690000, "features": {"a": 1}}',  # ahead of latest_s
                b'{"model": "fraud", "rows": [{"features": {"a": 1}}]}',
                b'{"model": "fraud", "features": {"a": 1}',  # not JSON
                b'{"model": "fraud", "features": {"a": 1}, "extra": 1}',
                b'{"model": "fraud"}',  # neither features, prediction nor error
                b'{"model": "fraud", "features": {"a": 1}}']
    parsed = parse_single_events(payloads, [T_RECORD] * len(payloads), max_features=1, latest_s=1795689000.0,
                                 max_bytes=100)
    assert [rows is None for rows in parsed] == [True] * 6 + [False]
    assert parse_single_events([b'{"model": "fraud", "features": {"a": 1}}'], [T_RECORD], max_bytes=10) == [None]


def test_a_bad_message_among_plain_events_is_a_dead_letter_alone_with_its_reason():
    from streamer.batch import Inbound
    from streamer.kafka.topics import partition_for_key
    from streamer.pipeline import Pipeline
    from streamer.reference.registry import ReferenceRegistry
    from tests.unit.test_pipeline import SETTINGS, T0

    store: dict = {}
    pipeline = Pipeline(SETTINGS, ReferenceRegistry(), load=lambda t, k: store.get((t, k)), clock=lambda: T0 + 5)
    partition = partition_for_key(b"fraud", SETTINGS.partitions)
    values = [orjson.dumps({"model": "fraud", "timestamp": T0 + i, "features": {"x": i}, "prediction": i % 2})
              for i in range(5)]
    values[2] = b'{"model": "fraud", "timestamp": 1795687202, "features": {"x": [2]}}'
    effects = pipeline.process([Inbound(SETTINGS.topic_predictions, partition, offset, b"fraud", value, T0)
                                for offset, value in enumerate(values)])
    dead = [orjson.loads(m.value) for m in effects.messages if m.topic == SETTINGS.topic_dead_letters]
    assert [(d["offset"], d["error"]) for d in dead] == [(2, "features.x must be a number, string, boolean or "
                                                              "null, got array")]
    assert pipeline.counters.rows_accepted == 4
