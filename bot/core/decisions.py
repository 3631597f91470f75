"""What a reply should be, once a message has been searched and classified: help, guidance for someone
reporting (with the private report offer, and 999 first when it is urgent), an answer quoting the policies, the
honest no-answer, or "we do not hold that document". Pure decisions over a ``SearchResult``: no I/O, no model."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property

from bot.core.answer import Composer
from bot.core.gate import AnswerPolicy, answer_probability
from bot.core.intent import IntentResult, is_help
from bot.domain import Contact, Intent, Message, Reply, ReplyKind
from index.corpus import RelatedDoc
from index.search import SearchResult

__all__ = [
    "HELP_TEXT",
    "QUICK_GUIDANCE_TEXT",
    "REPORT_BOOST",
    "Decisions",
    "SafeguardingContact",
    "has_words",
]

#: Added to the fused score of the sections that hold the policy's guidance for people reporting (z-score units).
REPORT_BOOST = 0.25

HELP_TEXT = (
    "I'm policybot. I answer questions about the {titles} and quote the exact wording, with the section, so you "
    'can check it. Try: "Can I accept a friend request from a parent?" or "Am I allowed on Facebook at lunch?"\n\n'
    "If you are being abused or harassed online, or you have a concern about a colleague or about a child's "
    'safety, you can report it privately: use "Report a concern" and it goes only to the right person '
    "(your manager, HR or the Designated Safeguarding Lead), never to the person it is about.\n\n"
    "If anyone is in immediate danger, call 999."
)

QUICK_GUIDANCE_TEXT = (
    "The rules staff most often need, in the policy's own words. Ask me anything else about it, or report a "
    "concern privately. If anyone is in immediate danger, call 999."
)


@dataclass(frozen=True, slots=True)
class SafeguardingContact:
    """Who an urgent message should go to now (from the directory).

    ``resolve`` (built by the channels layer from report routing) gives the contact for one message: its text
    and the sender's directory id. A message about the DSL then names whoever a report would reach instead,
    never the DSL, and ``reaches`` says, by role, who a private report of it would go to."""

    name: str
    how: str = ""
    reaches: str = "the safeguarding lead"
    resolve: Callable[[str, str | None], SafeguardingContact] | None = field(default=None, compare=False)

    def for_message(self, text: str, sender: str | None) -> SafeguardingContact:
        return self.resolve(text, sender) if self.resolve is not None else self


@dataclass(frozen=True)
class Decisions:
    """The reply for a searched, classified message. One per assistant; ``safeguarding`` differs per server."""

    composer: Composer
    related: tuple[RelatedDoc, ...]
    #: Sections holding the policy's guidance for someone being abused or worried (found by search).
    report_guidance: frozenset[tuple[str, str]]
    titles: tuple[str, ...]
    safeguarding: SafeguardingContact = SafeguardingContact(name="the Designated Safeguarding Lead")

    @property
    def policy(self) -> AnswerPolicy:
        return self.composer.policy

    def compose(
        self, message: Message, text: str, query: str, result: SearchResult, intent: IntentResult
    ) -> Reply:
        reply_id = uuid.uuid4().hex
        resolved = query if query != text else None
        if intent.intent is Intent.HELP or is_help(text):
            reply = self.help(text)
        elif intent.intent in (Intent.REPORT, Intent.URGENT):
            sender = message.user.directory_id if message.user else None
            reply = self.report(text, result, urgent=intent.intent is Intent.URGENT, sender=sender)
        else:
            reply = self.question(text, result, intent)
        extra = {
            "probabilities": intent.probabilities,
            "ranking": [h.section for h in result.hits],
            "ranking_docs": [f"{h.doc_id}#{h.section}" for h in result.hits],
        }
        return replace(reply, id=reply_id, resolved_question=resolved, extra=extra)

    def question(self, text: str, result: SearchResult, intent: IntentResult) -> Reply:
        confidence = self.confidence(result, intent)
        related = self.related_mentioned(text)
        if not has_words(text):
            return replace(
                self.composer.no_answer(text, result, confidence=confidence), intent=Intent.QUESTION
            )
        gate = self.policy.gate_for(result.features).threshold
        # Naming a document we do not hold gets that said, unless the policy clearly answers the question itself
        # (where the best section is only where the policy refers to that document, say so instead).
        pointer = bool(related and result.hits) and result.hits[0].key in self.composer.mention_sections(
            related
        )
        if related and (confidence < gate + 0.1 or pointer):
            return self.composer.related_document(text, related, result, confidence=confidence)
        if confidence < gate:
            return self.composer.no_answer(text, result, confidence=confidence)
        return self.composer.answer(text, result, confidence=confidence)

    def report(self, text: str, result: SearchResult, *, urgent: bool, sender: str | None = None) -> Reply:
        """Guidance the policy offers to someone reporting, plus the private report offer. Who to contact
        comes from the same routing as a report of this text (never someone the text may be about)."""
        hits = sorted(
            result.hits,
            key=lambda h: h.score + (REPORT_BOOST if (h.doc_id, h.section) in self.report_guidance else 0.0),
            reverse=True,
        )
        boosted = replace(result, hits=tuple(hits))
        confidence = self.confidence(result, None)
        if urgent:
            who = self.safeguarding.for_message(text, sender)
            how = f" ({who.how})" if who.how else ""
            lead = (
                "If anyone is in immediate danger, call 999 now. "
                f"Then contact {who.name}{how} straight away: do not wait for a reply here.\n\n"
                f"You can also report this privately below; it goes to {who.reaches}, never to the "
                "person it is about."
            )
        else:
            lead = (
                "I'm sorry this is happening. You can report it privately: it goes only to the right person "
                "(your manager, HR or the Designated Safeguarding Lead), never to the person it is about. "
                "Keep a record (screenshots, links, dates) before anything is deleted."
            )
        if confidence < self.policy.gate_for(result.features).report_threshold:
            reply = self.composer.no_answer(text, boosted, confidence=confidence, lead=lead)
        else:
            reply = self.composer.answer(text, boosted, confidence=confidence, lead=lead)
        if reply.kind is not ReplyKind.ANSWER and not reply.text.startswith(lead):
            reply = replace(reply, text=lead + "\n\n" + reply.text)
        return replace(
            reply, suggest_report=True, urgent=urgent, intent=Intent.URGENT if urgent else Intent.REPORT
        )

    def help(self, text: str) -> Reply:
        return Reply(
            question=text,
            kind=ReplyKind.HELP,
            text=HELP_TEXT.format(titles=" and the ".join(self.titles[:3])),
            intent=Intent.HELP,
            contacts=self.composer.contacts(text),
        )

    def confidence(self, result: SearchResult, intent: IntentResult | None) -> float:
        """Calibrated probability that the policies answer this message (what the gate compares)."""
        if not result.hits:
            return 0.0
        return answer_probability(result.features, self.policy)

    def related_mentioned(self, text: str) -> list[RelatedDoc]:
        """Documents we do not hold that the message names (as whole words, and not as part of the title of a
        document we do hold: "the social media policy" does not name the "media policy")."""
        lowered = text.lower()
        for title in self.held_titles:
            lowered = lowered.replace(title, " ")
        return [
            r
            for r in self.related
            if any(re.search(rf"\b{re.escape(name.lower())}\b", lowered) for name in r.names)
        ]

    @cached_property
    def held_titles(self) -> tuple[str, ...]:
        """Titles of the documents held, and their short forms without "policy" / "procedure", longest first."""
        names: set[str] = set()
        for doc in self.composer.corpus.documents:
            title = doc.title.lower()
            names.add(title)
            short = re.sub(r"^(the )?(acceptable use of )?", "", title)
            names.add(short)
        return tuple(sorted((n for n in names if len(n) > 3), key=len, reverse=True))

    @property
    def contacts(self) -> tuple[Contact, ...]:
        return self.composer.contacts("")


def has_words(text: str) -> bool:
    """English words present: emoji-only, non-Latin text, or a sentence in another language (five words or more
    and not one common English word among them) cannot be matched to English policies honestly."""
    words = re.findall(r"[A-Za-z]{2,}", text)
    letters = sum(ch.isalpha() for ch in text)
    if not words or sum(len(w) for w in words) < 0.6 * max(letters, 1):
        return False
    lowered = [w.lower() for w in re.findall(r"[A-Za-z']+", text)]
    return len(lowered) < 5 or any(w in _ENGLISH for w in lowered)


#: Common English words: a message of five words or more with none of them is not in English.
_COMMON = """
a about after all allowed also am an and another any anyone anything are as ask at be because been
before but by can could day did do does don't dont down during for from get getting got had has have
he her his how i i'm i've if im in into is it it's its ive job just know long many me more most much
my need new no not of off ok okay old on only or other our out over please same she should so some
staff still tell than that the their them then there these they this those time to u under up ur us
want was way we week were what whats when where which while who why will with work working would yes
you your
"""
_ENGLISH = frozenset(_COMMON.split())
