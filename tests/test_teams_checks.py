"""`policybot config check` lists the directory people the Teams bot cannot reach yet."""

from __future__ import annotations

from bot.config import Settings
from bot.reports.directory_file import load_directory
from bot.server.checks import check_teams_reach, run_checks
from bot.storage.database import Database
from bot.storage.shared import ConversationRefs

AMIRA_AAD = "773b640e-40d7-505a-bc6c-9e8ac0b1017c"


async def test_lists_people_without_a_chat_when_no_tenant_id(settings: Settings) -> None:
    assert await check_teams_reach(settings) == []  # Teams not configured: nothing to say
    dev = settings.model_copy(update={"teams_dev": True})
    people = {p.id for p in load_directory(dev.directory_file).people.values() if p.teams_id}
    listed = {p.entry.removeprefix("teams: ") for p in await check_teams_reach(dev)}
    assert listed == people

    db = await Database.open(dev)
    try:
        await ConversationRefs(db).save("teams", AMIRA_AAD, {"conversation": {"id": "a:amira"}})
    finally:
        await db.dispose()
    problems = await check_teams_reach(dev)
    assert {p.entry for p in problems} == {f"teams: {p}" for p in people - {"amira.okafor"}}
    assert all("install policybot" in p.fix for p in problems)

    with_tenant = dev.model_copy(update={"microsoft_app_tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47"})
    assert await check_teams_reach(with_tenant) == []
    results = {r.name: r for r in await run_checks(dev)}
    assert not results["teams reach"].ok
