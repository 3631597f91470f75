"""Example staff messages for a document's sections: ``policy_corpus/questions/<document id>.jsonl``.

Real questions score low against policy prose (cosine around 0.4) because staff and policies use different words;
a new message is far closer to other staff messages about the same thing. So each document may come with example
messages, written in staff's words and labelled with the sections that answer them (the idea of doc2query), and
search counts how close a message is to each section's examples. Examples labelled with no section are messages
that sound related but that the document does not answer: being close to those is evidence for abstaining.

Examples are taught by the policy owner: from a file here (the seed policy's set), or on the insights page, from
the questions staff actually asked (stored in the database, passed to ``open_index``). Both load the same way:
checked (a bad line is a ``CorpusError`` naming the file and line), part of the corpus digest (teaching one
rebuilds the index), and stamped with what they were taught on (``taught_on``: a hash of the answering sections'
text, or of the whole document for "not covered"). When that text changes the example is set aside, not used,
and listed for review (`policybot corpus check`, the insights page): it may no longer be true. They must never be
copied from evaluation questions, or the evaluation stops measuring anything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from index.errors import CorpusError

__all__ = ["EXAMPLES_DIR", "ExampleQuestion", "load_examples", "split_current", "taught_on"]

EXAMPLES_DIR = "questions"
MAX_EXAMPLE_CHARS = 2000


@dataclass(frozen=True, slots=True)
class ExampleQuestion:
    """One example message; ``sections`` empty means the document does not answer it."""

    doc_id: str
    text: str
    sections: tuple[str, ...]
    #: What it was taught on (``taught_on``); None for an example that predates stamping (always current).
    taught_on: str | None = None

    @property
    def answerable(self) -> bool:
        return bool(self.sections)


def taught_on(bodies: Sequence[str]) -> str:
    """The stamp of the text an example was taught on: the answering sections' bodies (or the document's)."""
    joined = "\n\n".join(" ".join(body.split()) for body in bodies)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:16]


def split_current(
    examples: Sequence[ExampleQuestion], bodies: Callable[[ExampleQuestion], Sequence[str] | None]
) -> tuple[tuple[ExampleQuestion, ...], tuple[ExampleQuestion, ...]]:
    """(current, set aside): an example is set aside when the text it was taught on has changed, or its
    sections are gone. ``bodies`` gives the current text an example is stamped against (None: gone)."""
    current: list[ExampleQuestion] = []
    aside: list[ExampleQuestion] = []
    for example in examples:
        now = bodies(example)
        if now is None or (example.taught_on is not None and example.taught_on != taught_on(now)):
            aside.append(example)
        else:
            current.append(example)
    return tuple(current), tuple(aside)


def load_examples(
    root: Path,
    sections_by_doc: dict[str, set[str]],
    read: Callable[[Path], str],
    digest: hashlib._Hash | None = None,
) -> tuple[ExampleQuestion, ...]:
    """Every ``questions/<doc id>.jsonl`` under ``root``, checked against the documents' sections.

    ``read`` is the corpus's own file reader (its errors name the file and line); ``digest`` (the corpus digest)
    is updated with each file read, so a change to the examples rebuilds the index.
    """
    folder = root / EXAMPLES_DIR
    if not folder.is_dir():
        return ()
    out: list[ExampleQuestion] = []
    for path in sorted(folder.glob("*.jsonl")):
        if path.name.startswith(("_", ".")):
            continue
        doc_id = path.stem
        if doc_id not in sections_by_doc:
            raise CorpusError(
                path, f"no document has the id {doc_id!r}: name the file after the document it is about"
            )
        raw = read(path)
        if digest is not None:
            digest.update(f"{EXAMPLES_DIR}/{path.name}".encode() + b"\0" + raw.encode() + b"\0")
        out.extend(_parse(raw, path, doc_id, sections_by_doc[doc_id]))
    return tuple(out)


def _parse(raw: str, path: Path, doc_id: str, known: set[str]) -> list[ExampleQuestion]:
    out: list[ExampleQuestion] = []
    for n, line in enumerate(raw.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(path, f"not a JSON object: {exc.msg}", line=n) from None
        if not isinstance(row, dict):
            raise CorpusError(path, 'expected {"q": "...", "sections": [...]}', line=n)
        text, sections = row.get("q"), row.get("sections")
        if not isinstance(text, str) or not text.strip():
            raise CorpusError(path, '"q" must be a non-empty message', line=n)
        if len(text) > MAX_EXAMPLE_CHARS:
            raise CorpusError(path, f'"q" is longer than {MAX_EXAMPLE_CHARS} characters', line=n)
        if not isinstance(sections, list) or not all(isinstance(s, str) for s in sections):
            raise CorpusError(
                path, '"sections" must be a list of section numbers ([] if not answered)', line=n
            )
        stamp = row.get("taught_on")
        if stamp is not None and not isinstance(stamp, str):
            raise CorpusError(path, '"taught_on" must be the stamp text', line=n)
        unknown = [s for s in sections if s not in known]
        if unknown and stamp is None:
            raise CorpusError(path, f"{doc_id} has no section {', '.join(unknown)}", line=n)
        out.append(
            ExampleQuestion(doc_id=doc_id, text=text.strip(), sections=_unique(sections), taught_on=stamp)
        )
    return out


def _unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
