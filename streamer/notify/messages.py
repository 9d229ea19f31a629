"""What each channel sends for an alert (CONTRACT 8): pure functions, no I/O.

Templates replace only ``{model}``, ``{version}``, ``{kind}``, ``{id}``, ``{window_start}`` and
``{window_end}``; every other brace stays as written, so JSON bodies need no escaping:

>>> alert = {"model": 'fr"aud', "version": "3", "kind": "data_drift_detected", "id": "ab12",
...          "window_start": "2026-11-26T10:00:00Z", "window_end": None}
>>> render_template('{"ref": "main", "inputs": {"model": "{model}", "alert": "{id}"}, "x": "{other}"}', alert,
...                 json_body=True)
'{"ref": "main", "inputs": {"model": "fr\\\\"aud", "alert": "ab12"}, "x": "{other}"}'

Webhook signatures (``X-Streamer-Signature: t=<unix seconds>,v1=<hex>``) are HMAC-SHA256 of
``"<t>.<body>"``; a receiver recomputes it and compares in constant time:

>>> header = signature_header("s3cret", b'{"id": "ab12"}', timestamp_s=1700000000)
>>> header.startswith("t=1700000000,v1="), verify_signature("s3cret", b'{"id": "ab12"}', header, now_s=1700000010)
(True, True)
>>> verify_signature("wrong", b'{"id": "ab12"}', header, now_s=1700000010)
False
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

import orjson

TEMPLATE_NAMES = ("model", "version", "kind", "id", "window_start", "window_end")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(TEMPLATE_NAMES) + r")\}")
SIGNATURE_HEADER = "X-Streamer-Signature"
CLOUDEVENTS_TYPE = "application/cloudevents+json"
# Effect sizes shown per drifted feature, in this order, where the summary has them.
EFFECT_METRICS = ("tvd", "hellinger", "wasserstein_norm", "psi", "ks_pvalue", "chi2_pvalue")


def render_template(template: str, alert: Mapping[str, Any], json_body: bool = False,
                    escape: Callable[[str], str] | None = None) -> str:
    """``template`` with the alert's values in place of the six known names; nothing else changes."""

    def value(match: re.Match[str]) -> str:
        raw = alert.get(match.group(1))
        text = "" if raw is None else str(raw)
        if json_body:
            return orjson.dumps(text).decode()[1:-1]  # the inside of a JSON string
        return escape(text) if escape else text

    return _PLACEHOLDER.sub(value, template)


def url_template(template: str, alert: Mapping[str, Any]) -> str:
    """A URL template: values are percent-encoded."""
    return render_template(template, alert, escape=lambda text: quote(text, safe=""))


def looks_like_json(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[")


def dashboard_link(dashboard_url: str, model: str) -> str:
    return f"{dashboard_url.rstrip('/')}/?model={quote(model, safe='')}"


def drifted_features(alert: Mapping[str, Any]) -> list[tuple[str, str, dict[str, float]]]:
    """(feature, status, effect sizes) of the features a drift alert names, detected first."""
    features = (alert.get("details") or {}).get("features") or (alert.get("details") or {}).get("outputs") or {}
    found = []
    for name, metrics in features.items():
        if isinstance(metrics, dict) and metrics.get("status") in ("detected", "suspected"):
            effects = {k: float(metrics[k]) for k in EFFECT_METRICS if isinstance(metrics.get(k), int | float)}
            found.append((str(name), str(metrics["status"]), effects))
    return sorted(found, key=lambda item: (item[1] != "detected", -item[2].get("tvd", 0.0), item[0]))


def _effects_text(effects: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {v:.3g}" for k, v in effects.items())


def headline(alert: Mapping[str, Any]) -> str:
    return (f"[{alert.get('severity')}] {alert.get('kind')} on model {alert.get('model')} "
            f"version {alert.get('version')}")


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(alert: Mapping[str, Any], dashboard_url: str) -> dict[str, Any]:
    """An incoming-webhook payload: ``text`` for notifications and ``blocks`` for the message itself."""
    e = _slack_escape
    link = dashboard_link(dashboard_url, str(alert.get("model")))
    fields = [("Model", alert.get("model")), ("Version", alert.get("version")), ("Kind", alert.get("kind")),
              ("Severity", alert.get("severity")), ("Subject", alert.get("subject")),
              ("Window", f"{alert.get('window_start')} to {alert.get('window_end')}")]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline(alert)[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": e(str(alert.get("message") or ""))},
         "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{e(str(value))}"} for name, value in fields
                    if value is not None]},
    ]
    drifted = drifted_features(alert)
    if drifted:
        lines = [f"• `{e(name)}` {status}: {_effects_text(effects)}" for name, status, effects in drifted[:20]]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "*Drifted features*\n" + "\n".join(lines)}})
    triggered = (alert.get("details") or {}).get("triggered_by")
    if triggered:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": "*Triggered by alerts*\n" + ", ".join(map(str, triggered))}})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"<{link}|Open {e(str(alert.get('model')))} in the dashboard> · alert `{alert.get('id')}`"}]})
    return {"text": f"{headline(alert)}: {alert.get('message') or ''}", "blocks": blocks}


def cloud_event(alert: Mapping[str, Any], app_id: str) -> bytes:
    """A CloudEvents 1.0 structured-mode body whose ``data`` is the alert."""
    return orjson.dumps({
        "specversion": "1.0", "id": alert["id"], "type": f"streamer.alert.{alert['kind']}",
        "source": f"streamer/{app_id}", "time": alert.get("created_at"), "subject": alert.get("model"),
        "datacontenttype": "application/json", "data": alert,
    })


def signature_header(secret: str, body: bytes, timestamp_s: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_s}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp_s},v1={digest}"


def verify_signature(secret: str, body: bytes, header: str, now_s: float, tolerance_s: float = 300.0) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and is at most ``tolerance_s`` old."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    if not parts.get("t", "").isdigit() or abs(now_s - int(parts["t"])) > tolerance_s:
        return False
    expected = signature_header(secret, body, int(parts["t"])).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def email_message(alert: Mapping[str, Any], sender: str, to: list[str], dashboard_url: str) -> EmailMessage:
    """A plain-text and HTML e-mail whose subject names the model and the kind."""
    link = dashboard_link(dashboard_url, str(alert.get("model")))
    rows = [("Model", alert.get("model")), ("Version", alert.get("version")), ("Kind", alert.get("kind")),
            ("Severity", alert.get("severity")), ("Subject", alert.get("subject")),
            ("Window", f"{alert.get('window_start')} to {alert.get('window_end')}"), ("Alert id", alert.get("id"))]
    drifted = drifted_features(alert)
    text = [headline(alert), "", str(alert.get("message") or ""), ""]
    text += [f"{name}: {value}" for name, value in rows if value is not None]
    if drifted:
        text += ["", "Drifted features:"] + [f"  {n} ({s}): {_effects_text(e)}" for n, s, e in drifted]
    text += ["", f"Dashboard: {link}"]
    h = html.escape
    body = [f"<h2>{h(headline(alert))}</h2>", f"<p>{h(str(alert.get('message') or ''))}</p>", "<table>"]
    body += [f"<tr><th align='left'>{h(name)}</th><td>{h(str(value))}</td></tr>" for name, value in rows
             if value is not None]
    body.append("</table>")
    if drifted:
        body.append("<h3>Drifted features</h3><ul>")
        body += [f"<li><code>{h(n)}</code> {h(s)}: {h(_effects_text(e))}</li>" for n, s, e in drifted]
        body.append("</ul>")
    body.append(f"<p><a href='{h(link)}'>Open {h(str(alert.get('model')))} in the dashboard</a></p>")
    message = EmailMessage()
    message["Subject"] = f"[streamer] {alert.get('kind')} on model {alert.get('model')} ({alert.get('severity')})"
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["X-Streamer-Alert-Id"] = str(alert.get("id"))
    message.set_content("\n".join(text))
    message.add_alternative("\n".join(body), subtype="html")
    return message
