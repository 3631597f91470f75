"""Reading the directory TOML: ``load_directory`` validates the whole file and raises one ``ConfigError``
listing every problem, each naming the entry (``people[sam.patel].manager``) and the fix; ``check_directory``
returns the same problems for `policybot config check`; ``parse_directory`` is the pure part tests feed dicts.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ConfigError
from bot.problems import Problem
from bot.reports.directory import (
    DEFAULT_RULES,
    DEFAULT_SUBSTITUTES,
    LINE_MANAGER,
    PERSON_PREFIX,
    Deadline,
    Directory,
    Person,
    Rule,
)
from bot.reports.model import Category

__all__ = ["check_directory", "load_directory", "parse_directory"]


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
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            problems.append(Problem(f"{label}.aliases", "must be a list of names", 'e.g. ["Mrs Shah"]'))
            aliases = []
        people[pid] = Person(
            id=pid,
            name=str(entry.get("name", pid)),
            title=str(entry.get("title", "")),
            roles=tuple(str(r) for r in entry.get("roles", [])),
            manager=str(entry["manager"]) if entry.get("manager") else None,
            slack_id=entry.get("slack_id") or None,
            teams_id=entry.get("teams_id") or None,
            email=entry.get("email") or None,
            aliases=tuple(a.strip() for a in aliases),
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
