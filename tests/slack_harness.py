"""A running policybot app with the Slack edge mounted, pointed at a FakeSlack, and a signed-request client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from fake_slack import FakeSlack, event_callback, signed_headers

from bot.channels.services import Services
from bot.config import Settings
from bot.server import create_app

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-0000-policybot"
TEST_SECRET = "test-secret-key-0123456789abcdef"


def slack_settings(var_dir: Path, database_url: str | None, fake: FakeSlack, **extra: Any) -> Settings:
    return Settings.load(
        var_dir=var_dir,
        database_url=database_url,
        secret_key=TEST_SECRET,
        webhook_url=None,
        webhook_secret=None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.api_url,
        slack_progress_after=0.0,
        worker=False,
        **extra,
    )


@dataclass
class Harness:
    client: TestClient
    services: Services
    fake: FakeSlack
    secret: str = SIGNING_SECRET

    async def post(
        self,
        body: bytes,
        *,
        json_body: bool = False,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> ClientResponse:
        signed = signed_headers(
            secret or self.secret,
            body,
            timestamp=timestamp,
            content_type="application/json" if json_body else "application/x-www-form-urlencoded",
        )
        return await self.client.post("/slack/events", data=body, headers={**signed, **(headers or {})})

    async def event(
        self, event: dict[str, Any], *, event_id: str, retry: int | None = None
    ) -> ClientResponse:
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        return await self.post(event_callback(event, event_id=event_id), json_body=True, headers=headers)

    async def deliver(self) -> int:
        """Run the delivery worker once (notices to recipients / the reporter)."""
        return await self.services.reports.worker.run_once()


@asynccontextmanager
async def running(settings: Settings, assistant: Any, fake: FakeSlack) -> AsyncIterator[Harness]:
    services = await Services.open(settings, assistant=assistant, start_worker=False)
    client = TestClient(TestServer(create_app(settings, services=services), host="127.0.0.1"))
    await client.start_server()
    try:
        yield Harness(client, services, fake)
    finally:
        await client.close()
        await services.close()


def view_of(call: Any) -> dict[str, Any]:
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else dict(view)
