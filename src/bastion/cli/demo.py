"""``bastion demo``: the debt-collection assistant on a local LLM, as a target to attack and protect."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from bastion.cli.errors import cli_errors
from bastion.core.errors import UpstreamError, UsageError
from bastion.core.settings import BastionSettings
from bastion.core.types import Conversation, Message, Role

if TYPE_CHECKING:
    from bastion.demo.assistant import Assistant, Configuration
    from bastion.demo.data import Credential
    from bastion.demo.db import DemoDatabase

demo_app = typer.Typer(
    help="The demo assistant: a debt-collection chatbot on a local LLM.", no_args_is_help=True
)

ConfigOption = Annotated[str, typer.Option("--config", help="naive (what teams ship first) or hardened.")]
SeedOption = Annotated[int, typer.Option(help="Seed of the generated tenants, debtors and documents.")]
DebtorsOption = Annotated[int, typer.Option("--debtors", help="Debtors per tenant in the generated data.")]
HomeOption = Annotated[Path | None, typer.Option(help="Where demo data lives (default: $BASTION_HOME).")]
UrlOption = Annotated[
    str, typer.Option("--upstream-url", help="OpenAI-compatible base URL instead of the local model.")
]
ModelOption = Annotated[str, typer.Option("--upstream-model", help="Model name at --upstream-url.")]
KeyEnvOption = Annotated[
    str, typer.Option("--upstream-key-env", help="Environment variable holding the upstream API key.")
]


def _configuration(value: str) -> Configuration:
    from bastion.demo.assistant import Configuration

    try:
        return Configuration(value)
    except ValueError as error:
        raise UsageError(f"--config must be naive or hardened, not {value!r}") from error


def _sample_credentials(seed: int, debtors: int) -> list[Credential]:
    """One debtor per tenant and one agent, to show in the console."""
    from bastion.demo.data import generate

    chosen: dict[tuple[str, str], Credential] = {}
    for credential in generate(seed, debtors).credentials:
        p = credential.principal
        chosen.setdefault((p.tenant_id, p.role.value), credential)
    by_role = sorted(chosen.values(), key=lambda c: c.principal.role.value != "debtor")
    first_agent = next((c for c in by_role if c.principal.role.value == "agent"), None)
    return [c for c in by_role if c.principal.role.value == "debtor"] + ([first_agent] if first_agent else [])


def _home(home: Path | None) -> Path:
    return home or BastionSettings().home


def _open_assistant(
    config: str, seed: int, debtors: int, home: Path | None, upstream: tuple[str, str, str]
) -> tuple[Assistant, DemoDatabase]:
    """The assistant of ``config`` over the demo data of ``seed`` (built on first use, which says so)."""
    from bastion.demo.environment import UpstreamSettings, build_assistant, locate, prepare

    configuration = _configuration(config)
    if not locate(_home(home), seed, debtors).built:
        Console(stderr=True).print(
            "Building the demo data (first start only: generating, scanning and indexing the documents; "
            "seconds with the default seed and size, half a minute more for others) ..."
        )
    environment = prepare(_home(home), seed, debtors)
    return build_assistant(environment, configuration, UpstreamSettings(*upstream).create())


@demo_app.command("serve")
@cli_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8400,
    config: ConfigOption = "hardened",
    seed: SeedOption = 7,
    debtors: DebtorsOption = 25,
    home: HomeOption = None,
    upstream_url: UrlOption = "",
    upstream_model: ModelOption = "",
    upstream_key_env: KeyEnvOption = "OPENAI_API_KEY",
) -> None:
    """Serve the assistant as an OpenAI-compatible API (/v1/chat/completions, /v1/models)."""
    try:
        import uvicorn
    except ImportError as error:
        raise UpstreamError("the demo needs its extra: pip install 'bastion-ai[local]'") from error
    from bastion.demo.server import create_app

    console = Console(stderr=True, soft_wrap=True)
    started = time.perf_counter()
    upstream = (upstream_url, upstream_model, upstream_key_env)
    assistant, database = _open_assistant(config, seed, debtors, home, upstream)
    assistant.warm_up()
    console.print(
        f"[bold]Bastion demo[/bold] ({assistant.settings.configuration.value}, model {assistant.model.name}) "
        f"ready in {time.perf_counter() - started:.1f} s on http://{host}:{port}/v1"
    )
    for credential in _sample_credentials(seed, debtors):
        p = credential.principal
        console.print(
            f"  {p.role.value:<6} {p.tenant_id}/{p.subject}: Authorization: Bearer {credential.api_key}"
        )
    uvicorn.run(create_app(assistant, database), host=host, port=port, log_level="warning")


@demo_app.command("keys")
@cli_errors
def keys(
    seed: SeedOption = 7,
    debtors: DebtorsOption = 25,
    tenant: Annotated[str, typer.Option(help="Only this tenant's principals.")] = "",
    role: Annotated[str, typer.Option(help="debtor, agent or all.")] = "all",
    limit: Annotated[int, typer.Option(help="How many to list.")] = 10,
) -> None:
    """List demo principals and their API keys (demo data only: the keys are derived from the seed)."""
    from rich.table import Table

    from bastion.demo.data import generate

    if role not in ("debtor", "agent", "all"):
        raise UsageError(f"--role must be debtor, agent or all, not {role!r}")
    data = generate(seed, debtors)
    table = Table(box=None, pad_edge=False)
    for column in ("role", "tenant", "subject", "name", "API key"):
        table.add_column(column)
    chosen = [
        c
        for c in data.credentials
        if (not tenant or c.principal.tenant_id == tenant) and role in ("all", c.principal.role.value)
    ]
    for credential in chosen[:limit]:
        p = credential.principal
        is_debtor = p.role.value == "debtor"
        name = data.debtor(p.subject).full_name if is_debtor else data.agent(p.subject).name
        table.add_row(p.role.value, p.tenant_id, p.subject, name, credential.api_key)
    Console(width=140).print(table)


@demo_app.command("ask")
@cli_errors
def ask(
    question: Annotated[str, typer.Argument(help="What the customer writes.")],
    key: Annotated[str, typer.Option(help="The caller's demo API key (see `bastion demo keys`).")] = "",
    config: ConfigOption = "hardened",
    seed: SeedOption = 7,
    debtors: DebtorsOption = 25,
    home: HomeOption = None,
    upstream_url: UrlOption = "",
    upstream_model: ModelOption = "",
    upstream_key_env: KeyEnvOption = "OPENAI_API_KEY",
) -> None:
    """Ask the assistant one question as a demo principal and show the answer with its trace."""
    import json

    upstream = (upstream_url, upstream_model, upstream_key_env)
    assistant, database = _open_assistant(config, seed, debtors, home, upstream)
    principal = database.principal_for_key(key) if key else _sample_credentials(seed, debtors)[0].principal
    if principal is None:
        raise UsageError("unknown demo key; list them with `bastion demo keys`")
    reply = assistant.reply(Conversation.of([Message(Role.USER, question)]), principal)
    console = Console()
    console.print(f"[dim]{principal.tenant_id}/{principal.subject} ({reply.finish_reason})[/dim]")
    console.print(reply.content, highlight=False)
    console.print_json(json.dumps(reply.trace()))


@demo_app.command("reset")
@cli_errors
def reset_command(seed: SeedOption = 7, debtors: DebtorsOption = 25, home: HomeOption = None) -> None:
    """Discard what the tools and uploads changed; keep the generated data."""
    from bastion.demo.environment import prepare, reset

    reset(prepare(_home(home), seed, debtors))
    typer.echo("demo working copies removed")
