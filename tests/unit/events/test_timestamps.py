"""RFC 3339 formatting and parsing."""

from __future__ import annotations

import pytest

from streamer.events.timestamps import MAX_SECONDS, format_timestamp, parse_timestamp


@pytest.mark.parametrize(("seconds", "text"), [
    (1795687200.123, "2026-11-26T10:00:00.123Z"),
    (1795687200.9996, "2026-11-26T10:00:01.000Z"),
    (0.0, "1970-01-01T00:00:00.000Z"),
    (MAX_SECONDS - 0.001, "2200-12-31T23:59:59.999Z"),
])
def test_format(seconds, text):
    assert format_timestamp(seconds) == text


@pytest.mark.parametrize("seconds", [0.0, 1.001, 1795687200.123, 7289654399.5])
def test_round_trip(seconds):
    assert parse_timestamp(format_timestamp(seconds)) == pytest.approx(seconds, abs=1e-3)


@pytest.mark.parametrize(("text", "seconds"), [
    ("2026-11-26T23:59:60Z", 1795737599.0),  # leap second: the second before it
    ("2026-11-26T10:00:00+0000", 1795687200.0),
    ("2026-11-26T10:00:00", 1795687200.0),  # no offset: UTC
])
def test_parse_unusual(text, seconds):
    assert parse_timestamp(text) == seconds


@pytest.mark.parametrize("value", ["", "2026-11-26", "20261126T100000Z", "2026-11-26T10:00Z",
                                   "2026-11-26T10:00:00 nonsense", "2026-13-01T00:00:00Z", [], None, True,
                                   float("nan"), float("inf")])
def test_parse_rejects(value):
    with pytest.raises(ValueError):
        parse_timestamp(value)
