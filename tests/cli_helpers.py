"""Running the `policybot` command in-process, for CLI tests."""

from __future__ import annotations

import sys

import pytest
import typer

from bot.cli import main


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    """Run `policybot ARGS` through the real entry point; returns (exit code, stdout + stderr)."""
    monkeypatch.setattr(sys, "argv", ["policybot", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    except typer.Exit as exc:
        code = exc.exit_code
    out = capsys.readouterr()
    return code, out.out + out.err
