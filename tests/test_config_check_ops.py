"""`policybot config check` and `policybot db migrate|status` through the real entry point: the summary of
what is configured (channels mounted, database, index, model, directory) never shows a secret; half-configured
channels are problems with fixes; db status fails on an unmigrated database until db migrate runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TEST_SECRET

from tests.cli_helpers import run


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_database_url: str | None) -> Path:
    for name in ("DATABASE_URL", "POLICYBOT_WEBHOOK_URL", "POLICYBOT_WEBHOOK_SECRET", "POLICYBOT_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "MicrosoftAppId", "MicrosoftAppPassword"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POLICYBOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("POLICYBOT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("COLUMNS", "200")
    if empty_database_url:
        monkeypatch.setenv("DATABASE_URL", empty_database_url)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_db_status_then_migrate(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(capsys, monkeypatch, "db", "status")
    assert code == 1 and "policybot db migrate" in out
    code, out = run(capsys, monkeypatch, "db", "migrate")
    assert code == 0 and "current" in out
    code, out = run(capsys, monkeypatch, "db", "status")
    assert code == 0 and "current" in out


def test_summary_and_channel_problems_without_secrets(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(capsys, monkeypatch, "config", "check")
    assert code == 0, out
    assert "channels mounted: web console (/console)" in out
    assert "encryption key: POLICYBOT_SECRET_KEY (set)" in out
    assert "index:" in out and "not built" in out
    assert "model: all-MiniLM-L6-v2" in out and "directory.example.toml" in out
    assert TEST_SECRET not in out

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret-token-123")
    monkeypatch.setenv("MicrosoftAppId", "00000000-aaaa-bbbb-cccc-000000000000")
    monkeypatch.setenv("MicrosoftAppPassword", "teams-password-456")
    code, out = run(capsys, monkeypatch, "config", "check")
    assert code == 1
    assert "SLACK_SIGNING_SECRET: Slack is half configured" in out
    assert "MicrosoftAppTenantId: a SingleTenant bot needs its tenant id" in out
    assert "channels mounted: teams (/api/messages)" in out
    assert "xoxb-very-secret" not in out and "teams-password" not in out and TEST_SECRET not in out

    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret-789")
    monkeypatch.setenv("MicrosoftAppTenantId", "11111111-2222-3333-4444-555555555555")
    code, out = run(capsys, monkeypatch, "config", "check")
    assert code == 0, out
    assert "channels mounted: slack (/slack/events), teams (/api/messages)" in out
    assert "signing-secret-789" not in out
