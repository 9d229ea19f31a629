"""`make run`: the embedded broker (unless STREAMER_BROKER names another), one worker and the demo.

The children run in their own sessions, so Ctrl-C reaches only this process, which then stops
them in order: demo, worker, broker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from streamer.broker import start_broker, wait_for_port
from streamer.config import DEFAULT_BROKER


def main() -> None:
    processes: list[subprocess.Popen[bytes]] = []
    env = dict(os.environ)
    try:
        if env.get("STREAMER_BROKER", DEFAULT_BROKER) == DEFAULT_BROKER:
            print("make run: embedded broker (memory-only) on 127.0.0.1:9092", flush=True)
            processes.append(start_broker(9092))
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
