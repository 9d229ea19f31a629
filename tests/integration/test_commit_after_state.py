"""Offsets are committed only after state is written: a worker killed in between loses and doubles nothing.

The worker (``worker_killed_before_commit.py``) SIGKILLs itself right after a micro-batch's state is
written and flushed to the changelog, before the batch is acked. Its consumer group has not committed
that batch's offsets, so a new worker on the same disk reads those events again, over state that
already counts them; every model's windows must still count each event once.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from streamer.broker import free_port
from tests.integration.conftest import Broker, Deployment, get_json, new_deployment, wait_until
from tests.integration.test_recovery import events, models

pytestmark = pytest.mark.integration

KILLING_WORKER = Path(__file__).with_name("worker_killed_before_commit.py")


def committed(dep: Deployment, partitions: set[int]) -> dict[int, int | None]:
    """The consumer group's committed offset of each predictions partition (None: nothing committed)."""
    async def go() -> dict[int, int | None]:
        consumer = AIOKafkaConsumer(bootstrap_servers=f"127.0.0.1:{dep.broker.port}",
                                    group_id=dep.env["STREAMER_APP_ID"], enable_auto_commit=False)
        await consumer.start()
        try:
            topic = dep.env["STREAMER_TOPIC_PREDICTIONS"]
            return {p: await consumer.committed(TopicPartition(topic, p)) for p in sorted(partitions)}
        finally:
            await consumer.stop()
    return asyncio.run(go())


def test_a_worker_killed_between_state_write_and_offset_commit_loses_and_doubles_nothing(
        broker: Broker, tmp_path: Path) -> None:
    # The restarted worker finds a backlog older than the idle timeout: it reads it before closing idle windows.
    dep = new_deployment(broker, tmp_path, STREAMER_SESSION_TIMEOUT_SECONDS="10")
    names = [f"k{i}" for i in range(4)]
    report = tmp_path / "killed.json"
    try:
        log = open(tmp_path / "killed-worker.log", "wb")  # noqa: SIM115
        killed = subprocess.Popen(
            [sys.executable, str(KILLING_WORKER), "1000", str(report), "worker", "--web-port", str(free_port()),
             "--data-dir", str(tmp_path / "disk-a")], env=dep.env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        dep.workers.append((killed, 0))
        first = [e for i, n in enumerate(names) for e in events(n, range(0, 3), 200, seed=i, shift_from=2)]
        dep.produce("STREAMER_TOPIC_PREDICTIONS", first)
        killed.wait(240)
        assert killed.returncode == -9, "the worker was to kill itself after a written, unacked batch"
        died = json.loads(report.read_text())
        assert died["applied"] >= 1000

        # Its last batch is in the state (flushed to the changelog and in RocksDB), not in the offsets.
        last: dict[int, int] = {}
        for partition, offset in died["last_batch"]:
            last[partition] = min(offset, last.get(partition, offset))
        for partition, offset in committed(dep, set(last)).items():
            assert offset is None or offset <= last[partition], (partition, offset, last[partition])

        url = dep.start_worker("disk-a")  # the same disk: state ahead of the committed offsets
        second = [e for i, n in enumerate(names) for e in events(n, range(3, 6), 200, seed=100 + i, shift_from=2)]
        second += [e for i, n in enumerate(names) for e in events(n, range(7, 8), 1, seed=200 + i)]  # closes window 5
        dep.produce("STREAMER_TOPIC_PREDICTIONS", second)

        def closed_everywhere() -> bool:
            return all(len(get_json(f"{url}/api/v1/models/{n}/windows?limit=50")[1].get("windows", [])) == 6
                       for n in names)
        wait_until(closed_everywhere, 120, "six closed windows for every model")
        for name in names:
            windows = get_json(f"{url}/api/v1/models/{name}/windows?limit=50")[1]["windows"]
            assert [w["events"] for w in windows] == [200] * 6, name
            assert models(url)[name]["events_total"] == 1201
    finally:
        dep.stop_all()
