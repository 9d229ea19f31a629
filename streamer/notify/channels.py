"""One delivery attempt to one channel: HTTP (slack, webhook, http) or SMTP (email).

Each attempt is bounded by the channel's ``timeout_seconds``. A failure raises
:class:`NotificationError` whose text has every configured secret replaced by ``***``: exception
texts of HTTP clients carry URLs, and a Slack webhook URL is itself a credential.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import aiosmtplib
import orjson

from streamer.errors import NotificationError
from streamer.notify.config import EmailChannel, HttpChannel, NotifyConfig, SlackChannel, WebhookChannel
from streamer.notify.messages import (
    CLOUDEVENTS_TYPE,
    SIGNATURE_HEADER,
    cloud_event,
    email_message,
    looks_like_json,
    render_template,
    signature_header,
    slack_message,
    url_template,
)

USER_AGENT = "streamer-notifier/1"


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret (longest first) replaced by ``***``.

    >>> redact("POST https://hooks.slack.test/T/B/tok failed", ["https://hooks.slack.test/T/B/tok"])
    'POST *** failed'
    """
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


@dataclass
class ChannelSender:
    """Sends one alert to one channel, given the resolved configuration."""

    config: NotifyConfig
    app_id: str
    dashboard_url: str
    session: aiohttp.ClientSession
    clock: Callable[[], float]

    async def send(self, channel_key: str, alert: Mapping[str, Any]) -> str:
        """Deliver once; return a short outcome (``HTTP 200``) or raise :class:`NotificationError`."""
        channel = self.config.channel(channel_key)
        try:
            async with asyncio.timeout(channel.timeout_seconds):
                if isinstance(channel, EmailChannel):
                    return await self._email(channel_key, channel, alert)
                method, url, headers, body = self.request(channel_key, alert)
                async with self.session.request(method, url, headers=headers, data=body,
                                                allow_redirects=False) as response:
                    text = await response.text(errors="replace")
                    if not 200 <= response.status < 300:
                        raise NotificationError(f"HTTP {response.status}: {text[:200]}")
                    return f"HTTP {response.status}"
        except TimeoutError as exc:
            raise NotificationError(f"no answer within {channel.timeout_seconds:g} s") from exc
        except NotificationError as exc:
            raise NotificationError(redact(str(exc), self.config.all_secrets())) from None
        except (aiohttp.ClientError, aiosmtplib.SMTPException, OSError, ValueError) as exc:
            message = redact(f"{type(exc).__name__}: {exc}", self.config.all_secrets())
            raise NotificationError(message) from None

    def request(self, key: str, alert: Mapping[str, Any]) -> tuple[str, str, dict[str, str], bytes | None]:
        """(method, url, headers, body) of an HTTP channel's request for ``alert``."""
        channel = self.config.channel(key)
        url = self.config.secret(key, "url") or getattr(channel, "url", None)
        if url is None:
            raise NotificationError(f"channel {key!r} has no URL")
        headers = {"User-Agent": USER_AGENT}
        if isinstance(channel, SlackChannel):
            headers["Content-Type"] = "application/json"
            return "POST", url, headers, orjson.dumps(slack_message(alert, self.dashboard_url))
        if isinstance(channel, WebhookChannel):
            body = cloud_event(alert, self.app_id)
            headers["Content-Type"] = CLOUDEVENTS_TYPE
            secret = self.config.secret(key, "secret")
            if secret is not None:
                headers[SIGNATURE_HEADER] = signature_header(secret, body, int(self.clock()))
            return "POST", url, headers, body
        assert isinstance(channel, HttpChannel)
        for name, value in channel.headers.items():
            resolved = value if isinstance(value, str) else self.config.secret(key, f"header:{name}")
            if resolved is not None:
                headers[name] = render_template(resolved, alert)
        payload = None
        if channel.body is not None:
            given = {k.lower(): v for k, v in headers.items()}
            is_json = "json" in given.get("content-type", "") or (
                "content-type" not in given and looks_like_json(channel.body))
            if "content-type" not in given:
                headers["Content-Type"] = "application/json" if is_json else "text/plain; charset=utf-8"
            payload = render_template(channel.body, alert, json_body=is_json).encode()
        return channel.method, url_template(url, alert), headers, payload

    async def _email(self, key: str, channel: EmailChannel, alert: Mapping[str, Any]) -> str:
        message = email_message(alert, channel.sender, channel.to, self.dashboard_url)
        context = ssl.create_default_context(cafile=channel.ca_file) if channel.ca_file else None
        username = self.config.secret(key, "username") or channel.username
        _, reply = await aiosmtplib.send(
            message, hostname=channel.host, port=channel.port, username=username,
            password=self.config.secret(key, "password"), use_tls=channel.ssl,
            start_tls=channel.starttls if not channel.ssl else False, tls_context=context,
            timeout=channel.timeout_seconds)
        return f"SMTP {reply[:60]}"
