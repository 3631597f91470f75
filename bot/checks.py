"""`policybot config check`: a list of checks, each returning problems with fixes. Never prints a secret.

To add a check (channels, index ...), write ``async def check_x(settings) -> list[Problem]`` and append it to
``CHECKS``. A check that raises is reported as a problem of its own, so one broken check hides nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.config import Settings

__all__ = ["CHECKS", "Check", "CheckResult", "Problem", "run_checks"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with configuration: which entry, what, and how to fix it."""

    entry: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.entry}: {self.message}" + (f" ({self.fix})" if self.fix else "")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    run: Callable[[Settings], Awaitable[list[Problem]]]


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


async def check_directory_file(settings: Settings) -> list[Problem]:
    from bot.reports.directory import check_directory

    return check_directory(settings.directory_file)


async def check_database(settings: Settings) -> list[Problem]:
    """Reachable, migrated (migrations run, as at start-up), and the key opens what is stored."""
    from bot.errors import ConfigError, KeyMismatch, StorageUnavailable
    from bot.storage.database import Database

    try:
        db = await Database.open(settings)
    except (KeyMismatch, ConfigError) as exc:
        return [Problem("POLICYBOT_SECRET_KEY", str(exc))]
    except StorageUnavailable:
        where = settings.describe()["database_url"] if settings.database_url else str(settings.sqlite_path)
        return [
            Problem("DATABASE_URL", f"cannot reach the database ({where})", "check the URL and that it runs")
        ]
    try:
        if not await db.migrations_current():
            return [
                Problem("database", "schema is not at this version's newest migration", "restart to upgrade")
            ]
    finally:
        await db.dispose()
    return []


async def check_webhook(settings: Settings) -> list[Problem]:
    if settings.webhook_url and not (settings.webhook_secret and settings.webhook_secret.get_secret_value()):
        return [Problem("POLICYBOT_WEBHOOK_SECRET", "a webhook URL is set but no signing secret", "set it")]
    if settings.webhook_url and not settings.webhook_url.startswith(
        ("https://", "http://127.0.0.1", "http://localhost")
    ):
        return [Problem("POLICYBOT_WEBHOOK_URL", "must be https:// (or a local http address)")]
    return []


async def check_teams_reach(settings: Settings) -> list[Problem]:
    """Directory people the Teams bot cannot reach yet: a teams_id, but no stored personal-chat reference
    (they never talked to the bot) and no tenant id to open a chat with them. Their notices go to the
    fallback route until they install the app or MicrosoftAppTenantId is set."""
    if not settings.teams_enabled or settings.microsoft_app_tenant_id:
        return []
    from bot.errors import ConfigError, StorageUnavailable
    from bot.reports.directory import load_directory
    from bot.storage.database import Database
    from bot.storage.shared import ConversationRefs

    try:
        directory = load_directory(settings.directory_file)
    except ConfigError:
        return []  # reported by the directory check
    try:
        db = await Database.open(settings)
    except StorageUnavailable:
        return []  # reported by the database check
    try:
        refs = ConversationRefs(db)
        missing = [
            p
            for p in directory.people.values()
            if p.teams_id and await refs.get("teams", p.teams_id.lower()) is None
        ]
    finally:
        await db.dispose()
    return [
        Problem(
            f"teams: {p.id}",
            "the Teams bot cannot reach this person yet (no chat with the bot, no tenant id)",
            "ask them to install policybot in Teams, or set MicrosoftAppTenantId",
        )
        for p in missing
    ]


CHECKS: list[Check] = [
    Check("directory", check_directory_file),
    Check("database and key", check_database),
    Check("webhook", check_webhook),
    Check("teams reach", check_teams_reach),
]


async def run_checks(settings: Settings, checks: list[Check] | None = None) -> list[CheckResult]:
    results = []
    for check in CHECKS if checks is None else checks:
        try:
            problems = await check.run(settings)
        except Exception as exc:
            problems = [Problem(check.name, f"the check itself failed: {type(exc).__name__}")]
        results.append(CheckResult(check.name, tuple(problems)))
    return results
