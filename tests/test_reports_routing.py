"""Routing, rule by rule, and every "never to the subject" substitution (on the shipped example directory)."""

from __future__ import annotations

import itertools

import pytest

from bot.config import PROJECT_ROOT
from bot.reports.directory import Directory, Person, Rule
from bot.reports.directory_file import load_directory, parse_directory
from bot.reports.model import Category
from bot.reports.routing import RoutingInput, route

DIR = load_directory(PROJECT_ROOT / "deploy" / "directory.example.toml")
S, C, A, B, OTHER = (
    Category.SAFEGUARDING,
    Category.CONDUCT_ONLINE,
    Category.ONLINE_ABUSE,
    Category.COLLEAGUE_BULLYING,
    Category.OTHER,
)

# (why, input, expected recipients in order, a reason that must appear)
TABLE = [
    ("safeguarding -> DSL and deputy DSL", RoutingInput(S, "sam.patel"), ["priya.shah", "tom.reid"], "dsl"),
    (
        "safeguarding about a member of staff -> headteacher and DSL",
        RoutingInput(S, "sam.patel", "lucy.brown"),
        ["amira.okafor", "priya.shah"],
        "headteacher",
    ),
    (
        "DSL is the subject -> deputy DSL",
        RoutingInput(S, "sam.patel", "priya.shah"),
        ["amira.okafor", "tom.reid"],
        "deputy_dsl (instead of dsl, who is the subject of the report)",
    ),
    (
        "headteacher is the subject -> chair of governors",
        RoutingInput(S, "sam.patel", "amira.okafor"),
        ["david.hughes", "priya.shah"],
        "chair_of_governors (instead of headteacher, who is the subject of the report)",
    ),
    (
        "the DSL reporting does not receive her own report",
        RoutingInput(S, "priya.shah"),
        ["tom.reid"],
        "deputy_dsl",
    ),
    (
        "conduct towards children -> headteacher and DSL",
        RoutingInput(C, "sam.patel", "ahmed.karim", concerns_children=True),
        ["amira.okafor", "priya.shah"],
        "dsl",
    ),
    (
        "conduct online -> headteacher",
        RoutingInput(C, "sam.patel", "ahmed.karim"),
        ["amira.okafor"],
        "headteacher",
    ),
    (
        "conduct online about the headteacher -> chair of governors",
        RoutingInput(C, "sam.patel", "amira.okafor"),
        ["david.hughes"],
        "instead of headteacher",
    ),
    ("abuse aimed at me -> line manager", RoutingInput(A, "sam.patel"), ["jo.evans"], "line manager"),
    (
        "abuse aimed at me, tell HR -> line manager and HR",
        RoutingInput(A, "sam.patel", tell_hr=True),
        ["jo.evans", "helen.ward", "marcus.bell"],
        "hr",
    ),
    (
        "line manager is the subject -> HR",
        RoutingInput(A, "sam.patel", "jo.evans"),
        ["helen.ward", "marcus.bell"],
        "hr (instead of line manager, who is the subject of the report)",
    ),
    (
        "reporter not in the directory -> HR stands in for the line manager",
        RoutingInput(A, None),
        ["helen.ward", "marcus.bell"],
        "hr (instead of line manager, who is not in the directory)",
    ),
    (
        "bullying by a colleague -> line manager and HR",
        RoutingInput(B, "sam.patel", "ben.taylor"),
        ["jo.evans", "helen.ward", "marcus.bell"],
        "line manager",
    ),
    (
        "bullying by the line manager -> HR only",
        RoutingInput(B, "sam.patel", "jo.evans"),
        ["helen.ward", "marcus.bell"],
        "instead of line manager",
    ),
    (
        "HR officer reports their HR manager: line manager and HR all excluded -> headteacher",
        RoutingInput(B, "marcus.bell", "helen.ward"),
        ["amira.okafor"],
        "headteacher (instead of hr, who is the subject of the report)",
    ),
    ("other -> line manager", RoutingInput(OTHER, "olivia.green"), ["grace.lee"], "line manager"),
]


@pytest.mark.parametrize(("why", "case", "expected", "reason"), TABLE, ids=[t[0] for t in TABLE])
def test_routing_table(why: str, case: RoutingInput, expected: list[str], reason: str) -> None:
    result = route(case, DIR)
    assert list(result.person_ids) == expected, why
    assert any(reason in r.reason for r in result.recipients), [r.reason for r in result.recipients]


def test_escalation_chain_is_next_in_line_then_fallback_without_current_recipients() -> None:
    result = route(RoutingInput(S, "sam.patel"), DIR)
    assert [r.person_id for r in result.escalation] == ["amira.okafor", "helen.ward", "marcus.bell"]
    abuse = route(RoutingInput(A, "sam.patel"), DIR)
    assert [r.person_id for r in abuse.escalation] == ["helen.ward", "marcus.bell", "amira.okafor"]


def test_nobody_eligible_goes_to_the_fallback() -> None:
    rules = [Rule(OTHER, ("chair_of_governors",), escalate=())]
    result = route(RoutingInput(OTHER, "sam.patel", "david.hughes"), _without_substitutes(), rules)
    assert list(result.person_ids) == ["amira.okafor", "helen.ward", "marcus.bell"]
    assert all(r.reason.startswith("fallback: ") for r in result.recipients)


def test_fallback_excluded_too_goes_to_case_administrators() -> None:
    data = {
        "roles": {"hr": "HR", "dsl": "DSL"},
        "people": [
            {"id": "a", "name": "A", "roles": ["hr"]},
            {"id": "b", "name": "B", "manager": "a"},
            {"id": "admin", "name": "Admin"},
        ],
        "routing": {"fallback": ["hr"], "case_administrators": ["admin", "a"], "substitutes": {"hr": []}},
        "rules": [{"category": c.value, "to": ["hr"], "escalate": []} for c in Category],
    }
    directory, _problems = parse_directory(data)
    assert directory is not None
    result = route(RoutingInput(B, "b", "a"), directory)
    assert list(result.person_ids) == ["admin"]


def test_never_to_the_subject_nor_back_to_the_reporter_for_any_pair() -> None:
    ids = list(DIR.people)
    for category, reporter, subject, children, hr in itertools.product(
        Category, [*ids, None], [*ids, None], (False, True), (False, True)
    ):
        if reporter is not None and reporter == subject:
            continue
        result = route(RoutingInput(category, reporter, subject, children, hr), DIR)
        assert result.recipients, (category, reporter, subject)
        everyone = set(result.person_ids) | {r.person_id for r in result.escalation}
        assert subject not in everyone and reporter not in everyone, (category, reporter, subject)


def _without_substitutes() -> Directory:
    return Directory(
        organisation=DIR.organisation,
        people={k: v for k, v in DIR.people.items()},
        roles=DIR.roles,
        rules=DIR.rules,
        substitutes={},
        fallback=DIR.fallback,
        case_administrators=DIR.case_administrators,
    )


def test_person_targets_route_to_that_person() -> None:
    directory = Directory(
        organisation="x",
        people={"p": Person("p", "P"), "q": Person("q", "Q")},
        roles={},
        rules=(Rule(OTHER, ("person:q",), escalate=()),),
        fallback=("person:p",),
    )
    assert route(RoutingInput(OTHER, "p"), directory).person_ids == ("q",)
    assert (
        route(RoutingInput(OTHER, "p", "q"), directory).person_ids == ()
    )  # nobody: p reported, q is the subject


def test_deputy_dsl_as_subject_is_replaced_by_the_dsl() -> None:
    rules = [Rule(S, ("deputy_dsl",), escalate=())]
    result = route(RoutingInput(S, "sam.patel", "tom.reid"), DIR, rules)
    assert list(result.person_ids) == ["priya.shah"]
    assert result.recipients[0].reason == "dsl (instead of deputy_dsl, who is the subject of the report)"
