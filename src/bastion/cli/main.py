"""Entry point of the ``bastion`` command.

Configures logging and maps errors to exit codes (1 runtime, 2 usage).
"""

from __future__ import annotations

import logging
import sys

import typer

from bastion import __version__
from bastion.cli.audit import audit_app
from bastion.cli.demo import demo_app
from bastion.cli.errors import cli_errors
from bastion.cli.evaluate import eval_app
from bastion.cli.gateway import gateway_app
from bastion.cli.govern import govern_app
from bastion.cli.monitor import monitor_app, retention_app
from bastion.cli.privacy import privacy_app
from bastion.cli.redteam import redteam_app
from bastion.cli.scan import scan
from bastion.cli.showcase import showcase
from bastion.cli.supplychain import supplychain_app
from bastion.cli.tour import tour
from bastion.core.settings import BastionSettings

app = typer.Typer(
    name="bastion",
    help="Bastion: test, protect, watch and prove LLM applications (English and German).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("scan")(cli_errors(scan))
app.command("tour")(cli_errors(tour))
app.command("showcase")(showcase)
app.add_typer(eval_app, name="eval")
app.add_typer(demo_app, name="demo")
app.add_typer(redteam_app, name="redteam")
app.add_typer(gateway_app, name="gateway")
app.add_typer(audit_app, name="audit")
app.add_typer(supplychain_app, name="supplychain")
app.add_typer(govern_app, name="govern")
app.add_typer(monitor_app, name="monitor")
app.add_typer(retention_app, name="retention")
app.add_typer(privacy_app, name="privacy")


@app.command("version")
@cli_errors
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command("detectors")
@cli_errors
def list_detectors() -> None:
    """List the registered detectors."""
    from bastion.detect.registry import detectors

    for detector_id in detectors.ids():
        factory = detectors.factory(detector_id)
        typer.echo(f"{detector_id:<10} {getattr(factory, 'description', '')}")


def main() -> None:
    """Run the CLI (every command maps Bastion errors to exit codes through :func:`cli_errors`)."""
    settings = BastionSettings()
    logging.basicConfig(
        level=settings.log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    app()


if __name__ == "__main__":
    main()
