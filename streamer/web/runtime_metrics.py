"""What the monitor agent measures of itself for ``/metrics``: batch time and size, alerts sent, consumer lag.

Plain state updated by the agent (streamer/topology.py) and read at scrape time by
:class:`RuntimeCollector`; label values are fixed sets (stages, alert kinds and severities) or the
partitions of the predictions topic this replica owns.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from streamer.alerts.alert import KINDS, SEVERITIES

BATCH_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_RECORDS_BUCKETS = (1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0)
STAGES = ("plan", "settle", "apply", "send")


class Histogram:
    """Counts of observations per upper bound, their sum and count: a Prometheus histogram's state.

    >>> h = Histogram((0.1, 1.0))
    >>> for seconds in (0.05, 0.5, 3.0):
    ...     h.update(seconds)
    >>> h.cumulative(), h.count, h.sum
    ([('0.1', 1), ('1.0', 2), ('+Inf', 3)], 3, 3.55)
    """

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one: above every bound
        self.count = 0
        self.sum = 0.0

    def update(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, int]]:
        total, out = 0, []
        for bound, count in zip([*map(str, self.bounds), "+Inf"], self.counts, strict=True):
            total += count
            out.append((bound, total))
        return out


class BatchStats:
    """Seconds per micro-batch (total and per stage) and records per batch.

    >>> stats = BatchStats()
    >>> stats.update({"plan": 0.002, "settle": 0.0, "apply": 0.004, "send": 0.001}, records=120)
    >>> stats.seconds.count, round(stats.seconds.sum, 3), stats.records.sum, stats.stage_seconds["apply"]
    (1, 0.007, 120.0, 0.004)
    """

    def __init__(self) -> None:
        self.seconds = Histogram(BATCH_SECONDS_BUCKETS)
        self.records = Histogram(BATCH_RECORDS_BUCKETS)
        self.stage_seconds = dict.fromkeys(STAGES, 0.0)

    def update(self, stage_seconds: dict[str, float], records: int) -> None:
        for stage, seconds in stage_seconds.items():
            self.stage_seconds[stage] += seconds
        self.seconds.update(sum(stage_seconds.values()))
        self.records.update(records)


class AlertCounts:
    """Alerts sent by this replica, by kind and severity (both fixed sets, so the series are bounded).

    >>> counts = AlertCounts()
    >>> counts.count(b'{"kind": "data_drift_detected", "severity": "critical"}')
    >>> counts.count(b'{"kind": "made_up", "severity": "critical"}')  # not a known kind: not a new series
    >>> counts.counts[("data_drift_detected", "critical")], sum(counts.counts.values())
    (1, 1)
    """

    def __init__(self) -> None:
        self.counts = {(kind, severity): 0 for kind in KINDS for severity in SEVERITIES}

    def count(self, alert: bytes) -> None:
        doc = orjson.loads(alert)
        key = (doc.get("kind"), doc.get("severity"))
        if key in self.counts:
            self.counts[key] += 1


class ConsumerPositions:
    """The next offset to process per partition of the predictions topic, as the agent processed it.

    Until the agent processed a record of a partition, the consumer's own position stands in (it can
    run ahead of the agent by what Faust buffered, so that figure is low).

    >>> positions = ConsumerPositions()
    >>> positions.processed(3, 41); positions.processed(3, 40)
    >>> positions.lag({3: 50, 4: 7, 5: 9})  # 4 and 5: nothing processed there yet, no figure
    {3: 8}
    >>> positions.consumer_at(4, 2); positions.consumer_at(3, 0)  # 3: the agent's own offset wins
    >>> positions.lag({3: 50, 4: 7, 5: 9})
    {3: 8, 4: 5}
    """

    def __init__(self) -> None:
        self.next_offset: dict[int, int] = {}
        self.consumer_offset: dict[int, int] = {}

    def processed(self, partition: int, offset: int) -> None:
        self.next_offset[partition] = max(self.next_offset.get(partition, 0), offset + 1)

    def consumer_at(self, partition: int, offset: int) -> None:
        self.consumer_offset[partition] = offset

    def forget(self) -> None:
        self.next_offset.clear()
        self.consumer_offset.clear()

    def lag(self, highwaters: dict[int, int | None]) -> dict[int, int]:
        """Log end minus the next offset to process, per partition that has both."""
        found = {}
        for partition, end in sorted(highwaters.items()):
            position = self.next_offset.get(partition, self.consumer_offset.get(partition))
            if end is not None and position is not None:
                found[partition] = max(0, end - position)
        return found


class RuntimeCollector(Collector):
    """The agent's own figures; ``highwaters`` reads the consumer's log end per owned partition at scrape time."""

    def __init__(self, batches: BatchStats, alerts: AlertCounts, positions: ConsumerPositions,
                 highwaters: Callable[[], dict[int, int | None]]) -> None:
        self.batches, self.alerts, self.positions, self.highwaters = batches, alerts, positions, highwaters

    def collect(self) -> Iterator[Any]:
        b = self.batches
        yield HistogramMetricFamily("streamer_batch_seconds",
                                    "seconds the monitor agent spends per micro-batch (plan, settle, apply, send)",
                                    buckets=b.seconds.cumulative(), sum_value=b.seconds.sum)
        stages = CounterMetricFamily("streamer_batch_stage_seconds", "seconds spent per stage of the micro-batches",
                                     labels=["stage"])
        for stage, seconds in b.stage_seconds.items():
            stages.add_metric([stage], seconds)
        yield stages
        yield HistogramMetricFamily("streamer_batch_records", "records (messages and ticks) per micro-batch",
                                    buckets=b.records.cumulative(), sum_value=b.records.sum)
        alerts = CounterMetricFamily("streamer_alerts_by_kind", "alerts sent by this replica, by kind and severity",
                                     labels=["kind", "severity"])
        for (kind, severity), count in self.alerts.counts.items():
            alerts.add_metric([kind, severity], count)
        yield alerts
        lag = GaugeMetricFamily("streamer_consumer_lag", "records of the predictions topic not yet processed, per "
                                "partition this replica owns (log end minus the next offset to process)",
                                labels=["partition"])
        for partition, records in self.positions.lag(self.highwaters()).items():
            lag.add_metric([str(partition)], records)
        yield lag
