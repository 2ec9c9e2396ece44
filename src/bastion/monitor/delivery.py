"""Alert delivery: webhook (JSON), syslog (RFC 5424, UDP/TCP), CEF for SIEMs, e-mail; retries, dead letters.

Channels are data (YAML, validated here)::

    retries: 3                  # attempts per alert and channel
    backoff_seconds: 0.5        # doubled after each failed attempt
    channels:
      - {type: webhook, name: soc, url: "https://soc.example/hooks/bastion", min_severity: high,
         headers: {Authorization: "env:SOC_TOKEN"}}
      - {type: syslog, name: siem, host: 10.0.0.5, port: 6514, protocol: tcp, format: cef}
      - {type: email, name: oncall, host: smtp.example, port: 587, starttls: true, sender: bastion@example,
         recipients: [oncall@example], username: bastion, password: "env:SMTP_PASSWORD"}

Header and password values written ``env:NAME`` are read from the environment at send time, so secrets stay
out of the file. A delivery that fails every attempt is written to the ``dead_letters`` table of the store
with the payload and the error class (never a secret); :func:`retry_dead_letters` sends them again.

Formats:

- **webhook**: ``POST`` of ``{"source": "bastion", "alerts": [alert, ...]}`` (one request per alert).
- **RFC 5424**: ``<PRI>1 TIMESTAMP HOST bastion - ALERT [bastion@32473 rule=".." severity=".." group=".."
  count=".."] title``; priority = facility (default 13, log audit) x 8 + severity (critical 2, high 3,
  medium 4, low 5, info 6). TCP uses octet counting (RFC 6587). 32473 is the example enterprise number of
  RFC 5612 until Bastion has its own.
- **CEF** (ArcSight Common Event Format 0): ``CEF:0|Bastion|Bastion Monitor|<version>|<rule>|<title>|<0-10>|
  ext`` with ``rt``, ``start``, ``end`` (epoch ms), ``cnt``, ``externalId`` and labelled custom strings; sent
  as the syslog message body when the syslog channel's format is ``cef``.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bastion import __version__
from bastion.core.errors import ConfigError
from bastion.core.types import Severity
from bastion.monitor.alerts import Alert, AlertBook
from bastion.monitor.store import EventStore

__all__ = [
    "Channels",
    "DeliveryOutcome",
    "cef",
    "deliver_alerts",
    "load_channels",
    "retry_dead_letters",
    "rfc5424",
]

logger = logging.getLogger(__name__)

_SYSLOG_SEVERITY = {
    Severity.CRITICAL: 2,
    Severity.HIGH: 3,
    Severity.MEDIUM: 4,
    Severity.LOW: 5,
    Severity.INFO: 6,
}
_CEF_SEVERITY = {
    Severity.CRITICAL: 10,
    Severity.HIGH: 8,
    Severity.MEDIUM: 5,
    Severity.LOW: 3,
    Severity.INFO: 1,
}
_DEAD_LETTERS = (
    "CREATE TABLE IF NOT EXISTS dead_letters (letter_id VARCHAR PRIMARY KEY, channel VARCHAR NOT NULL, "
    "alert_id VARCHAR NOT NULL, payload VARCHAR NOT NULL, error VARCHAR NOT NULL, attempts INTEGER NOT NULL, "
    "failed_at VARCHAR NOT NULL, delivered_at VARCHAR)"
)


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    min_severity: Severity = Severity.INFO
    timeout_seconds: float = Field(default=5.0, gt=0, le=120)


class WebhookChannel(_Channel):
    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)


class SyslogChannel(_Channel):
    type: Literal["syslog"]
    host: str
    port: int = Field(default=514, ge=1, le=65535)
    protocol: Literal["udp", "tcp"] = "udp"
    format: Literal["rfc5424", "cef"] = "rfc5424"
    facility: int = Field(default=13, ge=0, le=23)


class EmailChannel(_Channel):
    type: Literal["email"]
    host: str
    port: int = Field(default=25, ge=1, le=65535)
    sender: str
    recipients: list[str] = Field(min_length=1)
    starttls: bool = False
    username: str = ""
    password: str = ""


Channel = Annotated[WebhookChannel | SyslogChannel | EmailChannel, Field(discriminator="type")]


class Channels(BaseModel):
    """The delivery file."""

    model_config = ConfigDict(extra="forbid")

    retries: int = Field(default=3, ge=1, le=20)
    backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    channels: list[Channel] = Field(default_factory=list)


def load_channels(path: Path) -> Channels:
    try:
        return Channels.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read delivery file {path}: {error}") from error
    except (yaml.YAMLError, ValidationError) as error:
        raise ConfigError(f"{path}: invalid delivery file: {error}") from error


def _secret(value: str) -> str:
    """``env:NAME`` -> the variable's value (empty when unset); anything else as written."""
    if value.startswith("env:"):
        return os.environ.get(value[4:], "")
    return value


# -- formats ---------------------------------------------------------------------------------------------
def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def rfc5424(alert: Alert, facility: int = 13, hostname: str = "") -> str:
    """The alert as one RFC 5424 syslog message (without transport framing)."""
    priority = facility * 8 + _SYSLOG_SEVERITY[alert.severity]
    host = (hostname or socket.gethostname() or "-")[:255].replace(" ", "_")
    timestamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    parameters = {
        "id": alert.id,
        "rule": alert.rule,
        "severity": alert.severity.value,
        "group": alert.group,
        "count": str(alert.count),
        "firstSeen": alert.first_seen.isoformat(),
        "lastSeen": alert.last_seen.isoformat(),
        "owasp": ",".join(alert.owasp),
    }
    data = " ".join(f'{name}="{_sd_escape(value)}"' for name, value in parameters.items())
    message = " ".join(alert.title.split())
    return f"<{priority}>1 {timestamp} {host} bastion - ALERT [bastion@32473 {data}] {message}"


def _cef_header(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _cef_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("=", "\\=").replace("\r", "\\r").replace("\n", "\\n")


def cef(alert: Alert) -> str:
    """The alert as one ArcSight CEF:0 line."""
    millis = int(datetime.now(UTC).timestamp() * 1000)
    extension = {
        "rt": str(millis),
        "start": str(int(alert.first_seen.timestamp() * 1000)),
        "end": str(int(alert.last_seen.timestamp() * 1000)),
        "cnt": str(alert.count),
        "externalId": alert.id,
        "cs1Label": "group",
        "cs1": alert.group,
        "cs2Label": "owasp",
        "cs2": ",".join(alert.owasp),
        "cs3Label": "atlas",
        "cs3": ",".join(alert.atlas),
        "cs4Label": "sampleEvent",
        "cs4": alert.sample_event,
    }
    header = "|".join(
        [
            "CEF:0",
            "Bastion",
            "Bastion Monitor",
            _cef_header(__version__),
            _cef_header(alert.rule),
            _cef_header(alert.title),
            str(_CEF_SEVERITY[alert.severity]),
        ]
    )
    return header + "|" + " ".join(f"{key}={_cef_value(value)}" for key, value in extension.items())


def _webhook_payload(alert: Alert) -> str:
    return json.dumps({"source": "bastion", "alerts": [alert.to_dict()]}, ensure_ascii=False)


# -- senders ---------------------------------------------------------------------------------------------
def _send_webhook(channel: WebhookChannel, alert: Alert) -> str:
    payload = _webhook_payload(alert)
    headers = {"content-type": "application/json", **{k: _secret(v) for k, v in channel.headers.items()}}
    response = httpx.post(channel.url, content=payload, headers=headers, timeout=channel.timeout_seconds)
    if response.status_code >= 300:
        raise OSError(f"webhook answered HTTP {response.status_code}")
    return payload


def _send_syslog(channel: SyslogChannel, alert: Alert) -> str:
    message = cef(alert) if channel.format == "cef" else rfc5424(alert, channel.facility)
    if channel.format == "cef":
        # CEF travels as the MSG of a syslog line (what ArcSight and most SIEM connectors expect)
        header = rfc5424(alert, channel.facility).split(" [", 1)[0]
        message = f"{header} - {message}"
    data = message.encode("utf-8")
    if channel.protocol == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(channel.timeout_seconds)
            sock.sendto(data, (channel.host, channel.port))
    else:
        with socket.create_connection((channel.host, channel.port), timeout=channel.timeout_seconds) as sock:
            sock.sendall(f"{len(data)} ".encode() + data)
    return message


def _send_email(channel: EmailChannel, alert: Alert) -> str:
    message = EmailMessage()
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.recipients)
    message["Subject"] = f"[Bastion {alert.severity.value}] {alert.title} ({alert.group})"
    message["Message-ID"] = f"<{alert.id}.{uuid.uuid4().hex[:8]}@bastion>"
    body = (
        f"Rule: {alert.rule}\nSeverity: {alert.severity.value}\nGroup: {alert.group}\nCount: {alert.count}\n"
        f"First seen: {alert.first_seen.isoformat()}\nLast seen: {alert.last_seen.isoformat()}\n"
        f"OWASP: {', '.join(alert.owasp)}\nATLAS: {', '.join(alert.atlas)}\n"
        f"Sample event: {alert.sample_event}\n"
    )
    message.set_content(body)
    with smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout_seconds) as smtp:
        if channel.starttls:
            smtp.starttls()
        if channel.username:
            smtp.login(channel.username, _secret(channel.password))
        smtp.send_message(message)
    return body


_SENDERS: dict[str, Callable[[Any, Alert], str]] = {
    "webhook": _send_webhook,
    "syslog": _send_syslog,
    "email": _send_email,
}


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """One alert on one channel: delivered or not, after how many attempts, the error class if not."""

    channel: str
    alert_id: str
    delivered: bool
    attempts: int
    error: str = ""


def _attempt(
    channel: Any, alert: Alert, retries: int, backoff: float, sleep: Callable[[float], None]
) -> DeliveryOutcome:
    error = ""
    for attempt in range(1, retries + 1):
        try:
            _SENDERS[channel.type](channel, alert)
            return DeliveryOutcome(channel.name, alert.id, True, attempt)
        except (OSError, httpx.HTTPError, smtplib.SMTPException) as failure:
            # the class and a short reason; never headers or credentials
            error = f"{type(failure).__name__}: {str(failure)[:200]}"
            logger.warning(
                "delivery to %s failed (attempt %d of %d): %s", channel.name, attempt, retries, error
            )
            if attempt < retries:
                sleep(backoff * 2 ** (attempt - 1))
    return DeliveryOutcome(channel.name, alert.id, False, retries, error)


def deliver_alerts(
    store: EventStore,
    channels: Channels,
    alerts: Sequence[Alert],
    sleep: Callable[[float], None] = time.sleep,
) -> list[DeliveryOutcome]:
    """Send every alert at or above each channel's ``min_severity``; failures go to ``dead_letters``."""
    store.connection.execute(_DEAD_LETTERS)
    outcomes = []
    for channel in channels.channels:
        for alert in alerts:
            if alert.severity.rank < channel.min_severity.rank:
                continue
            outcome = _attempt(channel, alert, channels.retries, channels.backoff_seconds, sleep)
            outcomes.append(outcome)
            if not outcome.delivered:
                store.connection.execute(
                    "INSERT INTO dead_letters VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                    [
                        uuid.uuid4().hex,
                        channel.name,
                        alert.id,
                        json.dumps(alert.to_dict(), ensure_ascii=False),
                        outcome.error,
                        outcome.attempts,
                        datetime.now(UTC).isoformat(),
                    ],
                )
    return outcomes


def dead_letters(store: EventStore, pending_only: bool = True) -> list[dict[str, Any]]:
    """The dead-letter records (pending ones: not delivered by a later retry)."""
    store.connection.execute(_DEAD_LETTERS)
    where = "WHERE delivered_at IS NULL" if pending_only else ""
    rows = store.connection.execute(
        "SELECT letter_id, channel, alert_id, error, attempts, failed_at, delivered_at FROM dead_letters "
        f"{where} "
        "ORDER BY failed_at"
    ).fetchall()
    names = ("letter_id", "channel", "alert_id", "error", "attempts", "failed_at", "delivered_at")
    return [dict(zip(names, row, strict=True)) for row in rows]


def retry_dead_letters(
    store: EventStore, channels: Channels, sleep: Callable[[float], None] = time.sleep
) -> list[DeliveryOutcome]:
    """Send pending dead letters again on their channel; delivered ones are marked, failures stay pending."""
    by_name = {channel.name: channel for channel in channels.channels}
    book = AlertBook(store)
    outcomes = []
    for letter in dead_letters(store):
        channel = by_name.get(letter["channel"])
        alert = book.get(letter["alert_id"])
        if channel is None or alert is None:
            continue
        outcome = _attempt(channel, alert, channels.retries, channels.backoff_seconds, sleep)
        outcomes.append(outcome)
        if outcome.delivered:
            store.connection.execute(
                "UPDATE dead_letters SET delivered_at = ? WHERE letter_id = ?",
                [datetime.now(UTC).isoformat(), letter["letter_id"]],
            )
        else:
            store.connection.execute(
                "UPDATE dead_letters SET attempts = attempts + ?, error = ? WHERE letter_id = ?",
                [outcome.attempts, outcome.error, letter["letter_id"]],
            )
    return outcomes
