"""Contract tests run over every mergeable sketch (STYLE.md, "Contract tests over every sketch").

Each entry of :data:`KINDS` says how to make an empty sketch, a chunk of input and how to feed it,
and how to read the sketch's state: ``exact`` state that must match exactly (floats up to rounding)
and the quantile sketches inside, which match within their rank error. Every test below runs over
every kind; :func:`test_every_sketch_class_has_a_contract_kind` finds the sketch classes in the package
so a new sketch cannot be added without joining the contract.
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import streamer.sketches
import streamer.windows
from streamer.errors import SketchMismatchError, StateFormatError
from streamer.events.rows import PredictionRows
from streamer.sketches.categorical import CategoricalSketch
from streamer.sketches.ddsketch import DDSketch
from streamer.sketches.numeric import NumericSketch
from streamer.sketches.quantiles import QuantileSketch
from streamer.windows.accumulator import EMPTY_LAYOUT, WindowAccumulator
from streamer.windows.columns import CATEGORICAL, NUMERIC, ColumnSpec, Layout

EDGES = np.linspace(-3.0, 3.0, 13)
COUNTRIES = ("DE", "FR", "US", "IT", "ES", "NL", "PL", "SE", "DK", "AT")
CHECKED_QUANTILES = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
CHUNK = 2500  # above KLL's exact range for k=200, so merges really compact


# -- reading a sketch's state -------------------------------------------------------------------


def _numeric_state(sketch: NumericSketch, prefix: str = "") -> dict[str, Any]:
    return {
        f"{prefix}edges": None if sketch.edges is None else tuple(sketch.edges.tolist()),
        f"{prefix}counts": None if sketch.counts is None else tuple(sketch.counts.tolist()),
        f"{prefix}count": sketch.count, f"{prefix}missing": sketch.missing,
        f"{prefix}mean": sketch.mean if sketch.count else None,
        f"{prefix}m2": sketch.m2 if sketch.count else None,
        f"{prefix}min": sketch.min if sketch.count else None,
        f"{prefix}max": sketch.max if sketch.count else None,
        f"{prefix}quantiles.n": sketch.quantiles.n, f"{prefix}quantiles.k": sketch.quantiles.k,
    }


def _ddsketch_state(sketch: DDSketch, prefix: str = "") -> dict[str, Any]:
    nonzero = np.flatnonzero(sketch.counts)
    return {
        f"{prefix}relative_accuracy": sketch.relative_accuracy, f"{prefix}max_buckets": sketch.max_buckets,
        f"{prefix}buckets": tuple(zip((nonzero + sketch.offset).tolist(), sketch.counts[nonzero].tolist(), strict=True)),
        f"{prefix}zero": sketch.zero_count, f"{prefix}count": sketch.count,
        f"{prefix}sum": sketch.sum if sketch.count else None,
        f"{prefix}min": sketch.min if sketch.count else None, f"{prefix}max": sketch.max if sketch.count else None,
    }


def _categorical_state(sketch: CategoricalSketch, prefix: str = "") -> dict[str, Any]:
    return {
        f"{prefix}max_categories": sketch.max_categories, f"{prefix}known": tuple(sorted(sketch.known)),
        f"{prefix}counts": tuple(sorted(sketch.counts.items())), f"{prefix}other": sketch.other,
        f"{prefix}missing": sketch.missing,
    }


def _overflow_state(sketch: CategoricalSketch) -> dict[str, Any]:
    """What stays exact once there are more categories than the limit: totals and the known categories."""
    return {
        "count": sketch.count, "missing": sketch.missing, "known": tuple(sorted(sketch.known)),
        "known_counts": tuple(sorted((k, v) for k, v in sketch.counts.items() if k in sketch.known)),
        "others": sketch.count - sum(v for k, v in sketch.counts.items() if k in sketch.known),
    }


def _column_state(sketch: NumericSketch | CategoricalSketch, prefix: str) -> dict[str, Any]:
    if isinstance(sketch, NumericSketch):
        return _numeric_state(sketch, prefix)
    return _categorical_state(sketch, prefix)


def _window_state(window: WindowAccumulator) -> dict[str, Any]:
    state: dict[str, Any] = {
        "start": window.start_s, "end": window.end_s, "rows": window.rows, "errors": window.errors,
        "first": window.first_event_s if window.rows else None, "last": window.last_event_s if window.rows else None,
        "features": tuple(sorted(window.features)), "outputs": tuple(sorted(window.outputs)),
        "type_mismatches": tuple(sorted(window.type_mismatches.items())),
        "non_finite": tuple(sorted(window.non_finite.items())),
        **_ddsketch_state(window.latency_ms, "latency."),
    }
    for group, sketches in (("features", window.features), ("outputs", window.outputs)):
        for name, sketch in sketches.items():
            state.update(_column_state(sketch, f"{group}.{name}."))
    return state


def _window_quantiles(window: WindowAccumulator) -> dict[str, QuantileSketch]:
    found: dict[str, QuantileSketch] = {}
    for group, sketches in (("features", window.features), ("outputs", window.outputs)):
        found.update({f"{group}.{n}": s.quantiles for n, s in sketches.items() if isinstance(s, NumericSketch)})
    return found


# -- input ------------------------------------------------------------------------------------


def _numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    values = rng.normal(0.0, 1.5, n)
    values[rng.random(n) < 0.05] = np.nan
    values[: n // 500] = np.inf  # infinities count as missing
    return values


def _categories(rng: np.random.Generator, n: int) -> list[object]:
    pool: list[object] = [*COUNTRIES[:6], None, True, 3]
    return [pool[i] for i in rng.integers(0, len(pool), n)]


def _latencies(rng: np.random.Generator, n: int) -> np.ndarray:
    values = rng.lognormal(2.0, 1.5, n)
    values[rng.random(n) < 0.03] = 0.0  # the zero bucket
    values[: n // 500] = np.nan  # ignored
    return values


def _wide_latencies(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.exp(rng.uniform(-10.0, 10.0, n))  # more buckets than 64: the lowest are folded


def _many_categories(rng: np.random.Generator, n: int) -> list[object]:
    names = [f"c{i}" for i in range(40)]
    return [names[i] if i < 40 else None for i in rng.integers(0, 42, n)]


WINDOW_LAYOUT = Layout(features={"amount": ColumnSpec(NUMERIC, EDGES), "country": ColumnSpec(CATEGORICAL, known=COUNTRIES)})


def _rows(rng: np.random.Generator, n: int) -> PredictionRows:
    rows = PredictionRows.empty("fraud", "1")
    amounts = rng.normal(0.0, 1.5, n)
    countries = rng.integers(0, 7, n)
    times = rng.uniform(0.0, 60.0, n)
    latencies = rng.gamma(2.0, 10.0, n)
    for i in range(n):
        failed = i % 37 == 0
        features: dict[str, object] = {"amount": float(amounts[i]),
                                       "country": COUNTRIES[countries[i]] if countries[i] < 6 else None,
                                       "score": int(i % 11), "is_new": bool(i % 3 == 0)}
        if i % 101 == 0:
            features["score"] = "n/a"  # a type mismatch into a numeric column
        if i % 97 == 0:
            features["amount"] = math.inf if i % 2 else math.nan  # non-finite numbers
        rows.append_row(timestamp_s=float(times[i]), features=features, prediction=int(amounts[i] > 0),
                        proba={"yes": float(abs(amounts[i]) % 1.0), "no": 1.0 - float(abs(amounts[i]) % 1.0)},
                        latency_ms=None if i % 53 == 0 else float(latencies[i]),
                        error="timeout" if failed else None)
    return rows


# -- the kinds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    name: str
    cls: type
    new: Callable[[], Any]
    chunk: Callable[[np.random.Generator, int], Any]
    feed: Callable[[Any, Any], None]
    exact: Callable[[Any], dict[str, Any]]
    quantiles: Callable[[Any], dict[str, QuantileSketch]]
    from_bytes: Callable[[bytes], Any]

    def __str__(self) -> str:
        return self.name


def _update(sketch: Any, values: Any) -> None:
    sketch.update(values)


def _add_rows(window: WindowAccumulator, rows: PredictionRows) -> None:
    window.add(rows, WINDOW_LAYOUT, max_categories=16)


KINDS = [
    Kind("numeric-with-edges", NumericSketch, lambda: NumericSketch(EDGES), _numbers, _update, _numeric_state,
         lambda s: {"values": s.quantiles}, NumericSketch.from_bytes),
    Kind("numeric-without-edges", NumericSketch, lambda: NumericSketch(), _numbers, _update, _numeric_state,
         lambda s: {"values": s.quantiles}, NumericSketch.from_bytes),
    Kind("categorical", CategoricalSketch, lambda: CategoricalSketch(16, COUNTRIES[:3]), _categories, _update,
         _categorical_state, lambda s: {}, CategoricalSketch.from_bytes),
    Kind("categorical-over-limit", CategoricalSketch, lambda: CategoricalSketch(8, ("c1", "c7", "c39")),
         _many_categories, _update, _overflow_state, lambda s: {}, CategoricalSketch.from_bytes),
    Kind("quantiles", QuantileSketch, lambda: QuantileSketch(), lambda rng, n: rng.lognormal(0.0, 1.0, n), _update,
         lambda s: {"n": s.n, "k": s.k}, lambda s: {"values": s}, QuantileSketch.from_bytes),
    Kind("ddsketch", DDSketch, lambda: DDSketch(), _latencies, _update, _ddsketch_state, lambda s: {},
         DDSketch.from_bytes),
    Kind("ddsketch-folded", DDSketch, lambda: DDSketch(max_buckets=64), _wide_latencies, _update, _ddsketch_state,
         lambda s: {}, DDSketch.from_bytes),
    Kind("window", WindowAccumulator, lambda: WindowAccumulator(0.0, 60.0), _rows, _add_rows, _window_state,
         _window_quantiles, WindowAccumulator.from_bytes),
]


@pytest.fixture(params=KINDS, ids=str)
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param


def _filled(kind: Kind, *chunks: Any) -> Any:
    sketch = kind.new()
    for chunk in chunks:
        kind.feed(sketch, chunk)
    return sketch


def _chunks(kind: Kind, seed: int, sizes: tuple[int, ...] = (CHUNK, CHUNK // 3)) -> list[Any]:
    rng = np.random.default_rng(seed)
    return [kind.chunk(rng, n) for n in sizes]


def _copy(kind: Kind, sketch: Any) -> Any:
    return kind.from_bytes(sketch.to_bytes())


# -- comparisons ------------------------------------------------------------------------------


def _same(value: Any, expected: Any) -> bool:
    if isinstance(expected, float) and isinstance(value, float):
        return math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-9)
    return value == expected


def assert_same_state(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert actual.keys() == expected.keys()
    differing = {k: (actual[k], expected[k]) for k in expected if not _same(actual[k], expected[k])}
    assert not differing, differing


def assert_quantiles_close(actual: dict[str, QuantileSketch], expected: dict[str, QuantileSketch]) -> None:
    """Each quantile of ``actual`` sits at ``expected``'s rank within both sketches' rank error."""
    assert actual.keys() == expected.keys()
    for name, mine in actual.items():
        theirs = expected[name]
        assert mine.n == theirs.n, name
        if not mine.n:
            continue
        tolerance = 1.5 * (mine.rank_error + theirs.rank_error) + 2.0 / mine.n
        for q in CHECKED_QUANTILES:
            value = mine.quantile(q)
            # The share of values below ``value`` and the share at or below it bracket q (ties allowed).
            below, at_or_below = theirs.cdf(float(np.nextafter(value, -np.inf))), theirs.cdf(value)
            assert below - tolerance <= q <= at_or_below + tolerance, (name, q, below, at_or_below)


def assert_equivalent(kind: Kind, actual: Any, expected: Any) -> None:
    assert_same_state(kind.exact(actual), kind.exact(expected))
    assert_quantiles_close(kind.quantiles(actual), kind.quantiles(expected))


# -- the contract -----------------------------------------------------------------------------


def test_every_sketch_class_has_a_contract_kind():
    """Every class in streamer.sketches and streamer.windows with merge/to_bytes/from_bytes is covered."""
    found = set()
    for package in (streamer.sketches, streamer.windows):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__ and all(
                        callable(getattr(cls, m, None)) for m in ("merge", "to_bytes", "from_bytes")):
                    found.add(cls)
    assert found, "no sketch classes found"
    assert found == {k.cls for k in KINDS}


def test_round_trip_keeps_the_state(kind):
    sketch = _filled(kind, *_chunks(kind, 1))
    data = sketch.to_bytes()
    restored = kind.from_bytes(data)
    assert type(restored) is kind.cls
    assert_same_state(kind.exact(restored), kind.exact(sketch))
    for name, quantiles in kind.quantiles(restored).items():
        original = kind.quantiles(sketch)[name]
        assert [a.tolist() for a in quantiles.weighted_items()] == [a.tolist() for a in original.weighted_items()]
        assert quantiles.quantiles(CHECKED_QUANTILES).tolist() == original.quantiles(CHECKED_QUANTILES).tolist()
    assert_same_state(kind.exact(kind.from_bytes(restored.to_bytes())), kind.exact(sketch))


def test_round_trip_of_an_empty_sketch(kind):
    empty = kind.new()
    restored = kind.from_bytes(empty.to_bytes())
    assert_same_state(kind.exact(restored), kind.exact(empty))
    assert repr(restored) == repr(empty)


def test_restored_sketch_keeps_accepting_input(kind):
    first, second = _chunks(kind, 2)
    restored = _copy(kind, _filled(kind, first))
    kind.feed(restored, second)
    assert_equivalent(kind, restored, _filled(kind, first, second))


def test_merge_equals_one_pass_over_both_streams(kind):
    a_chunks, b_chunks = _chunks(kind, 3), _chunks(kind, 4, (CHUNK, 7))
    merged = _filled(kind, *a_chunks)
    merged.merge(_filled(kind, *b_chunks))
    assert_equivalent(kind, merged, _filled(kind, *a_chunks, *b_chunks))


def test_merge_into_an_empty_sketch_copies(kind):
    source = _filled(kind, *_chunks(kind, 5))
    target = kind.new()
    target.merge(source)
    assert_equivalent(kind, target, source)


def test_merging_an_empty_sketch_changes_nothing(kind):
    sketch = _filled(kind, *_chunks(kind, 6))
    before = _copy(kind, sketch)
    sketch.merge(kind.new())
    assert_same_state(kind.exact(sketch), kind.exact(before))
    for name, quantiles in kind.quantiles(sketch).items():
        expected = kind.quantiles(before)[name]
        assert quantiles.quantiles(CHECKED_QUANTILES).tolist() == expected.quantiles(CHECKED_QUANTILES).tolist()


def test_merge_leaves_the_other_sketch_alone(kind):
    other = _filled(kind, *_chunks(kind, 7))
    before = other.to_bytes()
    target = _filled(kind, *_chunks(kind, 8))
    target.merge(other)
    assert other.to_bytes() == before


def test_merge_order_does_not_matter(kind):
    a, b, c = (_filled(kind, *_chunks(kind, seed)) for seed in (9, 10, 11))
    ab_c = _copy(kind, a)
    ab_c.merge(b)
    ab_c.merge(c)
    c_ba = _copy(kind, c)
    c_ba.merge(b)
    c_ba.merge(a)
    a_bc = _copy(kind, a)
    bc = _copy(kind, b)
    bc.merge(c)
    a_bc.merge(bc)
    assert_equivalent(kind, c_ba, ab_c)
    assert_equivalent(kind, a_bc, ab_c)


# -- refusals ---------------------------------------------------------------------------------


def _window_with(value: object) -> WindowAccumulator:
    window = WindowAccumulator(0.0, 60.0)
    rows = PredictionRows.empty("fraud", "1")
    rows.append_row(timestamp_s=1.0, features={"amount": value}, latency_ms=5.0)
    window.add(rows, EMPTY_LAYOUT, max_categories=16)
    return window


def _numeric(edges: np.ndarray | None, k: int = 200) -> NumericSketch:
    sketch = NumericSketch(edges, quantile_k=k)
    sketch.update(np.array([0.5, 1.5, 2.5]))
    return sketch


def _categorical(max_categories: int, known: tuple[str, ...] = ()) -> CategoricalSketch:
    sketch = CategoricalSketch(max_categories, known)
    sketch.update(["a", "b", None])
    return sketch


def _quantiles(k: int) -> QuantileSketch:
    sketch = QuantileSketch(k)
    sketch.update(np.arange(1000.0))
    return sketch


INCOMPATIBLE = [
    pytest.param(lambda: (_numeric(EDGES), _numeric(EDGES + 0.5)), id="numeric-other-edges"),
    pytest.param(lambda: (_numeric(EDGES), _numeric(EDGES[:-1])), id="numeric-fewer-edges"),
    pytest.param(lambda: (_numeric(EDGES), _numeric(None)), id="numeric-edges-vs-none"),
    pytest.param(lambda: (_numeric(None), _numeric(EDGES)), id="numeric-none-vs-edges"),
    pytest.param(lambda: (_numeric(None, 100), _numeric(None, 200)), id="numeric-other-quantile-k"),
    pytest.param(lambda: (_categorical(16), _categorical(8)), id="categorical-other-limit"),
    pytest.param(lambda: (_categorical(16, ("a",)), _categorical(16, ("a", "b"))), id="categorical-other-known"),
    pytest.param(lambda: (_quantiles(100), _quantiles(200)), id="quantiles-other-k"),
    pytest.param(lambda: (DDSketch(0.01), DDSketch(0.02)), id="ddsketch-other-accuracy"),
    pytest.param(lambda: (DDSketch(max_buckets=64), DDSketch()), id="ddsketch-other-buckets"),
    pytest.param(lambda: (_window_with(1.5), _window_with("x")), id="window-numeric-vs-categorical"),
    pytest.param(lambda: (_window_with("x"), _window_with(1.5)), id="window-categorical-vs-numeric"),
]


@pytest.mark.parametrize("make_pair", INCOMPATIBLE)
def test_merging_incompatible_sketches_raises(make_pair):
    target, other = make_pair()
    with pytest.raises(SketchMismatchError):
        target.merge(other)


@pytest.mark.parametrize("make_pair", INCOMPATIBLE)
def test_a_refused_merge_leaves_the_target_unchanged(make_pair):
    target, other = make_pair()
    before = target.to_bytes()
    with pytest.raises(SketchMismatchError):
        target.merge(other)
    assert target.to_bytes() == before


# -- garbage in stored state ------------------------------------------------------------------


def _truncated(kind: Kind) -> bytes:
    return _filled(kind, *_chunks(kind, 12, (300,))).to_bytes()[:-9]


def _other_kind(kind: Kind) -> bytes:
    if kind.cls is CategoricalSketch:
        return _numeric(EDGES).to_bytes()
    return _categorical(4).to_bytes()


GARBAGE: dict[str, Callable[[Kind], bytes]] = {
    "text": lambda kind: b"garbage",
    "random-bytes": lambda kind: np.random.default_rng(13).bytes(300),
    "json-not-an-object": lambda kind: struct.pack("<I", 3) + b"[1]",
    "another-kind": _other_kind,
    "truncated": _truncated,
}

def _garbage_params() -> list[Any]:
    params = []
    for kind in KINDS:
        for name, make in GARBAGE.items():
            params.append(pytest.param(kind, make, id=f"{kind.name}-{name}"))
    return params


@pytest.mark.parametrize(("garbage_kind", "make"), _garbage_params())
def test_from_bytes_of_garbage_raises_state_format_error(garbage_kind, make):
    with pytest.raises(StateFormatError):
        garbage_kind.from_bytes(make(garbage_kind))


def test_state_format_error_names_the_stored_and_expected_kind():
    with pytest.raises(StateFormatError, match="stored categorical v1, expected numeric v1"):
        NumericSketch.from_bytes(_categorical(4).to_bytes())
