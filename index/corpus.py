"""Load the policy corpus: its documents (``index.document``), their taught examples, and corpus.toml.

``corpus.toml`` lists the documents the policies name but we do not hold (with their owners) and the people to
suggest when the policies have no answer. Every problem is a ``CorpusError`` naming the file and line, so a policy
owner can fix it; the previous index keeps serving meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from index.document import Contact, Document, Section, parse_markdown, parse_text, read_text
from index.errors import CorpusError
from index.examples import ExampleQuestion, load_examples, split_current
from index.lexicon import GENERAL, Vocabulary

__all__ = ["Contact", "Corpus", "Document", "RelatedDoc", "Section", "load_corpus", "parse_markdown"]

CORPUS_TOML = "corpus.toml"


@dataclass(frozen=True, slots=True)
class RelatedDoc:
    """A document the policy names but the corpus does not hold; ``aliases`` are other names staff use."""

    id: str
    title: str
    owner: str
    url: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.title, *self.aliases)


@dataclass(frozen=True, slots=True)
class Corpus:
    documents: tuple[Document, ...]
    related: tuple[RelatedDoc, ...]
    contacts: tuple[Contact, ...]
    sha256: str
    root: Path
    #: What staff most need to know, as questions: quick guidance answers each from the documents themselves.
    quick_guidance: tuple[str, ...] = ()
    #: Example staff messages labelled with the sections that answer them (``questions/<doc id>.jsonl``).
    examples: tuple[ExampleQuestion, ...] = ()
    #: Examples whose sections changed since they were taught: not used until the policy owner reviews them.
    set_aside: tuple[ExampleQuestion, ...] = ()
    #: The general staff vocabulary plus this corpus's own entries (corpus.toml ``[[vocabulary]]``).
    vocabulary: Vocabulary = GENERAL

    def example_bodies(self, example: ExampleQuestion) -> tuple[str, ...] | None:
        """The current text an example is stamped against (its sections', or its document's); None if gone."""
        try:
            doc = self.document(example.doc_id)
        except KeyError:
            return None
        if not example.sections:
            return (doc.body,)
        try:
            return tuple(doc.section(s).body for s in example.sections)
        except KeyError:
            return None

    def with_examples(self, extra: Sequence[ExampleQuestion]) -> Corpus:
        """This corpus with more taught examples (the database's), checked and stamped the same way as the
        files', and folded into the digest so teaching one rebuilds the index."""
        if not extra:
            return self
        current, aside = split_current(extra, self.example_bodies)
        digest = hashlib.sha256(self.sha256.encode())
        for e in sorted(extra, key=lambda e: (e.doc_id, e.text, e.sections)):
            digest.update(json.dumps([e.doc_id, e.text, list(e.sections), e.taught_on]).encode() + b"\0")
        return replace(
            self,
            examples=self.examples + current,
            set_aside=self.set_aside + aside,
            sha256=digest.hexdigest(),
        )

    def document(self, doc_id: str) -> Document:
        for doc in self.documents:
            if doc.id == doc_id:
                return doc
        raise KeyError(doc_id)

    @property
    def missing_related(self) -> tuple[RelatedDoc, ...]:
        """Related documents not (yet) held in the corpus: the ones `related_document` replies speak of."""
        held = {d.id for d in self.documents} | {d.title.lower() for d in self.documents}
        return tuple(r for r in self.related if r.id not in held and r.title.lower() not in held)


def load_corpus(root: Path) -> Corpus:
    """Read every ``*.md`` / ``*.txt`` document under ``root``, ``corpus.toml`` and ``questions/*.jsonl``."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(root, "corpus directory not found")
    files = sorted(
        p for p in root.iterdir() if p.suffix in (".md", ".txt") and not p.name.startswith(("_", "."))
    )
    files = [p for p in files if p.name.lower() != "readme.md"]
    digest = hashlib.sha256()
    documents: list[Document] = []
    for path in files:
        raw = read_text(path)
        digest.update(path.name.encode() + b"\0" + raw.encode() + b"\0")
        doc = parse_markdown(raw, path) if path.suffix == ".md" else parse_text(raw, path)
        documents.append(doc)
    ids = [d.id for d in documents]
    for doc in documents:
        if ids.count(doc.id) > 1:
            raise CorpusError(doc.path, f"document id {doc.id!r} is used by more than one file", line=2)
    if not documents:
        raise CorpusError(root, "no .md or .txt documents found")
    toml_path = root / CORPUS_TOML
    related: tuple[RelatedDoc, ...] = ()
    contacts: tuple[Contact, ...] = ()
    quick: tuple[str, ...] = ()
    vocabulary = GENERAL
    if toml_path.is_file():
        raw = read_text(toml_path)
        digest.update(b"corpus.toml\0" + raw.encode())
        related, contacts, quick = _parse_corpus_toml(raw, toml_path)
        vocabulary = GENERAL.with_entries(_parse_vocabulary(raw, toml_path))
    examples = load_examples(
        root, {d.id: {s.number for s in d.sections} for d in documents}, read_text, digest
    )
    corpus = Corpus(
        documents=tuple(documents),
        related=related,
        contacts=contacts,
        sha256=digest.hexdigest(),
        root=root,
        quick_guidance=quick,
        vocabulary=vocabulary,
    )
    current, aside = split_current(examples, corpus.example_bodies)
    return replace(corpus, examples=current, set_aside=aside)


def _parse_corpus_toml(
    raw: str, path: Path
) -> tuple[tuple[RelatedDoc, ...], tuple[Contact, ...], tuple[str, ...]]:
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise CorpusError(path, f"invalid TOML: {exc}", line=line) from None
    related: list[RelatedDoc] = []
    for i, entry in enumerate(data.get("related", [])):
        missing = [k for k in ("id", "title", "owner") if not entry.get(k)]
        if missing:
            raise CorpusError(
                path, f"[[related]] entry {i + 1} lacks {', '.join(missing)}", line=_line_of(raw, i)
            )
        related.append(
            RelatedDoc(
                id=entry["id"],
                title=entry["title"],
                owner=entry["owner"],
                url=entry.get("url") or None,
                aliases=tuple(entry.get("aliases", ())),
            )
        )
    contacts = tuple(
        Contact(
            name=c["name"],
            role=c.get("role", ""),
            how=c.get("how", ""),
            topics=tuple(c.get("topics", ())),
            documents=tuple(c.get("documents", ())),
        )
        for c in data.get("contacts", [])
    )
    topics = data.get("quick_guidance", {}).get("topics", [])
    if not isinstance(topics, list) or not all(isinstance(t, str) and t.strip() for t in topics):
        raise CorpusError(path, "[quick_guidance] topics must be a list of questions")
    return tuple(related), contacts, tuple(t.strip() for t in topics)


def _parse_vocabulary(raw: str, path: Path) -> list[tuple[str, str]]:
    """``[[vocabulary]]``: ``pattern`` (a case-insensitive regular expression) and ``add`` (words appended)."""
    entries: list[tuple[str, str]] = []
    for i, entry in enumerate(tomllib.loads(raw).get("vocabulary", [])):
        pattern, add = entry.get("pattern"), entry.get("add")
        where = _line_of(raw, i, "[[vocabulary]]")
        if not isinstance(pattern, str) or not isinstance(add, str) or not pattern or not add.strip():
            raise CorpusError(path, f"[[vocabulary]] entry {i + 1} needs pattern and add", line=where)
        try:
            re.compile(pattern)
        except re.error as exc:
            raise CorpusError(
                path, f"[[vocabulary]] entry {i + 1}: bad pattern ({exc})", line=where
            ) from None
        entries.append((pattern, add.strip()))
    return entries


def _line_of(raw: str, index: int, table: str = "[[related]]") -> int | None:
    """1-based line of the index-th ``table`` (``[[related]]``)."""
    hits = [n + 1 for n, line in enumerate(raw.split("\n")) if line.strip() == table]
    return hits[index] if index < len(hits) else None
