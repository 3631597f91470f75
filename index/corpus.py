"""Load the policy corpus: Markdown documents with YAML front matter, plain-text documents, and corpus.toml.

A ``Document`` is what staff see cited: its id, title, version, review date, link, and its numbered sections.
``corpus.toml`` lists the documents the policies name but we do not hold (with their owners) and the people to
suggest when the policies have no answer. Every problem is a ``CorpusError`` naming the file and line, so a policy
owner can fix it; the previous index keeps serving meanwhile.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from index.errors import CorpusError
from index.examples import ExampleQuestion, load_examples
from index.importing.cleaner import clean_text

__all__ = ["Contact", "Corpus", "Document", "RelatedDoc", "Section", "load_corpus", "parse_markdown"]

CORPUS_TOML = "corpus.toml"
REQUIRED_META = ("id", "title", "version")
_HEADING = re.compile(
    r"^(?P<hashes>#{2,3})\s+(?:(?P<num>\d+(?:\.\d+)*)\.?\s+|Appendix\s+(?P<app>\d+|[A-Z])\s*[:.\-–—]?\s*)"
    r"(?P<title>.*?)\s*$",
    re.IGNORECASE,
)
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True, slots=True)
class Section:
    """A numbered section: "6.3" or "A1" (Appendix 1). ``body`` is its own text, without subsections."""

    number: str
    title: str
    body: str
    line: int
    parent: str | None = None

    @property
    def label(self) -> str:
        return f"Appendix {self.number[1:]}" if self.number.startswith("A") else self.number


@dataclass(frozen=True, slots=True)
class Document:
    """One policy document as loaded from policy_corpus/."""

    id: str
    title: str
    version: str
    sections: tuple[Section, ...]
    body: str
    path: Path
    sha256: str
    organisation: str | None = None
    owner: str | None = None
    created: str | None = None
    ratified: str | None = None
    review_due: str | None = None
    classification: str | None = None
    url: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def section(self, number: str) -> Section:
        for section in self.sections:
            if section.number == number:
                return section
        raise KeyError(number)


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
class Contact:
    """Who to ask when the policy does not answer."""

    name: str
    role: str
    how: str = ""
    topics: tuple[str, ...] = ()


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
        raw = _read(path)
        digest.update(path.name.encode() + b"\0" + raw.encode() + b"\0")
        doc = parse_markdown(raw, path) if path.suffix == ".md" else _parse_text(raw, path)
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
    if toml_path.is_file():
        raw = _read(toml_path)
        digest.update(b"corpus.toml\0" + raw.encode())
        related, contacts, quick = _parse_corpus_toml(raw, toml_path)
    examples = load_examples(root, {d.id: {s.number for s in d.sections} for d in documents}, _read, digest)
    return Corpus(
        documents=tuple(documents),
        related=related,
        contacts=contacts,
        sha256=digest.hexdigest(),
        root=root,
        quick_guidance=quick,
        examples=examples,
    )


def parse_markdown(raw: str, path: Path) -> Document:
    """Parse one Markdown document with YAML front matter into sections."""
    lines = raw.split("\n")
    if not lines or lines[0].strip() != "---":
        raise CorpusError(path, "missing YAML front matter (the file must start with a '---' line)", line=1)
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise CorpusError(path, "front matter is not closed by a '---' line", line=1) from None
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        # The context mark is where the faulty construct starts ("title: [unclosed"), which is what to fix.
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 2
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise CorpusError(path, f"front matter: {problem}", line=line) from None
    if not isinstance(meta, dict):
        raise CorpusError(path, "front matter must be a mapping of key: value", line=2)
    _check_meta(meta, path, lines, end)
    body_lines = lines[end + 1 :]
    sections = _sections(body_lines, first_line=end + 2, path=path)
    return _document(meta, "\n".join(body_lines), sections, path, raw)


def _parse_text(raw: str, path: Path) -> Document:
    """A plain-text (converted) document: cleaned by the importer, then parsed like Markdown."""
    imported = clean_text(raw, id=path.stem.lower().replace("_", "-").replace(" ", "-"))
    meta = dict(imported.meta)
    meta.setdefault("version", "unversioned")
    sections = _sections(imported.body.split("\n"), first_line=1, path=path)
    return _document(meta, imported.body, sections, path, raw)


def _document(meta: dict[str, Any], body: str, sections: list[Section], path: Path, raw: str) -> Document:
    def opt(key: str) -> str | None:
        value = meta.get(key)
        return None if value in (None, "") else str(value)

    return Document(
        id=str(meta["id"]),
        title=str(meta["title"]),
        version=str(meta["version"]),
        sections=tuple(sections),
        body=body,
        path=path,
        sha256=hashlib.sha256(raw.encode()).hexdigest(),
        organisation=opt("organisation"),
        owner=opt("owner"),
        created=opt("created"),
        ratified=opt("ratified"),
        review_due=opt("review_due"),
        classification=opt("classification"),
        url=opt("url"),
        meta=dict(meta),
    )


def _check_meta(meta: dict[str, Any], path: Path, lines: list[str], end: int) -> None:
    for key in REQUIRED_META:
        if meta.get(key) in (None, ""):
            raise CorpusError(path, f"front matter lacks required field {key!r}", line=end + 1)
    doc_id = str(meta["id"])
    if not _ID.match(doc_id):
        line = next((i + 1 for i in range(end) if lines[i].startswith("id:")), 2)
        raise CorpusError(path, f"id {doc_id!r} must be lower-case letters, digits and hyphens", line=line)


def _sections(body: list[str], *, first_line: int, path: Path) -> list[Section]:
    """Split the body at numbered headings; text before the first heading (the title) is not a section."""
    found: list[tuple[str, str, int, list[str]]] = []
    for offset, text in enumerate(body):
        match = _HEADING.match(text)
        if match:
            number = match.group("num") or ("A" + match.group("app").upper())
            found.append((number, match.group("title").strip(), first_line + offset, []))
        elif found:
            found[-1][3].append(text)
    if not found:
        # An unnumbered document is one section, so it can still be searched and cited.
        whole = "\n".join(t for t in body if not t.startswith("# ")).strip()
        return [Section(number="1", title="", body=whole, line=first_line)] if whole else []
    sections: list[Section] = []
    seen: set[str] = set()
    for number, title, line, content in found:
        if number in seen:
            raise CorpusError(path, f"section {number} appears more than once", line=line)
        seen.add(number)
        parent = number.rsplit(".", 1)[0] if "." in number else None
        sections.append(
            Section(number=number, title=title, body="\n".join(content).strip(), line=line, parent=parent)
        )
    return sections


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
            name=c["name"], role=c.get("role", ""), how=c.get("how", ""), topics=tuple(c.get("topics", ()))
        )
        for c in data.get("contacts", [])
    )
    topics = data.get("quick_guidance", {}).get("topics", [])
    if not isinstance(topics, list) or not all(isinstance(t, str) and t.strip() for t in topics):
        raise CorpusError(path, "[quick_guidance] topics must be a list of questions")
    return tuple(related), contacts, tuple(t.strip() for t in topics)


def _line_of(raw: str, index: int) -> int | None:
    """1-based line of the index-th ``[[related]]`` table."""
    hits = [n + 1 for n, line in enumerate(raw.split("\n")) if line.strip() == "[[related]]"]
    return hits[index] if index < len(hits) else None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise CorpusError(path, "not valid UTF-8 text", line=line) from None
    except OSError as exc:
        raise CorpusError(path, f"cannot read: {exc.strerror}") from None
