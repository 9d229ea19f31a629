"""ReferenceRegistry: the references topic (CONTRACT 4.3) read into memory."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from streamer.reference.profile import ReferenceProfile
from streamer.reference.registry import ReferenceRegistry


@functools.cache
def profile_json(model: str, version: str | None, mean: float = 0.0) -> bytes:
    rng = np.random.default_rng(int(mean * 10) + 1)
    return ReferenceProfile.from_columns(model, version, features={"x": rng.normal(mean, 1.0, 200)},
                                         outputs={}, source=f"mean {mean}").to_json()


@pytest.fixture
def registry() -> ReferenceRegistry:
    return ReferenceRegistry()


def test_lookup_prefers_model_version_over_model(registry):
    registry.handle_record(b"fraud", profile_json("fraud", None, 0.0), 0.0)
    registry.handle_record(b"fraud:3", profile_json("fraud", "3", 5.0), 0.0)
    found = registry.lookup("fraud", "3")
    assert found is not None and found.source == "mean 5.0"
    fallback = registry.lookup("fraud", "2")
    assert fallback is not None and fallback.source == "mean 0.0"
    assert registry.lookup("churn", "3") is None
    assert registry.document("fraud", "3") == profile_json("fraud", "3", 5.0)
    assert registry.document("fraud", "9") == profile_json("fraud", None, 0.0)
    assert registry.document("fraud", None) == profile_json("fraud", None, 0.0)


def test_a_version_only_profile_does_not_serve_other_versions(registry):
    registry.handle_record(b"fraud:3", profile_json("fraud", "3"), 0.0)
    assert registry.lookup("fraud", "3") is not None
    assert registry.lookup("fraud", "4") is None
    assert registry.document("fraud", None) is None


def test_tombstone_deletes(registry):
    registry.handle_record(b"fraud", profile_json("fraud", None), 0.0)
    registry.handle_record(b"fraud:3", profile_json("fraud", "3", 5.0), 0.0)
    registry.handle_record(b"fraud:3", None, 1.0)
    found = registry.lookup("fraud", "3")
    assert found is not None and found.source == "mean 0.0"  # back to the model-wide profile
    registry.handle_record(b"fraud", None, 2.0)
    assert registry.lookup("fraud", "3") is None
    assert registry.document("fraud", "3") is None
    registry.handle_record(b"never-seen", None, 3.0)  # a tombstone for an unknown key is harmless


def test_a_newer_record_replaces_the_profile(registry):
    registry.handle_record(b"fraud", profile_json("fraud", None, 0.0), 0.0)
    registry.handle_record(b"fraud", profile_json("fraud", None, 2.0), 1.0)
    found = registry.lookup("fraud", "1")
    assert found is not None and found.source == "mean 2.0"


def test_a_bad_profile_is_recorded_in_rejected_and_keeps_the_last_good_one(registry):
    registry.handle_record(b"fraud", profile_json("fraud", None, 0.0), 0.0)
    registry.handle_record(b"fraud", b'{"format": "something else"}', 1.0)
    registry.handle_record(b"churn", b"not json at all", 1.0)
    assert set(registry.rejected) == {"fraud", "churn"}
    assert "format" in registry.rejected["fraud"]
    assert "malformed" in registry.rejected["churn"]
    kept = registry.lookup("fraud", "1")
    assert kept is not None and kept.source == "mean 0.0"
    assert registry.lookup("churn", "1") is None
    registry.handle_record(b"fraud", profile_json("fraud", None, 1.0), 2.0)
    assert "fraud" not in registry.rejected


def test_records_without_a_key_are_ignored(registry):
    registry.handle_record(None, profile_json("fraud", None), 0.0)
    assert registry.profiles == {} and registry.rejected == {}
