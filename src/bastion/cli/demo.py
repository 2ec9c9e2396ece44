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
    from bastion.demo.assistant import Configuration
    from bastion.demo.data import Credential

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
    from bastion.demo.environment import UpstreamSettings, build_assistant, prepare
    from bastion.demo.server import create_app

    console = Console(stderr=True)
    started = time.perf_counter()
    configuration = _configuration(config)
    environment = prepare(_home(home), seed, debtors)
    model = UpstreamSettings(upstream_url, upstream_model, upstream_key_env).create()
    assistant, database = build_assistant(environment, configuration, model)
    assistant.warm_up()
    console.print(
        f"[bold]Bastion demo[/bold] ({configuration.value}, model {model.name}) ready in "
        f"{time.perf_counter() - started:.1f} s on http://{host}:{port}/v1"
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
    limit: Annotated[int, typer.Option(help="How many to list.")] = 10,
) -> None:
    """List demo principals and their API keys (demo data only: the keys are derived from the seed)."""
    from bastion.demo.data import generate

    credentials = [
        c for c in generate(seed, debtors).credentials if not tenant or c.principal.tenant_id == tenant
    ]
    for credential in credentials[:limit]:
        p = credential.principal
        typer.echo(f"{p.role.value:<6} {p.tenant_id:<16} {p.subject:<14} {credential.api_key}")


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

    from bastion.demo.environment import UpstreamSettings, build_assistant, prepare

    environment = prepare(_home(home), seed, debtors)
    model = UpstreamSettings(upstream_url, upstream_model, upstream_key_env).create()
    assistant, database = build_assistant(environment, _configuration(config), model)
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
