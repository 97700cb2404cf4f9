"""The support inbox in a real browser: Playwright driving Debian's Chromium (``/usr/bin/chromium``).

Log in, see a waiting conversation appear live, take it over, reply (it reaches the WhatsApp
sandbox), add a private note (it never does), hand back (the bot answers again), resolve; then
release a money transfer held for review.
Set ``NEXUSTOP_SCREENSHOTS=docs/screenshots`` to keep the screenshots for the README.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.integration.inbox_harness import PASSWORD, conversation_of, new_staff
from tests.integration.test_inbox_transfers import customer, send, staff_id
from tests.integration.whatsapp_harness import Harness, nigerian_number, text_update, whatsapp_app

CHROMIUM = os.environ.get("NEXUSTOP_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

playwright_api = pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")
pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() or shutil.which("chromium")),
    reason="Chromium is not installed (make test installs it: apt-get install chromium)",
)


async def _say(h: Harness, wa_id: str, text: str) -> None:
    assert await h.post(text_update(wa_id, text, name="Amaka Obi")) == 200
    await h.settle()


def _shots(tmp_path: Path) -> Path:
    target = Path(os.environ.get("NEXUSTOP_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


async def test_agent_takes_over_replies_notes_hands_back_and_resolves(pg_url: str, tmp_path: Path) -> None:
    shots = _shots(tmp_path)
    async with whatsapp_app(pg_url) as h, playwright_api.async_playwright() as pw:
        base = str(h.client.make_url("")).rstrip("/")
        email = await new_staff(h.app.db, "agent", name="Tunde Bakare")
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            headless=True,
            args=ARGS,
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(15_000)
            expect = playwright_api.expect

            await page.goto(f"{base}/inbox/")
            await expect(page).to_have_url(f"{base}/inbox/login")
            await page.fill("input[name=email]", email)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await expect(page.locator("#conv-list")).to_be_visible()
            await expect(page.locator("body")).to_have_attribute("data-live", "on")

            # A customer asks for a person: the row appears without reloading the page.
            wa_id = nigerian_number()
            await _say(h, wa_id, "customer care please, my data never came")
            conversation = await conversation_of(h.app.db, "whatsapp", wa_id)
            row = page.locator(f"tr.conv[data-id='{conversation.id}']")
            await expect(row).to_be_visible()
            await expect(row).to_contain_text("Waiting for agent")
            await expect(row).to_contain_text("Amaka Obi")
            await page.screenshot(path=str(shots / "inbox-list.png"))

            await row.locator("a").click()
            await page.click("button[name=take]")
            await expect(page.locator("#mode")).to_have_text("With agent")

            # The customer writes while the agent has the chat: it shows up live, the bot stays silent.
            sent = len(h.texts_to(wa_id))
            await _say(h, wa_id, "hello?? anyone")
            await expect(page.locator("#transcript")).to_contain_text("hello?? anyone")
            assert len(h.texts_to(wa_id)) == sent

            await page.fill("form.reply textarea[name=text]", "Hi Amaka, I'm Tunde. Checking your order now.")
            await page.click("form.reply button[name=send]")
            await expect(page.locator("#transcript")).to_contain_text("Checking your order now.")
            await h.settle()
            assert h.texts_to(wa_id)[-1] == "Hi Amaka, I'm Tunde. Checking your order now."

            await page.fill("form.note textarea[name=text]", "Refund if the provider confirms failure.")
            await page.click("form.note button")
            await expect(page.locator("#transcript .private")).to_contain_text("Refund if the provider")
            await h.settle()
            assert not any("Refund if the provider" in t for t in h.texts_to(wa_id))
            await page.screenshot(path=str(shots / "inbox-conversation.png"))

            await page.click("button[name=handback]")
            await expect(page.locator("#mode")).to_have_text("Bot")
            await h.settle()
            before = len(h.texts_to(wa_id))
            await _say(h, wa_id, "balance")
            assert any(t.startswith("Your balance") for t in h.texts_to(wa_id)[before:])
            await expect(page.locator("#transcript")).to_contain_text("Your balance")

            await page.click("button[name=resolve]")
            await expect(page.locator("#mode")).to_have_text("Resolved")

            sender = await customer(h, "Musa Bello", verified_by=await staff_id(h.app.db, email))
            held = await send(h.app.db, sender, 1_500, to=await customer(h, "Ife Oladele"))
            await page.goto(f"{base}/inbox/transfers")
            transfer = page.locator(f"tr.transfer[data-id='{held.id}']")
            await expect(transfer).to_contain_text("₦1,500.00")
            await transfer.locator("a.review").click()
            await page.click("button[name=release]")
            await expect(page.locator(".flash.notice")).to_contain_text("Released")
            await expect(page.locator("#state")).to_have_text("completed")

            phone = await browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
            await phone.context.add_cookies(await page.context.cookies())
            await phone.goto(f"{base}/inbox/?view=all")
            await expect(phone.locator(f"tr.conv[data-id='{conversation.id}']")).to_be_visible()
            await phone.screenshot(path=str(shots / "inbox-phone.png"))
        finally:
            await browser.close()
