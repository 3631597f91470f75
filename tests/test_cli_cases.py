"""The reports CLI as people use it: `policybot report`, `cases ...`, `worker --once`, `config check`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import TEST_SECRET

from tests.cli_helpers import run


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None) -> Path:
    for name in ("DATABASE_URL", "POLICYBOT_WEBHOOK_URL", "POLICYBOT_WEBHOOK_SECRET", "POLICYBOT_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POLICYBOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("POLICYBOT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("COLUMNS", "200")
    if database_url:
        monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_report_then_work_the_case(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(
        capsys,
        monkeypatch,
        "report",
        "--as",
        "sam.patel",
        "--category",
        "online_abuse",
        "--description",
        "Abusive replies under my post.",
        "--where",
        "X",
        "--evidence",
        "https://example.org/1",
        "--name-me",
    )
    assert code == 0, out
    reference = re.search(r"Report saved: (R-\w{4}-\w{4})", out).group(1)  # type: ignore[union-attr]
    notices = (cli_env / "var" / "notifications.log").read_text()
    assert f"to=jo.evans key={reference}/jo.evans/new_case" in notices and "Abusive" not in notices

    code, out = run(capsys, monkeypatch, "cases", "list", "--as", "jo.evans")
    assert code == 0 and reference in out
    code, out = run(capsys, monkeypatch, "cases", "list", "--as", "ben.taylor")
    assert code == 0 and "No cases." in out
    code, out = run(capsys, monkeypatch, "cases", "list", "--as", "mystery.person")
    assert code == 1 and '"mystery.person" is not in the directory' in out
    code, out = run(capsys, monkeypatch, "cases", "show", reference, "--as", "ben.taylor")
    assert code == 1 and f"There is no case {reference} that you can open." in out
    assert "Abusive" not in out

    code, out = run(capsys, monkeypatch, "cases", "ack", reference, "--as", "jo.evans")
    assert code == 0 and "Acknowledged." in out
    code, out = run(capsys, monkeypatch, "cases", "note", reference, "Spoke to Sam.", "--as", "jo.evans")
    assert code == 0
    code, out = run(
        capsys,
        monkeypatch,
        "cases",
        "decide",
        reference,
        "--action",
        "Reported to X",
        "--reason",
        "Appendix 1",
        "--as",
        "U0JO00001",  # a Slack id works too
    )
    assert code == 0, out
    code, out = run(
        capsys, monkeypatch, "cases", "close", reference, "--outcome", "Removed.", "--as", "jo.evans"
    )
    assert code == 0
    code, out = run(capsys, monkeypatch, "cases", "show", reference, "--as", "jo.evans")
    assert code == 0
    for expected in (
        "Abusive replies under my post.",
        "Sam Patel (sam.patel)",
        "Spoke to Sam.",
        "Reported to X",
        "reason: Appendix 1",
        "closed",
        "Removed.",
    ):
        assert expected in out, expected

    code, out = run(capsys, monkeypatch, "worker", "--once")
    assert code == 0 and "1 notice(s) handled." in out  # the reporter's acknowledgement notice
    code, out = run(capsys, monkeypatch, "cases", "purge", "--dry-run")
    assert code == 0 and "0 closed case(s) would be anonymised." in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--description", "  "], "cannot be empty"),
        (["--description", "x" * 10_001], "the limit is 10,000"),
        (["--description", "ok", "--about", "nobody.here"], 'Unknown person "nobody.here"'),
    ],
)
def test_bad_reports_are_refused_and_nothing_is_saved(
    cli_env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    code, out = run(capsys, monkeypatch, "report", "--as", "sam.patel", "--category", "other", *args)
    assert code == 1 and message in out and "Report saved" not in out
    code, out = run(capsys, monkeypatch, "cases", "list", "--as", "priya.shah", "--all")
    assert "No cases." in out


def test_unknown_category_is_named(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(
        capsys, monkeypatch, "report", "--as", "sam.patel", "--category", "gossip", "--description", "x"
    )
    assert code == 1 and 'Unknown category "gossip"' in out


def test_config_check(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(capsys, monkeypatch, "config", "check")
    assert code == 0, out
    assert "ok  directory" in out and "ok  database and key" in out

    bad = cli_env / "directory.toml"
    example = Path(__file__).resolve().parent.parent / "deploy" / "directory.example.toml"
    bad.write_text(example.read_text().replace('manager = "jo.evans"', 'manager = "jo.evan"', 1))
    monkeypatch.setenv("POLICYBOT_DIRECTORY", str(bad))
    monkeypatch.setenv("POLICYBOT_WEBHOOK_URL", "https://hooks.example.org/x")
    monkeypatch.setenv("POLICYBOT_SECRET_KEY", "a-different-secret-key-0000")
    code, out = run(capsys, monkeypatch, "config", "check")
    assert code == 1
    assert 'people[sam.patel].manager: manager "jo.evan" is not in the directory' in out
    assert "does not match" in out  # the key
    assert "POLICYBOT_WEBHOOK_SECRET" in out
    assert "a-different-secret-key" not in out and TEST_SECRET not in out
