"""Leave-one-document-out evaluation: a fold never fits on anything of the document it scores (its messages,
its classifier data, an outside document's), and `policybot eval --held-out` runs end to end on real fixture
documents with the real model, reporting every figure with every quote verbatim."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.core.intent import load_examples
from bot.devtools.heldout import fold, intent_training, load_manifest

pytestmark = pytest.mark.slow

MANIFEST = PROJECT_ROOT / "tests" / "corpora" / "corpora.toml"


def test_a_fold_never_sees_the_document_it_scores() -> None:
    documents = load_manifest(MANIFEST)
    seed = next(d for d in documents if d.id == "social-media-policy")
    held = next(d for d in documents if d.id == "hybrid-working")
    assert held not in fold(documents, held) and seed in fold(documents, held)
    texts = {e.text for e in intent_training(documents, held)}
    assert not texts & {i.q for i in held.items}
    assert {
        i.q for i in seed.items if i.kind != "report"
    } - texts  # the seed's own evaluation: never trained on
    seed_data = {e.text for path in seed.intent_data for e in load_examples(path)}
    assert seed_data <= texts  # written around the seed policy: used when another document is scored ...
    assert not seed_data & {e.text for e in intent_training(documents, seed)}  # ... never when the seed is


def test_outside_documents_are_scored_never_fitted(tmp_path: Path) -> None:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "x.md").write_text(
        "---\nid: x\ntitle: X\nversion: '1'\n---\n\n## 1. A\n\nText.\n", encoding="utf-8"
    )
    (folder / "x.jsonl").write_text(
        '{"q": "what is a", "sections": ["1"], "kind": "question"}\n', encoding="utf-8"
    )
    documents = load_manifest(MANIFEST, outside=[folder])
    outside = next(d for d in documents if d.id == "x")
    assert outside.outside
    for held in documents:
        assert outside not in fold(documents, held)
    assert "what is a" not in {e.text for e in intent_training(documents, None)}


def test_held_out_command_end_to_end(tmp_path: Path) -> None:
    """Three fixture documents; one scored, the other two fitted on (ranker, gate, classifier)."""
    lines = []
    for doc in ("hybrid-working", "ict-acceptable-use", "whistleblowing-procedure"):
        lines += [
            "[[document]]",
            f'path = "{PROJECT_ROOT / "tests" / "corpora" / (doc + ".md")}"',
            f'messages = ["{PROJECT_ROOT / "tests" / "corpora" / "messages" / (doc + ".jsonl")}"]',
            "",
        ]
    manifest = tmp_path / "corpora.toml"
    manifest.write_text("\n".join(lines), encoding="utf-8")
    env = {**os.environ, "POLICYBOT_VAR_DIR": str(tmp_path / "var"), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "eval",
            "--held-out",
            str(manifest),
            "--only",
            "hybrid-working",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout)
    for mode in ("alone", "together"):
        figures = data["modes"][mode]["hybrid-working"]
        assert figures["answerable"] == 85 and figures["unanswerable"] == 18 and figures["reports"] == 20
        assert figures["verbatim_checked"] > 50 and figures["verbatim_violations"] == 0
        for key in ("hit1", "answered_right_at_1", "false_abstention", "correct_abstention", "report_recall"):
            assert 0.0 <= figures[key] <= 1.0
        assert figures["hit1"] > 0.3  # far above chance (about 0.03 over 35 sections)


def test_pooled_figures_weight_each_rate_by_the_messages_it_is_a_share_of() -> None:
    from bot.devtools.figures import DocFigures, pooled

    big = DocFigures(answerable=30, unanswerable=10, reports=10, hit1=1.0, correct_abstention=0.5)
    big.report_recall, big.questions_flagged = 1.0, 0.0
    small = DocFigures(answerable=10, unanswerable=30, reports=0, hit1=0.0, correct_abstention=1.0)
    small.questions_flagged = 0.5
    both = pooled([big, small])
    assert (both.answerable, both.unanswerable, both.reports) == (40, 40, 10)
    assert both.hit1 == 0.75  # 30 of 40 answerable questions
    assert both.correct_abstention == 35 / 40
    assert both.report_recall == 1.0  # a document without reports does not dilute recall
    assert both.questions_flagged == 20 / 80
