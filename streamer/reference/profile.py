"""Reference profiles: what a model's inputs and outputs looked like when it was known to be good.

A profile holds one exact sketch per column over bins fixed from the reference data itself
(:mod:`streamer.reference.binning`); every window of the model is later counted over the same bins.
Its JSON form (``format: streamer.reference/1``) is documented in README.md.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> profile = ReferenceProfile.from_columns(
...     "fraud", "1", features={"amount": rng.normal(size=1000), "country": ["DE", "FR"] * 500},
...     outputs={"prediction": [0, 1] * 500})
>>> profile.rows, profile.layout().features["amount"].kind, profile.layout().features["country"].known
(1000, 'numeric', ('DE', 'FR'))
>>> ReferenceProfile.from_json(profile.to_json()).features["amount"].count
1000
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from streamer.errors import ReferenceProfileError, StateFormatError
from streamer.events.timestamps import format_timestamp
from streamer.performance.estimate import Calibration
from streamer.reference.binning import FINE_QUANTILES, edges_from_sketch, edges_from_values
from streamer.sketches.categorical import CategoricalSketch, category_of
from streamer.sketches.numeric import NumericSketch
from streamer.sketches.quantiles import QuantileSketch
from streamer.windows.accumulator import WindowAccumulator
from streamer.windows.columns import CATEGORICAL, NUMERIC, ColumnSpec, Layout, Sketch, infer_kind, to_numeric

FORMAT = "streamer.reference/1"
SUMMARY_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def _spec_from_values(values: Sequence[Any] | np.ndarray) -> ColumnSpec:
    if infer_kind(values) == NUMERIC:
        fine, mlrun = edges_from_values(to_numeric(values)[0])
        return ColumnSpec(NUMERIC, fine, mlrun)
    known = {name for name in map(category_of, values) if name is not None}
    return ColumnSpec(CATEGORICAL, known=tuple(sorted(known)))


def _spec_and_sketch(sketch: Sketch, consume: bool = False) -> tuple[ColumnSpec, Sketch]:
    """Fix bins for a window's sketch (a baseline) and recount it over them (``consume``: in place)."""
    if isinstance(sketch, CategoricalSketch):
        known = tuple(sorted(sketch.counts))
        fixed = CategoricalSketch(sketch.max_categories, known)
        fixed.counts, fixed.other, fixed.missing = dict(sketch.counts), sketch.other, sketch.missing
        return ColumnSpec(CATEGORICAL, known=known), fixed
    if sketch.count:
        fine, mlrun = edges_from_sketch(sketch.min, sketch.max, sketch.quantiles.quantiles(FINE_QUANTILES))
    else:
        fine, mlrun = edges_from_values(np.empty(0))
    if consume:
        sketch.adopt_edges(fine)
        return ColumnSpec(NUMERIC, fine, mlrun), sketch
    return ColumnSpec(NUMERIC, fine, mlrun), sketch.rebinned(fine)


@dataclass
class ReferenceProfile:
    model: str
    version: str | None  # None: the profile serves every version of the model
    rows: int
    created_at_s: float
    source: str
    features: dict[str, Sketch]
    outputs: dict[str, Sketch]
    mlrun_edges: dict[str, np.ndarray]  # per numeric column, features and outputs alike
    # From a labelled reference: task, reference performance, calibration, segments
    # (:mod:`streamer.performance.reference`); None without labels.
    ground_truth: dict[str, Any] | None = None
    _layout: Layout | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def key(self) -> str:
        """The references-topic key: ``model`` or ``model:version``."""
        return self.model if self.version is None else f"{self.model}:{self.version}"

    def layout(self) -> Layout:
        """The column specs windows are counted with (computed once)."""
        if self._layout is None:
            self._layout = self._make_layout()
        return self._layout

    def _make_layout(self) -> Layout:
        def spec(name: str, sketch: Sketch) -> ColumnSpec:
            if isinstance(sketch, NumericSketch):
                return ColumnSpec(NUMERIC, sketch.edges, self.mlrun_edges[name])
            return ColumnSpec(CATEGORICAL, known=tuple(sorted(sketch.known)))

        return Layout(
            features={n: spec(n, s) for n, s in self.features.items()},
            outputs={n: spec(n, s) for n, s in self.outputs.items()},
        )

    @classmethod
    def from_columns(
        cls, model: str, version: str | None, features: Mapping[str, Sequence[Any] | np.ndarray],
        outputs: Mapping[str, Sequence[Any] | np.ndarray], source: str = "", max_categories: int = 64,
    ) -> ReferenceProfile:
        """Profile raw columns exactly: bins from the values, then counts over those bins."""
        specs = {name: _spec_from_values(values) for name, values in {**features, **outputs}.items()}
        sketches: dict[str, Sketch] = {}
        for name, values in {**features, **outputs}.items():
            sketch = specs[name].new_sketch(max(max_categories, len(specs[name].known)))
            if isinstance(sketch, NumericSketch):
                sketch.update(to_numeric(values)[0])
            else:
                sketch.update(values)
            sketches[name] = sketch
        rows = max((len(v) for v in {**features, **outputs}.values()), default=0)
        return cls(model, version, rows, time.time(), source,
                   {n: sketches[n] for n in features}, {n: sketches[n] for n in outputs},
                   {n: s.mlrun_edges for n, s in specs.items() if s.mlrun_edges is not None})

    @classmethod
    def from_window(cls, model: str, version: str, window: WindowAccumulator, source: str,
                    consume: bool = False) -> ReferenceProfile:
        """A baseline profile from a model's first closed windows (counts rebinned from quantile sketches).

        ``consume``: the window is not used again, so its numeric sketches are rebinned in place, not copied.
        """
        fixed = {n: _spec_and_sketch(s, consume) for n, s in {**window.features, **window.outputs}.items()}
        return cls(model, version, window.rows - window.errors, time.time(), source,
                   {n: fixed[n][1] for n in window.features}, {n: fixed[n][1] for n in window.outputs},
                   {n: spec.mlrun_edges for n, (spec, _) in fixed.items() if spec.mlrun_edges is not None})

    # -- JSON form -----------------------------------------------------------------------------

    def _column_json(self, name: str, sketch: Sketch, quantile_sketch: bool) -> dict[str, Any]:
        if isinstance(sketch, CategoricalSketch):
            return {"kind": CATEGORICAL, "count": sketch.count, "missing": sketch.missing,
                    "counts": sketch.counts, "other": sketch.other}
        return {
            "kind": NUMERIC, "count": sketch.count, "missing": sketch.missing, "mean": sketch.mean,
            "std": sketch.std if sketch.count > 1 else 0.0,
            "min": sketch.min if sketch.count else None, "max": sketch.max if sketch.count else None,
            "quantiles": {f"p{round(q * 100):02d}": v for q, v in zip(
                SUMMARY_QUANTILES, sketch.quantiles.quantiles(SUMMARY_QUANTILES).tolist(), strict=True)}
            if sketch.count else {},
            "edges": sketch.edges, "mlrun_edges": self.mlrun_edges[name], "counts": sketch.counts,
            **({"quantile_sketch": base64.b64encode(sketch.quantiles.to_bytes()).decode()} if quantile_sketch else {}),
        }

    def to_dict(self, quantile_sketches: bool = True) -> dict[str, Any]:
        """The JSON form; ``quantile_sketches=False`` leaves the KLL sketches out (about 80% of the bytes)."""
        return {
            "format": FORMAT, "model": self.model, "version": self.version, "rows": self.rows,
            "created_at": format_timestamp(self.created_at_s), "source": self.source,
            "features": {n: self._column_json(n, s, quantile_sketches) for n, s in self.features.items()},
            "outputs": {n: self._column_json(n, s, quantile_sketches) for n, s in self.outputs.items()},
            **({"ground_truth": self.ground_truth} if self.ground_truth is not None else {}),
        }

    def to_json(self, *, compact: bool = False, quantile_sketches: bool = True) -> bytes:
        """The profile file's bytes; ``compact`` (no indentation) and without sketches for the state's own baseline."""
        indent = 0 if compact else orjson.OPT_INDENT_2
        return orjson.dumps(self.to_dict(quantile_sketches), option=orjson.OPT_SERIALIZE_NUMPY | indent)

    @classmethod
    def from_json(cls, data: bytes | str | Mapping[str, Any]) -> ReferenceProfile:
        try:
            doc = data if isinstance(data, Mapping) else orjson.loads(data)
            if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
                raise ReferenceProfileError(f"not a reference profile: 'format' must be {FORMAT!r}")
            if not isinstance(doc.get("model"), str) or not isinstance(doc.get("version"), str | None):
                raise ReferenceProfileError("not a reference profile: 'model' must be text, 'version' text or null")
            if not all(isinstance(doc.get(group), Mapping) for group in ("features", "outputs")):
                raise ReferenceProfileError("not a reference profile: 'features' and 'outputs' must be objects")
            _count("rows", doc.get("rows", 0))
            mlrun_edges: dict[str, np.ndarray] = {}
            columns = {}
            for group in ("features", "outputs"):
                columns[group] = {n: _column_from_json(n, c, mlrun_edges) for n, c in doc[group].items()}
            ground_truth = doc.get("ground_truth")
            if ground_truth is not None:
                _check_ground_truth(ground_truth)
            return cls(str(doc["model"]), None if doc.get("version") is None else str(doc["version"]),
                       int(doc.get("rows", 0)), time.time(), str(doc.get("source", "")),
                       columns["features"], columns["outputs"], mlrun_edges, ground_truth)
        except ReferenceProfileError:
            raise
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError,
                StateFormatError) as exc:
            raise ReferenceProfileError(f"malformed reference profile: {type(exc).__name__}: {exc}") from exc


def _check_ground_truth(section: Any) -> None:
    if not isinstance(section, Mapping) or section.get("task") not in ("classification", "regression"):
        raise ReferenceProfileError("ground_truth.task must be 'classification' or 'regression'")
    if not isinstance(section.get("performance", {}), Mapping):
        raise ReferenceProfileError("ground_truth.performance must be an object")
    if "calibration" in section:
        Calibration.from_json(section["calibration"])


def _count(name: str, value: Any) -> int:
    """A count as written by ``to_json``: a whole, non-negative JSON number (not a boolean, not text)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ReferenceProfileError(f"column {name!r}: counts must be whole numbers from 0, not {value!r}")
    return value


_PLAIN_NUMBERS = (float, int)  # what orjson parses numbers to: checked first, as the common case
_PLAIN_NUMBERS_SET = frozenset(_PLAIN_NUMBERS)


def _numbers(name: str, values: Any) -> list[float]:
    """JSON numbers (not booleans, not text), as floats."""
    if not isinstance(values, list) or not all(
            type(v) in _PLAIN_NUMBERS or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values):
        raise ReferenceProfileError(f"column {name!r}: expected numbers")
    return [float(v) for v in values]


def _number_array(name: str, values: Any) -> np.ndarray:
    """``_numbers`` as a float64 array, at array speed for a list of plain JSON numbers."""
    if type(values) is list and _PLAIN_NUMBERS_SET.issuperset(map(type, values)):
        return np.array(values, dtype=np.float64)
    return np.asarray(_numbers(name, values), dtype=np.float64)


def _counts(name: str, values: Any) -> np.ndarray:
    """Bin counts as ``_count`` checks each, at array speed for plain JSON integers."""
    if isinstance(values, list) and all(type(v) is int for v in values):
        counts = np.asarray(values, dtype=np.int64)  # OverflowError beyond int64: a malformed profile
        if not len(counts) or counts.min() >= 0:
            return counts
    return np.asarray([_count(name, c) for c in values], dtype=np.int64)


def _column_from_json(name: str, column: Mapping[str, Any], mlrun_edges: dict[str, np.ndarray]) -> Sketch:
    if not isinstance(column, Mapping):
        raise ReferenceProfileError(f"column {name!r}: must be an object")
    if column["kind"] == CATEGORICAL:
        counts = {str(k): _count(name, v) for k, v in column["counts"].items()}
        categorical = CategoricalSketch(max(64, len(counts)), counts)
        categorical.counts, categorical.other = counts, _count(name, column.get("other", 0))
        categorical.missing = _count(name, column["missing"])
        _count(name, column.get("count", 0))  # written for readers; checked so a stored profile is always sound
        return categorical
    if column["kind"] != NUMERIC:
        raise ReferenceProfileError(f"column {name!r}: kind must be 'numeric' or 'categorical'")
    edges = _number_array(name, column["edges"])
    bin_counts = _counts(name, column["counts"])
    if len(edges) < 2 or np.any(np.diff(edges) <= 0) or len(bin_counts) != len(edges) + 1:
        raise ReferenceProfileError(f"column {name!r}: edges must increase and counts have len(edges)+1 entries")
    sketch = NumericSketch(edges)
    sketch.counts, sketch.count, sketch.missing = bin_counts, _count(name, column["count"]), _count(name, column["missing"])
    sketch.mean, std = _numbers(name, [column["mean"], column["std"]])
    sketch.m2 = std * std * (sketch.count - 1) if sketch.count > 1 else 0.0
    if sketch.count:
        sketch.min, sketch.max = _numbers(name, [column["min"], column["max"]])
    if column.get("quantile_sketch"):
        sketch.quantiles = QuantileSketch.from_bytes(base64.b64decode(column["quantile_sketch"]))
    coarse = _number_array(name, column["mlrun_edges"]) if "mlrun_edges" in column else edges
    if (len(coarse) < 2 or np.any(np.diff(coarse) <= 0) or coarse[0] != edges[0] or coarse[-1] != edges[-1]
            or not np.array_equal(edges[np.minimum(np.searchsorted(edges, coarse), len(edges) - 1)], coarse)):
        raise ReferenceProfileError(f"column {name!r}: mlrun_edges must increase and be a subset of edges "
                                    "sharing their first and last value")
    mlrun_edges[name] = coarse
    return sketch
