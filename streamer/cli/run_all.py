"""`make run`: the embedded broker (unless STREAMER_BROKER names another), one worker and the demo.

The children run in their own sessions, so Ctrl-C reaches only this process, which then stops
them in order: demo, worker, broker. SIGTERM and SIGHUP (a supervisor, a closed terminal) do the same.

The embedded broker keeps nothing, so window state left in the data dir by an earlier run belongs
to a log that no longer exists: it is removed before the worker starts, and every run starts clean.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from types import FrameType

from streamer.broker import start_broker, wait_for_port
from streamer.config import DEFAULT_BROKER, load_settings
from streamer.errors import ConfigError
from streamer.topology import state_dir

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    processes: list[subprocess.Popen[bytes]] = []
    env = dict(os.environ)
    try:
        load_settings(env)  # a bad STREAMER_CONFIG: every mistake listed, nothing started
    except ConfigError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        sys.exit(1)
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop)
    try:
        if env.get("STREAMER_BROKER", DEFAULT_BROKER) == DEFAULT_BROKER:
            broker_port = int(env.get("STREAMER_EMBEDDED_BROKER_PORT", "9092"))
            env["STREAMER_BROKER"] = f"kafka://127.0.0.1:{broker_port}"
            stale = state_dir(load_settings(env))
            if stale.exists():
                print(f"make run: removing {stale}, state of an earlier run's broker (the embedded one keeps "
                      "nothing)", flush=True)
                shutil.rmtree(stale)
            print(f"make run: embedded broker (memory-only) on 127.0.0.1:{broker_port}", flush=True)
            processes.append(start_broker(broker_port))
        streamer = [sys.executable, "-m", "streamer.cli.main"]
        processes.append(subprocess.Popen([*streamer, "worker"], env=env, start_new_session=True))
        port = int(env.get("STREAMER_WEB_PORT", "6066"))
        wait_for_port(port, timeout_s=120)
        print(f"make run: web view on http://127.0.0.1:{port}/ (API: /api/v1/models); "
              "alerts: .venv/bin/streamer alerts --follow", flush=True)
        processes.append(subprocess.Popen([*streamer, "demo"], env=env, start_new_session=True))
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for signum in STOP_SIGNALS:  # a second signal must not cut the clean stop short
            signal.signal(signum, signal.SIG_IGN)
        # Stop in reverse order, each before the next: the worker needs the broker to leave cleanly.
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


if __name__ == "__main__":
    main()
