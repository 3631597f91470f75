"""`policybot teams package` (the upload-ready app zip) and `policybot teams icons` (redraw the icons)."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli._common import console, settings

__all__ = ["register"]

teams_app = typer.Typer(help="Microsoft Teams app package.", no_args_is_help=True)


@teams_app.command("package")
def package(
    output: Path = typer.Option(
        Path("var/policybot-teams.zip"), "--output", "-o", help="Where to write the zip."
    ),
    app_id: str | None = typer.Option(None, "--app-id", help="Bot id to use instead of MicrosoftAppId."),
    version: str | None = typer.Option(None, "--version", help="App version (manifest 'version')."),
) -> None:
    """Build the zip to upload in Teams (Apps > Manage your apps > Upload an app): manifest + icons."""
    from bot.channels.teams.package import build_package

    chosen = app_id or settings().microsoft_app_id or ""
    path = build_package(chosen, output, version=version)
    console.print(
        f"Wrote {path} (bot id {chosen}). Upload it in Teams: Apps > Manage your apps > Upload an app."
    )


@teams_app.command("icons")
def icons() -> None:
    """Redraw deploy/teams/color.png (192x192) and outline.png (32x32, white on transparent)."""
    from bot.channels.teams.package import write_icons

    for path in write_icons():
        console.print(f"Wrote {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(teams_app, name="teams")
