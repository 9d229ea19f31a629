"""A clean stop that takes too long ends in a hard exit, with every thread's stack in the log.

Faust's own shutdown can stall: a worker told to stop while its broker was going away once sat in
``threading._shutdown``, waiting for the consumer's thread whose event loop kept running. In
Kubernetes that turns into a SIGKILL at the end of every grace period, with nothing said about why.
The watchdog is a daemon thread armed when the stop begins; if the process is still there after
``timeout_s``, it dumps the stacks and exits with :data:`EXIT_STALLED`.

>>> watchdog = ShutdownWatchdog(timeout_s=60.0)
>>> watchdog.armed
False
>>> watchdog.arm("SIGTERM"); watchdog.arm("SIGINT")  # once: the first reason counts
>>> watchdog.armed, watchdog.reason
(True, 'SIGTERM')
>>> watchdog.disarm()  # the stop finished in time (here: so the doctest's process lives on)
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from typing import Any

import faust

log = logging.getLogger(__name__)

EXIT_STALLED = 70  # EX_SOFTWARE


class ShutdownWatchdog:
    def __init__(self, timeout_s: float) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.timeout_s = timeout_s
        self.reason: str | None = None
        self._lock = threading.Lock()
        self._disarmed = threading.Event()

    @property
    def armed(self) -> bool:
        return self.reason is not None

    def arm(self, reason: str) -> None:
        """Start counting down (once; later calls change nothing)."""
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
        threading.Thread(target=self._expire, name="shutdown-watchdog", daemon=True).start()

    def disarm(self) -> None:
        self._disarmed.set()

    def _expire(self) -> None:
        if self._disarmed.wait(self.timeout_s):
            return
        try:
            names = {thread.ident: thread.name for thread in threading.enumerate()}
            stacks = "\n".join(f"thread {names.get(ident, ident)}:\n" + "".join(traceback.format_stack(frame))
                                for ident, frame in sys._current_frames().items())
            log.error("the worker did not stop within %.0f s of %s; exiting hard. Where every thread was:\n%s",
                      self.timeout_s, self.reason, stacks)
            logging.shutdown()
        finally:
            os._exit(EXIT_STALLED)


class StoppableWorker(faust.Worker):
    """Faust's worker, with the watchdog armed as soon as a stop begins (signal, crash or the end of the run)."""

    watchdog: ShutdownWatchdog

    def __init__(self, app: faust.App, *, timeout_s: float, **kwargs: Any) -> None:
        self.watchdog = ShutdownWatchdog(timeout_s)
        super().__init__(app, **kwargs)

    def _on_sigint(self) -> None:
        self.watchdog.arm("SIGINT")
        super()._on_sigint()

    def _on_sigterm(self) -> None:
        self.watchdog.arm("SIGTERM")
        super()._on_sigterm()

    def on_worker_shutdown(self) -> None:
        self.watchdog.arm("the end of the worker's run")
        super().on_worker_shutdown()
