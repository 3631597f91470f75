"""The subject never learns of the report: people named in words (names, aliases, role words) are kept from the
case like a picked subject: never a recipient, never in the escalation chain, never named in the reply or in
urgent guidance; the case is flagged (sealed) for a case administrator. Table over every role of the example
directory, in words and from the picker; the matcher's false-positive rules; and the whole path through the
case service on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import make_settings
from sqlalchemy import select

from bot.channels.services import routed_safeguarding_contact, safeguarding_contact
from bot.config import Settings
from bot.domain import Channel
from bot.errors import NotFound
from bot.reports import EventKind, Reporter, Reports, Submission, open_reports
from bot.reports.directory import Person
from bot.reports.directory_file import load_directory, parse_directory
from bot.reports.model import Category, Receipt
from bot.reports.notify import ConsoleNotifier
from bot.reports.routing import RoutingInput, role_phrase, route, went_to
from bot.reports.subjects import possible_subjects, safeguarding_route
from bot.storage.schema import case_events, case_recipients, cases, outbox
from tests.web_helpers import INDEX_CACHE, cached_core_var_dir, page, web_client

if INDEX_CACHE:
    core_var_dir = cached_core_var_dir

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "deploy" / "directory.example.toml"
DIR = load_directory(EXAMPLE)

# (role, holder, category where that role would receive the case, reporter, words naming the holder)
ROLES: list[tuple[str, str, Category, str, tuple[str, ...]]] = [
    ("headteacher", "amira.okafor", Category.CONDUCT_ONLINE, "sam.patel",
     ("Amira Okafor", "our head", "the headteacher", "Mrs Okafor", "the Head")),
    ("dsl", "priya.shah", Category.SAFEGUARDING, "sam.patel",
     ("Priya Shah, the DSL", "our DSL", "the designated safeguarding lead", "Priya", "the deputy head")),
    ("deputy_dsl", "tom.reid", Category.SAFEGUARDING, "sam.patel",
     ("Tom Reid", "the deputy DSL", "Mr Reid", "the head of key stage 2", "Mr T")),
    ("chair_of_governors", "david.hughes", Category.WRONGDOING, "sam.patel",
     ("David Hughes", "the chair of governors", "Mr Hughes")),
    ("whistleblowing", "david.hughes", Category.WRONGDOING, "sam.patel", ("the whistleblowing officer",)),
    ("hr", "helen.ward", Category.COLLEAGUE_BULLYING, "sam.patel", ("Helen Ward", "the HR manager")),
    ("hr", "marcus.bell", Category.COLLEAGUE_BULLYING, "sam.patel", ("Marcus Bell", "the HR officer")),
    ("policy_owner", "marcus.bell", Category.ONLINE_ABUSE, "sam.patel", ("Marcus", "Mr Bell")),
    ("health_and_safety", "grace.lee", Category.HEALTH_AND_SAFETY, "sam.patel",
     ("Grace Lee", "the school business manager", "the health and safety lead", "Grace")),
    ("data_protection", "grace.lee", Category.DATA_BREACH, "olivia.green",
     ("the data protection lead", "my manager", "Ms Lee")),
    ("line_manager", "jo.evans", Category.OTHER, "sam.patel", ("my manager", "my line manager", "Jo Evans")),
    ("line_manager", "tom.reid", Category.OTHER, "lucy.brown", ("my boss", "Tom")),
]  # fmt: skip

CASES = [
    pytest.param(role, holder, category, reporter, words, where, id=f"{role}-{holder}-{where}-{words}")
    for role, holder, category, reporter, all_words in ROLES
    for words in all_words
    for where in ("who", "description")
] + [
    pytest.param(role, holder, category, reporter, "", "picker", id=f"{role}-{holder}-picker")
    for role, holder, category, reporter, _ in ROLES
]


def _routing(category: Category, reporter: str, description: str, who: str, picked: str | None) -> Any:
    named = possible_subjects(description, who, DIR, reporter)
    case = RoutingInput(
        category=category,
        reporter_person_id=reporter,
        subject_person_id=picked,
        possible_subjects=frozenset(p.person_id for p in named),
        named_staff_subject=any(p.in_who_field for p in named),
    )
    return named, route(case, DIR)


@pytest.mark.parametrize(("role", "holder", "category", "reporter", "words", "where"), CASES)
def test_every_role_as_subject_is_never_a_recipient(
    role: str, holder: str, category: Category, reporter: str, words: str, where: str
) -> None:
    # The holder would receive this case if it were about someone else.
    assert holder in route(RoutingInput(category, reporter_person_id=reporter), DIR).person_ids or role in (
        "policy_owner",
        "hr",
        "chair_of_governors",
        "whistleblowing",
        "line_manager",
    )
    description = (
        f"I am worried about {words} and what was said." if where == "description" else "It happened."
    )
    who = words if where == "who" else ""
    named, routed = _routing(category, reporter, description, who, holder if where == "picker" else None)
    if where != "picker":
        assert holder in {p.person_id for p in named}, named
    assert routed.recipients, "never excluded everyone"
    assert holder not in routed.person_ids
    assert holder not in {r.person_id for r in routed.escalation}
    person = DIR.person(holder)
    assert person is not None
    told = Receipt("R-0000-0000", category, len(routed.recipients), True, went_to(routed, DIR)).to_whom
    assert person.name not in told and person.name.split()[0] not in told
    # The reply names roles that someone other than the subject actually holds for this case.
    holders_roles = {role_phrase(r.role, DIR) for r in routed.recipients}
    assert set(went_to(routed, DIR)) == holders_roles


@pytest.mark.parametrize(
    "text",
    [
        "A child fell in the playground and hit the head on the bench; a head injury.",
        "He banged his head on the door and the head of year was told.",
        "Thank you for your grace in this.",
        "Please also tell HR about this.",
        "I slipped on a wet floor at the premises: a health and safety issue.",
        "My head hurts after the data protection training.",
        "Some personal data was sent to the wrong parent.",
    ],
)
def test_common_words_name_nobody(text: str) -> None:
    assert possible_subjects(text, "", DIR, "sam.patel") == ()


def test_longest_phrase_wins_and_reporter_is_never_their_own_subject() -> None:
    found = {
        p.person_id for p in possible_subjects("the deputy DSL and the deputy head", "", DIR, "sam.patel")
    }
    assert found == {"tom.reid", "priya.shah"}  # not also the DSL for "deputy DSL", nor the head
    assert possible_subjects("Sam Patel, me", "", DIR, "sam.patel") == ()
    # "my manager" depends on who reports.
    assert {p.person_id for p in possible_subjects("my manager", "", DIR, "ahmed.karim")} == {"jo.evans"}
    assert possible_subjects("my manager", "", DIR, None) == ()


def _directory(extra_people: list[dict[str, Any]]) -> Any:
    data = {
        "organisation": {"name": "Test school"},
        "roles": {"headteacher": "Headteacher", "dsl": "Designated Safeguarding Lead", "hr": "HR"},
        "people": [
            {"id": "head", "name": "Ann Head", "roles": ["headteacher"]},
            {"id": "dsl.one", "name": "Tom Ash", "roles": ["dsl"], "aliases": ["Mr T"]},
            {"id": "hr.one", "name": "Rose Oak", "roles": ["hr"]},
            *extra_people,
        ],
        "routing": {"fallback": ["headteacher"], "case_administrators": ["head"]},
    }
    directory, problems = parse_directory(data)
    assert directory is not None, problems
    return directory


def test_aliases_and_shared_first_names_lean_to_excluding() -> None:
    directory = _directory([{"id": "tom.two", "name": "Tom Birch", "roles": []}])
    assert directory.person("dsl.one").aliases == ("Mr T",)
    assert {p.person_id for p in possible_subjects("It was Mr T again", "", directory, None)} == {"dsl.one"}
    # A first name alone that two people share: both are kept from the case (a re-route costs little).
    assert {p.person_id for p in possible_subjects("Tom shouted at a pupil", "", directory, None)} == {
        "dsl.one",
        "tom.two",
    }
    # A first name that is a common word counts only when written as a name.
    assert {p.person_id for p in possible_subjects("Rose said no", "", directory, None)} == {"hr.one"}
    assert possible_subjects("the rose garden", "", directory, None) == ()


def test_bad_aliases_are_a_directory_problem() -> None:
    data = {
        "organisation": {"name": "x"},
        "roles": {"dsl": "DSL"},
        "people": [{"id": "a", "name": "A B", "roles": ["dsl"], "aliases": "not a list"}],
    }
    _, problems = parse_directory(data)
    assert any(p.entry == "people[a].aliases" for p in problems)


def test_naming_everyone_still_leaves_someone() -> None:
    everyone = ", ".join(p.name for p in DIR.people.values())
    _, routed = _routing(Category.SAFEGUARDING, "sam.patel", everyone, everyone, None)
    assert routed.recipients and all(r.person_id in DIR.case_administrators for r in routed.recipients)


@pytest.mark.parametrize(
    ("text", "subject", "expected"),
    [
        ("Priya Shah, the DSL, hurt a child in her office", "priya.shah", "tom.reid"),
        ("The deputy DSL Tom Reid is grooming a pupil", "tom.reid", "priya.shah"),
        ("our DSL and the deputy DSL both hit a child", "priya.shah", "amira.okafor"),
    ],
)
def test_urgent_guidance_names_who_a_report_would_reach(text: str, subject: str, expected: str) -> None:
    found = safeguarding_route(DIR, text, "sam.patel")
    assert found is not None and found[0].id == expected
    contact = routed_safeguarding_contact(DIR).for_message(text, "sam.patel")
    subject_person = DIR.person(subject)
    assert subject_person is not None
    assert subject_person.name not in contact.name and subject_person.name not in contact.reaches
    assert (subject_person.email or "") not in contact.how
    # Without a subject in the words, the DSL as before.
    plain = routed_safeguarding_contact(DIR).for_message("A pupil says her uncle hits her", "sam.patel")
    assert plain.name == safeguarding_contact(DIR).name == "the Designated Safeguarding Lead, Priya Shah"
    assert plain.reaches == "the Designated Safeguarding Lead and the Deputy Designated Safeguarding Lead"


# --- through the case service (SQLite and PostgreSQL) ------------------------------------------------------
SAM = Reporter(Channel.SLACK, "U0SAM0001", "sam.patel")


@pytest.fixture
async def reports(settings: Settings, tmp_path: Path) -> AsyncIterator[Reports]:
    opened = await open_reports(settings, notifiers=[ConsoleNotifier(tmp_path / "notices.log")])
    yield opened
    await opened.close()


def _person(reports: Reports, pid: str) -> Person:
    found = reports.directory.person(pid)
    assert found is not None
    return found


async def test_typed_dsl_is_kept_from_case_notices_escalation_and_listing(reports: Reports) -> None:
    receipt = await reports.service.submit(
        Submission(
            category="safeguarding",
            description="She took a pupil home in her car without telling anyone.",
            subject_text="Priya Shah, the DSL",
        ),
        SAM,
        idempotency_key="k1",
    )
    assert "Priya" not in receipt.to_whom and "Designated Safeguarding Lead" not in receipt.to_whom.replace(
        "Deputy Designated Safeguarding Lead", ""
    )
    async with reports.db.transaction() as conn:
        row = (await conn.execute(select(cases).where(cases.c.reference == receipt.reference))).one()
        recipients = (
            await conn.execute(select(case_recipients).where(case_recipients.c.case_id == row.id))
        ).all()
        notices = (await conn.execute(select(outbox.c.recipient).where(outbox.c.case_id == row.id))).all()
        events = (await conn.execute(select(case_events).where(case_events.c.case_id == row.id))).all()
    ids = {r.person_id for r in recipients}
    assert "priya.shah" not in ids and ids, ids
    assert "priya.shah" not in {n.recipient for n in notices}
    assert "priya.shah" not in {c["person_id"] for c in row.escalation_chain}
    # Stored in clear: roles only; the reasons and the flag are sealed.
    clear = json.dumps([dict(e.data or {}) for e in events]) + json.dumps(row.escalation_chain)
    clear += " ".join(r.reason for r in recipients)
    assert "instead of" not in clear and "subject" not in clear and "priya" not in clear.lower()
    flags = [e for e in events if e.kind == EventKind.POSSIBLE_SUBJECT.value]
    assert len(flags) == 1 and flags[0].data == {"count": 1} and flags[0].text_enc
    assert "priya" not in flags[0].text_enc.lower()
    # Priya is a case administrator: still she cannot list or open a case that may be about her.
    priya = _person(reports, "priya.shah")
    assert receipt.reference not in {c.reference for c in await reports.service.cases_for(priya)}
    with pytest.raises(NotFound):
        await reports.service.show(receipt.reference, priya)
    # The other administrator sees the flag and the whole reasons, decrypted.
    view = await reports.service.show(receipt.reference, _person(reports, "helen.ward"))
    assert view.possible_subjects == (("priya.shah", "full name"),)
    flag = next(e for e in view.chronology if e.kind is EventKind.POSSIBLE_SUBJECT)
    assert flag.data["possible_subjects"] == [{"person_id": "priya.shah", "why": "full name"}]
    assert any("instead of dsl, who may be the subject" in r.reason for r in view.recipients), view.recipients


async def test_picked_subject_reason_is_sealed_and_shown_decrypted(reports: Reports) -> None:
    receipt = await reports.service.submit(
        Submission(
            category="conduct_online", description="Posted pupils' photos.", subject_person_id="amira.okafor"
        ),
        SAM,
        idempotency_key="k2",
    )
    assert receipt.to_whom == "the Chair of governors"
    async with reports.db.transaction() as conn:
        reasons = (await conn.execute(select(case_recipients.c.reason))).scalars().all()
    assert reasons == ["chair_of_governors"]
    view = await reports.service.show(receipt.reference, _person(reports, "david.hughes"))
    assert (
        view.recipients[0].reason
        == "chair_of_governors (instead of headteacher, who is the subject of the report)"
    )
    assert view.possible_subjects == ()
    routed = next(e for e in view.chronology if e.kind is EventKind.ROUTED)
    assert routed.data["reason"].startswith("chair_of_governors (instead of headteacher")


def test_receipt_wording() -> None:
    base = Receipt("R-0000-0000", Category.OTHER, 2, True)
    assert base.to_whom == "the people who handle this kind of concern"
    both = dataclasses.replace(base, went_to=("the Headteacher", "the Designated Safeguarding Lead", "HR"))
    assert both.to_whom == "the Headteacher, the Designated Safeguarding Lead and HR"


@pytest.mark.slow
async def test_console_urgent_box_never_names_the_dsl_it_is_about(tmp_path: Path, assistant: Any) -> None:
    settings = make_settings(tmp_path / "var", None)
    async with web_client(settings, assistant) as (client, _):
        _, csrf = await page(client, "/")
        text = "A child just told me Priya Shah, our DSL, hits them and they are scared to go home tonight"
        html = await (await client.post("/console/ask", data={"csrf": csrf, "text": text})).text()
        urgent = re.search(r'<div class="urgent" role="alert"><strong>(.*?)</strong>', html, re.S)
        assert urgent and "999" in urgent.group(1), html[:500]
        assert "Tom Reid" in urgent.group(1) and "Deputy Designated Safeguarding Lead" in urgent.group(1)
        assert "Priya" not in urgent.group(1) and "priya.shah@" not in html
        assert "it goes to the Deputy Designated Safeguarding Lead, never to the person it is about" in html
