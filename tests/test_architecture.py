"""Import boundaries, checked by parsing every module (not by convention):

- botbuilder / botframework only in bot/teams/edge.py (a later move to the Microsoft 365 Agents SDK is one file);
- slack_bolt / slack_sdk only under bot/slack/;
- nothing under index/ imports bot;
- the core (assistant, answer, domain, intent) imports no aiohttp, Slack or Bot Framework SDK.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ("bot/assistant.py", "bot/answer.py", "bot/domain.py", "bot/intent.py")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (functions included), as dotted names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def python_files(*tops: str) -> list[Path]:
    return sorted(p for top in tops for p in (ROOT / top).rglob("*.py") if ".venv" not in p.parts)


def uses(modules: set[str], *roots: str) -> set[str]:
    return {m for m in modules if m.split(".")[0] in roots}


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_bot_framework_only_in_the_teams_edge() -> None:
    offenders = {
        rel(p): uses(imported_modules(p), "botbuilder", "botframework", "msrest")
        for p in python_files("bot", "index")
        if rel(p) != "bot/teams/edge.py"
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert uses(imported_modules(ROOT / "bot/teams/edge.py"), "botbuilder")  # the scan sees real imports


def test_slack_sdks_only_under_bot_slack() -> None:
    offenders = {
        rel(p): uses(imported_modules(p), "slack_bolt", "slack_sdk")
        for p in python_files("bot", "index")
        if not rel(p).startswith("bot/slack/") and rel(p) != "bot/slack.py"
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_index_never_imports_bot() -> None:
    offenders = {rel(p): uses(imported_modules(p), "bot") for p in python_files("index")}
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("module", CORE)
def test_core_knows_no_channel_or_http(module: str) -> None:
    path = ROOT / module
    assert path.is_file(), module
    assert (
        uses(imported_modules(path), "aiohttp", "slack_bolt", "slack_sdk", "botbuilder", "botframework")
        == set()
    )


def test_scanner_catches_function_level_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from botbuilder.core import TurnContext\n    import slack_sdk.web\n")
    assert imported_modules(sample) == {"botbuilder.core", "slack_sdk.web"}
