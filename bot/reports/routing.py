"""Routing: a pure function of (case, directory, rules) deciding who receives a case and who is next in line.

Never to the person the case is about (nor back to the reporter): when every holder of a target is excluded,
the target's substitutes stand in (line manager -> HR, DSL -> deputy DSL, headteacher -> chair of governors);
when nobody at all is eligible, the configured fallback, then the case administrators.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.reports.directory import LINE_MANAGER, PERSON_PREFIX, Directory, Person, Rule
from bot.reports.model import Category

__all__ = ["Route", "Routed", "RoutingInput", "route"]


@dataclass(frozen=True, slots=True)
class RoutingInput:
    """The facts of a case routing may use (no free text)."""

    category: Category
    reporter_person_id: str | None = None
    subject_person_id: str | None = None
    concerns_children: bool = False
    tell_hr: bool = False


@dataclass(frozen=True, slots=True)
class Routed:
    """One person and why they receive the case (the reason is shown in the chronology)."""

    person_id: str
    reason: str


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
    subject_is_staff = case.subject_person_id is not None and case.subject_person_id in directory.people
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
    excluded = {p for p in (case.subject_person_id, case.reporter_person_id) if p}
    resolver = _Resolver(directory, case, excluded)
    targets = list(rule.to if rule else ())
    if rule and case.tell_hr:
        targets += rule.on_request
    recipients = resolver.many(targets)
    if not recipients:
        recipients = resolver.many(directory.fallback, reason_prefix="fallback: ")
    if not recipients:
        recipients = _unique(
            Routed(a, "case administrator (nobody else eligible)")
            for a in directory.case_administrators
            if a not in excluded
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
            return [Routed(p.id, reason) for p in eligible]
        if not holders:
            why = "is not in the directory"
        elif any(p.id == self._case.subject_person_id for p in holders):
            why = "is the subject of the report"
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
