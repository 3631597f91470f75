"""The index on disk: manifest, rebuild on corpus or model change, corrupt and missing indexes, atomic swap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.corpus import load_corpus
from index.errors import CorpusError, IndexCorrupt, IndexMissing
from index.store import build_index, current_manifest, load_index, open_index


def test_manifest_records_the_build(corpus_copy: Path, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    built = build_index(load_corpus(corpus_copy), embedder, tmp_path / "index")
    manifest = json.loads((built.path / "manifest.json").read_text())
    assert manifest["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest["dim"] == 384
    assert manifest["corpus_sha256"] == load_corpus(corpus_copy).sha256
    assert manifest["passage_count"] == len(built.passages) > 20
    assert manifest["unit_count"] == built.unit_vectors.ntotal
    assert manifest["built_at"]
    assert current_manifest(tmp_path / "index") is not None


def test_open_index_reuses_a_current_build(corpus_copy: Path, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    messages: list[str] = []
    first = open_index(corpus_copy, tmp_path / "index", embedder, on_rebuild=messages.append)
    second = open_index(corpus_copy, tmp_path / "index", embedder, on_rebuild=messages.append)
    assert messages == ["building the index (no index yet)"]
    assert first.path == second.path
    assert [p.id for p in first.passages] == [p.id for p in second.passages]


def test_corpus_change_triggers_rebuild(corpus_copy: Path, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    first = open_index(corpus_copy, tmp_path / "index", embedder)
    doc = corpus_copy / "social-media-policy.md"
    doc.write_text(
        doc.read_text(encoding="utf-8").replace("Flickr", "Flickr and Pinterest"), encoding="utf-8"
    )
    messages: list[str] = []
    second = open_index(corpus_copy, tmp_path / "index", embedder, on_rebuild=messages.append)
    assert messages == ["building the index (the corpus changed)"]
    assert second.manifest.corpus_sha256 != first.manifest.corpus_sha256
    assert [p.id for p in first.passages] == [p.id for p in second.passages], "ids stable across rebuilds"


def test_model_change_triggers_rebuild(corpus_copy: Path, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    build_index(load_corpus(corpus_copy), embedder, tmp_path / "index")
    manifest = current_manifest(tmp_path / "index")
    assert manifest is not None
    path = tmp_path / "index" / (tmp_path / "index" / "CURRENT").read_text().strip() / "manifest.json"
    data = json.loads(path.read_text())
    data["model"] = "some-other-model"
    path.write_text(json.dumps(data))
    messages: list[str] = []
    open_index(corpus_copy, tmp_path / "index", embedder, on_rebuild=messages.append)
    assert messages == ["building the index (the model changed)"]


def test_missing_and_corrupt_index(corpus_copy: Path, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    corpus = load_corpus(corpus_copy)
    with pytest.raises(IndexMissing, match="policybot index build"):
        load_index(tmp_path / "index", corpus)
    built = build_index(corpus, embedder, tmp_path / "index")
    (built.path / "units.faiss").write_bytes(b"not a faiss index")
    with pytest.raises(IndexCorrupt, match="policybot index build"):
        load_index(tmp_path / "index", corpus)
    messages: list[str] = []
    rebuilt = open_index(corpus_copy, tmp_path / "index", embedder, on_rebuild=messages.append)
    assert messages and messages[0].startswith("building the index (the index was unreadable")
    assert rebuilt.unit_vectors.ntotal == rebuilt.manifest.unit_count


def test_failed_corpus_keeps_previous_index(corpus_copy: Path, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    good = open_index(corpus_copy, tmp_path / "index", embedder)
    (corpus_copy / "broken.md").write_text("---\nid: broken\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"broken\.md:1"):
        open_index(corpus_copy, tmp_path / "index", embedder)
    # The build that served before is still the current one and still loads.
    (corpus_copy / "broken.md").unlink()
    assert load_index(tmp_path / "index", load_corpus(corpus_copy)).path == good.path


def test_old_builds_are_pruned(corpus_copy: Path, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    corpus = load_corpus(corpus_copy)
    for _ in range(4):
        build_index(corpus, embedder, tmp_path / "index")
    assert len(list((tmp_path / "index").glob("build-*"))) == 2
