"""Shared fixtures. The real embedding model and a real index are loaded once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bot.config import PROJECT_ROOT, Settings

CORPUS_DIR = PROJECT_ROOT / "policy_corpus"
DEV_QUESTIONS = PROJECT_ROOT / "tests" / "eval" / "dev_questions.jsonl"
STAFF_QUESTIONS = PROJECT_ROOT / "tests" / "eval" / "staff_questions.jsonl"


@pytest.fixture(scope="session")
def core_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One state directory for the session's shared index (built once)."""
    return tmp_path_factory.mktemp("core-var")


@pytest.fixture(scope="session")
def core_settings(core_var_dir: Path) -> Settings:
    return Settings.load(var_dir=core_var_dir, corpus_dir=CORPUS_DIR)


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    from index.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def assistant(core_settings: Settings, embedder):  # type: ignore[no-untyped-def]
    """The real assistant: bundled model, FAISS and bm25s over the shipped corpus."""
    from bot.assistant import Assistant

    return Assistant.from_settings(core_settings, embedder=embedder)


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the corpus, for tests that change it."""
    import shutil

    target = tmp_path / "policy_corpus"
    shutil.copytree(CORPUS_DIR, target)
    yield target
