"""The web pages in headless Chromium against the real server (real assistant, real database).

Ask and see the citation; report; sign in as the routed DSL, acknowledge, decide with a reason, close, export
(Markdown and PDF, parsed); someone else is refused; a form whose CSRF token was removed is refused; the
console fits a phone screen. Screenshots go to docs/ when POLICYBOT_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pypdf import PdfReader

from bot.channels.services import Services
from bot.channels.web.auth import make_signin_link
from bot.config import PROJECT_ROOT, Settings
from bot.server import create_app
from tests.conftest import make_settings
from tests.web_helpers import INDEX_CACHE, cached_core_var_dir

if INDEX_CACHE:
    core_var_dir = cached_core_var_dir

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.async_api")
CHROMIUM = "/usr/bin/chromium"
WORDS = "Ruby in Year 3 told me a man she met in an online game asked her for photos and to keep it secret."


@pytest.fixture
async def server(tmp_path: Path, assistant: Any) -> AsyncIterator[tuple[str, Settings, Services]]:
    settings = make_settings(tmp_path / "var", None)
    services = await Services.open(settings, assistant=assistant, start_worker=False)
    runner = web.AppRunner(create_app(settings, services=services))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", settings, services
    finally:
        await runner.cleanup()
        await services.close()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    async with playwright_api.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


def keep_screenshot(path: Path, name: str) -> None:
    if os.environ.get("POLICYBOT_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(path, PROJECT_ROOT / "docs" / name)


async def sign_in(browser: Any, base: str, settings: Settings, services: Services, who: str, nxt: str) -> Any:
    """A fresh browser context signed in as ``who`` by opening a one-time link and pressing Continue."""
    context = await browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    link = make_signin_link(settings, who, nxt, keys=services.reports.db.keys)
    await page.goto(base + link.removeprefix(settings.base_url))
    await page.get_by_role("button", name="Continue as").click()
    await page.wait_for_url(f"{base}{nxt}")
    return page


async def test_console_report_case_export_refusal_csrf(
    server: tuple[str, Settings, Services], browser: Any, tmp_path: Path
) -> None:
    base, settings, services = server
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    await page.goto(base + "/")
    # Keyboard first: the first Tab reaches the skip link.
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"
    await page.get_by_label("You are:").select_option("sam.patel")
    await page.get_by_role("button", name="Use", exact=True).click()
    await page.wait_for_load_state()
    box = page.get_by_label("Your question")
    await box.fill("Can I accept a friend request from a parent on Facebook?")
    await box.press("Enter")
    citation = page.locator(".transcript .citation").first
    await citation.wait_for()
    badge = await citation.locator(".badge").inner_text()
    assert badge.startswith("§ ")
    assert "version" in await citation.locator(".cite-meta").inner_text()
    assert await box.input_value() == ""  # sent, ready for a follow-up
    await page.get_by_role("button", name="Yes").first.click()
    await page.get_by_text("Thanks: marked helpful.").wait_for()
    shot = tmp_path / "console.png"
    await page.screenshot(path=str(shot), full_page=True)
    keep_screenshot(shot, "console.png")

    # Report privately as Sam.
    await page.get_by_role("link", name="Report a concern").click()
    await page.get_by_label("Safeguarding concern about a child or vulnerable adult").check()
    await page.get_by_label("What happened? In your own words").fill(WORDS)
    await page.get_by_label("When did it happen?").fill("Yesterday after school")
    await page.get_by_label("Where did it happen?").fill("An online game (Roblox)")
    await page.get_by_label("It involves a child or children").check()
    await page.get_by_label("The people handling this may see my name").check()
    await page.get_by_role("button", name="Send report privately").click()
    reference = (await page.locator(".panel .ref").inner_text()).strip()
    assert reference.startswith("R-")

    # The routed DSL works the case.
    dsl = await sign_in(browser, base, settings, services, "priya.shah", "/cases")
    await dsl.get_by_role("link", name=reference).click()
    assert WORDS in await dsl.locator("blockquote.words").inner_text()
    await dsl.get_by_role("button", name="Acknowledge: I have this in hand").click()
    await dsl.get_by_text("Acknowledged: you have it in hand").wait_for()
    await dsl.get_by_label("Action or decision").fill("Referred to children's social care (MASH) by phone")
    await dsl.get_by_label("Reason").fill("Online grooming indicators; parents informed per KCSIE")
    await dsl.get_by_role("button", name="Record decision").click()
    await dsl.get_by_text("Action or decision recorded").wait_for()
    shot = tmp_path / "case.png"
    await dsl.screenshot(path=str(shot), full_page=True)
    keep_screenshot(shot, "case.png")

    # A form posted without its CSRF token is refused, and nothing is added.
    await dsl.evaluate("document.querySelector('#note').form.querySelector('input[name=csrf]').remove()")
    await dsl.get_by_role("textbox", name="Note").fill("This note must not be saved")
    await dsl.get_by_role("button", name="Add note").click()
    await dsl.get_by_role("heading", name="Refused").wait_for()
    await dsl.go_back()
    await dsl.reload()
    assert "This note must not be saved" not in await dsl.content()

    await dsl.get_by_label("Outcome").fill("Referral accepted by MASH; police informed.")
    await dsl.get_by_role("button", name="Close with this outcome").click()
    await dsl.get_by_text("Case closed with its outcome.").wait_for()
    async with dsl.expect_download() as md_info:
        await dsl.get_by_role("link", name="Download Markdown").click()
    markdown = Path(await (await md_info.value).path()).read_text(encoding="utf-8")
    assert WORDS in markdown and "Reason: Online grooming indicators" in markdown
    async with dsl.expect_download() as pdf_info:
        await dsl.get_by_role("link", name="Download PDF").click()
    pdf = PdfReader(io.BytesIO(Path(await (await pdf_info.value).path()).read_bytes()))
    text = " ".join(" ".join((p.extract_text() or "") for p in pdf.pages).split())
    assert WORDS in text and "Referral accepted by MASH" in text

    # Someone the case was not routed to sees a refusal and nothing of the case.
    other = await sign_in(browser, base, settings, services, "ahmed.karim", "/cases")
    response = await other.goto(f"{base}/cases/{reference}")
    assert response is not None and response.status == 403
    body = await other.content()
    assert WORDS not in body and "Roblox" not in body


async def test_console_fits_a_phone(server: tuple[str, Settings, Services], browser: Any) -> None:
    base, _, _ = server
    context = await browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = await context.new_page()
    for path in ("/", "/report", "/cases"):
        await page.goto(base + path)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, (path, width)
