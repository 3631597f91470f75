"""`policybot bench`: the figures the answer core is held to, measured in one run.

For the shipped corpus and for a synthetic corpus 100 times its size (generated here, deterministically): the
bare query-embedding forward pass (the floor no answer can beat), warm end-to-end ``Assistant.handle`` time,
their ratio, index build time, cold start of a fresh process to its first answer, and that process's peak RSS.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.config import Settings
from bot.core.assistant import Assistant
from bot.core.intent import load_examples
from bot.domain import Message
from bot.server.heap import settle_heap
from index.corpus import Corpus, load_corpus
from index.embed import Embedder, SentenceTransformerEmbedder
from index.examples import EXAMPLES_DIR
from index.store import build_index

__all__ = ["BenchFigures", "benchmark_questions", "run_benchmark", "synthetic_corpus"]

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class BenchFigures:
    embed_ms_p50: float
    answer_ms_p50: float
    answer_ms_p99: float
    ratio_p50: float
    build_s: float
    cold_start_s: float
    rss_mb: float
    passages: int
    questions: int

    def to_json(self) -> dict[str, float | int]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


def benchmark_questions(limit: int = 60) -> list[str]:
    """Real-style staff questions (the shipped question examples), short and long, in a fixed order."""
    questions = [e.text for e in load_examples() if e.label == "question"]
    random.Random(7).shuffle(questions)
    return questions[:limit]


def synthetic_corpus(base: Corpus, factor: int, target: Path, *, seed: int = 11) -> Path:
    """``factor`` times the base corpus: the originals plus perturbed copies (a third of the words swapped for
    other corpus words), so every copy embeds differently and the index really is ``factor`` times bigger.
    Each copy has its original's example messages, perturbed the same way."""
    rng = random.Random(seed)
    target.mkdir(parents=True, exist_ok=True)
    for path in base.root.iterdir():
        if path.is_file():
            shutil.copy2(path, target / path.name)
    if (base.root / EXAMPLES_DIR).is_dir():
        shutil.copytree(base.root / EXAMPLES_DIR, target / EXAMPLES_DIR, dirs_exist_ok=True)
    vocabulary = sorted({w for d in base.documents for w in re.findall(r"[A-Za-z]{4,}", d.body)})

    def perturbed(text: str) -> str:
        return re.sub(
            r"[A-Za-z]{4,}", lambda m: rng.choice(vocabulary) if rng.random() < 0.33 else m.group(0), text
        )

    for copy in range(1, factor):
        for doc in base.documents:
            # Headings stay as they are, so every copy has its original's sections (and its examples' labels).
            body = "\n".join(
                line if line.startswith("#") else perturbed(line) for line in doc.body.split("\n")
            )
            meta = {
                **doc.meta,
                "id": f"{doc.id}-synthetic-{copy:03d}",
                "title": f"{doc.title} (synthetic {copy})",
            }
            front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
            (target / f"{meta['id']}.md").write_text(f"---\n{front}---\n{body}", encoding="utf-8")
            examples = [
                json.dumps({"q": perturbed(e.text), "sections": list(e.sections)}, ensure_ascii=False)
                for e in base.examples
                if e.doc_id == doc.id
            ]
            if examples:
                (target / EXAMPLES_DIR / f"{meta['id']}.jsonl").write_text(
                    "\n".join(examples) + "\n", "utf-8"
                )
    return target


def run_benchmark(
    settings: Settings, *, repeats: int = 200, scale: int = 100, say: Say | None = None
) -> dict[str, Any]:
    """The full benchmark: figures at 1x and at ``scale``x, plus whether each floor is met."""
    say = say or (lambda _: None)
    questions = benchmark_questions()
    say("loading the embedding model")
    embedder = SentenceTransformerEmbedder(settings.model)
    with tempfile.TemporaryDirectory(prefix="policybot-bench-") as tmp:
        root = Path(tmp)
        say("1x: building and measuring the shipped corpus")
        one = _measure(settings, embedder, load_corpus(settings.corpus_dir), root / "one", questions, repeats)
        say(f"{scale}x: generating a synthetic corpus {scale} times the size")
        big_dir = synthetic_corpus(load_corpus(settings.corpus_dir), scale, root / "big-corpus")
        say(f"{scale}x: building and measuring (this is the slow part)")
        big = _measure(
            settings, embedder, load_corpus(big_dir), root / "big", questions, repeats, corpus_dir=big_dir
        )
    result: dict[str, Any] = {**one.to_json(), f"scale_{scale}x": big.to_json()}
    result["floors"] = {
        "answer_p50_le_1_5x_embed": one.answer_ms_p50 <= 1.5 * one.embed_ms_p50,
        "answer_p99_le_50ms": one.answer_ms_p99 <= 50.0,
        f"scale_{scale}x_p50_le_2x": big.answer_ms_p50 <= 2 * one.answer_ms_p50,
        f"scale_{scale}x_p99_le_2x": big.answer_ms_p99 <= 2 * one.answer_ms_p99,
    }
    return result


def _measure(
    settings: Settings,
    embedder: Embedder,
    corpus: Corpus,
    state: Path,
    questions: Sequence[str],
    repeats: int,
    *,
    corpus_dir: Path | None = None,
) -> BenchFigures:
    index_dir = state / "index"
    started = time.perf_counter()
    built = build_index(corpus, embedder, index_dir)
    build_s = time.perf_counter() - started
    cfg = settings.model_copy(update={"var_dir": state, "corpus_dir": corpus_dir or settings.corpus_dir})
    assistant = Assistant.from_settings(cfg, embedder=embedder)
    for q in questions[:10]:  # warm-up: caches, thread pool, allocator
        embedder.encode([q])
        assistant.answer(q)
    settle_heap()  # as `policybot serve` does once the model and index are loaded
    cycle = [questions[i % len(questions)] for i in range(repeats)]
    embed_ms = [_timed(embedder.encode, [q]) for q in cycle]

    async def answers() -> list[float]:
        out = []
        for q in cycle:
            t0 = time.perf_counter()
            await assistant.handle(Message(text=q))
            out.append(1e3 * (time.perf_counter() - t0))
        return out

    answer_ms = asyncio.run(answers())
    cold_s, rss_mb = _cold_start(cfg)
    embed_p50 = statistics.median(embed_ms)
    answer_p50 = statistics.median(answer_ms)
    return BenchFigures(
        embed_ms_p50=embed_p50,
        answer_ms_p50=answer_p50,
        answer_ms_p99=_percentile(answer_ms, 99),
        ratio_p50=answer_p50 / embed_p50,
        build_s=build_s,
        cold_start_s=cold_s,
        rss_mb=rss_mb,
        passages=built.manifest.passage_count,
        questions=len(cycle),
    )


def _cold_start(settings: Settings) -> tuple[float, float]:
    """A fresh process: import, load model and index, answer one question. Returns (seconds, peak RSS MB)."""
    env = {
        **os.environ,
        "POLICYBOT_VAR_DIR": str(settings.var_dir),
        "POLICYBOT_CORPUS_DIR": str(settings.corpus_dir),
        "HF_HUB_OFFLINE": "1",
    }
    code = (
        "import json, resource, time; t=time.perf_counter();"
        "from bot.config import Settings; from bot.core.assistant import Assistant;"
        "a = Assistant.from_settings(Settings.load());"
        "a.answer('Can I accept a friend request from a parent?');"
        "print(json.dumps({'s': time.perf_counter() - t,"
        " 'rss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))"
    )
    started = time.perf_counter()
    out = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600, check=True
    )
    wall = time.perf_counter() - started
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return wall, data["rss"] / 1024.0


def _timed(fn: Callable[[list[str]], object], arg: list[str]) -> float:
    t0 = time.perf_counter()
    fn(arg)
    return 1e3 * (time.perf_counter() - t0)


def _percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
