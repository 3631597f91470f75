"""The Teams app package: manifest with command lists and scopes, icons of the right size, reproducible zip."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from bot.channels.teams.package import TEAMS_DIR, build_package, color_icon, outline_icon
from bot.errors import ConfigError

APP_ID = "1f2e3d4c-0000-1111-2222-333344445555"


def test_manifest_lists_commands_and_scopes() -> None:
    manifest = json.loads((TEAMS_DIR / "manifest.json").read_text())
    [bot] = manifest["bots"]
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    for command_list in bot["commandLists"]:
        assert [c["title"] for c in command_list["commands"]] == ["policy", "help", "report"]
        assert all(len(c["description"]) <= 128 for c in command_list["commands"])
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["description"]["short"]) <= 80


def test_icons_are_committed_as_drawn() -> None:
    color = Image.open(TEAMS_DIR / "color.png")
    outline = Image.open(TEAMS_DIR / "outline.png")
    assert color.size == (192, 192) and outline.size == (32, 32)
    assert color.tobytes() == color_icon().tobytes()
    assert outline.tobytes() == outline_icon().tobytes()
    # Outline: only white or fully transparent pixels.
    pixels = outline.convert("RGBA").tobytes()
    rgba = [tuple(pixels[i : i + 4]) for i in range(0, len(pixels), 4)]
    assert {(r, g, b) for r, g, b, a in rgba if a} == {(255, 255, 255)}


def test_package_zip_is_upload_ready_and_reproducible(tmp_path: Path) -> None:
    first = build_package(APP_ID, tmp_path / "a.zip")
    second = build_package(APP_ID, tmp_path / "b.zip")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["id"] == APP_ID and manifest["bots"][0]["botId"] == APP_ID


def test_package_refuses_without_a_real_app_id(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MicrosoftAppId"):
        build_package("", tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()
