"""The directory: people, roles, line managers, routing rules, deadlines and case administrators.

Channel identities (Slack user id, Teams AAD object id, email) map people to the accounts the edges see. It is
read and checked from TOML by ``bot.reports.directory_file``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.reports.model import Category

__all__ = [
    "DEFAULT_RULES",
    "DEFAULT_SUBSTITUTES",
    "LINE_MANAGER",
    "POLICY_OWNER",
    "Deadline",
    "Directory",
    "Person",
    "Rule",
]

#: Rule target meaning "the reporter's line manager".
LINE_MANAGER = "line_manager"
#: Role of the people who own the policies: they see the insights page and teach example messages there.
POLICY_OWNER = "policy_owner"
PERSON_PREFIX = "person:"


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    title: str = ""
    roles: tuple[str, ...] = ()
    manager: str | None = None
    slack_id: str | None = None
    teams_id: str | None = None
    email: str | None = None
    #: Other names people use for them ("Mrs Shah", "Mr T"): a report mentioning one never reaches them.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    """Where one kind of case goes. Conditions left as None match anything; the first matching rule wins."""

    category: Category
    to: tuple[str, ...]
    on_request: tuple[str, ...] = ()
    escalate: tuple[str, ...] = ("deputy_dsl", "hr")
    subject_is_staff: bool | None = None
    concerns_children: bool | None = None
    name: str = ""

    def matches(self, category: Category, *, subject_is_staff: bool, concerns_children: bool) -> bool:
        return (
            self.category == category
            and self.subject_is_staff in (None, subject_is_staff)
            and self.concerns_children in (None, concerns_children)
        )


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(Category.SAFEGUARDING, ("headteacher", "dsl"), subject_is_staff=True, name="allegation about staff"),
    Rule(Category.SAFEGUARDING, ("dsl", "deputy_dsl"), name="safeguarding"),
    Rule(
        Category.CONDUCT_ONLINE,
        ("headteacher", "dsl"),
        concerns_children=True,
        name="conduct towards children",
    ),
    Rule(Category.CONDUCT_ONLINE, ("headteacher",), name="conduct online"),
    Rule(Category.ONLINE_ABUSE, (LINE_MANAGER,), on_request=("hr",), name="abuse aimed at the reporter"),
    Rule(Category.COLLEAGUE_BULLYING, (LINE_MANAGER, "hr"), name="bullying by a colleague"),
    Rule(
        Category.HEALTH_AND_SAFETY,
        (LINE_MANAGER, "health_and_safety"),
        escalate=("headteacher", "hr"),
        name="accident, injury or danger at work",
    ),
    Rule(
        Category.DATA_BREACH,
        (LINE_MANAGER, "data_protection"),
        escalate=("headteacher", "hr"),
        name="personal data breach",
    ),
    Rule(Category.WRONGDOING, ("whistleblowing",), escalate=("hr",), name="wrongdoing (whistleblowing)"),
    Rule(Category.OTHER, (LINE_MANAGER,), name="other"),
)

#: Who stands in when every holder of a target is the subject (or the reporter) of the case.
DEFAULT_SUBSTITUTES: Mapping[str, tuple[str, ...]] = {
    LINE_MANAGER: ("hr",),
    "dsl": ("deputy_dsl",),
    "deputy_dsl": ("dsl",),
    "headteacher": ("chair_of_governors",),
    "hr": ("headteacher",),
    "health_and_safety": ("headteacher",),
    "data_protection": ("headteacher",),
    "whistleblowing": ("chair_of_governors", "hr"),
}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|minutes?|h|hours?|d|days?|wd|working days?)\s*$", re.I)


@dataclass(frozen=True, slots=True)
class Deadline:
    """An acknowledgement deadline: a duration, or working days (weekends and holidays off)."""

    amount: float
    working_days: bool = False

    @classmethod
    def parse(cls, text: str) -> Deadline:
        match = _DURATION.match(text)
        if not match:
            raise ValueError(f'"{text}" is not a duration like "1h", "30m", "2d" or "1 working day"')
        amount, unit = float(match.group(1)), match.group(2).lower()
        if unit.startswith("w"):
            return cls(amount, working_days=True)
        hours = {"m": amount / 60, "h": amount, "d": amount * 24}[unit[0]]
        return cls(hours)

    def due(self, start: datetime, tz: ZoneInfo, holidays: frozenset[date]) -> datetime:
        """When a case started at ``start`` must be acknowledged."""
        if not self.working_days:
            return start + timedelta(hours=self.amount)
        local = start.astimezone(tz)

        def working(day: datetime) -> bool:
            return day.weekday() < 5 and day.date() not in holidays

        while not working(local):  # received on a weekend or holiday: the clock starts next working day
            local += timedelta(days=1)
        remaining = round(self.amount)
        while remaining > 0:
            local += timedelta(days=1)
            if working(local):
                remaining -= 1
        return local.astimezone(start.tzinfo)

    def __str__(self) -> str:
        if self.working_days:
            return f"{self.amount:g} working day(s)"
        return f"{self.amount * 60:g} minutes" if self.amount < 1 else f"{self.amount:g} hour(s)"


@dataclass(frozen=True, slots=True)
class Directory:
    """Who is who, and how reports are routed. Lookups by every channel identity."""

    organisation: str
    people: Mapping[str, Person]
    roles: Mapping[str, str]
    rules: tuple[Rule, ...] = DEFAULT_RULES
    substitutes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_SUBSTITUTES))
    fallback: tuple[str, ...] = ()
    case_administrators: tuple[str, ...] = ()
    deadlines: Mapping[Category, Deadline] = field(default_factory=dict)
    default_deadline: Deadline = Deadline(1, working_days=True)
    timezone: str = "Europe/London"
    holidays: frozenset[date] = frozenset()
    reveal_acknowledger: bool = False
    source: str = ""

    def person(self, person_id: str) -> Person | None:
        return self.people.get(person_id)

    def by_slack_id(self, slack_id: str) -> Person | None:
        return next((p for p in self.people.values() if p.slack_id == slack_id), None)

    def by_teams_id(self, aad_object_id: str) -> Person | None:
        wanted = aad_object_id.lower()
        return next((p for p in self.people.values() if p.teams_id and p.teams_id.lower() == wanted), None)

    def by_email(self, email: str) -> Person | None:
        wanted = email.strip().lower()
        return next((p for p in self.people.values() if p.email and p.email.lower() == wanted), None)

    def holders(self, role: str) -> tuple[Person, ...]:
        return tuple(p for p in self.people.values() if role in p.roles)

    def is_admin(self, person_id: str) -> bool:
        return person_id in self.case_administrators

    def owns_policies(self, person_id: str) -> bool:
        """Holds the ``policy_owner`` role (declared under [roles] like any other)."""
        person = self.person(person_id)
        return person is not None and POLICY_OWNER in person.roles

    def deadline_for(self, category: Category) -> Deadline:
        return self.deadlines.get(category, self.default_deadline)

    def ack_due(self, category: Category, start: datetime) -> datetime:
        return self.deadline_for(category).due(start, ZoneInfo(self.timezone), self.holidays)

    def first_holder_name(self, role: str) -> str | None:
        """For messages such as "contact the DSL (Priya Shah) directly"."""
        holders = self.holders(role)
        return holders[0].name if holders else None
