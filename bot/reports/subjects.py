"""Who a report may be about, from the words typed: so a subject typed rather than picked never hears of it.

A reporter who writes "Priya Shah, the DSL" in "who is it about" (or "our head has been ...") instead of
choosing from the directory must be kept from the case exactly like a picked subject. ``possible_subjects`` is a
pure function of the typed text, the directory and the reporter; each person found comes with why (a kind of
match, never the matched words, which are not stored in clear).

What counts as naming someone, and why (a false positive costs a re-route to a substitute and a flag for a case
administrator; a false negative tells the subject, so doubtful cases are excluded, but common words are not):

* full name, first + last name, any alias listed in the directory, a chat mention or an email address:
  always (whole words, any case);
* a title and surname ("Mrs Shah", "Mr Reid"): everyone with that surname;
* a first name alone: everyone with that first name. A first name that is also an ordinary English word
  ("Grace", "Will", "Rose") counts only when written with a capital letter;
* job titles from the directory ("the school business manager", "Year 4 teacher") and role words: "DSL",
  "safeguarding lead", "deputy DSL", "headteacher", "chair of governors", "my manager" (the reporter's line
  manager). The longest phrase wins, so "deputy DSL" is not also the DSL and "deputy head" not the head;
* "the head" / "our head" only as a person: not followed by "of", "injury", "lice", ... and not after "on",
  "in", "over" ... or a verb of striking ("on the head", "hit the head"); "head" alone never. ("A blow to
  the head" still counts: "told the head" / "to the head" is far more often the headteacher.)

Bare "HR" is not a subject: reporters write "please tell HR" far more often than about HR staff, and HR
officers are matched by name or job title. Excluding everyone is impossible here: routing's substitutes,
fallback and case administrators still apply to whoever is left.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.reports.directory import Directory, Person
from bot.reports.model import Category
from bot.reports.routing import RoutingInput, role_phrase, route, went_to

__all__ = ["PossibleSubject", "possible_subjects", "safeguarding_route"]


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


#: Words that are also first names: only a capitalised use names a person.
_COMMON_WORDS = _set(
    """
    grace will rose mark bill frank jack may faith hope joy dawn summer sunny ray pat guy bob carol
    holly ivy iris lily amber april june august autumn crystal destiny eve gay honey jay jean max
    miles nick rich rob sandy sue sky victor wade art bud chance chase dean drew earl gene glen hazel
    heather kit lane lee major mercy noble page pearl penny reed robin royal ruby sage scott star
    taylor terry violet wren
    """
)
_HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "sir", "madam", "prof", "mister", "missus"})
#: Role words -> directory role. Matched as whole-word phrases, longest first.
_ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "dsl": (
        "dsl",
        "designated safeguarding lead",
        "safeguarding lead",
        "designated safeguarding officer",
        "safeguarding officer",
        "designated safeguarding person",
        "designated person",
    ),
    "deputy_dsl": (
        "deputy dsl",
        "ddsl",
        "deputy designated safeguarding lead",
        "deputy safeguarding lead",
        "deputy safeguarding officer",
        "deputy designated safeguarding officer",
    ),
    "headteacher": (
        "headteacher",
        "head teacher",
        "headmaster",
        "headmistress",
        "head master",
        "head mistress",
        "executive head",
        "executive headteacher",
    ),
    "chair_of_governors": (
        "chair of governors",
        "chair of the governors",
        "chair of the governing body",
        "chair of the board of governors",
        "governors chair",
        "chair of trustees",
    ),
    "whistleblowing": ("whistleblowing officer",),
    "health_and_safety": ("health and safety lead", "health and safety officer"),
    "data_protection": ("data protection lead", "data protection officer", "dpo"),
}
_MANAGER_WORDS = ("my manager", "my line manager", "my boss", "my supervisor", "my team leader")
#: Role words too common as destinations to mean the subject ("please tell HR").
_NOT_SUBJECT_ROLES = frozenset({"hr", "human resources", "policy owner"})
#: A job title (or role label) names a person only with one of these words: "health and safety" alone is a
#: topic, "health and safety lead" is someone.
_PERSON_NOUNS = _set(
    """teacher headteacher head manager officer lead leader assistant administrator deputy chair governor
    governors coordinator senco caretaker secretary clerk bursar director tutor principal technician mentor
    nurse cook cleaner receptionist librarian dsl ddsl trustee supervisor"""
)
_HEAD_DETERMINERS = frozenset({"the", "our", "your"})
_HEAD_NOT_AFTER = _set(
    """on in over around across behind onto upon hit hits hitting banged bang bumped bump bumps struck strike
    punched punch kicked kick slapped slap knocked knock smacked smack cut hurt injured"""
)
_HEAD_NOT_BEFORE = _set(
    """of injury injuries wound wounds lice louse ache aches first down up start count torch boy girl girls boys"""
)
_WORD = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True, slots=True)
class PossibleSubject:
    """Someone the report may be about, and the kind of match (never the words matched)."""

    person_id: str
    why: str
    #: Named in the "who is it about" field (rather than only mentioned in the description).
    in_who_field: bool


@dataclass(frozen=True, slots=True)
class _Word:
    lower: str
    capitalised: bool


def possible_subjects(
    description: str,
    who: str,
    directory: Directory,
    reporter_person_id: str | None = None,
) -> tuple[PossibleSubject, ...]:
    """Everyone the typed ``description`` and ``who`` fields may name as the subject (the reporter excepted)."""
    found: dict[str, PossibleSubject] = {}
    for text, in_who in ((who, True), (description, False)):
        if not text:
            continue
        for person_id, why in _matches(text, directory, reporter_person_id):
            if person_id == reporter_person_id:
                continue
            known = found.get(person_id)
            if known is None or (in_who and not known.in_who_field):
                found[person_id] = PossibleSubject(person_id, why, in_who)
    return tuple(found[p] for p in sorted(found))


def _words(text: str) -> list[_Word]:
    return [_Word(t.lower(), t[0].isupper()) for t in _WORD.findall(text)]


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in _WORD.findall(text))


def _matches(text: str, directory: Directory, reporter_person_id: str | None) -> list[tuple[str, str]]:
    words = _words(text)
    lowered = [w.lower for w in words]
    out: list[tuple[str, str]] = []
    # Chat mentions and email addresses, then phrases, longest first, each span used once.
    raw = text.lower()
    for person in directory.people.values():
        if person.slack_id and person.slack_id.lower() in raw:
            out.append((person.id, "chat mention"))
        if person.email and person.email.lower() in raw:
            out.append((person.id, "email address"))
    grouped: dict[tuple[str, ...], tuple[list[str], str]] = {}
    for phrase, ids, why in _phrases(directory, reporter_person_id):
        people, _ = grouped.setdefault(phrase, ([], why))
        people += [p for p in ids if p not in people]
    used = [False] * len(words)
    for phrase, (people, why) in sorted(grouped.items(), key=lambda item: -len(item[0])):
        n = len(phrase)
        for i in range(len(words) - n + 1):
            if any(used[i : i + n]) or tuple(lowered[i : i + n]) != phrase:
                continue
            if why == "first name" and not _names_person(words, i):
                continue
            for pid in people:
                out.append((pid, why))
            for j in range(i, i + n):
                used[j] = True
    out += [(p, "role word: the head") for p in _the_head(words, used, directory)]
    return out


def _names_person(words: list[_Word], i: int) -> bool:
    """A first name that is also a common word names someone only when capitalised (even at the start of a
    sentence: "Grace shouted at me" must count; "Grace period" is rare in a report)."""
    word = words[i]
    return word.lower not in _COMMON_WORDS or word.capitalised


def _phrases(
    directory: Directory, reporter_person_id: str | None
) -> Iterable[tuple[tuple[str, ...], tuple[str, ...], str]]:
    """(words, people, why) for every way of naming someone this directory supports."""
    people = list(directory.people.values())
    by_first: dict[str, list[str]] = {}
    by_last: dict[str, list[str]] = {}
    for person in people:
        names = _phrase(person.name)
        if names:
            yield names, (person.id,), "full name"
            if len(names) > 2:
                yield (names[0], names[-1]), (person.id,), "first and last name"
            by_first.setdefault(names[0], []).append(person.id)
            if len(names) > 1:
                by_last.setdefault(names[-1], []).append(person.id)
        for alias in person.aliases:
            if _phrase(alias):
                yield _phrase(alias), (person.id,), "alias"
        yield from _titles(person)
    for first, ids in by_first.items():
        if len(first) > 1:
            yield (first,), tuple(ids), "first name"
    for last, ids in by_last.items():
        for honorific in _HONORIFICS:
            yield (honorific, last), tuple(ids), "title and surname"
    for role, words in _ROLE_WORDS.items():
        holders = tuple(p.id for p in directory.holders(role))
        if holders:
            for word in words:
                yield _phrase(word), holders, f"role word: {role}"
    for role, label in directory.roles.items():
        named = _phrase(label.split("(")[0])
        holders = tuple(p.id for p in directory.holders(role))
        if holders and _names_someone(named):
            yield named, holders, f"role word: {role}"
    manager = _manager(directory, reporter_person_id)
    if manager is not None:
        for word in _MANAGER_WORDS:
            yield _phrase(word), (manager.id,), "role word: line manager"


def _titles(person: Person) -> Iterable[tuple[tuple[str, ...], tuple[str, ...], str]]:
    """A job title's parts: "Head of Key Stage 2 and Deputy DSL" -> "head of key stage 2", "deputy dsl"."""
    for part in re.split(r"\band\b(?![^(]*\))|[(),;/]", person.title, flags=re.IGNORECASE):
        phrase = _phrase(part)
        if _names_someone(phrase) and phrase != ("head",):
            yield phrase, (person.id,), "job title"
        if phrase[:1] == ("deputy",) and ("headteacher" in phrase or "head" in phrase):
            yield ("deputy", "head"), (person.id,), "job title"


def _names_someone(phrase: tuple[str, ...]) -> bool:
    return bool(set(phrase) & _PERSON_NOUNS) and " ".join(phrase) not in _NOT_SUBJECT_ROLES


def _manager(directory: Directory, reporter_person_id: str | None) -> Person | None:
    reporter = directory.person(reporter_person_id or "")
    return directory.person(reporter.manager) if reporter and reporter.manager else None


def _the_head(words: list[_Word], used: list[bool], directory: Directory) -> list[str]:
    """ "the head" / "our head" as a person (see the module docstring), not yet part of a longer phrase."""
    holders = [p.id for p in directory.holders("headteacher")]
    for i, word in enumerate(words):
        if word.lower != "head" or used[i] or i == 0 or words[i - 1].lower not in _HEAD_DETERMINERS:
            continue
        before = words[i - 2].lower if i >= 2 else ""
        after = words[i + 1].lower if i + 1 < len(words) else ""
        if before in _HEAD_NOT_AFTER or after in _HEAD_NOT_BEFORE:
            continue
        if after == "s" and i + 2 < len(words) and words[i + 2].lower in _HEAD_NOT_BEFORE:
            continue
        return holders
    return []


def safeguarding_route(
    directory: Directory, text: str, sender: str | None
) -> tuple[Person, str, tuple[str, ...]] | None:
    """Who an urgent message should name: the first person a safeguarding report of ``text`` would reach
    (never anyone the text may be about, nor the sender), their role, and every role it would reach."""
    named = frozenset(p.person_id for p in possible_subjects(text, "", directory, sender))
    routed = route(
        RoutingInput(category=Category.SAFEGUARDING, reporter_person_id=sender, possible_subjects=named),
        directory,
    )
    first = next((directory.person(r.person_id) for r in routed.recipients), None)
    if first is None:
        return None
    return first, role_phrase(routed.recipients[0].role, directory), went_to(routed, directory)
