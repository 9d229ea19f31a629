"""Decoded prediction events in column form: what parsing produces and windows consume.

A :class:`PredictionRows` holds the rows of one model and version from one or more messages as
columns, so that sketches are updated with one numpy call per feature and batch rather than per event.

>>> rows = PredictionRows.empty("fraud", "3")
>>> rows.append_row(timestamp_s=1.0, features={"amount": 2.5, "country": "DE"}, prediction=1)
>>> rows.append_row(timestamp_s=2.0, features={"amount": None}, prediction=0, error="timeout")
>>> len(rows), rows.feature_columns()["country"]
(2, ['DE', None])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import chain, compress, repeat
from operator import itemgetter
from typing import Any

#: A JSON scalar as it comes off the wire: number, string, boolean or null.
Scalar = float | int | str | bool | None


@dataclass
class PredictionRows:
    """Rows of one ``model`` and ``version``; every list has one entry per row."""

    model: str
    version: str
    timestamps_s: list[float] = field(default_factory=list)
    features: list[Mapping[str, Scalar]] = field(default_factory=list)
    predictions: list[Scalar] = field(default_factory=list)
    # Score of the positive class, or a mapping of class to probability, or None.
    probas: list[float | Mapping[str, float] | None] = field(default_factory=list)
    latencies_ms: list[float | None] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)
    request_ids: list[str | None] = field(default_factory=list)

    @classmethod
    def empty(cls, model: str, version: str) -> PredictionRows:
        return cls(model=model, version=version)

    @property
    def key(self) -> tuple[str, str]:
        return (self.model, self.version)

    def __len__(self) -> int:
        return len(self.timestamps_s)

    def append_row(
        self,
        *,
        timestamp_s: float,
        features: Mapping[str, Scalar] | None = None,
        prediction: Scalar = None,
        proba: float | Mapping[str, float] | None = None,
        latency_ms: float | None = None,
        error: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.timestamps_s.append(timestamp_s)
        self.features.append(features or {})
        self.predictions.append(prediction)
        self.probas.append(proba)
        self.latencies_ms.append(latency_ms)
        self.errors.append(error)
        self.request_ids.append(request_id)

    def extend(self, other: PredictionRows) -> None:
        """Append ``other``'s rows (same model and version) to these."""
        assert other.key == self.key, (other.key, self.key)
        self.timestamps_s.extend(other.timestamps_s)
        self.features.extend(other.features)
        self.predictions.extend(other.predictions)
        self.probas.extend(other.probas)
        self.latencies_ms.extend(other.latencies_ms)
        self.errors.extend(other.errors)
        self.request_ids.extend(other.request_ids)

    @classmethod
    def concat(cls, model: str, version: str, parts: list[PredictionRows]) -> PredictionRows:
        """The rows of ``parts`` (all of ``model`` and ``version``) one after another, as new rows.

        >>> a = PredictionRows.empty("fraud", "1"); a.append_row(timestamp_s=1.0, prediction=1)
        >>> b = PredictionRows.empty("fraud", "1"); b.append_row(timestamp_s=2.0, prediction=0)
        >>> both = PredictionRows.concat("fraud", "1", [a, b])
        >>> both.timestamps_s, both.predictions, len(a)
        ([1.0, 2.0], [1, 0], 1)
        """
        if len(parts) == 1:
            only = parts[0]
            assert only.key == (model, version), (only.key, model, version)
            return cls(model, version, list(only.timestamps_s), list(only.features), list(only.predictions),
                       list(only.probas), list(only.latencies_ms), list(only.errors), list(only.request_ids))
        assert all(part.key == (model, version) for part in parts), (model, version)
        joined = chain.from_iterable
        return cls(model, version, list(joined(p.timestamps_s for p in parts)), list(joined(p.features for p in parts)),
                   list(joined(p.predictions for p in parts)), list(joined(p.probas for p in parts)),
                   list(joined(p.latencies_ms for p in parts)), list(joined(p.errors for p in parts)),
                   list(joined(p.request_ids for p in parts)))

    def feature_names(self) -> list[str]:
        """Every feature name seen in these rows, in first-seen order."""
        return list(dict.fromkeys(chain.from_iterable(self.features)))

    def feature_columns(self) -> dict[str, list[Any]]:
        """One list per feature, ``None`` where a row lacks the feature.

        >>> rows = PredictionRows.empty("fraud", "1")
        >>> rows.append_row(timestamp_s=1.0, features={"a": 1, "b": 2})
        >>> rows.append_row(timestamp_s=2.0, features={"b": 4, "a": 3})
        >>> rows.feature_columns()
        {'a': [1, 3], 'b': [2, 4]}
        >>> rows.append_row(timestamp_s=3.0, features={"c": "x"})
        >>> rows.feature_columns()
        {'a': [1, 3, None], 'b': [2, 4, None], 'c': [None, None, 'x']}
        """
        rows = self.features
        first = rows[0] if rows else None
        width = len(first) if type(first) is dict else 0
        if first is not None and width > 1 and all(len(row) == width for row in rows):
            # The usual case, every row with the same features (same count, and each has every name of the
            # first: else KeyError): read them row-wise in C.
            names = list(first)
            try:
                values = list(map(itemgetter(*names), rows))
            except KeyError:
                pass
            else:
                return dict(zip(names, map(list, zip(*values, strict=True)), strict=True))
        return {name: list(map(dict.get, rows, repeat(name))) for name in self.feature_names()}  # type: ignore[arg-type]

    def select(self, mask: list[bool]) -> PredictionRows:
        """The rows where ``mask`` is true."""
        if len(mask) != len(self.timestamps_s):
            raise ValueError(f"a mask of {len(mask)} for {len(self.timestamps_s)} rows")
        picked = PredictionRows.empty(self.model, self.version)
        for column in ("timestamps_s", "features", "predictions", "probas", "latencies_ms", "errors", "request_ids"):
            values = getattr(self, column)
            setattr(picked, column, list(compress(values, mask)))
        return picked
