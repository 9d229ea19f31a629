"""Integration fixtures: the real embedded broker and real worker processes, on free loopback ports."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streamer.broker import free_port, start_broker

pytestmark = pytest.mark.integration

#: Group timing for test deployments: a SIGKILLed member is dropped after 10 s instead of 30 s, and members
#: hear of a rebalance within 1 s. Every guarantee a test checks holds for any timing; only the waits get
#: shorter. A test may still pass its own values to ``new_deployment``.
FAST_GROUP = {"STREAMER_SESSION_TIMEOUT_SECONDS": "10", "STREAMER_HEARTBEAT_INTERVAL_SECONDS": "1"}


def wait_until(check: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}; last: {last!r}")


@dataclass
class Broker:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"kafka://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    port = free_port()
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    process = start_broker(port, str(log))
    yield Broker(port, process)
    process.terminate()
    process.wait(10)


@dataclass
class Deployment:
    """One application id (its own topics) on the broker, with its worker processes."""

    broker: Broker
    workdir: Path
    env: dict[str, str]
    workers: list[tuple[subprocess.Popen[bytes], int]] = field(default_factory=list)

    def launch_worker(self, data_dir: str = "var0", instance_id: str | None = None) -> tuple[subprocess.Popen[bytes], str]:
        """A worker process and its URL, not waited for; ``instance_id`` makes it a static group member."""
        web_port = free_port()
        log = open(self.workdir / f"worker-{web_port}.log", "wb")  # noqa: SIM115
        env = self.env if instance_id is None else {**self.env, "STREAMER_INSTANCE_ID": instance_id}
        process = subprocess.Popen(
            [sys.executable, "-m", "streamer.cli.main", "worker", "--web-port", str(web_port),
             "--data-dir", str(self.workdir / data_dir)],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        self.workers.append((process, web_port))
        return process, f"http://127.0.0.1:{web_port}"

    def start_worker(self, data_dir: str = "var0", instance_id: str | None = None) -> str:
        """A worker process, once it is ready; returns its URL."""
        _, url = self.launch_worker(data_dir, instance_id)
        wait_until(lambda: self.ready(url), 150, f"worker {url} to be ready")
        return url

    def start_workers(self, *data_dirs: str) -> list[str]:
        """Several workers started together (one group join for all), once every one is ready; their URLs."""
        urls = [self.launch_worker(data_dir)[1] for data_dir in data_dirs]
        wait_until(lambda: all(self.ready(url) for url in urls), 150, f"workers {urls} to be ready")
        return urls

    def ready(self, url: str) -> bool:
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop_all(self) -> None:
        for process, _ in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self.workers:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()

    def cli(self, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "streamer.cli.main", *args], env=self.env, cwd=self.workdir,
                              capture_output=True, text=True, timeout=timeout_s)

    def produce(self, topic_key: str, messages: list[tuple[bytes | None, bytes]]) -> None:
        async def go() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{self.broker.port}")
            await producer.start()
            try:
                for key, value in messages:
                    await producer.send(self.env[topic_key], value, key=key)
                await producer.flush()
            finally:
                await producer.stop()
        asyncio.run(go())

    def read_topic(self, topic_key: str) -> list[dict[str, Any]]:
        """Every record of a topic: named by its settings key (``STREAMER_TOPIC_ALERTS``) or by its name."""
        topic = self.env.get(topic_key, topic_key)

        async def go() -> list[dict[str, Any]]:
            consumer = AIOKafkaConsumer(bootstrap_servers=f"127.0.0.1:{self.broker.port}", group_id=None,
                                        enable_auto_commit=False)
            await consumer.start()
            try:
                partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
                consumer.assign(partitions)
                await consumer.seek_to_beginning(*partitions)
                found, idle = [], 0
                while idle < 3:
                    batches = await consumer.getmany(timeout_ms=300)
                    idle = 0 if batches else idle + 1
                    for records in batches.values():
                        found += [json.loads(r.value) for r in records]
                return found
            finally:
                await consumer.stop()
        return asyncio.run(go())


def get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def new_deployment(broker: Broker, workdir: Path, **settings: str) -> Deployment:
    """A fresh application id with its own topics, small windows, and ``settings`` on top."""
    app = f"it{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMER_")}
    env.update({
        "STREAMER_BROKER": broker.url, "STREAMER_APP_ID": app, "STREAMER_PARTITIONS": "4",
        "STREAMER_WINDOW_SECONDS": "10", "STREAMER_ALLOWED_LATENESS_SECONDS": "2",
        "STREAMER_IDLE_CLOSE_SECONDS": "4", **FAST_GROUP,
        **{f"STREAMER_TOPIC_{name.upper()}": f"{app}-{name.replace('_', '-')}"
           for name in ("predictions", "labels", "alerts", "references", "dead_letters")},
        **settings,
    })
    return Deployment(broker, workdir, env)


@pytest.fixture
def deployment(broker: Broker, tmp_path: Path) -> Iterator[Deployment]:
    deployment = new_deployment(broker, tmp_path)
    yield deployment
    deployment.stop_all()
