"""``bastion gateway``: the OpenAI-compatible security gateway, and its keys."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bastion.cli.errors import cli_errors
from bastion.cli.keys import keys_app
from bastion.core.errors import UpstreamError, UsageError

gateway_app = typer.Typer(
    help="The security gateway in front of any OpenAI-compatible model.", no_args_is_help=True
)
gateway_app.add_typer(keys_app, name="keys")


@gateway_app.command("serve")
@cli_errors
def serve(
    config: Annotated[Path | None, typer.Option("--config", help="gateway.yaml (see docs/guard.md).")] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Front the demo assistant with the default policy (tenant 'demo').")
    ] = False,
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8410).")] = None,
    upstream: Annotated[
        str | None, typer.Option("--upstream", help="With --demo: a running demo at this base URL.")
    ] = None,
    demo_config: Annotated[
        str,
        typer.Option("--demo-config", help="With --demo: the assistant configuration, naive or hardened."),
    ] = "naive",
    state: Annotated[Path, typer.Option(help="With --demo: where audit log, keys and vault live.")] = Path(
        ".bastion"
    ),
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help="With --demo: share rate limits through Redis.")
    ] = None,
    seed: Annotated[int, typer.Option(help="With --demo: seed of the demo data.")] = 7,
    debtors: Annotated[int, typer.Option("--debtors", help="With --demo: debtors per tenant.")] = 25,
    home: Annotated[Path | None, typer.Option(help="With --demo: where demo data lives.")] = None,
) -> None:
    """Serve the gateway (``--config FILE``, or ``--demo`` for the zero-configuration demo)."""
    try:
        import uvicorn
    except ImportError as error:
        raise UpstreamError("the gateway needs its extra: pip install 'bastion-ai[gateway]'") from error
    from bastion.gateway.app import build_gateway, create_app

    if demo == (config is not None):
        raise UsageError("give either --config FILE or --demo")
    console = Console(stderr=True, soft_wrap=True)
    started = time.perf_counter()
    if demo:
        from bastion.gateway.demo import DEMO_TENANT, demo_gateway, demo_key
        from bastion.guard.keys import Scope

        presented = demo_key()
        if upstream is None:
            console.print("Starting the demo assistant in this process (first start builds its data) ...")
        setup = demo_gateway(
            state=state,
            host=host or "127.0.0.1",
            port=port or 8410,
            upstream_url=upstream,
            demo_config=demo_config,
            redis_url=redis_url,
            seed=seed,
            debtors=debtors,
            home=home,
        )
        gateway, keys = build_gateway(
            setup.config,
            policy=setup.policy,
            transports={"demo": setup.transport} if setup.transport is not None else None,
            credentials={"demo": setup.credential},
            vault_key=setup.vault_key,
        )
        keys.ensure_key(
            DEMO_TENANT, presented, [Scope.CHAT, Scope.COMPLETIONS, Scope.EMBEDDINGS, Scope.MODELS]
        )
        listen = setup.config.listen
        tenants: tuple[str, ...] = (DEMO_TENANT,)
    else:
        from bastion.gateway.config import load_gateway_config

        assert config is not None
        loaded = load_gateway_config(config)
        gateway, keys = build_gateway(loaded)
        listen = loaded.listen.model_copy(
            update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
        )
        tenants = tuple(gateway.guard.policy.tenants) or ("default",)
    app = create_app(gateway, keys, warm_up_tenants=tenants)
    console.print(
        f"[bold]Bastion gateway[/bold] ready in {time.perf_counter() - started:.1f} s on "
        f"http://{listen.host}:{listen.port}/v1 (audit log: {gateway.config.stores.audit})"
    )
    uvicorn.run(app, host=listen.host, port=listen.port, log_level="warning")
