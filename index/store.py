"""The built index on disk: FAISS (dense) + bm25s (lexical) over passages and sentences, with a manifest.

Layout under ``var/index/``::

    CURRENT                  name of the build that serves (replaced atomically)
    <build>/manifest.json    model, dim, corpus sha256, passage and unit counts, built_at, format
    <build>/passages.json    passages and their sentences (the text quoted in answers)
    <build>/units.faiss      sentence vectors     <build>/passages.faiss   passage vectors
    <build>/sections.faiss   whole sections (heading path and text)    <build>/headings.faiss   heading paths
    <build>/bm25_units/      lexical index of sentences     <build>/bm25_sections/   of whole sections (bm25s)
    <build>/examples.faiss   example staff messages' vectors  <build>/examples.json   their documents and sections

A build is written into a fresh directory and only then named in CURRENT, so a failed or concurrent build never
disturbs the index that serves. ``open_index`` rebuilds when the corpus or the model changed.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from index.chunk import Passage, Unit, chunk_document
from index.corpus import Corpus, load_corpus
from index.embed import Embedder, Vectors
from index.errors import IndexCorrupt, IndexMissing
from index.examples import ExampleQuestion
from index.serialise import example_from_json, example_json, passage_from_json, passage_json
from index.tokens import tokenize

# bm25s sets its own logger to DEBUG, which would print a line per build through any root handler.
logging.getLogger("bm25s").setLevel(logging.WARNING)

__all__ = ["FORMAT", "BuiltIndex", "Manifest", "build_index", "load_index", "open_index"]

FORMAT = 6
#: Up to this many example messages are searched exhaustively; more go into an HNSW graph.
EXAMPLES_FLAT_MAX = 20_000
KEEP_BUILDS = 2
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Manifest:
    model: str
    dim: int
    corpus_sha256: str
    passage_count: int
    unit_count: int
    built_at: str
    build_seconds: float
    format: int = FORMAT
    truncated_passages: tuple[str, ...] = ()
    example_count: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["truncated_passages"] = list(self.truncated_passages)
        return data


@dataclass
class BuiltIndex:
    """Everything search needs, in memory: read-only after load, shared by all requests."""

    manifest: Manifest
    corpus: Corpus
    passages: tuple[Passage, ...]
    units: tuple[Unit, ...]
    unit_vectors: faiss.Index
    passage_vectors: faiss.Index
    #: One vector per section (``sections`` order): its heading path and text, and its heading path alone.
    section_vectors: faiss.Index
    heading_vectors: faiss.Index
    bm25: bm25s.BM25
    bm25_sections: bm25s.BM25
    path: Path
    examples: tuple[ExampleQuestion, ...] = ()
    example_vectors: faiss.Index | None = None

    def passage(self, passage_id: str) -> Passage:
        return self._by_id[passage_id]

    def __post_init__(self) -> None:
        self._by_id = {p.id: p for p in self.passages}
        #: (doc id, section) in document order: the documents of the section-level lexical index.
        self.sections: tuple[tuple[str, str], ...] = section_keys(self.passages)


def build_index(
    corpus: Corpus, embedder: Embedder, index_dir: Path, *, progress: Progress | None = None
) -> BuiltIndex:
    """Chunk, embed and index the corpus into a new build directory, then make it current."""
    started = time.perf_counter()
    passages = [p for doc in corpus.documents for p in chunk_document(doc)]
    units = [u for p in passages for u in p.units]
    titles = {p.id: p.heading_path[-1] for p in passages}
    unit_texts = [u.text for u in units]
    passage_texts = [p.text for p in passages]
    section_texts, heading_texts = section_views(passages)
    examples = corpus.examples
    example_texts = [corpus.vocabulary.reading(e.text) for e in examples]
    groups = [unit_texts, passage_texts, section_texts, heading_texts, example_texts]
    total = sum(len(g) for g in groups)
    vectors = _encode_with_progress(embedder, [t for g in groups for t in g], progress, total)
    bounds = np.cumsum([0] + [len(g) for g in groups])
    unit_vecs, passage_vecs, section_vecs, heading_vecs, example_vecs = (
        vectors[a:b] for a, b in itertools.pairwise(bounds)
    )
    truncated = tuple(p.id for p in passages if embedder.count_tokens(p.text) > embedder.max_tokens)

    bm25 = bm25s.BM25(k1=1.2, b=0.75)
    bm25.index([tokenize(_unit_lexical_text(u, titles[u.passage_id])) for u in units], show_progress=False)
    bm25_sections = bm25s.BM25(k1=1.2, b=0.75)
    bm25_sections.index([tokenize(text) for text in _section_texts(passages)], show_progress=False)

    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"build-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{corpus.sha256[:8]}"
    tmp = index_dir / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    manifest = Manifest(
        model=embedder.name,
        dim=embedder.dim,
        corpus_sha256=corpus.sha256,
        passage_count=len(passages),
        unit_count=len(units),
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - started, 3),
        truncated_passages=truncated,
        example_count=len(examples),
    )
    unit_index, passage_index = _flat(unit_vecs), _flat(passage_vecs)
    section_index, heading_index = _flat(section_vecs), _flat(heading_vecs)
    example_index = _flat(example_vecs) if len(example_vecs) <= EXAMPLES_FLAT_MAX else _graph(example_vecs)
    try:
        faiss.write_index(unit_index, str(tmp / "units.faiss"))
        faiss.write_index(passage_index, str(tmp / "passages.faiss"))
        faiss.write_index(section_index, str(tmp / "sections.faiss"))
        faiss.write_index(heading_index, str(tmp / "headings.faiss"))
        faiss.write_index(example_index, str(tmp / "examples.faiss"))
        (tmp / "examples.json").write_text(
            json.dumps([example_json(e) for e in examples], ensure_ascii=False), encoding="utf-8"
        )
        bm25.save(str(tmp / "bm25_units"))
        bm25_sections.save(str(tmp / "bm25_sections"))
        (tmp / "passages.json").write_text(
            json.dumps([passage_json(p) for p in passages], ensure_ascii=False), encoding="utf-8"
        )
        (tmp / "manifest.json").write_text(json.dumps(manifest.to_json(), indent=2), encoding="utf-8")
    except BaseException:  # a half-written build never lingers; CURRENT still names the old one
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final = index_dir / name
    os.replace(tmp, final)
    _set_current(index_dir, name)
    _prune(index_dir, keep=name)
    return BuiltIndex(
        manifest=manifest,
        corpus=corpus,
        passages=tuple(passages),
        units=tuple(units),
        unit_vectors=unit_index,
        passage_vectors=passage_index,
        section_vectors=section_index,
        heading_vectors=heading_index,
        bm25=bm25,
        bm25_sections=bm25_sections,
        path=final,
        examples=tuple(replace(e, text="") for e in examples),  # as load_index reads them back
        example_vectors=example_index,
    )


def load_index(index_dir: Path, corpus: Corpus) -> BuiltIndex:
    """Load the current build. Raises IndexMissing (never built) or IndexCorrupt (unreadable, inconsistent)."""
    current = index_dir / "CURRENT"
    if not current.is_file():
        raise IndexMissing(f"no index in {index_dir}; run `policybot index build`")
    path = index_dir / current.read_text(encoding="utf-8").strip()
    try:
        raw = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"index at {path} has no readable manifest; run `policybot index build`") from exc
    if raw.get("format") != FORMAT:
        raise IndexCorrupt(
            f"index at {path} was built by another version of policybot (format {raw.get('format')})"
        )
    try:
        raw["truncated_passages"] = tuple(raw.get("truncated_passages", ()))
        manifest = Manifest(**raw)
        passages = tuple(
            passage_from_json(p) for p in json.loads((path / "passages.json").read_text("utf-8"))
        )
        unit_index = faiss.read_index(str(path / "units.faiss"))
        passage_index = faiss.read_index(str(path / "passages.faiss"))
        section_index = faiss.read_index(str(path / "sections.faiss"))
        heading_index = faiss.read_index(str(path / "headings.faiss"))
        bm25 = bm25s.BM25.load(str(path / "bm25_units"))
        bm25_sections = bm25s.BM25.load(str(path / "bm25_sections"))
        example_index = faiss.read_index(str(path / "examples.faiss"))
        examples = tuple(
            example_from_json(e) for e in json.loads((path / "examples.json").read_text("utf-8"))
        )
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise IndexCorrupt(
            f"index at {path} cannot be read ({type(exc).__name__}); run `policybot index build`"
        ) from exc
    units = tuple(u for p in passages for u in p.units)
    consistent = (
        manifest.format == FORMAT
        and len(passages) == manifest.passage_count == passage_index.ntotal
        and len(units) == manifest.unit_count == unit_index.ntotal
        and unit_index.d == manifest.dim
        and len(examples) == manifest.example_count == example_index.ntotal
        and section_index.ntotal == heading_index.ntotal == len(section_keys(passages))
    )
    if not consistent:
        raise IndexCorrupt(f"index at {path} disagrees with its manifest; run `policybot index build`")
    return BuiltIndex(
        manifest=manifest,
        corpus=corpus,
        passages=passages,
        units=units,
        unit_vectors=unit_index,
        passage_vectors=passage_index,
        section_vectors=section_index,
        heading_vectors=heading_index,
        bm25=bm25,
        bm25_sections=bm25_sections,
        path=path,
        examples=examples,
        example_vectors=example_index,
    )


def open_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    *,
    on_rebuild: Callable[[str], None] | None = None,
    progress: Progress | None = None,
    taught: Sequence[ExampleQuestion] = (),
) -> BuiltIndex:
    """The index for this corpus and model: loaded if current, rebuilt (and announced) if not.

    ``taught`` are the examples policy owners taught in the database (``Corpus.with_examples``). A corpus that
    fails to load raises ``CorpusError``; callers that already serve keep their index.
    """
    corpus = load_corpus(corpus_dir).with_examples(taught)
    try:
        built = load_index(index_dir, corpus)
    except IndexMissing:
        reason = "no index yet"
    except IndexCorrupt as exc:
        reason = f"the index was unreadable ({exc})"
    else:
        if built.manifest.corpus_sha256 == corpus.sha256 and built.manifest.model == embedder.name:
            return built
        reason = (
            "the corpus changed" if built.manifest.corpus_sha256 != corpus.sha256 else "the model changed"
        )
    if on_rebuild is not None:
        on_rebuild(f"building the index ({reason})")
    return build_index(corpus, embedder, index_dir, progress=progress)


def current_manifest(index_dir: Path) -> Manifest | None:
    """The serving build's manifest, or None (for `policybot index info` without loading the model)."""
    current = index_dir / "CURRENT"
    if not current.is_file():
        return None
    try:
        raw = json.loads((index_dir / current.read_text().strip() / "manifest.json").read_text())
        raw["truncated_passages"] = tuple(raw.get("truncated_passages", ()))
        return Manifest(**raw)
    except (OSError, ValueError, TypeError):
        return None


# --- helpers ---------------------------------------------------------------------------------------------


def section_keys(passages: tuple[Passage, ...] | list[Passage]) -> tuple[tuple[str, str], ...]:
    return tuple(dict.fromkeys((p.doc_id, p.section) for p in passages))


def section_views(passages: list[Passage]) -> tuple[list[str], list[str]]:
    """Per section (``section_keys`` order): its heading path with its text, and its heading path alone (what a
    section is about, in its own words; the model reads the first 256 word pieces of the first)."""
    bodies: dict[tuple[str, str], list[str]] = {}
    heads: dict[tuple[str, str], str] = {}
    for p in passages:
        key = (p.doc_id, p.section)
        heads.setdefault(key, " / ".join(p.heading_path[1:]) or p.heading_path[0])
        bodies.setdefault(key, []).append(p.text)
    keys = list(heads)
    return [f"{heads[k]}. {' '.join(bodies[k])}" for k in keys], [heads[k] for k in keys]


def _section_texts(passages: list[Passage]) -> list[str]:
    """Each section as one lexical document: its title and all its sentences."""
    texts: dict[tuple[str, str], list[str]] = {}
    for p in passages:
        texts.setdefault((p.doc_id, p.section), [p.section_title]).append(p.text)
    return [" ".join(parts) for parts in texts.values()]


def _unit_lexical_text(unit: Unit, heading: str) -> str:
    lead = f"{unit.context} " if unit.context else ""
    return f"{heading} {lead}{unit.text}"


def _encode_with_progress(
    embedder: Embedder, texts: list[str], progress: Progress | None, total: int
) -> Vectors:
    if progress is None:
        return embedder.encode(texts)
    chunks: list[Vectors] = []
    step = 64
    for start in range(0, len(texts), step):
        chunks.append(embedder.encode(texts[start : start + step]))
        progress("embedding", min(start + step, total), total)
    return np.vstack(chunks) if chunks else np.zeros((0, embedder.dim), dtype=np.float32)


def _flat(vectors: Vectors) -> faiss.Index:
    index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _graph(vectors: Vectors) -> faiss.Index:
    """An HNSW graph (inner product) for a large set of example messages: search reads a few hundred of them
    instead of all (a flat search over 144,000 took 35 ms a query on two cores; the graph, under 5 ms)."""
    index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _set_current(index_dir: Path, name: str) -> None:
    tmp = index_dir / f".CURRENT.{os.getpid()}"
    tmp.write_text(name + "\n", encoding="utf-8")
    os.replace(tmp, index_dir / "CURRENT")


def _prune(index_dir: Path, *, keep: str) -> None:
    """Keep the newest builds (a server still reading the previous one is not disturbed)."""
    builds = sorted((p for p in index_dir.glob("build-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in builds[:-KEEP_BUILDS]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
