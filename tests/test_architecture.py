"""The shape of the house, checked by parsing every module (not by convention):

- no import cycles between modules, anywhere in ``bot/`` or ``index/``;
- imports go down the layers only: cli -> devtools -> server -> the edges (slack, teams, web) -> what the edges
  share (``bot.channels.keys``, ``bot.channels.services``) -> core, reports -> storage, index -> the shared
  vocabulary (config, domain, errors, problems, clock, logs); within a layer, packages never import each other,
  so the edges never import each other, the core never imports reports, and nothing in the product imports
  ``bot.devtools``;
- the core imports no aiohttp, Slack or Bot Framework SDK; botbuilder / botframework only under
  ``bot/channels/teams/`` (a later move to the Microsoft 365 Agents SDK touches that package alone);
  slack_bolt / slack_sdk only under ``bot/channels/slack/``; nothing under ``index/`` imports ``bot``;
- no module over 400 lines without the reason in its docstring;
- every package ``docs/architecture.md`` names exists, and every package that exists is on the map.
"""

from __future__ import annotations

import ast
import graphlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400

#: (layer, group) by module prefix, most specific first. A module may import a lower layer (a larger number),
#: or its own group; never a higher layer and never another group on its own layer.
LAYERS: tuple[tuple[str, int, str], ...] = (
    ("bot.__main__", 0, "cli"),
    ("bot.cli", 1, "cli"),
    ("bot.devtools", 2, "devtools"),
    ("bot.server", 3, "server"),
    ("bot.channels.slack", 4, "slack"),
    ("bot.channels.teams", 4, "teams"),
    ("bot.channels.web", 4, "web"),
    ("bot.channels", 5, "channels"),
    ("bot.core", 6, "core"),
    ("bot.reports", 6, "reports"),
    ("bot.storage", 7, "storage"),
    ("index", 7, "index"),
    ("bot", 8, "shared"),
)


def layer_of(module: str) -> tuple[int, str]:
    for prefix, layer, group in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return layer, group
    raise AssertionError(f"{module} is on no layer: add it to LAYERS and to docs/architecture.md")


def allowed(source: str, target: str) -> bool:
    """Whether ``source`` may import ``target``: down the layers, or within its own group."""
    if source.split(".")[0] == "index" and target.split(".")[0] == "bot":
        return False
    (source_layer, source_group), (target_layer, target_group) = layer_of(source), layer_of(target)
    return target_layer > source_layer or target_group == source_group


def python_files(*tops: str) -> list[Path]:
    return sorted(
        p
        for top in tops
        for p in (ROOT / top).rglob("*.py")
        if ".venv" not in p.parts and "migrations" not in p.parts
    )


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (functions included), as dotted names: for ``from p import
    n``, ``p.n`` when that is a project module, else ``p``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("__import__", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


MODULES = {module_name(p): p for p in python_files("bot", "index")}


def internal_imports(module: str) -> set[str]:
    """The project modules ``module`` imports (``import a.b.c`` where only ``a.b`` is a module: ``a.b``)."""
    targets = set()
    for name in imported_modules(MODULES[module]):
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name and name != module:
            targets.add(name)
    return targets


GRAPH = {module: internal_imports(module) for module in MODULES}


def uses(modules: set[str], *roots: str) -> set[str]:
    return {m for m in modules if m.split(".")[0] in roots}


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_no_import_cycles() -> None:
    try:
        tuple(graphlib.TopologicalSorter(GRAPH).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_imports_go_down_the_layers() -> None:
    against = sorted(
        f"{module} ({layer_of(module)[1]}) imports {target} ({layer_of(target)[1]})"
        for module, targets in GRAPH.items()
        for target in targets
        if not allowed(module, target)
    )
    assert against == []


def test_the_checks_see_real_imports() -> None:
    """The graph the two tests above walk is the real one (a scanner that saw nothing would pass them)."""
    assert "bot.channels.keys" in GRAPH["bot.server.app"] | GRAPH["bot.server.middleware"]
    assert "bot.channels.web.export" in GRAPH["bot.channels.web.cases"]
    assert "bot.channels.web" not in GRAPH["bot.channels.web.cases"]
    assert {"bot.channels.slack", "bot.channels.teams", "bot.channels.web"} <= GRAPH["bot.server.app"]
    assert "index.document" in GRAPH["index.chunk"]


@pytest.mark.parametrize(
    ("source", "target", "ok"),
    [
        ("bot.channels.slack.edge", "bot.server.app", False),  # an edge importing the composition root
        ("bot.channels.slack.edge", "bot.channels.web.pages", False),  # one edge importing another
        ("bot.channels.slack.edge", "bot.channels.keys", True),
        ("bot.server.admin", "bot.devtools.bench", False),  # the product importing a tool
        ("bot.core.assistant", "bot.reports.routing", False),  # core and reports are siblings
        ("bot.core.assistant", "bot.channels.keys", False),
        ("index.search", "bot.domain", False),
        ("bot.reports.service", "bot.reports.routing", True),
        ("bot.cli.bench", "bot.devtools.bench", True),
        ("bot.storage.database", "bot.config", True),
    ],
)
def test_the_layer_rule(source: str, target: str, ok: bool) -> None:
    assert allowed(source, target) is ok


def test_scanner_catches_function_level_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from botbuilder.core import TurnContext\n    import slack_sdk.web\n")
    assert imported_modules(sample) >= {"botbuilder.core", "slack_sdk.web"}


def test_bot_framework_only_in_the_teams_edge() -> None:
    offenders = {
        rel(p): uses(imported_modules(p), "botbuilder", "botframework", "msrest")
        for p in python_files("bot", "index")
        if not rel(p).startswith("bot/channels/teams/")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    teams = set().union(*(imported_modules(p) for p in (ROOT / "bot/channels/teams").rglob("*.py")))
    assert uses(teams, "botbuilder")  # the scan sees real imports


def test_slack_sdks_only_in_the_slack_edge() -> None:
    offenders = {
        rel(p): uses(imported_modules(p), "slack_bolt", "slack_sdk")
        for p in python_files("bot", "index")
        if not rel(p).startswith("bot/channels/slack/")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_index_never_imports_bot() -> None:
    offenders = {rel(p): uses(imported_modules(p), "bot") for p in python_files("index")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_core_knows_no_channel_or_http() -> None:
    core = python_files("bot/core")
    assert len(core) >= 5
    offenders = {
        rel(p): uses(imported_modules(p), "aiohttp", "slack_bolt", "slack_sdk", "botbuilder", "botframework")
        for p in core
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_module_over_400_lines_without_a_reason() -> None:
    """A reader holds a module of a few hundred lines; a longer one says why in its docstring."""
    long = {}
    for path in python_files("bot", "index"):
        lines = path.read_text(encoding="utf-8").count("\n")
        if lines > MAX_LINES:
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            if not re.search(r"over 400 lines", doc, re.IGNORECASE):
                long[rel(path)] = lines
    assert long == {}


def test_every_module_says_what_it_holds() -> None:
    missing = [
        rel(p)
        for p in python_files("bot", "index")
        if p.stat().st_size and not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))
    ]
    assert missing == []


def test_the_map_matches_the_tree() -> None:
    """docs/architecture.md names every package (as ``path/``), and every name on it exists."""
    text = (ROOT / "docs/architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"^\s*((?:bot|index)/(?:[a-z_]+/)*)", text, re.MULTILINE))
    assert named, "the map names no package"
    missing = sorted(n for n in named if not (ROOT / n / "__init__.py").is_file() and n != "index/")
    assert missing == []
    packages = {
        rel(p.parent) + "/"
        for p in python_files("bot", "index")
        if p.name == "__init__.py" and "migrations" not in p.parts
    }
    assert sorted(packages - named) == []
