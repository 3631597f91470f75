"""The Teams test harness: the real app (create_app + Services with the real assistant) served on 127.0.0.1,
Activities posted to /api/messages the way the Bot Framework posts them, replies caught by a FakeConnector."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse, ClientSession, web

from bot.channels.services import Services
from bot.config import Settings
from bot.server import create_app
from tests.fake_connector import FakeConnector, TeamsUser

__all__ = ["AMIRA", "BEN", "CORPUS_TEXT", "HELEN", "PRIYA", "SAM", "Harness", "running_app", "verbatim"]

# People from deploy/directory.example.toml (teams_id = their AAD object id).
AMIRA = TeamsUser("Amira Okafor", "773b640e-40d7-505a-bc6c-9e8ac0b1017c")  # headteacher
PRIYA = TeamsUser("Priya Shah", "ad7bfaee-9b99-5ebc-a297-25b6091a9fc7")  # DSL, case administrator
HELEN = TeamsUser("Helen Ward", "5e0d3171-ff29-5bf5-90f4-710b5c682601")  # HR
SAM = TeamsUser("Sam Patel", "b0a3a71a-c06a-5dba-8115-e057a4bfc5e2")  # teaching assistant
BEN = TeamsUser("Ben Taylor", "ea3f9337-b121-5b2e-8653-825189c78ec3")  # teaching assistant

from bot.config import PROJECT_ROOT  # noqa: E402

CORPUS_TEXT = " ".join((PROJECT_ROOT / "policy_corpus" / "social-media-policy.md").read_text().split())


def verbatim(quote: str) -> bool:
    """Every sentence of a quote (joined by " … ") occurs word for word in the policy's text."""

    def norm(text: str) -> str:
        return re.sub(r"[*_`]", "", " ".join(text.split()))

    corpus = norm(CORPUS_TEXT)
    return all(norm(part) in corpus for part in quote.split(" \u2026 ") if part.strip())


@dataclass
class Harness:
    url: str
    http: ClientSession
    connector: FakeConnector
    services: Services

    async def post(self, activity: dict[str, Any], **headers: str) -> ClientResponse:
        response = await self.http.post(
            f"{self.url}/api/messages", json=activity, headers={"Content-Type": "application/json", **headers}
        )
        await response.read()
        return response


@asynccontextmanager
async def running_app(
    settings: Settings, assistant: Any, connector: FakeConnector | None
) -> AsyncIterator[Harness]:
    """The app exactly as `policybot serve` builds it, on a free loopback port; the worker is driven by hand."""
    services = await Services.open(settings, assistant=assistant, start_worker=False)
    runner = web.AppRunner(create_app(settings, services=services), access_log=None)
    try:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        async with ClientSession() as http:
            yield Harness(f"http://127.0.0.1:{port}", http, connector or FakeConnector(), services)
    finally:
        await runner.cleanup()
        await services.close()
