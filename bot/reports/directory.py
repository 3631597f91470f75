"""The directory: people, roles, line managers, routing rules, deadlines and case administrators, from TOML.

``load_directory`` validates the whole file and raises one ``ConfigError`` listing every problem, each naming
the entry (``people[sam.patel].manager``) and the fix; ``check_directory`` returns the same problems for
`policybot config check`. Channel identities (Slack user id, Teams AAD object id, email) map people to the
accounts the edges see.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.checks import Problem
from bot.errors import ConfigError
from bot.reports.model import Category

__all__ = [
    "DEFAULT_RULES",
    "DEFAULT_SUBSTITUTES",
    "LINE_MANAGER",
    "Deadline",
    "Directory",
    "Person",
    "Problem",
    "Rule",
    "check_directory",
    "load_directory",
    "parse_directory",
]

#: Rule target meaning "the reporter's line manager".
LINE_MANAGER = "line_manager"
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
    Rule(Category.OTHER, (LINE_MANAGER,), name="other"),
)

#: Who stands in when every holder of a target is the subject (or the reporter) of the case.
DEFAULT_SUBSTITUTES: Mapping[str, tuple[str, ...]] = {
    LINE_MANAGER: ("hr",),
    "dsl": ("deputy_dsl",),
    "deputy_dsl": ("dsl",),
    "headteacher": ("chair_of_governors",),
    "hr": ("headteacher",),
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

    def deadline_for(self, category: Category) -> Deadline:
        return self.deadlines.get(category, self.default_deadline)

    def ack_due(self, category: Category, start: datetime) -> datetime:
        return self.deadline_for(category).due(start, ZoneInfo(self.timezone), self.holidays)

    def first_holder_name(self, role: str) -> str | None:
        """For messages such as "contact the DSL (Priya Shah) directly"."""
        holders = self.holders(role)
        return holders[0].name if holders else None


def load_directory(path: Path) -> Directory:
    """Read and validate the directory file; every problem at once in one ConfigError."""
    directory, problems = _load(path)
    if problems or directory is None:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"The directory file {path} has {len(problems)} problem(s):\n{lines}")
    return directory


def check_directory(path: Path) -> list[Problem]:
    """The problems `policybot config check` shows (empty when the file is good)."""
    return _load(path)[1]


def _load(path: Path) -> tuple[Directory | None, list[Problem]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, [Problem(str(path), "file not found", "set POLICYBOT_DIRECTORY to your directory TOML")]
    except tomllib.TOMLDecodeError as exc:
        return None, [Problem(str(path), f"not valid TOML: {exc}")]
    return parse_directory(data, source=str(path))


def parse_directory(data: Mapping[str, Any], *, source: str = "") -> tuple[Directory | None, list[Problem]]:
    """Build a Directory from parsed TOML, collecting every problem (pure; tests feed dicts)."""
    problems: list[Problem] = []
    org = data.get("organisation", {})
    roles = {str(k): str(v) for k, v in data.get("roles", {}).items()}
    people = _people(data.get("people", []), roles, problems)
    _check_managers(people, problems)
    routing = data.get("routing", {})
    targets_ok = set(roles) | {LINE_MANAGER}

    def check_targets(entry: str, targets: Iterable[str]) -> tuple[str, ...]:
        out = tuple(str(t) for t in targets)
        for target in out:
            if target.startswith(PERSON_PREFIX):
                if target[len(PERSON_PREFIX) :] not in people:
                    problems.append(Problem(entry, f'unknown person "{target}"', "use an id from [[people]]"))
            elif target not in targets_ok:
                problems.append(
                    Problem(entry, f'unknown role "{target}"', "declare it under [roles] or fix the spelling")
                )
        return out

    rules = _rules(data.get("rules"), problems, check_targets)
    substitutes = dict(DEFAULT_SUBSTITUTES)
    for role, subs in routing.get("substitutes", {}).items():
        check_targets(f"routing.substitutes.{role}", [role])
        substitutes[str(role)] = check_targets(f"routing.substitutes.{role}", subs)
    fallback = check_targets("routing.fallback", routing.get("fallback", []))
    if not fallback:
        problems.append(Problem("routing.fallback", "no fallback", 'e.g. fallback = ["headteacher", "hr"]'))
    admins = tuple(str(a) for a in routing.get("case_administrators", []))
    for admin in admins:
        if admin not in people:
            problems.append(Problem("routing.case_administrators", f'unknown person "{admin}"'))
    for role in {t for r in rules for t in r.to} - {LINE_MANAGER}:
        if (
            role in roles
            and not role.startswith(PERSON_PREFIX)
            and not any(role in p.roles for p in people.values())
        ):
            problems.append(Problem(f"roles.{role}", "a rule routes to this role but nobody holds it"))
    deadlines, default_deadline = _deadlines(data.get("deadlines", {}), problems)
    timezone = str(org.get("timezone", "Europe/London"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            Problem("organisation.timezone", f'unknown time zone "{timezone}"', "e.g. Europe/London")
        )
        timezone = "UTC"
    holidays: set[date] = set()
    for value in org.get("holidays", []):
        try:
            holidays.add(value if isinstance(value, date) else date.fromisoformat(str(value)))
        except ValueError:
            problems.append(Problem("organisation.holidays", f'"{value}" is not a date', "use YYYY-MM-DD"))
    directory = Directory(
        organisation=str(org.get("name", "")),
        people=people,
        roles=roles,
        rules=rules,
        substitutes=substitutes,
        fallback=fallback,
        case_administrators=admins,
        deadlines=deadlines,
        default_deadline=default_deadline,
        timezone=timezone,
        holidays=frozenset(holidays),
        reveal_acknowledger=bool(routing.get("reveal_acknowledger", False)),
        source=source,
    )
    return directory, problems


def _people(raw: Any, roles: Mapping[str, str], problems: list[Problem]) -> dict[str, Person]:
    people: dict[str, Person] = {}
    seen: dict[tuple[str, str], str] = {}
    for index, entry in enumerate(raw):
        pid = str(entry.get("id", "")).strip()
        label = f"people[{pid or index}]"
        if not pid or not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", pid):
            problems.append(Problem(label, f'bad id "{pid}"', "lower-case letters, digits, . _ - (max 64)"))
            continue
        if pid in people:
            problems.append(Problem(label, "duplicate id"))
            continue
        if not entry.get("name"):
            problems.append(Problem(label, "missing name"))
        for role in entry.get("roles", []):
            if role not in roles:
                problems.append(
                    Problem(f"{label}.roles", f'unknown role "{role}"', "declare it under [roles]")
                )
        for key in ("slack_id", "teams_id", "email"):
            value = entry.get(key)
            if value:
                norm = (key, str(value).lower())
                if norm in seen:
                    problems.append(Problem(f"{label}.{key}", f"same {key} as people[{seen[norm]}]"))
                seen[norm] = pid
        people[pid] = Person(
            id=pid,
            name=str(entry.get("name", pid)),
            title=str(entry.get("title", "")),
            roles=tuple(str(r) for r in entry.get("roles", [])),
            manager=str(entry["manager"]) if entry.get("manager") else None,
            slack_id=entry.get("slack_id") or None,
            teams_id=entry.get("teams_id") or None,
            email=entry.get("email") or None,
        )
    return people


def _check_managers(people: Mapping[str, Person], problems: list[Problem]) -> None:
    for person in people.values():
        if person.manager and person.manager not in people:
            problems.append(
                Problem(
                    f"people[{person.id}].manager",
                    f'manager "{person.manager}" is not in the directory',
                    "add them under [[people]] or fix the id",
                )
            )
    reported: set[str] = set()
    for person in people.values():
        chain = [person.id]
        current = person.manager
        while current and current in people:
            if current in chain:
                cycle = [*chain[chain.index(current) :], current]
                key = min(cycle)
                if key not in reported:
                    reported.add(key)
                    problems.append(
                        Problem(
                            f"people[{current}].manager",
                            "line managers form a cycle: " + " -> ".join(cycle),
                            "someone at the top must have no manager",
                        )
                    )
                break
            chain.append(current)
            current = people[current].manager


def _rules(raw: Any, problems: list[Problem], check: Any) -> tuple[Rule, ...]:
    if raw is None:
        return DEFAULT_RULES
    rules: list[Rule] = []
    for index, entry in enumerate(raw):
        label = f"rules[{index}]" + (f" ({entry['name']})" if entry.get("name") else "")
        try:
            category = Category.parse(str(entry.get("category", "")))
        except Exception as exc:
            problems.append(Problem(label, str(exc)))
            continue
        to = check(f"{label}.to", entry.get("to", []))
        if not to:
            problems.append(Problem(f"{label}.to", "routes to nobody", 'e.g. to = ["dsl"]'))
        rules.append(
            Rule(
                category=category,
                to=to,
                on_request=check(f"{label}.on_request", entry.get("on_request", [])),
                escalate=check(f"{label}.escalate", entry.get("escalate", ["deputy_dsl", "hr"])),
                subject_is_staff=entry.get("subject_is_staff"),
                concerns_children=entry.get("concerns_children"),
                name=str(entry.get("name", "")),
            )
        )
    for category in Category:
        if not any(r.category == category for r in rules):
            problems.append(
                Problem("rules", f'no rule for category "{category.value}"', "add a [[rules]] entry")
            )
    return tuple(rules)


def _deadlines(raw: Mapping[str, Any], problems: list[Problem]) -> tuple[dict[Category, Deadline], Deadline]:
    deadlines: dict[Category, Deadline] = {Category.SAFEGUARDING: Deadline(1)}
    default = Deadline(1, working_days=True)
    for key, value in raw.items():
        try:
            deadline = Deadline.parse(str(value))
        except ValueError as exc:
            problems.append(Problem(f"deadlines.{key}", str(exc)))
            continue
        if key == "default":
            default = deadline
            continue
        try:
            deadlines[Category.parse(key)] = deadline
        except Exception:
            problems.append(Problem(f"deadlines.{key}", f'unknown category "{key}"'))
    return deadlines, default
