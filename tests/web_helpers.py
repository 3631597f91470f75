"""Helpers for the web tests: a running app with the real services, CSRF tokens read from pages."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.services import Services
from bot.config import Settings
from bot.server import create_app

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
KEY = re.compile(r'name="key" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


@asynccontextmanager
async def web_client(
    settings: Settings, assistant: Any
) -> AsyncIterator[tuple[TestClient[Any, Any], Services]]:
    """A TestClient on the real app (real database, real assistant), worker off so tests stay in step."""
    services = await Services.open(settings, assistant=assistant, start_worker=False)
    app = create_app(settings, services=services)
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client, services
    finally:
        await client.close()
        await services.close()


async def page(client: TestClient[Any, Any], path: str) -> tuple[str, str]:
    """GET a page; returns (html, its CSRF token)."""
    response = await client.get(path)
    assert response.status == 200, (path, response.status)
    html = await response.text()
    return html, csrf_of(html)


@pytest.fixture(scope="session")
def cached_core_var_dir() -> Path:
    """Development aid: POLICYBOT_TEST_INDEX_CACHE names a state directory whose built index is reused
    between runs (building it takes minutes on a busy machine). Unset (CI), the shared fixture builds it."""
    return Path(INDEX_CACHE or ".")


#: Assign ``core_var_dir = cached_core_var_dir`` in a test module when this is set.
INDEX_CACHE = os.environ.get("POLICYBOT_TEST_INDEX_CACHE")
