"""The directory file: the example is valid, each kind of mistake is named, lookups and deadlines work."""

from __future__ import annotations

import copy
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import PROJECT_ROOT
from bot.errors import ConfigError
from bot.reports.directory import Deadline
from bot.reports.directory_file import check_directory, load_directory, parse_directory
from bot.reports.model import Category

EXAMPLE = PROJECT_ROOT / "deploy" / "directory.example.toml"


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text())


def problems_of(data: dict[str, Any]) -> list[str]:
    return [str(p) for p in parse_directory(data)[1]]


def test_the_example_directory_is_valid_and_looked_up_by_every_identity() -> None:
    directory = load_directory(EXAMPLE)
    sam = directory.person("sam.patel")
    assert sam is not None and sam.title == "Teaching assistant" and sam.manager == "jo.evans"
    assert directory.by_slack_id("U0SAM0001") == sam
    assert sam.teams_id and directory.by_teams_id(sam.teams_id.upper()) == sam
    assert directory.by_email("Sam.Patel@example.org") == sam
    assert [p.id for p in directory.holders("hr")] == ["helen.ward", "marcus.bell"]
    assert directory.is_admin("priya.shah") and not directory.is_admin("sam.patel")
    assert directory.deadline_for(Category.SAFEGUARDING) == Deadline(1)
    assert directory.deadline_for(Category.OTHER) == Deadline(1, working_days=True)
    assert check_directory(EXAMPLE) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["people"][8]["roles"].append("dsll"), 'people[sam.patel].roles: unknown role "dsll"'),
        (
            lambda d: d["people"][8].update(manager="jo.evan"),
            'people[sam.patel].manager: manager "jo.evan" is not',
        ),
        (lambda d: d["people"][0].update(manager="priya.shah"), "line managers form a cycle"),
        (
            lambda d: d["rules"][0].update(to=["head_teacher"]),
            'rules[0] (safeguarding concern about a member of staff).to: unknown role "head_teacher"',
        ),
        (lambda d: d["rules"][1].update(category="safeguardin"), 'Unknown category "safeguardin"'),
        (
            lambda d: d["people"][9].update(slack_id="U0SAM0001"),
            "people[ben.taylor].slack_id: same slack_id as people[sam.patel]",
        ),
        (
            lambda d: d["people"].append({"id": "sam.patel", "name": "Other Sam"}),
            "people[sam.patel]: duplicate id",
        ),
        (
            lambda d: d["deadlines"].update(safeguarding="soon"),
            'deadlines.safeguarding: "soon" is not a duration',
        ),
        (lambda d: d["routing"].update(fallback=[]), "routing.fallback: no fallback"),
        (
            lambda d: d["routing"].update(case_administrators=["nobody"]),
            'routing.case_administrators: unknown person "nobody"',
        ),
        (lambda d: d["organisation"].update(timezone="Mars/Base"), 'unknown time zone "Mars/Base"'),
        (
            lambda d: d.update(rules=[r for r in d["rules"] if r["category"] != "other"]),
            'no rule for category "other"',
        ),
    ],
)
def test_each_mistake_is_reported_naming_the_entry(change: Any, expected: str) -> None:
    data = copy.deepcopy(example())
    change(data)
    found = problems_of(data)
    assert any(expected in p for p in found), found


def test_a_cycle_is_named_once_with_its_members() -> None:
    data = example()
    data["people"][0]["manager"] = "priya.shah"  # head -> dsl -> head
    cycles = [p for p in problems_of(data) if "cycle" in p]
    assert len(cycles) == 1
    assert "amira.okafor" in cycles[0] and "priya.shah" in cycles[0]


def test_load_directory_raises_one_config_error_listing_everything(tmp_path: Path) -> None:
    bad = tmp_path / "directory.toml"
    bad.write_text(
        EXAMPLE.read_text()
        .replace('manager = "jo.evans"', 'manager = "jo.evan"', 1)
        .replace('roles = ["hr"]', 'roles = ["human_resources"]', 1)
    )
    with pytest.raises(ConfigError) as err:
        load_directory(bad)
    assert 'manager "jo.evan"' in str(err.value) and 'unknown role "human_resources"' in str(err.value)
    assert check_directory(tmp_path / "missing.toml")[0].message == "file not found"
    (tmp_path / "broken.toml").write_text("[people\n")
    assert "not valid TOML" in check_directory(tmp_path / "broken.toml")[0].message


def test_rules_default_to_the_policy_when_the_file_has_none() -> None:
    data = example()
    del data["rules"]
    directory, problems = parse_directory(data)
    assert problems == [] and directory is not None
    assert {r.category for r in directory.rules} == set(Category)


@pytest.mark.parametrize(
    ("text", "start", "due"),
    [
        ("1h", datetime(2026, 11, 27, 16, 30, tzinfo=UTC), datetime(2026, 11, 27, 17, 30, tzinfo=UTC)),
        ("30m", datetime(2026, 11, 27, 16, 30, tzinfo=UTC), datetime(2026, 11, 27, 17, 0, tzinfo=UTC)),
        # Friday afternoon + 1 working day = Monday afternoon
        (
            "1 working day",
            datetime(2026, 11, 27, 16, 30, tzinfo=UTC),
            datetime(2026, 11, 30, 16, 30, tzinfo=UTC),
        ),
        # Saturday -> counts from Monday, due Tuesday
        ("1wd", datetime(2026, 11, 28, 10, 0, tzinfo=UTC), datetime(2026, 12, 1, 10, 0, tzinfo=UTC)),
        # Christmas Eve (Thursday) + 1 working day skips the 25th (holiday), the weekend and Monday 28th
        # (a holiday too) -> Tuesday 29th
        (
            "1 working day",
            datetime(2026, 12, 24, 12, 0, tzinfo=UTC),
            datetime(2026, 12, 29, 12, 0, tzinfo=UTC),
        ),
    ],
)
def test_deadlines(text: str, start: datetime, due: datetime) -> None:
    holidays = frozenset({date(2026, 12, 25), date(2026, 12, 28)})
    assert Deadline.parse(text).due(start, ZoneInfo("Europe/London"), holidays) == due
