"""Real local servers for tests: a free port, an ASGI app served by uvicorn in a thread, and a server command
run as a subprocess until its health endpoint answers."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bastion.web.serve import free_port, serving

__all__ = ["free_port", "running_command", "serving"]


@contextmanager
def running_command(
    command: Sequence[str],
    health_url: str,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 240,
) -> Iterator[subprocess.Popen[str]]:
    """Start ``command``, wait until ``health_url`` answers 200 (failing the test if the process exits or
    the time runs out), and stop it with SIGINT (then SIGKILL) when the block ends."""
    process = subprocess.Popen(
        list(command), cwd=cwd, env=dict(env) if env is not None else None,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read() if process.stdout else "the server exited"
            try:
                if httpx.get(health_url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail(f"{command[2] if len(command) > 2 else command[0]} did not come up")
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
