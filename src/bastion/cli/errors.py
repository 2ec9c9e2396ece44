"""Turn Bastion errors into a message on stderr and the error's exit code (1 runtime, 2 usage)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from bastion.core.errors import BastionError

P = ParamSpec("P")
R = TypeVar("R")


def cli_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Decorate a Typer command so a :class:`BastionError` exits with its code and a one-line message."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except BastionError as error:
            console = Console(stderr=True, soft_wrap=True)
            console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
            raise typer.Exit(code=error.exit_code) from error

    return wrapper
