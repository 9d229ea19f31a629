"""Real local receivers for notifications: an aiohttp server (Slack, webhooks, a CI trigger) and an
aiosmtpd SMTP server with STARTTLS and auth, each on a free loopback port in its own thread."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from streamer.broker import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at_s: float


@dataclass
class HttpReceiver:
    """Records every request. ``/fail-N/...`` answers 503 to its first N requests; ``/hang/...``
    answers after ``hang_seconds``; ``/down/...`` answers 503 while ``down`` is set."""

    port: int = field(default_factory=free_port)
    hang_seconds: float = 60.0
    requests: list[Received] = field(default_factory=list)
    down: threading.Event = field(default_factory=threading.Event)
    _counts: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def on(self, prefix: str) -> list[Received]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(Received(request.path, dict(request.headers), body, time.time()))
        first = request.path.split("/")[1]
        if first.startswith("fail-"):
            seen = self._counts[request.path] = self._counts.get(request.path, 0) + 1
            if seen <= int(first.split("-")[1]):
                return web.Response(status=503, text="not now")
        if first == "hang":
            await asyncio.sleep(self.hang_seconds)
        if first == "down" and self.down.is_set():
            return web.Response(status=503, text="down")
        return web.Response(text="ok")

    def start(self) -> HttpReceiver:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            ready.set()
            loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        ready.wait(10)
        return self


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@dataclass
class SmtpReceiver:
    """An SMTP server requiring STARTTLS (a self-signed certificate for 127.0.0.1) and login."""

    workdir: Path
    username: str
    password: str
    port: int = field(default_factory=free_port)
    inbox: _Inbox = field(default_factory=_Inbox)
    controller: Controller | None = None

    @property
    def cert_file(self) -> Path:
        return self.workdir / "smtp-cert.pem"

    def start(self) -> SmtpReceiver:
        key = self.workdir / "smtp-key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                        str(self.cert_file), "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert_file), str(key))

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == self.username
                  and auth_data.password.decode() == self.password)
            return AuthResult(success=ok)

        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, tls_context=context,
                                     require_starttls=True, auth_required=True, authenticator=authenticate)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
