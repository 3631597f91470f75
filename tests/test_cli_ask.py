"""The CLI as a user runs it: `policybot ask`, `ask --json`, batch mode on stdin, and `eval`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings

pytestmark = pytest.mark.slow


def _run(args: list[str], settings: Settings, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POLICYBOT_VAR_DIR": str(settings.var_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_ask_json_shape(assistant, core_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    # The session assistant has built the index in core_settings.var_dir; the CLI reuses it.
    out = _run(["ask", "--json", "Can I accept a friend request from a parent?"], core_settings)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["kind"] == "answer" and data["citations"][0]["doc_id"] == "social-media-policy"
    assert data["suggest_report"] is False


def test_ask_batch_mode_one_json_per_line(assistant, core_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    questions = ["is tiktok social media?", "", "how much holiday do I get", "fb at lunch ok?"]
    out = _run(["ask", "--json", "-"], core_settings, stdin="\n".join(questions) + "\n")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [d["question"] for d in lines] == questions
    assert [d["kind"] for d in lines][1:3] == ["help", "no_answer"]


def test_ask_readable_and_eval(assistant, core_settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = _run(["ask", "is linkedin social media"], core_settings)
    assert out.returncode == 0 and "4 Definitions" in out.stdout
    evalfile = tmp_path / "q.jsonl"
    evalfile.write_text(
        '{"q": "is linkedin social media", "kind": "question", "sections": ["4"]}\n'
        '{"q": "how much holiday pay do I get", "kind": "offtopic", "sections": []}\n'
    )
    out = _run(["eval", "--json", str(evalfile)], core_settings)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["modes"]["hybrid"]["hit1"] == 1.0
    assert set(report["modes"]) == {"hybrid", "no examples", "bm25", "dense"}
    assert report["verbatim_violations"] == []
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    out = _run(["eval", str(bad)], core_settings)
    assert out.returncode == 1 and "bad.jsonl:1" in out.stderr


def test_fit_gate_prints_the_gate_and_its_cross_validated_figures(
    core_settings: Settings, tmp_path: Path
) -> None:
    evalfile = tmp_path / "q.jsonl"
    answerable = ["is linkedin social media", "can I go on facebook at lunch", "can I friend a parent on fb"]
    unanswerable = ["how much holiday pay do I get", "when is the staff party", "how do I claim mileage"]
    rows = [{"q": f"{q} {n}", "kind": "question", "sections": ["4"]} for q in answerable for n in range(4)]
    rows += [{"q": f"{q} {n}", "kind": "offtopic", "sections": []} for q in unanswerable for n in range(4)]
    evalfile.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = _run(["eval", "--fit-gate", str(evalfile)], core_settings)
    assert out.returncode == 0, out.stderr
    assert (
        "Gate(inputs=('hit_example', 'top_unanswered', 'unanswered_share', 'hit_dense', 'margin')"
        in out.stdout
    )
    assert "cross-validated at the threshold: correct abstention" in out.stdout
    too_few = tmp_path / "few.jsonl"
    too_few.write_text("\n".join(json.dumps(r) for r in rows[:14]) + "\n")
    out = _run(["eval", "--fit-gate", str(too_few)], core_settings)
    assert (
        out.returncode != 0 and "need at least 10 answerable and 10 unanswerable" in out.stderr + out.stdout
    )
