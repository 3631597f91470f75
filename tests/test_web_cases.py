"""Sign-in links, the case dashboard, actions and exports over HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pypdf import PdfReader
from sqlalchemy import select

from bot.channels.services import Services
from bot.channels.web.auth import make_signin_link, make_signin_token, read_signin_token, safe_next
from bot.config import Settings
from bot.domain import Channel
from bot.errors import InputError
from bot.reports.model import Reporter, Submission
from bot.storage.crypto import Keys
from bot.storage.schema import case_events, cases
from tests.web_helpers import INDEX_CACHE, cached_core_var_dir, csrf_of, page, web_client

if INDEX_CACHE:
    core_var_dir = cached_core_var_dir

WORDS = "Ruby (Year 3) told me that a man she met in a game asked her for photos and to keep it secret."


async def file_case(services: Services) -> str:
    receipt = await services.reports.service.submit(
        Submission(
            category="safeguarding",
            description=WORDS,
            where="Roblox",
            when="last night",
            concerns_children=True,
            consent_to_name=True,
        ),
        Reporter(Channel.WEB, "sam.patel", "sam.patel"),
        idempotency_key="k1",
    )
    return receipt.reference


async def sign_in(
    client: TestClient[Any, Any], services: Services, settings: Settings, who: str, nxt: str
) -> str:
    link = make_signin_link(settings, who, nxt, keys=services.reports.db.keys)
    path = link.removeprefix(settings.base_url)
    html, csrf = await page(client, path)
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    response = await client.post("/signin", data={"csrf": csrf, "token": token}, allow_redirects=False)
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == safe_next(nxt)
    return path


async def events(services: Services, reference: str, kind: str) -> list[str]:
    async with services.reports.db.transaction() as conn:
        case_id = (await conn.execute(select(cases.c.id).where(cases.c.reference == reference))).scalar_one()
        rows = await conn.execute(
            select(case_events.c.actor).where(case_events.c.case_id == case_id, case_events.c.kind == kind)
        )
    return [r[0] for r in rows]


def test_signin_token_signature_expiry_and_next() -> None:
    keys = Keys.from_secret("x" * 32)
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    token = make_signin_token(keys, "priya.shah", "//evil.example/", now + timedelta(minutes=5))
    signin = read_signin_token(keys, token, now)
    assert (signin.person_id, signin.next_path) == ("priya.shah", "/cases")
    with pytest.raises(InputError, match="expired"):
        read_signin_token(keys, token, now + timedelta(minutes=6))
    body, sig = token.split(".")
    with pytest.raises(InputError, match="not valid"):
        read_signin_token(keys, body[:-2] + "xx." + sig, now)
    with pytest.raises(InputError, match="not valid"):
        read_signin_token(Keys.from_secret("y" * 32), token, now)
    assert safe_next("https://evil.example/") == "/cases" and safe_next("/cases/R-1") == "/cases/R-1"


async def test_dashboard_needs_signin_and_link_works_once(settings: Settings, assistant: Any) -> None:
    async with web_client(settings, assistant) as (client, services):
        reference = await file_case(services)
        signed_out = await client.get(f"/cases/{reference}")
        body = await signed_out.text()
        assert signed_out.status == 401 and WORDS not in body and "cases login" in body
        before = client.session.cookie_jar.filter_cookies(client.make_url("/"))["policybot_session"].value
        path = await sign_in(client, services, settings, "priya.shah", f"/cases/{reference}")
        after = client.session.cookie_jar.filter_cookies(client.make_url("/"))["policybot_session"].value
        assert before != after  # a fresh session on sign-in
        listing = await (await client.get("/cases")).text()
        assert reference in listing and "safeguarding" in listing and "Acknowledge by" in listing
        # The same link again, in another browser: refused (used tokens live in the database).
        other = TestClient(client.server)
        await other.start_server()
        try:
            html, csrf = await page(other, path)
            token = re.search(r'name="token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
            again = await other.post("/signin", data={"csrf": csrf, "token": token})
            assert again.status == 403 and "already been used" in await again.text()
            assert (await other.get("/cases")).status == 401
        finally:
            await other.close()


async def test_work_a_case_through_to_export(settings: Settings, assistant: Any) -> None:
    async with web_client(settings, assistant) as (client, services):
        reference = await file_case(services)
        await sign_in(client, services, settings, "priya.shah", "/cases")
        html, csrf = await page(client, f"/cases/{reference}")
        assert WORDS in html and "Sam Patel" in html and "Chronology" in html
        assert await events(services, reference, "read") == ["priya.shah"]
        r = await client.post(f"/cases/{reference}/acknowledge", data={"csrf": csrf}, allow_redirects=False)
        assert r.status == 303
        html, csrf = await page(client, f"/cases/{reference}?done=acknowledge")
        assert "Acknowledged: you have it in hand" in html and "Acknowledge: I have" not in html
        action = "Referred to children's social care (MASH) by phone"
        bad = await client.post(
            f"/cases/{reference}/decision", data={"csrf": csrf, "action": action, "reason": " "}
        )
        text = unescape(await bad.text())
        assert bad.status == 400 and 'id="reason-error"' in text and action in text
        reason = "Online grooming indicators; parents informed per KCSIE"
        for what, form in (
            ("decision", {"action": action, "reason": reason}),
            ("note", {"note": "Spoke to Ruby's mother at 15:30."}),
            ("close", {"outcome": "Referral accepted by MASH; police informed."}),
        ):
            r = await client.post(
                f"/cases/{reference}/{what}", data={"csrf": csrf, **form}, allow_redirects=False
            )
            assert r.status == 303, what
        view = await (await client.get(f"/cases/{reference}")).text()
        assert "Referral accepted by MASH" in view and "state-closed" in view
        md = await client.get(f"/cases/{reference}/export.md")
        text = await md.text()
        assert md.status == 200 and "attachment" in md.headers["Content-Disposition"]
        for part in (
            WORDS,
            action,
            f"Reason: {reason}",
            "Referral accepted by MASH",
            "Roblox",
            "last night",
            "## Chronology",
            "Priya Shah",
        ):
            assert part in text, part
        pdf = await client.get(f"/cases/{reference}/export.pdf")
        assert pdf.status == 200 and pdf.headers["Content-Type"] == "application/pdf"
        extracted = " ".join((p.extract_text() or "") for p in PdfReader(io.BytesIO(await pdf.read())).pages)
        flat = " ".join(extracted.split())
        assert " ".join(WORDS.split()) in flat and reason in flat
        assert len(await events(services, reference, "read")) >= 4  # every view and export is recorded


async def test_someone_else_is_refused_without_content(settings: Settings, assistant: Any) -> None:
    async with web_client(settings, assistant) as (client, services):
        reference = await file_case(services)
        await sign_in(client, services, settings, "ahmed.karim", "/cases")
        assert reference not in await (await client.get("/cases")).text()
        for path in (
            f"/cases/{reference}",
            f"/cases/{reference}/export.pdf",
            f"/cases/{reference}/export.md",
        ):
            r = await client.get(path)
            body = await r.text()
            assert r.status == 403 and WORDS not in body and "Roblox" not in body, path
        csrf = csrf_of(await (await client.get("/cases")).text())
        r = await client.post(f"/cases/{reference}/close", data={"csrf": csrf, "outcome": "x"})
        assert r.status == 403
        assert "ahmed.karim" in await events(services, reference, "access_refused")
        nowhere = await client.get("/cases/R-0000-0000")
        assert nowhere.status == 403 and "There is no case" in await nowhere.text()


async def test_secure_cookie_over_https(settings: Settings, assistant: Any) -> None:
    https = settings.model_copy(update={"public_url": "https://policybot.example.org"})
    async with web_client(https, assistant) as (client, _):
        cookie = (await client.get("/reports")).headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


async def test_cli_login_prints_a_working_link(settings: Settings, assistant: Any, monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from bot.cli import app as cli

    for name, value in {
        "POLICYBOT_VAR_DIR": str(settings.var_dir),
        "POLICYBOT_SECRET_KEY": settings.secret_key.get_secret_value() if settings.secret_key else "",
        "DATABASE_URL": settings.database_url or "",
    }.items():
        monkeypatch.setenv(name, value)
    async with web_client(settings, assistant) as (client, _):
        run = CliRunner().invoke  # in a thread: the command runs its own event loop
        result = await asyncio.to_thread(
            run, cli, ["cases", "login", "--as", "priya.shah", "--next", "/cases"]
        )
        assert result.exit_code == 0, result.output
        link = re.search(r"http://\S+/signin/\S+", result.output.replace("\n", ""))
        assert link
        page_html, _ = await page(client, link.group(0).removeprefix(settings.base_url))
        assert "Continue as Priya Shah" in page_html
        bad = await asyncio.to_thread(run, cli, ["cases", "login", "--as", "nobody.here"])
        assert bad.exit_code != 0


async def test_link_from_another_site_reloads_without_replacing_the_session(
    settings: Settings, assistant: Any
) -> None:
    """SameSite=Strict: a click in Slack arrives without the cookie; the page must not start a new session
    (that would sign the person out) but reload itself from this site, where the cookie is sent."""
    async with web_client(settings, assistant) as (client, services):
        reference = await file_case(services)
        await sign_in(client, services, settings, "priya.shah", "/cases")
        jar = client.session.cookie_jar
        cookie = jar.filter_cookies(client.make_url("/"))["policybot_session"].value
        jar.clear()
        bounced = await client.get(f"/cases/{reference}", headers={"Sec-Fetch-Site": "cross-site"})
        body = await bounced.text()
        assert bounced.status == 200 and "Set-Cookie" not in bounced.headers and WORDS not in body
        assert f'content="0;url=/cases/{reference}?again=1"' in body
        assert await events(services, reference, "read") == []
        jar.update_cookies({"policybot_session": cookie})
        again = await client.get(f"/cases/{reference}?again=1", headers={"Sec-Fetch-Site": "same-origin"})
        assert again.status == 200 and WORDS in await again.text()


async def test_acting_on_a_closed_case_says_why(settings: Settings, assistant: Any) -> None:
    async with web_client(settings, assistant) as (client, services):
        reference = await file_case(services)
        await sign_in(client, services, settings, "tom.reid", "/cases")
        _, csrf = await page(client, f"/cases/{reference}")
        done = await client.post(
            f"/cases/{reference}/close", data={"csrf": csrf, "outcome": "No further action."}
        )
        assert done.status == 200  # followed the redirect to the case page
        again = await client.post(f"/cases/{reference}/close", data={"csrf": csrf, "outcome": "Again"})
        body = await again.text()
        assert again.status == 400 and "already closed" in body and 'class="problem"' in body


async def test_pdf_export_without_fonts_fails_clearly(
    settings: Settings, assistant: Any, monkeypatch: Any, tmp_path: Any
) -> None:
    from bot.channels.web import export

    monkeypatch.setattr(export, "FONT_DIR", tmp_path / "no-fonts")
    async with web_client(settings, assistant) as (client, services):
        reference = await file_case(services)
        await sign_in(client, services, settings, "priya.shah", "/cases")
        r = await client.get(f"/cases/{reference}/export.pdf")
        body = await r.text()
        assert r.status == 503 and "fonts-dejavu-core" in body and WORDS not in body


class _Forms(HTMLParser):
    """Collects POST forms (and whether each has a CSRF field), form controls, and labels."""

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[bool] = []
        self.controls: list[str] = []
        self.labels: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self.posts.append(False)
        if tag == "input" and a.get("name") == "csrf" and self.posts:
            self.posts[-1] = True
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append(a.get("id") or "(no id)")
        if tag == "label" and a.get("for"):
            self.labels.add(a["for"] or "")


async def test_every_form_has_csrf_and_every_control_a_label(settings: Settings, assistant: Any) -> None:
    async with web_client(settings, assistant) as (client, services):
        reference = await file_case(services)
        _, csrf = await page(client, "/")
        await client.post("/console/ask", data={"csrf": csrf, "text": "Can I post photos of pupils?"})
        await sign_in(client, services, settings, "priya.shah", "/cases")
        for path in ("/", "/report", "/reports", "/cases", f"/cases/{reference}"):
            html_text, _ = await page(client, path)
            parser = _Forms()
            parser.feed(html_text)
            assert parser.posts and all(parser.posts), path
            unlabelled = [c for c in parser.controls if c not in parser.labels]
            assert not unlabelled, (path, unlabelled)


async def test_insights_page_is_for_case_administrators(settings: Settings, assistant: Any) -> None:
    from bot.domain import Message, User

    question = "How many days of annual leave do I get each year?"
    async with web_client(settings, assistant) as (client, services):
        reply = await services.assistant.handle(
            Message(question, user=User("U1", Channel.WEB, directory_id="sam.patel"), channel=Channel.WEB)
        )
        assert reply.kind.value == "no_answer"
        await sign_in(client, services, settings, "ahmed.karim", "/cases")
        refused = await client.get("/insights")
        assert refused.status == 403 and question not in await refused.text()
        assert "/insights" not in await (await client.get("/cases")).text()
        await sign_in(client, services, settings, "priya.shah", "/cases")
        assert 'href="/insights"' in await (await client.get("/cases")).text()
        shown = await client.get("/insights")
        body = unescape(await shown.text())
        assert shown.status == 200 and question in body and "Unanswered themes" in body
