"""The console and report form over HTTP (aiohttp TestClient, real assistant, SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from typing import Any

from bot.config import Settings
from bot.domain import Channel
from bot.reports.model import Reporter
from tests.web_helpers import INDEX_CACHE, KEY, cached_core_var_dir, csrf_of, page, web_client

if INDEX_CACHE:
    core_var_dir = cached_core_var_dir


async def test_console_at_root_in_local_mode_with_strict_headers(settings: Settings, assistant: Any) -> None:
    async with web_client(settings, assistant) as (client, _):
        response = await client.get("/")
        assert response.status == 200
        html = await response.text()
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
        # No inline script or style, and nothing from another host.
        assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", html)
        assert "style=" not in html and "<style" not in html
        assert not re.search(r'(src|href)="(https?:)?//', html)
        assert "You are:" in html and "Sam Patel, Teaching assistant" in html
        assert (await client.get("/static/policybot.css")).status == 200
        assert (await client.get("/static/policybot.js")).status == 200


async def test_ask_shows_cited_answer_and_keeps_context(settings: Settings, assistant: Any) -> None:
    async with web_client(settings, assistant) as (client, services):
        _, csrf = await page(client, "/")
        response = await client.post(
            "/console/ask", data={"csrf": csrf, "text": "Can I accept a friend request from a parent?"}
        )
        assert response.status == 200
        html = await response.text()
        assert 'class="badge"' in html and "<blockquote>" in html and "version" in html
        assert "Report this privately" in html and "Was this helpful?" in html
        # The follow-up context is kept under this browser's conversation key.
        fragment = await client.post(
            "/console/ask",
            data={"csrf": csrf, "text": "What about a former pupil?"},
            headers={"X-Policybot-Fragment": "1"},
        )
        body = await fragment.text()
        assert "<html" not in body and "bubble bot" in body
        await services.assistant.settle()  # memory is written just after the reply
        keys = [k for k in await _conversation_keys(services)]
        assert len(keys) == 1 and len(await services.memory.recent(keys[0])) == 2


async def _conversation_keys(services: Any) -> list[str]:
    from sqlalchemy import select

    from bot.storage.schema import conversation_turns

    async with services.reports.db.transaction() as conn:
        rows = await conn.execute(select(conversation_turns.c.conversation_key).distinct())
    return [r[0] for r in rows]


async def test_urgent_notice_first_and_prominent(settings: Settings, assistant: Any) -> None:
    async with web_client(settings, assistant) as (client, _):
        _, csrf = await page(client, "/")
        html = await (
            await client.post(
                "/console/ask",
                data={
                    "csrf": csrf,
                    "text": "A child just told me their stepdad hits them and they are scared to go home tonight",
                },
            )
        ).text()
        urgent = re.search(r'<div class="urgent" role="alert"><strong>(.*?)</strong>', html, re.S)
        assert urgent and "999" in urgent.group(1) and "Priya Shah" in urgent.group(1)
        assert 'class="primary">Report this privately' in html


async def test_feedback_latest_click_wins(settings: Settings, assistant: Any) -> None:
    async with web_client(settings, assistant) as (client, services):
        _, csrf = await page(client, "/")
        html = await (
            await client.post("/console/ask", data={"csrf": csrf, "text": "Can I use Facebook at lunch?"})
        ).text()
        meta = re.search(r'name="meta" value="([^"]+)"', html)
        assert meta
        import html as htmllib

        value = htmllib.unescape(meta.group(1))
        for helpful in ("yes", "no"):
            r = await client.post("/console/feedback", data={"csrf": csrf, "meta": value, "helpful": helpful})
            assert r.status == 200
        counts = await services.feedback.counts()
        assert (counts.helpful, counts.not_helpful) == (0, 1)
        forged = value.replace('"r":"', '"r":"x')
        r = await client.post("/console/feedback", data={"csrf": csrf, "meta": forged, "helpful": "yes"})
        assert r.status == 400


async def test_quick_guidance(settings: Settings, assistant: Any) -> None:
    async with web_client(settings, assistant) as (client, _):
        response = await client.get("/console/guidance")
        html = await response.text()
        assert response.status == 200 and html.count('class="citation"') >= 2


async def test_post_without_csrf_is_refused_and_changes_nothing(settings: Settings, assistant: Any) -> None:
    async with web_client(settings, assistant) as (client, services):
        html, _ = await page(client, "/report")
        key = KEY.search(html).group(1)  # type: ignore[union-attr]
        form = {"category": "other", "description": "Something odd happened", "key": key}
        r = await client.post("/report", data=form)
        assert r.status == 403 and "security token" in await r.text()
        r = await client.post("/report", data={**form, "csrf": "0" * 64})
        assert r.status == 403
        assert (
            await services.reports.service.my_reports(Reporter(Channel.WEB, "sam.patel", "sam.patel")) == []
        )


async def test_report_as_chosen_person_validation_keeps_input_and_double_submit_files_once(
    settings: Settings, assistant: Any
) -> None:
    async with web_client(settings, assistant) as (client, services):
        _, csrf = await page(client, "/")
        r = await client.post(
            "/console/as", data={"csrf": csrf, "person_id": "sam.patel"}, allow_redirects=False
        )
        assert r.status == 303
        html, csrf = await page(client, "/report")
        assert "Reporting as <strong>Sam Patel</strong>" in html
        key = KEY.search(html).group(1)  # type: ignore[union-attr]
        form = {
            "csrf": csrf,
            "key": key,
            "category": "safeguarding",
            "description": "",
            "where": "Year 2 classroom",
            "when": "Tuesday morning",
            "concerns_children": "on",
        }
        bad = await client.post("/report", data=form)
        text = await bad.text()
        assert bad.status == 400
        assert 'id="description-error"' in text and 'aria-invalid="true"' in text
        assert 'value="Year 2 classroom"' in text and 'value="Tuesday morning"' in text
        assert f'value="{key}"' in text and 'id="concerns_children" name="concerns_children" checked' in text
        words = "A pupil in Year 2 said an older child takes her lunch and pushes her every day."
        first = await client.post("/report", data={**form, "description": words})
        again = await client.post("/report", data={**form, "description": words})
        ref1 = re.search(r'class="ref">(R-[0-9A-Z-]+)<', await first.text())
        ref2 = re.search(r'class="ref">(R-[0-9A-Z-]+)<', await again.text())
        assert ref1 and ref2 and ref1.group(1) == ref2.group(1)
        mine = await services.reports.service.my_reports(Reporter(Channel.WEB, "sam.patel", "sam.patel"))
        assert [r.reference for r in mine] == [ref1.group(1)]
        listing = await (await client.get("/reports")).text()
        assert ref1.group(1) in listing and "waiting for acknowledgement" in listing


async def test_report_needs_someone_to_report_as(settings: Settings, assistant: Any) -> None:
    async with web_client(settings, assistant) as (client, _):
        html, csrf = await page(client, "/report")
        key = KEY.search(html).group(1)  # type: ignore[union-attr]
        r = await client.post(
            "/report", data={"csrf": csrf, "key": key, "category": "other", "description": "My words here"}
        )
        text = await r.text()
        assert r.status == 400 and 'id="as_person-error"' in text and "My words here" in text
        # Choosing in the same form files it, and the choice is remembered.
        r = await client.post(
            "/report",
            data={
                "csrf": csrf,
                "key": key,
                "category": "other",
                "description": "My words here",
                "as_person": "ben.taylor",
            },
        )
        assert r.status == 200 and "Your report has been saved" in await r.text()
        assert "Reporting as <strong>Ben Taylor</strong>" in await (await client.get("/report")).text()


async def test_report_draft_carries_the_message(settings: Settings, assistant: Any) -> None:
    async with web_client(settings, assistant) as (client, _):
        _, csrf = await page(client, "/")
        r = await client.post(
            "/report/draft", data={"csrf": csrf, "description": "A parent keeps messaging me"}
        )
        assert ">A parent keeps messaging me</textarea>" in await r.text()
        assert csrf_of(await r.text())


async def test_with_chat_credentials_console_moves_to_console_path(
    settings: Settings, assistant: Any
) -> None:
    chat = settings.model_copy(update={"teams_dev": True, "console": True})
    async with web_client(chat, assistant) as (client, _):
        r = await client.get("/", allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == "/console"
        html = await (await client.get("/console")).text()
        assert "You are:" not in html  # no acting as people outside local mode
        assert (await client.get("/reports")).status == 200
    off = settings.model_copy(update={"teams_dev": True})
    async with web_client(off, assistant) as (client, _):
        assert (await client.get("/console")).status == 404
        r = await client.get("/", allow_redirects=False)
        assert r.headers["Location"] == "/cases"
        assert (await client.get("/reports")).status == 200
