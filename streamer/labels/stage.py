"""Ground truth in the worker: label joins, window performance, the estimate and concept drift, per micro-batch.

The pipeline hands this stage its label records and its accepted prediction rows, and asks it for a
closing window's ``performance`` sections; the stage returns table writes and messages the pipeline's
way (:class:`~streamer.batch.Effects`), so it runs without Faust in the unit tests. State lives in the
``ground_truth`` table, one entry per model for the join's metadata, per join shard block
(:mod:`streamer.labels.join`), per window's performance state and per model's concept monitor; a deleted
entry is written as empty bytes.

Pending rows are not kept in memory: the join loads the shard blocks a micro-batch touches through
``load``, and :meth:`GroundTruth.flush` (called once at the end of each micro-batch) writes each touched
block once and drops it. What stays in memory per tracked model is the join's metadata, the concept
monitor and a bounded cache of window states. On each tick, :meth:`GroundTruth.sweep` visits
``SWEEP_SHARDS_PER_TICK`` of a model's shard blocks in turn, so rows in blocks no new row touches still
expire and are counted.

Only models that receive labels are tracked: a model whose reference was built with ``--label``, one
configured to expect labels (``expect_labels``, ``STREAMER_LABELS_EXPECTED``), or any model from its first
label on (its predictions before that first label are not kept; :mod:`streamer.labels.policy`).

A joined row counts in the window of its prediction's event time. When that window has already closed,
its new ``performance`` is published as an update on the windows topic (the history merges it into
the window's summary) and ``model_performance_degraded`` is decided again (the alert id is the same for
the same window and metric, so a repeat is dropped by consumers).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from streamer.alerts.concept import concept_alerts
from streamer.alerts.performance import ground_truth_alerts
from streamer.batch import Outbound, StateWrite
from streamer.config import Settings
from streamer.errors import InvalidEventError, StateFormatError
from streamer.events.dead_letters import dead_letter
from streamer.events.labels import LabelEvent
from streamer.events.parse import parse_labels
from streamer.events.rows import PredictionRows
from streamer.events.timestamps import format_timestamp
from streamer.kafka.topics import partition_for_key
from streamer.labels.join import Joined, JoinStore
from streamer.labels.policy import labels_expected
from streamer.performance.concept import ConceptMonitor
from streamer.performance.degraded import PerformancePolicy
from streamer.performance.reference import infer_task, positive_class, row_errors
from streamer.performance.segments import SegmentSpec, segment_indices
from streamer.performance.window import WindowPerformance, concept_section
from streamer.reference.registry import ReferenceRegistry
from streamer.sketches.categorical import category_of

TABLE_GROUND_TRUTH = "ground_truth"
# Window states kept in memory as well as written (the table's value is only current once the
# batch's writes are applied, after the window may have closed in the same batch).
WINDOW_CACHE_SIZE = 4096
MAX_FUTURE_SECONDS = 24 * 3600.0  # as for predictions (streamer.pipeline)
# Join shard blocks each tracked model's sweep visits per tick (0.5 s): 16 shards (the default) in 2 s.
SWEEP_SHARDS_PER_TICK = 4


def gt_key(*parts: object) -> bytes:
    return "\x1f".join(map(str, parts)).encode()


@dataclass
class GroundTruthCounters:
    labels: int = 0
    labels_joined: int = 0
    labels_expired: int = 0
    predictions_expired: int = 0
    closed_window_updates: int = 0
    concept_drifts: int = 0


class GroundTruth:
    def __init__(self, settings: Settings, registry: ReferenceRegistry,
                 load: Callable[[str, bytes], bytes | None]) -> None:
        self.settings = settings
        self.registry = registry
        self.load = load
        self.counters = GroundTruthCounters()
        self._joins: dict[str, JoinStore] = {}  # per model: the join's metadata (its blocks stay in the table)
        self._touched: dict[str, Any] = {}  # models whose join changed in this micro-batch: their last handle
        self._monitors: dict[str, ConceptMonitor] = {}
        self._windows: dict[str, set[tuple[str, float]]] = {}  # per model: the windows with stored state
        self._window_cache: OrderedDict[bytes, WindowPerformance] = OrderedDict()
        self._resent: set[bytes] = set()  # windows and monitors whose messages a redelivery sent again

    def forget(self) -> None:
        self._joins.clear()
        self._touched.clear()
        self._monitors.clear()
        self._windows.clear()
        self._window_cache.clear()

    # -- state --------------------------------------------------------------------------------

    def _get(self, key: bytes) -> bytes | None:
        value = self.load(TABLE_GROUND_TRUTH, key)
        return value or None  # b"" marks a deleted entry

    def _ground_truth(self, model: str, version: str) -> dict[str, Any] | None:
        profile = self.registry.lookup(model, version)
        return profile.ground_truth if profile is not None else None

    def _specs(self, ground_truth: dict[str, Any] | None) -> dict[str, SegmentSpec]:
        specs = (ground_truth or {}).get("segments", {}).get("specs", {})
        return {n: SegmentSpec.from_json(s) for n, s in specs.items()}

    def _join(self, model: str, create: bool, width: int) -> JoinStore | None:
        join = self._joins.get(model)
        if join is None:
            def load(shard: int) -> bytes | None:
                return self._get(gt_key(model, "s", shard))

            meta = self._get(gt_key(model, "join"))
            if meta is not None:
                try:
                    join = JoinStore.load_meta(meta, load)
                except StateFormatError:  # the layout of an older release: its pending rows are not read
                    join = None
            if join is None and (create or meta is not None):
                join = JoinStore(self.settings.label_ttl_seconds, width, self.settings.label_shards, load)
            if join is not None:
                self._joins[model] = join
        return join

    def _write(self, key: bytes, value: bytes, handle: Any, effects: Any) -> None:

        effects.writes.append(StateWrite(TABLE_GROUND_TRUTH, key, value, handle))

    def flush(self, effects: Any) -> None:
        """Write each touched join block once, and the join's metadata, at the end of a micro-batch; the
        blocks then leave memory (the table holds them)."""
        for model, handle in self._touched.items():
            join = self._joins[model]
            for shard, data in join.take_dirty().items():
                self._write(gt_key(model, "s", shard), data or b"", handle, effects)
            self._write(gt_key(model, "join"), join.meta_bytes(), handle, effects)
        self._touched.clear()

    def sweep(self, model: str, handle: Any, effects: Any) -> None:
        """On a tick: expire a few of the model's shard blocks in turn, so untouched ones still expire."""
        join = self._join(model, create=False, width=0)
        if join is None or join.pending() == (0, 0):
            return
        expired_predictions, expired_labels = join.sweep(SWEEP_SHARDS_PER_TICK)
        self.counters.predictions_expired += expired_predictions
        self.counters.labels_expired += expired_labels
        self._touched[model] = handle

    def _stored_window(self, key: bytes) -> WindowPerformance | None:
        cached = self._window_cache.get(key)
        if cached is not None:
            return cached
        stored = self._get(key)
        return WindowPerformance.from_bytes(stored) if stored is not None else None

    def _window(self, model: str, version: str, start_s: float, ground_truth: dict[str, Any] | None,
                labels: list[Any]) -> WindowPerformance:
        cached = self._window_cache.get(gt_key(model, "w", version, start_s))
        if cached is not None:
            return cached
        stored = self._get(gt_key(model, "w", version, start_s))
        if stored is not None:
            try:
                return WindowPerformance.from_bytes(stored)
            except StateFormatError:
                pass  # a changed layout starts fresh
        if ground_truth is not None:
            return WindowPerformance.for_reference(ground_truth)
        classes = sorted({c for c in map(category_of, labels) if c is not None})
        task = infer_task(labels) if labels else "classification"
        return WindowPerformance(task, positive_class(classes))

    def _window_keys(self, model: str) -> set[tuple[str, float]]:
        keys = self._windows.get(model)
        if keys is None:
            stored = orjson.loads(self._get(gt_key(model, "windows")) or b"[]")
            keys = self._windows[model] = {(str(v), float(s)) for v, s in stored}
        return keys

    def _save_window(self, model: str, version: str, start: float, window: WindowPerformance, handle: Any,
                     effects: Any) -> None:
        key = gt_key(model, "w", version, start)
        self._write(key, window.to_bytes(), handle, effects)
        self._window_cache[key] = window
        self._window_cache.move_to_end(key)
        while len(self._window_cache) > WINDOW_CACHE_SIZE:
            self._window_cache.popitem(last=False)
        keys = self._window_keys(model)
        if (version, start) not in keys:
            keys.add((version, start))
            self._write(gt_key(model, "windows"), orjson.dumps(sorted(keys)), handle, effects)

    def _expects_labels(self, model: str) -> bool:
        return (self.settings.ground_truth_policy(model).expect_labels
                or labels_expected(self.settings.labels_expected, model))

    def _policy(self, model: str) -> PerformancePolicy:
        return self.settings.ground_truth_policy(model).performance

    def _start(self, time_s: float) -> float:
        return float(math.floor(time_s / self.settings.window_seconds) * self.settings.window_seconds)

    # -- predictions ---------------------------------------------------------------------------

    def on_predictions(self, items: list[tuple[Any, PredictionRows]], now_s: float, effects: Any,
                       open_starts: Callable[[str, str], set[float]]) -> None:
        """The prediction records of one model and version in a micro-batch, redelivered ones included (each
        stored record judges them by its own fences): pending for their labels, scored for the estimate."""
        if not items:
            return
        first, handle = items[0][1], items[-1][0].handle
        ground_truth = self._ground_truth(first.model, first.version)
        specs = self._specs(ground_truth)
        join = self._join(first.model, create=ground_truth is not None or self._expects_labels(first.model),
                          width=len(specs))
        if join is None:
            return
        rows = PredictionRows.empty(first.model, first.version)
        offsets: list[int] = []
        for record, part_rows in items:
            rows.extend(part_rows)
            offsets += [record.offset] * len(part_rows)
        if not len(rows):
            return
        source = f"{items[0][0].topic}:{items[0][0].partition}"
        if ground_truth is not None and ground_truth.get("calibration"):
            self._score(rows, offsets, source, ground_truth, handle, effects, open_starts)
        width = join.segment_width
        indices = (segment_indices(specs, rows.features) if width == len(specs)
                   else np.full((len(rows), width), 255, dtype=np.uint8))
        joined = join.add_predictions(rows.version, rows.request_ids, rows.timestamps_s, rows.predictions,
                                      rows.probas, indices, source=source, offsets=offsets)
        self._apply_joined(rows.model, joined, handle, now_s, effects, open_starts)
        self._expire(rows.model, join, handle, effects)

    def _score(self, rows: PredictionRows, offsets: list[int], source: str, ground_truth: dict[str, Any],
               handle: Any, effects: Any, open_starts: Callable[[str, str], set[float]]) -> None:
        """Rows with a score into their open windows' estimate state, unless that window took their record in."""
        starts = np.floor(np.asarray(rows.timestamps_s) / self.settings.window_seconds) * self.settings.window_seconds
        for start in np.unique(starts).tolist():
            if start not in open_starts(rows.model, rows.version):
                continue  # late rows: the window closed without them
            window = self._window(rows.model, rows.version, start, ground_truth, [])
            part = [i for i in np.flatnonzero(starts == start).tolist() if window.scored_fences.admits(source, offsets[i])]
            if not part:
                continue
            window.update_scored([rows.probas[i] for i in part], [rows.predictions[i] for i in part])
            window.scored_fences.advance(source, max(offsets[i] for i in part))
            self._save_window(rows.model, rows.version, start, window, handle, effects)

    # -- labels --------------------------------------------------------------------------------

    def on_labels(self, records: list[Any], now_s: float, effects: Any,
                  open_starts: Callable[[str, str], set[float]]) -> None:

        by_model: dict[str, tuple[Any, list[tuple[LabelEvent, str, int]]]] = {}
        partitions: dict[str, int] = {}
        for record in records:
            try:
                labels = parse_labels(record.value, record.timestamp_s, self.settings.max_message_bytes)
                ahead = max((x.timestamp_s for x in labels), default=now_s) - now_s
                if ahead > MAX_FUTURE_SECONDS:  # one bad clock must not expire every pending row of its model
                    raise InvalidEventError(f"label timestamp is {ahead / 3600:.0f} hours ahead of the worker's clock")
            except InvalidEventError as exc:
                effects.messages.append(Outbound(self.settings.topic_dead_letters, record.key, dead_letter(
                    str(exc), record.topic, record.partition, record.offset, record.value, now_s)))
                continue
            for label in labels:
                if label.model not in partitions:
                    partitions[label.model] = partition_for_key(label.model.encode(), self.settings.partitions)
                if partitions[label.model] != record.partition:
                    effects.messages.append(Outbound(self.settings.topic_labels, label.model.encode(), orjson.dumps(
                        {"model": label.model, "version": label.version, "request_id": label.request_id,
                         "label": label.label, "timestamp": label.timestamp_s})))
                    continue
                self.counters.labels += 1
                by_model.setdefault(label.model, (record.handle, []))[1].append(
                    (label, f"{record.topic}:{record.partition}", record.offset))
        for model, (handle, rows) in by_model.items():
            labels = [x[0] for x in rows]
            ground_truth = self._ground_truth(model, labels[0].version)
            join = self._join(model, create=True, width=len(self._specs(ground_truth)))
            assert join is not None
            joined = join.add_labels([x.request_id for x in labels], [x.label for x in labels],
                                     [x.timestamp_s for x in labels], [x[1] for x in rows], [x[2] for x in rows])
            self._apply_joined(model, joined, handle, now_s, effects, open_starts)
            self._expire(model, join, handle, effects)

    # -- joined rows ---------------------------------------------------------------------------

    def _apply_joined(self, model: str, joined: Joined, handle: Any, now_s: float, effects: Any,
                      open_starts: Callable[[str, str], set[float]]) -> None:
        if not joined.rows:
            return

        self.counters.labels_joined += joined.rows
        groups: dict[tuple[str, float], list[int]] = {}
        starts = (np.floor(np.asarray(joined.times_s) / self.settings.window_seconds)
                  * self.settings.window_seconds).tolist()
        for i, (version, start) in enumerate(zip(joined.versions, starts, strict=True)):
            groups.setdefault((version, float(start)), []).append(i)
        errors = np.full(joined.rows, np.nan)
        regression = False
        for (version, start), every in sorted(groups.items()):
            ground_truth = self._ground_truth(model, version)
            window = self._window(model, version, start, ground_truth, [joined.labels[i] for i in every])
            regression = regression or window.task == "regression"
            errors[every] = row_errors(window.task, [joined.labels[i] for i in every],
                                       [joined.predictions[i] for i in every])
            # Pairs this window counted before a crash are not counted again (streamer.labels.fences).
            part = [i for i, new in zip(every, window.fences.admit_pairs([joined.sources[i] for i in every]),
                                        strict=True) if new]
            key = gt_key(model, "w", version, start)
            if part:
                window.update_labelled([joined.labels[i] for i in part], [joined.predictions[i] for i in part],
                                       [joined.probas[i] for i in part], segment_indices=[joined.segments[i] for i in part])
                self._save_window(model, version, start, window, handle, effects)
            elif key in self._resent:
                continue
            # All fenced: a redelivery after a crash, whose update may have died with the worker; sent again
            # once per process (the history keeps the latest, alert ids are deterministic).
            self._resent.add(key)
            if start not in open_starts(model, version):  # closed: publish its grown performance
                update = self._window_doc(model, version, start, window.sections(
                    ground_truth, self._policy(model), self.settings.drift_policy(model)))
                self.counters.closed_window_updates += 1
                effects.messages.append(Outbound(self.settings.topic_windows, f"{model}\x1f{version}".encode(),
                                                 orjson.dumps(update)))
                for alert in ground_truth_alerts(update, now_s):
                    effects.messages.append(Outbound(self.settings.topic_alerts, model.encode(), orjson.dumps(alert)))
        self._detect(model, joined, errors, handle, now_s, effects, binary_errors=not regression)

    def _window_doc(self, model: str, version: str, start: float, sections: dict[str, Any]) -> dict[str, Any]:
        end = start + self.settings.window_seconds
        return {"model": model, "version": version, "window_start": format_timestamp(start),
                "window_end": format_timestamp(end), "window_start_s": start, "window_end_s": end,
                "update": "performance", **sections}

    def _detect(self, model: str, joined: Joined, errors: np.ndarray, handle: Any, now_s: float,
                effects: Any, binary_errors: bool) -> None:
        monitor = self._monitors.get(model)
        if monitor is None:
            policy = self.settings.ground_truth_policy(model)
            monitor = self._monitors[model] = ConceptMonitor.stored_or_new(
                self._get(gt_key(model, "concept")), policy.detector, policy.detector_params, binary_errors)
        order = np.argsort(joined.label_times_s, kind="stable")  # the order the truth became known
        new = np.array(monitor.fences.admit_pairs([joined.sources[i] for i in range(joined.rows)]), dtype=bool)
        order = order[new[order]]  # pairs the monitor was fed before a crash are not fed again
        resend = not len(order) and gt_key(model, "concept") not in self._resent
        if not len(order) and not resend:
            return
        self._resent.add(gt_key(model, "concept"))
        events = monitor.recent if resend else monitor.update(errors[order], np.asarray(joined.times_s)[order])
        for event in events:
            event.setdefault("version", joined.versions[int(order[-1])] if len(order) else joined.versions[0])
            self.counters.concept_drifts += event["kind"] == "drift" and not resend  # warnings: suspected
            start = self._start(event["detected_at_s"])
            doc = self._window_doc(model, event["version"], start, {"concept": concept_section(
                [event], monitor.warning, monitor.detector.name)})
            for alert in concept_alerts(doc, now_s):
                effects.messages.append(Outbound(self.settings.topic_alerts, model.encode(), orjson.dumps(alert)))
        self._write(gt_key(model, "concept"), monitor.to_bytes(), handle, effects)

    def _expire(self, model: str, join: JoinStore, handle: Any, effects: Any) -> None:
        expired_predictions, expired_labels = join.expire()
        self.counters.predictions_expired += expired_predictions
        self.counters.labels_expired += expired_labels
        self._touched[model] = handle  # written once, at the end of the micro-batch (flush)
        # A window's state is kept while labels may still come for it: its end plus the TTL.
        keys = self._window_keys(model)
        old = {(v, s) for v, s in keys if s + self.settings.window_seconds + self.settings.label_ttl_seconds < join.clock_s}
        if old:
            for version, start in old:
                self._write(gt_key(model, "w", version, start), b"", handle, effects)
                self._window_cache.pop(gt_key(model, "w", version, start), None)
            keys -= old
            self._write(gt_key(model, "windows"), orjson.dumps(sorted(keys)), handle, effects)

    # -- window close --------------------------------------------------------------------------

    def window_sections(self, model: str, version: str, start_s: float) -> dict[str, Any]:
        """The ``performance`` and ``performance_estimate`` sections of a window (open or closing), if any."""
        window = self._stored_window(gt_key(model, "w", version, float(start_s)))
        if window is None:
            return {}
        return window.sections(self._ground_truth(model, version), self._policy(model),
                               self.settings.drift_policy(model))

