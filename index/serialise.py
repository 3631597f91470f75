"""The build's JSON files: passages with their sentences (what answers quote), and example messages' documents
and sections (never their text), written at build time and read back on load."""

from __future__ import annotations

from typing import Any

from index.chunk import Passage, Unit
from index.examples import ExampleQuestion

__all__ = ["example_from_json", "example_json", "passage_from_json", "passage_json"]


def passage_json(p: Passage) -> dict[str, Any]:
    return {
        "id": p.id,
        "doc_id": p.doc_id,
        "section": p.section,
        "section_title": p.section_title,
        "heading_path": list(p.heading_path),
        "text": p.text,
        "units": [{"id": u.id, "text": u.text, "block": u.block, "context": u.context} for u in p.units],
    }


def example_json(e: ExampleQuestion) -> dict[str, Any]:
    """What search needs of an example: its document and sections (its vector is in examples.faiss). Never its
    text: examples taught from what staff asked are kept encrypted in the database, not in clear on disk."""
    return {"doc_id": e.doc_id, "sections": list(e.sections)}


def example_from_json(d: dict[str, Any]) -> ExampleQuestion:
    return ExampleQuestion(doc_id=d["doc_id"], text="", sections=tuple(d["sections"]))


def passage_from_json(d: dict[str, Any]) -> Passage:
    units = tuple(
        Unit(
            id=u["id"],
            passage_id=d["id"],
            doc_id=d["doc_id"],
            section=d["section"],
            text=u["text"],
            block=u["block"],
            context=u["context"],
        )
        for u in d["units"]
    )
    return Passage(
        id=d["id"],
        doc_id=d["doc_id"],
        section=d["section"],
        section_title=d["section_title"],
        heading_path=tuple(d["heading_path"]),
        text=d["text"],
        units=units,
    )
