"""``bastion demo``: the real command in a subprocess, serving the local model over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bastion.cli.main import app
from bastion.demo.data import generate
from tests.net import free_port, running_command

DEBTORS = "4"


def test_keys_lists_principals_with_their_keys() -> None:
    result = CliRunner().invoke(app, ["demo", "keys", "--debtors", DEBTORS, "--tenant", "t-brightcart"])
    assert result.exit_code == 0, result.output
    header, *rows = result.output.strip().splitlines()
    assert header.split()[:3] == ["role", "tenant", "subject"]
    known = {c.api_key for c in generate(7, int(DEBTORS)).credentials}
    assert rows and all(row.split()[1] == "t-brightcart" and row.split()[-1] in known for row in rows)


def test_an_unknown_configuration_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "ask", "hi", "--config", "reckless", "--home", str(tmp_path)])
    assert result.exit_code == 2
    assert "naive or hardened" in result.output


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    command = [sys.executable, "-m", "bastion.cli.main", "demo", "serve", "--config", "naive"]
    command += ["--port", str(port), "--debtors", DEBTORS, "--home", str(tmp_path)]
    base = f"http://127.0.0.1:{port}"
    with running_command(command, f"{base}/healthz", env={**os.environ}) as process:
        yield base, process


def test_serve_answers_a_chat_completion_from_the_local_model(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    base, _ = served
    key = next(c.api_key for c in generate(7, int(DEBTORS)).credentials)
    response = httpx.post(
        f"{base}/v1/chat/completions",
        json={"model": "any", "messages": [{"role": "user", "content": "Hallo, wie kann ich zahlen?"}]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "bastion-demo-naive"
    assert body["choices"][0]["message"]["content"].strip()
    assert body["usage"]["completion_tokens"] > 0


def test_error_messages_keep_their_brackets() -> None:
    """Rich markup must not eat "[local]" in "pip install 'bastion-ai[local]'" (messages are escaped)."""
    import typer

    from bastion.cli.errors import cli_errors
    from bastion.core.errors import UpstreamError

    @cli_errors
    def failing() -> None:
        raise UpstreamError("the demo needs its extra: pip install 'bastion-ai[local]'")

    command = typer.Typer()
    command.command()(failing)
    result = CliRunner().invoke(command, [])
    assert result.exit_code == 1
    assert "bastion-ai[local]" in result.output
