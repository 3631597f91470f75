"""`policybot config check`: a list of checks, each returning problems with fixes. Never prints a secret.

To add a check (channels, index ...), write ``async def check_x(settings) -> list[Problem]`` and append it to
``CHECKS``. A check that raises is reported as a problem of its own, so one broken check hides nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.problems import Problem

if TYPE_CHECKING:
    from index.examples import ExampleQuestion

__all__ = ["CHECKS", "Check", "CheckResult", "Problem", "run_checks", "summary"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    run: Callable[[Settings], Awaitable[list[Problem]]]
    #: Advisory findings are printed as warnings and do not fail the check (an overdue policy still serves).
    advisory: bool = False


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    problems: tuple[Problem, ...]
    advisory: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


async def check_directory_file(settings: Settings) -> list[Problem]:
    from bot.reports.directory_file import check_directory

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


async def check_channels(settings: Settings) -> list[Problem]:
    """Half-configured channels: they would silently not mount."""
    problems = []
    token = bool(settings.slack_bot_token and settings.slack_bot_token.get_secret_value())
    secret = bool(settings.slack_signing_secret and settings.slack_signing_secret.get_secret_value())
    if token != secret:
        missing = "SLACK_SIGNING_SECRET" if token else "SLACK_BOT_TOKEN"
        problems.append(Problem(missing, "Slack is half configured, so it is not mounted", f"set {missing}"))
    if settings.microsoft_app_id and settings.microsoft_app_type != "UserAssignedMSI":
        if not (settings.microsoft_app_password and settings.microsoft_app_password.get_secret_value()):
            problems.append(
                Problem(
                    "MicrosoftAppPassword", "Teams has an app id but no password", "set MicrosoftAppPassword"
                )
            )
        if settings.microsoft_app_type == "SingleTenant" and not settings.microsoft_app_tenant_id:
            problems.append(
                Problem(
                    "MicrosoftAppTenantId",
                    "a SingleTenant bot needs its tenant id",
                    "set MicrosoftAppTenantId",
                )
            )
    if settings.public_url and not settings.public_url.startswith(
        ("https://", "http://127.0.0.1", "http://localhost")
    ):
        problems.append(
            Problem("POLICYBOT_PUBLIC_URL", "links in notices should be https://", "use the https URL")
        )
    return problems


async def check_corpus(settings: Settings) -> list[Problem]:
    """The documents load, and what their owners should fix: overdue reviews, missing owners, sections without
    text. (A missing or stale index is not a problem: the server builds it at start-up; the summary says which,
    and `policybot index build` does it ahead of time.)"""
    from index.corpus import load_corpus

    try:
        corpus = await asyncio.to_thread(load_corpus, settings.corpus_dir)
    except Exception as exc:
        return [
            Problem("POLICYBOT_CORPUS_DIR", f"the policy documents do not load ({exc})", "fix the file named")
        ]
    if not corpus.documents:
        return [
            Problem(
                "POLICYBOT_CORPUS_DIR", f"no documents in {settings.corpus_dir}", "point it at the corpus"
            )
        ]
    return []


async def check_documents(settings: Settings) -> list[Problem]:
    """What policy owners should fix (advisory): overdue or missing review dates, documents without an owner,
    sections without text, and how each file was read (`policybot corpus check` prints the same)."""
    from datetime import date

    from index.corpus import load_corpus
    from index.corpus_check import check_corpus as findings_of

    try:
        corpus = await asyncio.to_thread(load_corpus, settings.corpus_dir)
    except Exception:
        return []  # reported by the corpus check
    return [Problem(f.entry, f.message, f.fix) for f in findings_of(corpus, date.today())]


def index_status(settings: Settings, taught: Sequence[ExampleQuestion] = ()) -> str:
    """Built (and from what), stale, or not built: for the summary (``taught``: the database's examples)."""
    from index.corpus import load_corpus
    from index.embed import resolve_model
    from index.store import current_manifest

    manifest = current_manifest(settings.index_dir)
    if manifest is None:
        return f"{settings.index_dir} (not built: built at start-up, or run `policybot index build`)"
    stale = []
    try:
        corpus = load_corpus(settings.corpus_dir).with_examples(taught)
        if manifest.corpus_sha256 != corpus.sha256:
            stale.append("the corpus changed")
    except Exception:  # reported by check_corpus
        stale.append("the corpus does not load")
    if manifest.model != resolve_model(settings.model)[0]:
        stale.append("the model differs")
    state = f"stale: {', '.join(stale)}; rebuilt at start-up" if stale else "current"
    return f"{settings.index_dir} ({manifest.passage_count} passages, built {manifest.built_at}, {state})"


async def check_model(settings: Settings) -> list[Problem]:
    """The model must be on disk: policybot never downloads at run time."""
    from pathlib import Path

    from index.embed import resolve_model

    try:
        target = resolve_model(settings.model)[1]
    except ImportError:
        return [
            Problem("POLICYBOT_MODEL", "the bundled model package is not installed", "pip install policybot")
        ]
    if not await asyncio.to_thread(Path(target).exists):
        return [
            Problem("POLICYBOT_MODEL", f"{settings.model!r} is not a local model directory", "give a path")
        ]
    return []


async def check_teams_reach(settings: Settings) -> list[Problem]:
    """Directory people the Teams bot cannot reach yet: a teams_id, but no stored personal-chat reference
    (they never talked to the bot) and no tenant id to open a chat with them. Their notices go to the
    fallback route until they install the app or MicrosoftAppTenantId is set."""
    if not settings.teams_enabled or settings.microsoft_app_tenant_id:
        return []
    from bot.errors import ConfigError, StorageUnavailable
    from bot.reports.directory_file import load_directory
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
    Check("channels", check_channels),
    Check("corpus", check_corpus),
    Check("documents", check_documents, advisory=True),
    Check("model", check_model),
    Check("teams reach", check_teams_reach),
]


def summary(settings: Settings, taught: Sequence[ExampleQuestion] = ()) -> list[tuple[str, str]]:
    """What is configured, as (item, value) pairs safe to print: never a secret, database password hidden."""
    channels = [
        name
        for name, on in (
            ("slack (/slack/events)", settings.slack_enabled),
            ("teams (/api/messages)", settings.teams_enabled),
            ("web console (/console)", settings.console_enabled),
        )
        if on
    ]
    database = (
        settings.describe()["database_url"] if settings.database_url else f"SQLite at {settings.sqlite_path}"
    )
    key = "POLICYBOT_SECRET_KEY (set)" if settings.secret_key else f"key file in {settings.var_dir}"
    return [
        ("channels mounted", ", ".join(channels) or "none"),
        ("listening on", f"{settings.host}:{settings.port} (links use {settings.base_url})"),
        ("database", database),
        ("encryption key", key),
        ("index", index_status(settings, taught)),
        ("model", settings.model),
        ("corpus", str(settings.corpus_dir)),
        ("directory", str(settings.directory_file)),
        ("notices", "webhook + console log" if settings.webhook_url else "console log only"),
        ("delivery worker", "in the server process" if settings.worker else "separate (`policybot worker`)"),
        ("logging", f"{settings.log_level} as {settings.log_format}"),
    ]


async def run_checks(settings: Settings, checks: list[Check] | None = None) -> list[CheckResult]:
    results = []
    for check in CHECKS if checks is None else checks:
        try:
            problems = await check.run(settings)
        except Exception as exc:
            problems = [Problem(check.name, f"the check itself failed: {type(exc).__name__}")]
        results.append(CheckResult(check.name, tuple(problems), check.advisory))
    return results
