"""One policy document: ``Document`` (id, title, version, dates, owner, contacts, sections) and ``Section``, read
from Markdown (front matter optional) or converted plain text, with the section structure of ``index.structure``.

A document as published may say little about itself: without an id its file name gives one, without a title its
first heading does, without a version the file's date stands in (with a warning for the policy owner); front
matter written for another tool is kept. Every problem that stops a file loading is a ``CorpusError`` naming the
file and line.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from index.errors import CorpusError
from index.importing.cleaner import clean_text
from index.structure import is_numbered, parse_structure, slug

__all__ = ["Contact", "Document", "Section", "parse_markdown", "parse_text", "read_text"]

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_REVIEW = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})(?:-(?P<d>\d{1,2}))?$")


@dataclass(frozen=True, slots=True)
class Section:
    """A section: "6.3" or "A1" (Appendix 1) where the document numbers its headings, else a slug of its heading
    path ("working-from-home/expenses"). ``body`` is its own text, without subsections."""

    number: str
    title: str
    body: str
    line: int
    parent: str | None = None

    @property
    def numbered(self) -> bool:
        return is_numbered(self.number)

    @property
    def label(self) -> str:
        """How staff cite it: "6.3", "Appendix 1", or (unnumbered) nothing: its title says it."""
        if not self.numbered:
            return ""
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
    #: What a policy owner should know about how the file was read (a version taken from the file's date ...).
    warnings: tuple[str, ...] = ()
    #: Who to ask about this document (front matter ``contacts``: name, how, role).
    contacts: tuple[Contact, ...] = ()

    def review_by(self) -> date | None:
        """The last day of the month the document is due for review ("2023-10" -> 2023-10-31), or None when it
        does not say clearly."""
        match = _REVIEW.match((self.review_due or "").strip())
        if match is None or not 1 <= int(match.group("m")) <= 12:
            return None
        year, month = int(match.group("y")), int(match.group("m"))
        if match.group("d"):
            try:
                return date(year, month, int(match.group("d")))
            except ValueError:
                return None
        return date(year, month, calendar.monthrange(year, month)[1])

    def section(self, number: str) -> Section:
        for section in self.sections:
            if section.number == number:
                return section
        raise KeyError(number)


@dataclass(frozen=True, slots=True)
class Contact:
    """Who to ask when the policy does not answer."""

    name: str
    role: str
    how: str = ""
    topics: tuple[str, ...] = ()
    #: The documents this contact is for (corpus.toml ``documents``); empty: every document.
    documents: tuple[str, ...] = ()


def parse_markdown(raw: str, path: Path) -> Document:
    """Parse one Markdown document into sections, from its own headings (numbered or not).

    YAML front matter is optional and may carry keys written for another tool (kept in ``meta``). Without an
    ``id`` the file name gives one; without a ``title`` the first level-1 heading does; without a ``version`` the
    file's date stands in, with a warning for the policy owner."""
    lines = raw.lstrip("\ufeff").split("\n")
    meta: dict[str, Any] = {}
    end = -1
    if lines and lines[0].strip() == "---":
        try:
            end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
        except StopIteration:
            raise CorpusError(path, "front matter is not closed by a '---' line", line=1) from None
        try:
            loaded = yaml.safe_load("\n".join(lines[1:end])) or {}
        except yaml.YAMLError as exc:
            # The context mark is where the faulty construct starts ("title: [unclosed"), which is what to fix.
            mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
            line = mark.line + 2 if mark is not None else 2
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise CorpusError(path, f"front matter: {problem}", line=line) from None
        if not isinstance(loaded, dict):
            raise CorpusError(path, "front matter must be a mapping of key: value", line=2)
        meta = {str(k): v for k, v in loaded.items()}
    body_lines = lines[end + 1 :]
    heading_title, raw_sections, plain_lines = parse_structure(body_lines, first_line=end + 2)
    warnings = _fill_meta(meta, path, lines, end, heading_title)
    sections = _checked_sections(raw_sections, plain_lines, path, first_line=end + 2)
    return _document(meta, "\n".join(plain_lines), sections, path, raw, warnings)


def parse_text(raw: str, path: Path) -> Document:
    """A plain-text (converted) document: cleaned by the importer, then parsed like Markdown."""
    imported = clean_text(raw, id=slug(path.stem))
    meta = dict(imported.meta)
    meta.setdefault("version", "unversioned")
    body = imported.body.split("\n")
    _title, raw_sections, plain_lines = parse_structure(body, first_line=1)
    sections = _checked_sections(raw_sections, plain_lines, path, first_line=1)
    return _document(meta, "\n".join(plain_lines), sections, path, raw, ())


def _document(
    meta: dict[str, Any], body: str, sections: list[Section], path: Path, raw: str, warnings: tuple[str, ...]
) -> Document:
    def opt(key: str) -> str | None:
        value = meta.get(key)
        return None if value in (None, "") else str(value)

    contacts, contact_warnings = _front_matter_contacts(meta.get("contacts"))
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
        warnings=warnings + contact_warnings,
        contacts=contacts,
    )


def _front_matter_contacts(raw: Any) -> tuple[tuple[Contact, ...], tuple[str, ...]]:
    """``contacts:`` in front matter: a list of {name, how, role}; anything else is a warning, never fatal."""
    if raw in (None, "", []):
        return (), ()
    if not isinstance(raw, list):
        return (), ("front matter 'contacts' is not a list of {name, how}: ignored",)
    found: list[Contact] = []
    for entry in raw:
        if isinstance(entry, dict) and str(entry.get("name") or "").strip():
            found.append(
                Contact(
                    name=str(entry["name"]).strip(),
                    role=str(entry.get("role") or "").strip(),
                    how=str(entry.get("how") or "").strip(),
                )
            )
        elif isinstance(entry, str) and entry.strip():
            found.append(Contact(name=entry.strip(), role=""))
    return tuple(found), ()


def _fill_meta(
    meta: dict[str, Any], path: Path, lines: list[str], end: int, heading_title: str | None
) -> tuple[str, ...]:
    """Defaults for what a published document may not say about itself; the id is checked."""
    warnings: list[str] = []
    if meta.get("id") in (None, ""):
        meta["id"] = slug(path.stem)
    if meta.get("title") in (None, ""):
        meta["title"] = heading_title or path.stem.replace("-", " ").replace("_", " ").strip().capitalize()
    if meta.get("version") in (None, ""):
        stamp = _file_date(path)
        meta["version"] = stamp
        warnings.append(f"no version in the front matter: using the file's date ({stamp})")
    doc_id = str(meta["id"])
    if not _ID.match(doc_id):
        line = next((i + 1 for i in range(max(end, 0)) if lines[i].startswith("id:")), 2)
        raise CorpusError(path, f"id {doc_id!r} must be lower-case letters, digits and hyphens", line=line)
    return tuple(warnings)


def _file_date(path: Path) -> str:
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).date().isoformat()
    except OSError:
        return "unversioned"


def _checked_sections(
    raw: list[Any], plain_lines: list[str], path: Path, *, first_line: int
) -> list[Section]:
    """Sections as found; a number used twice is an error naming its line. A document without headings is one
    section, so it can still be searched and cited."""
    if not raw:
        whole = "\n".join(t for t in plain_lines if not t.startswith("# ")).strip()
        return [Section(number="1", title="", body=whole, line=first_line)] if whole else []
    sections: list[Section] = []
    seen: set[str] = set()
    for found in raw:
        if found.number in seen:
            raise CorpusError(path, f"section {found.number} appears more than once", line=found.line)
        seen.add(found.number)
        sections.append(
            Section(
                number=found.number, title=found.title, body=found.body, line=found.line, parent=found.parent
            )
        )
    return sections


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise CorpusError(path, "not valid UTF-8 text", line=line) from None
    except OSError as exc:
        raise CorpusError(path, f"cannot read: {exc.strerror}") from None
