"""Routing: a pure function of (case, directory, rules) deciding who receives a case and who is next in line.

Never to the person the case is about, nor to anyone the report's words may name as its subject
(``possible_subjects``, found by ``bot.reports.subjects``), nor back to the reporter: when every holder of a
target is excluded, the target's substitutes stand in (line manager -> HR, DSL -> deputy DSL, headteacher ->
chair of governors); when nobody at all is eligible, the configured fallback, then the case administrators.
Nobody is ever left without a recipient by words alone: if the words named every case administrator too, the
administrators who are only possibly named receive it (never the picked subject, never the reporter).

Each ``Routed`` carries the role it holds the case for: that is what is stored in clear (``public_reason``) and
what the reporter is told (``went_to``); the whole reason, which can say who was passed over, is sealed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.reports.directory import LINE_MANAGER, PERSON_PREFIX, Directory, Person, Rule
from bot.reports.model import Category

__all__ = [
    "Route",
    "Routed",
    "RoutingInput",
    "public_reason",
    "role_phrase",
    "route",
    "stored_role",
    "went_to",
]

#: ``Routed.role`` of a case administrator chosen because nobody else was eligible.
CASE_ADMINISTRATOR = "case_administrator"


@dataclass(frozen=True, slots=True)
class RoutingInput:
    """The facts of a case routing may use (no free text)."""

    category: Category
    reporter_person_id: str | None = None
    subject_person_id: str | None = None
    concerns_children: bool = False
    tell_hr: bool = False
    #: People the report's words may be about (typed names, aliases, role words): excluded like the subject.
    possible_subjects: frozenset[str] = frozenset()
    #: True when a possible subject was named in the "who is it about" field (a member of staff, then).
    named_staff_subject: bool = False

    @property
    def excluded_subjects(self) -> frozenset[str]:
        """Everyone routing must keep the case from because it may be about them."""
        picked = {self.subject_person_id} if self.subject_person_id else set()
        return frozenset(picked | set(self.possible_subjects))


@dataclass(frozen=True, slots=True)
class Routed:
    """One person and why they receive the case (the reason is shown, decrypted, in the chronology)."""

    person_id: str
    reason: str
    #: The target they hold the case for ("dsl", "line_manager", "case_administrator"): says nothing of
    #: who was passed over, so it is what is stored in clear and what replies name.
    role: str = ""


@dataclass(frozen=True, slots=True)
class Route:
    recipients: tuple[Routed, ...]
    #: Who to add, in order, when nobody acknowledges in time or a notice cannot be delivered.
    escalation: tuple[Routed, ...]
    rule: str

    @property
    def person_ids(self) -> tuple[str, ...]:
        return tuple(r.person_id for r in self.recipients)


def route(case: RoutingInput, directory: Directory, rules: Sequence[Rule] | None = None) -> Route:
    """Who gets ``case`` under ``rules`` (default: the directory's)."""
    rules = directory.rules if rules is None else rules
    subject_is_staff = case.named_staff_subject or (
        case.subject_person_id is not None and case.subject_person_id in directory.people
    )
    rule = next(
        (
            r
            for r in rules
            if r.matches(
                case.category, subject_is_staff=subject_is_staff, concerns_children=case.concerns_children
            )
        ),
        None,
    )
    excluded = set(case.excluded_subjects) | ({case.reporter_person_id} if case.reporter_person_id else set())
    resolver = _Resolver(directory, case, excluded)
    targets = list(rule.to if rule else ())
    if rule and case.tell_hr:
        targets += rule.on_request
    recipients = resolver.many(targets)
    if not recipients:
        recipients = resolver.many(directory.fallback, reason_prefix="fallback: ")
    if not recipients:
        recipients = _unique(
            Routed(a, "case administrator (nobody else eligible)", CASE_ADMINISTRATOR)
            for a in directory.case_administrators
            if a not in excluded
        )
    if not recipients:
        # The words named everyone who could take it: excluding them all would leave the case with nobody.
        # Only a possible subject (never the one picked, nor the reporter) is better than nobody.
        certain = {p for p in (case.subject_person_id, case.reporter_person_id) if p}
        recipients = _unique(
            Routed(
                a, "case administrator (nobody else eligible; may be named in the report)", CASE_ADMINISTRATOR
            )
            for a in directory.case_administrators
            if a not in certain
        )
    chosen = {r.person_id for r in recipients}
    chain = resolver.many(rule.escalate if rule else ()) + resolver.many(
        directory.fallback, reason_prefix="fallback: "
    )
    escalation = tuple(r for r in _unique(chain) if r.person_id not in chosen)
    return Route(recipients=recipients, escalation=escalation, rule=rule.name if rule else "no matching rule")


class _Resolver:
    def __init__(self, directory: Directory, case: RoutingInput, excluded: set[str]) -> None:
        self._dir = directory
        self._case = case
        self._excluded = excluded

    def many(self, targets: Sequence[str], *, reason_prefix: str = "") -> tuple[Routed, ...]:
        out: list[Routed] = []
        for target in targets:
            out += self.one(target, reason=reason_prefix + _label(target), seen=frozenset({target}))
        return _unique(out)

    def one(self, target: str, *, reason: str, seen: frozenset[str]) -> list[Routed]:
        """Holders of ``target`` who may receive the case, else the first substitute that has some."""
        holders = self._holders(target)
        eligible = [p for p in holders if p.id not in self._excluded]
        if eligible:
            return [Routed(p.id, reason, target) for p in eligible]
        if not holders:
            why = "is not in the directory"
        elif any(p.id == self._case.subject_person_id for p in holders):
            why = "is the subject of the report"
        elif any(p.id in self._case.possible_subjects for p in holders):
            why = "may be the subject of the report"
        else:
            why = "made the report"
        for substitute in self._dir.substitutes.get(target, ()):
            if substitute in seen:
                continue
            found = self.one(
                substitute,
                reason=f"{_label(substitute)} (instead of {_label(target)}, who {why})",
                seen=seen | {substitute},
            )
            if found:
                return found
        return []

    def _holders(self, target: str) -> tuple[Person, ...]:
        if target == LINE_MANAGER:
            reporter = self._dir.person(self._case.reporter_person_id or "")
            manager = self._dir.person(reporter.manager) if reporter and reporter.manager else None
            return (manager,) if manager else ()
        if target.startswith(PERSON_PREFIX):
            person = self._dir.person(target[len(PERSON_PREFIX) :])
            return (person,) if person else ()
        return self._dir.holders(target)


def role_phrase(role: str, directory: Directory) -> str:
    """How a reply names a role: "the Designated Safeguarding Lead", "your line manager", "HR"."""
    if role == LINE_MANAGER:
        return "your line manager"
    if role == CASE_ADMINISTRATOR:
        return "a case administrator"
    if role.startswith(PERSON_PREFIX) or not role:
        return "a named contact"
    label = directory.roles.get(role, role.replace("_", " ")).split("(")[0].strip()
    first = label.split()[0] if label.split() else ""
    return label if first.isupper() else f"the {label}"


def public_reason(routed: Routed) -> str:
    """What may be stored in clear: the role the case is held for, never who was passed over and why."""
    if routed.role == CASE_ADMINISTRATOR:
        return "case administrator"
    return _label(routed.role) if routed.role else routed.reason


def stored_role(reason: str, directory: Directory) -> str:
    """The role behind a reason stored in clear (``public_reason``), for naming it again later."""
    if reason == "line manager":
        return LINE_MANAGER
    if reason == "case administrator":
        return CASE_ADMINISTRATOR
    role = reason.removeprefix("fallback: ")
    return role if role in directory.roles else ""


def went_to(result: Route, directory: Directory) -> tuple[str, ...]:
    """The roles a case went to, in order, once each: what the reporter is told (never a name)."""
    return tuple(dict.fromkeys(role_phrase(r.role, directory) for r in result.recipients))


def _label(target: str) -> str:
    if target == LINE_MANAGER:
        return "line manager"
    return target.removeprefix(PERSON_PREFIX)


def _unique(items: Iterable[Routed]) -> tuple[Routed, ...]:
    seen: set[str] = set()
    out: list[Routed] = []
    for item in items:
        if item.person_id not in seen:
            seen.add(item.person_id)
            out.append(item)
    return tuple(out)
