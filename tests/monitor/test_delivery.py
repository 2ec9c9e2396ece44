"""Alert delivery against real local receivers: HTTP server, UDP and TCP syslog sockets, an SMTP server."""

from __future__ import annotations

import json
import re
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from bastion.core.errors import ConfigError
from bastion.core.types import Severity
from bastion.monitor.alerts import Alert, AlertBook
from bastion.monitor.delivery import (
    Channels,
    cef,
    dead_letters,
    deliver_alerts,
    load_channels,
    retry_dead_letters,
    rfc5424,
)
from bastion.monitor.engine import run_rules
from bastion.monitor.rules import load_rules
from bastion.monitor.store import EventStore
from tests.monitor.conftest import attack

RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) bastion - ALERT "
    r"\[bastion@32473 (?P<sd>.*)\] (?P<msg>.+)$"
)


@pytest.fixture
def store_with_alert() -> Iterator[tuple[EventStore, Alert]]:
    with EventStore(":memory:") as store:
        store.add([attack(1), attack(2), attack(3)])
        (alert,) = run_rules(store, load_rules(only=["monitor.injection.repeated"])).alerts
        yield store, alert


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _channels(*channels: dict[str, Any]) -> Channels:
    return Channels.model_validate({"retries": 3, "backoff_seconds": 0, "channels": list(channels)})


def test_webhook_receives_the_alert_json_with_secret_headers_from_the_environment(
    store_with_alert: tuple[EventStore, Alert], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, alert = store_with_alert
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("SOC_TOKEN", "Bearer s3cr3t")
    try:
        channels = _channels(
            {
                "type": "webhook",
                "name": "soc",
                "url": f"http://127.0.0.1:{server.server_port}/hook",
                "headers": {"Authorization": "env:SOC_TOKEN"},
            }
        )
        outcomes = deliver_alerts(store, channels, [alert])
    finally:
        server.shutdown()
    assert [(o.delivered, o.attempts) for o in outcomes] == [(True, 1)]
    headers, body = received[0]
    assert headers["Authorization"] == "Bearer s3cr3t"
    payload = json.loads(body)
    assert payload["alerts"][0]["rule"] == "monitor.injection.repeated" and payload["alerts"][0]["count"] == 3


def test_syslog_over_udp_is_rfc5424(store_with_alert: tuple[EventStore, Alert]) -> None:
    store, alert = store_with_alert
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        port = receiver.getsockname()[1]
        deliver_alerts(
            store, _channels({"type": "syslog", "name": "s", "host": "127.0.0.1", "port": port}), [alert]
        )
        data, _ = receiver.recvfrom(65535)
    match = RFC5424.match(data.decode())
    assert match, data
    assert int(match["pri"]) == 13 * 8 + 3  # log audit, error (high)
    assert 'rule="monitor.injection.repeated"' in match["sd"] and 'count="3"' in match["sd"]
    assert match["ts"].endswith("Z")


def test_cef_over_tcp_with_octet_counting(store_with_alert: tuple[EventStore, Alert]) -> None:
    store, alert = store_with_alert
    frames: list[bytes] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            frames.append(self.rfile.read())

    server = socketserver.TCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        channels = _channels(
            {
                "type": "syslog",
                "name": "siem",
                "host": "127.0.0.1",
                "port": server.server_address[1],
                "protocol": "tcp",
                "format": "cef",
            }
        )
        assert deliver_alerts(store, channels, [alert])[0].delivered
        deadline = time.monotonic() + 10  # the server thread may not have accepted the connection yet
        while not frames and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        server.shutdown()
        server.server_close()
    length, _, message = frames[0].partition(b" ")
    assert int(length) == len(message)
    text = message.decode()
    assert "CEF:0|Bastion|Bastion Monitor|" in text
    assert "|monitor.injection.repeated|" in text and "|8|" in text and "cnt=3" in text


def test_cef_and_syslog_escape_hostile_values() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    alert = Alert(
        "a1",
        "r.x",
        "Title | with\nnewline",
        Severity.LOW,
        'grp="]\\=',
        moment,
        1,
        moment,
        moment,
        "ev",
        "new",
        (),
        (),
    )
    line = cef(alert)
    assert "\n" not in line and "|Title \\| with newline|3|" in line
    assert 'cs1=grp\\="]\\\\\\= ' in line  # = and backslash escaped in extension values
    message = rfc5424(alert, hostname="h")
    assert 'group="grp=\\"\\]\\\\="' in message and "\n" not in message


def test_email_reaches_a_real_smtp_server(store_with_alert: tuple[EventStore, Alert]) -> None:
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.handlers import Message

    received: list[Any] = []

    class Collect(Message):
        def handle_message(self, message: Any) -> None:
            received.append(message)

    port = _free_port()
    controller = aiosmtpd.Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        store, alert = store_with_alert
        channels = _channels(
            {
                "type": "email",
                "name": "oncall",
                "host": "127.0.0.1",
                "port": port,
                "sender": "bastion@example.org",
                "recipients": ["oncall@example.org"],
            }
        )
        assert deliver_alerts(store, channels, [alert])[0].delivered
    finally:
        controller.stop()
    assert received[0]["To"] == "oncall@example.org"
    assert "[Bastion high]" in received[0]["Subject"] and "Count: 3" in received[0].get_payload()


def test_a_down_receiver_is_retried_then_dead_lettered_and_redelivered_later(
    store_with_alert: tuple[EventStore, Alert],
) -> None:
    store, alert = store_with_alert
    port = _free_port()  # nothing listens here
    waits: list[float] = []
    channels = Channels.model_validate(
        {
            "retries": 3,
            "backoff_seconds": 0.25,
            "channels": [
                {
                    "type": "webhook",
                    "name": "soc",
                    "url": f"http://127.0.0.1:{port}/hook",
                    "timeout_seconds": 1,
                },
                {
                    "type": "syslog",
                    "name": "quiet",
                    "host": "127.0.0.1",
                    "port": port,
                    "min_severity": "critical",
                },
            ],
        }
    )
    outcomes = deliver_alerts(store, channels, [alert], sleep=waits.append)
    assert [(o.channel, o.delivered, o.attempts) for o in outcomes] == [("soc", False, 3)]
    assert waits == [0.25, 0.5]
    (letter,) = dead_letters(store)
    assert letter["channel"] == "soc" and letter["alert_id"] == alert.id and "ConnectError" in letter["error"]

    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["content-length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert [o.delivered for o in retry_dead_letters(store, channels, sleep=waits.append)] == [True]
    finally:
        server.shutdown()
        server.server_close()
    assert dead_letters(store) == [] and len(received) == 1
    assert AlertBook(store).get(alert.id) is not None


def test_invalid_delivery_files_are_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text("channels: [{type: pager, name: x}]\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_channels(path)
    path.write_text("channels: [{type: webhook, name: x, url: 'ftp://x'}]\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_channels(path)
