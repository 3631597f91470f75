"""Shared by the reports CLI modules: open the reports core for one command, find the acting person."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.cli._common import fail
from bot.config import Settings
from bot.errors import PolicybotError
from bot.reports import Person, Reports, open_reports
from bot.reports.directory import Directory

__all__ = ["actor", "with_reports"]

T = TypeVar("T")


async def with_reports(settings: Settings, body: Callable[[Reports], Awaitable[T]], **kwargs: object) -> T:
    """Run ``body`` with the reports core open, and close it whatever happens."""
    try:
        reports = await open_reports(settings, **kwargs)  # type: ignore[arg-type]
        try:
            return await body(reports)
        finally:
            await reports.close()
    except PolicybotError as exc:  # a fixed, friendly one-liner (the message never holds report text)
        fail(str(exc))


def actor(directory: Directory, who: str) -> Person:
    """The person named by ``--as`` (an id, an email, a Slack id or a Teams id), or a clear refusal."""
    person = (
        directory.person(who)
        or directory.by_email(who)
        or directory.by_slack_id(who)
        or directory.by_teams_id(who)
    )
    if person is None:
        fail(
            f'"{who}" is not in the directory ({directory.source}). Only people listed there can use cases; '
            "pass --as with a person id, e.g. --as priya.shah."
        )
    return person
