"""Example staff messages (policy_corpus/questions/): loading, checking, indexing, and their effect on search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.corpus import load_corpus
from index.embed import Embedder
from index.errors import CorpusError
from index.examples import EXAMPLES_DIR
from index.search import HybridSearcher, Weights
from index.store import build_index, load_index, open_index
from tests.conftest import CORPUS_DIR

DOC = "social-media-policy"


def _write(corpus: Path, lines: list[str], name: str = DOC) -> Path:
    folder = corpus / EXAMPLES_DIR
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_shipped_examples_cover_every_section_and_some_unanswered() -> None:
    corpus = load_corpus(CORPUS_DIR)
    doc = corpus.document(DOC)
    covered = {s for e in corpus.examples for s in e.sections}
    leaves = {s.number for s in doc.sections if s.body.strip()}
    assert leaves <= covered, f"sections without examples: {sorted(leaves - covered)}"
    assert sum(not e.answerable for e in corpus.examples) >= 20
    assert all(e.doc_id == DOC and e.text == e.text.strip() for e in corpus.examples)


def test_examples_never_copy_an_evaluation_question() -> None:
    """The evaluation sets measure generalisation only if no example is one of their questions."""
    examples = {e.text.lower() for e in load_corpus(CORPUS_DIR).examples}
    eval_dir = Path(__file__).parent / "eval"
    for path in eval_dir.glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                assert json.loads(line)["q"].strip().lower() not in examples, path.name


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not a JSON object"),
        ('["a list"]', "expected"),
        ('{"q": "  ", "sections": ["6.3"]}', "non-empty"),
        ('{"q": "can I?", "sections": "6.3"}', "list of section numbers"),
        ('{"q": "can I?", "sections": ["6.9"]}', "has no section 6.9"),
    ],
)
def test_a_bad_example_line_names_file_and_line(corpus_copy: Path, line: str, message: str) -> None:
    path = _write(corpus_copy, ['{"q": "am I allowed on facebook at lunch", "sections": ["6.3"]}', line])
    with pytest.raises(CorpusError) as err:
        load_corpus(corpus_copy)
    assert err.value.path == path and err.value.line == 2
    assert message in str(err.value)


def test_examples_for_an_unknown_document_are_refused(corpus_copy: Path) -> None:
    path = _write(corpus_copy, ['{"q": "hello", "sections": []}'], name="no-such-policy")
    with pytest.raises(CorpusError, match="no document has the id 'no-such-policy'") as err:
        load_corpus(corpus_copy)
    assert err.value.path == path


def test_editing_examples_rebuilds_the_index(corpus_copy: Path, tmp_path: Path, embedder: Embedder) -> None:
    messages: list[str] = []
    first = open_index(corpus_copy, tmp_path / "index", embedder, on_rebuild=messages.append)
    path = corpus_copy / EXAMPLES_DIR / f"{DOC}.jsonl"
    path.write_text(
        path.read_text(encoding="utf-8") + '{"q": "is snapchat ok at lunch", "sections": ["6.3"]}\n',
        encoding="utf-8",
    )
    second = open_index(corpus_copy, tmp_path / "index", embedder, on_rebuild=messages.append)
    assert messages[-1] == "building the index (the corpus changed)"
    assert second.manifest.example_count == first.manifest.example_count + 1
    reloaded = load_index(tmp_path / "index", load_corpus(corpus_copy))
    assert reloaded.examples == second.examples and reloaded.example_vectors is not None
    assert reloaded.example_vectors.ntotal == len(reloaded.examples)


def test_examples_move_a_section_up_and_unanswered_ones_are_a_feature(
    corpus_copy: Path,
    tmp_path: Path,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    """A section's examples are evidence for it: with examples about lunchtime pointing at section 3 (wrong on
    purpose, so the effect is the examples' and not the policy text's), section 3 climbs; without, it does not.
    Sections without examples are scored as the average of those with, so one more section is labelled."""
    query = "can i go on tiktok during my lunch break at school"
    plain_corpus = corpus_copy.parent / "plain"
    import shutil

    shutil.copytree(corpus_copy, plain_corpus)
    shutil.rmtree(plain_corpus / EXAMPLES_DIR, ignore_errors=True)
    plain = HybridSearcher(build_index(load_corpus(plain_corpus), embedder, tmp_path / "a"), embedder)
    _write(
        corpus_copy,
        [
            '{"q": "am I allowed on tiktok on my lunch break", "sections": ["3"]}',
            '{"q": "can staff use social media during lunch at school", "sections": ["3"]}',
            '{"q": "where can I read the disciplinary procedure", "sections": ["9"]}',
            '{"q": "how do I change my tiktok username", "sections": []}',
        ],
    )
    built = build_index(load_corpus(corpus_copy), embedder, tmp_path / "b")
    taught = HybridSearcher(built, embedder, Weights(examples=2.0))

    def rank(searcher: HybridSearcher) -> int:
        return [h.section for h in searcher.search(query, k=14).hits].index("3")

    assert rank(taught) < rank(plain)
    features = taught.search("how do i change my username on tiktok").features
    assert features["top_unanswered"] > 0.8
    assert plain.search(query).features["top_unanswered"] == 0.0


def test_a_large_example_set_is_searched_through_a_graph_with_the_same_result(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above EXAMPLES_FLAT_MAX examples the index is an HNSW graph; on this corpus it ranks like the exact one."""
    import faiss

    import index.store as store

    corpus = load_corpus(CORPUS_DIR)
    exact = HybridSearcher(build_index(corpus, embedder, tmp_path / "flat"), embedder)
    monkeypatch.setattr(store, "EXAMPLES_FLAT_MAX", 100)
    built = build_index(corpus, embedder, tmp_path / "graph")
    assert isinstance(built.example_vectors, faiss.IndexHNSW)
    reloaded = load_index(tmp_path / "graph", corpus)
    assert isinstance(reloaded.example_vectors, faiss.IndexHNSW)
    graph = HybridSearcher(reloaded, embedder)
    questions = [
        "can I accept a friend request from a parent",
        "am I allowed on facebook on my lunch break",
        "a parent is posting abuse about me online, what do I do",
        "what age can kids go on tiktok",
    ]
    for q in questions:
        a, b = exact.search(q), graph.search(q)
        assert [h.section for h in a.hits[:3]] == [h.section for h in b.hits[:3]], q
        assert abs(a.features["top_unanswered"] - b.features["top_unanswered"]) < 0.02, q


def test_an_example_file_that_is_not_utf8_names_its_line(corpus_copy: Path) -> None:
    path = _write(corpus_copy, ['{"q": "ok", "sections": []}'])
    path.write_bytes(path.read_bytes() + b'{"q": "caf\xe9", "sections": []}\n')
    with pytest.raises(CorpusError, match="not valid UTF-8") as err:
        load_corpus(corpus_copy)
    assert err.value.path == path and err.value.line == 2
