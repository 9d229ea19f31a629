"""`reference build --label`: the profile's ground-truth section, and its JSON form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, mean_absolute_error

from streamer.cli.files import ColumnRoles
from streamer.cli.reference import build_profile
from streamer.errors import InputFileError, ReferenceProfileError
from streamer.performance.estimate import Calibration
from streamer.reference.profile import ReferenceProfile


def _write_csv(path: Path, columns: dict[str, np.ndarray]) -> str:
    names = list(columns)
    lines = [",".join(names)] + [",".join(str(columns[n][i]) for n in names) for i in range(len(columns[names[0]]))]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_labelled_binary_reference_carries_performance_calibration_and_segments(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    p = rng.beta(2, 2, 3000)
    label = (rng.random(3000) < p).astype(int)
    data = _write_csv(tmp_path / "ref.csv", {"amount": rng.normal(size=3000).round(4), "score": p.round(4),
                                             "pred": (p >= 0.5).astype(int), "y": label,
                                             "country": rng.choice(["DE", "FR"], 3000)})
    profile = build_profile(data, "fraud", None, ColumnRoles(prediction="pred", proba="score", label="y"))
    section = profile.ground_truth
    assert section is not None and section["task"] == "classification" and section["positive"] == "1"
    assert section["labelled"] == 3000
    assert section["performance"]["accuracy"] == pytest.approx(accuracy_score(label, p >= 0.5))
    assert len(section["segments"]["performance"]["amount"]) == 10
    assert "y" not in profile.features
    again = ReferenceProfile.from_json(profile.to_json())
    assert again.ground_truth == section
    assert Calibration.from_json(again.ground_truth["calibration"]).apply([0.0, 1.0]).tolist()[0] < 0.2


def test_labelled_regression_reference(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(50, 10, 1000).round(3)
    pred = (y + rng.normal(0, 2, 1000)).round(3)
    data = _write_csv(tmp_path / "ref.csv", {"x": rng.normal(size=1000).round(3), "pred": pred, "y": y})
    section = build_profile(data, "price", None, ColumnRoles(prediction="pred", label="y")).ground_truth
    assert section is not None and section["task"] == "regression" and "calibration" not in section
    assert section["performance"]["mae"] == pytest.approx(mean_absolute_error(y, pred))


def test_label_without_prediction_or_score_is_an_input_error(tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "ref.csv", {"x": np.arange(10), "y": np.arange(10) % 2})
    with pytest.raises(InputFileError, match="prediction or a score"):
        build_profile(data, "m", None, ColumnRoles(label="y"))


def test_malformed_ground_truth_is_rejected() -> None:
    doc = ReferenceProfile.from_columns("m", None, {"x": np.arange(10.0)}, {}).to_dict()
    doc["ground_truth"] = {"task": "classification", "calibration": {"scores": [1.0, 0.0], "rates": [0, 1]}}
    with pytest.raises(ReferenceProfileError):
        ReferenceProfile.from_json(doc)
    doc["ground_truth"] = {"task": "ranking"}
    with pytest.raises(ReferenceProfileError):
        ReferenceProfile.from_json(doc)
