"""The sandbox page in a real headless Chromium: a customer texts, agents answer, STOP works.

Uses Debian's /usr/bin/chromium through Playwright (never a downloaded browser). Without it
the test skips, unless SMSBRIDGE_REQUIRE_BROWSER=1 (as in CI) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.sandbox_server import ROOT, SandboxProcess

CHROMIUM = os.environ.get("SMSBRIDGE_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium calls Google at start, which a closed
# network refuses, many times over.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
WAIT_MS = 15_000


def _browser_or_skip() -> None:
    if shutil.which(CHROMIUM) or Path(CHROMIUM).is_file():
        return
    reason = f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    if os.environ.get("SMSBRIDGE_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProcess]:
    _browser_or_skip()
    server = SandboxProcess(tmp_path, "--sandbox").wait_ready()
    try:
        yield server
    finally:
        server.stop()


def test_text_reply_as_admin_and_member_then_stop(sandbox: SandboxProcess, tmp_path: Path) -> None:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
        )
        page: Page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        try:
            _walk_through(page, sandbox.url)
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "sandbox-failure.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failure: {shot}\nsandbox log:\n{sandbox.output()}")
            raise
        finally:
            context.close()


def _walk_through(page: Page, url: str) -> None:
    page.goto(f"{url}/sandbox")
    phone = page.locator("#phone-messages")

    # A customer texts for the first time: a thread, headed with who and their consent.
    page.fill("#phone-number", "+14155550123")
    page.fill("#phone-name", "Bea Browser")
    _text(page, "Is my order on its way?")
    thread = page.locator(".thread").first
    expect(thread.locator(".parent")).to_contain_text("Bea Browser")
    expect(thread.locator(".parent")).to_contain_text("Never subscribed to SMS")
    expect(thread.locator(".replies")).to_contain_text("Is my order on its way?")
    expect(phone).to_contain_text("not consented to receive SMS")  # the autoresponder

    # They opt in; the header follows.
    _text(page, "START")
    expect(thread.locator(".parent")).to_contain_text("Subscribed to SMS")
    expect(phone).to_contain_text("You are subscribed")

    # An admin's reply goes out as SMS and is marked delivered.
    page.select_option("#role", "admin")
    _reply(page, "Yes, it left our warehouse today & arrives <Friday>")
    expect(phone).to_contain_text("Yes, it left our warehouse today & arrives <Friday>")
    admin_reply = thread.locator(".reply", has_text="left our warehouse")
    went_out = (
        '.reactions span[title=":incoming_envelope:"], .reactions span[title=":white_check_mark:"]'
    )
    expect(admin_reply.locator(went_out)).not_to_have_count(0)  # 📨 taken, or ✅ delivered

    # A plain member's reply stays in Slack; only they are told why.
    page.select_option("#role", "member")
    _reply(page, "I could answer that too")
    member_reply = thread.locator(".reply", has_text="I could answer that too")
    expect(member_reply.locator(".reactions")).to_contain_text("🚫")
    expect(thread.locator(".ephemeral")).to_contain_text("Only workspace owners, admins")
    expect(phone).not_to_contain_text("I could answer that too")

    # The header's button is a signed block_actions request; the answer is private.
    thread.locator(".parent button", has_text="Consent history").click()
    expect(thread.locator(".ephemeral", has_text="Consent history")).to_contain_text("subscribed")

    # STOP: unsubscribed at once, and not even an admin can text them now.
    _text(page, "STOP")
    expect(thread.locator(".parent")).to_contain_text("Unsubscribed from SMS")
    page.select_option("#role", "admin")
    _reply(page, "Sorry to see you go")
    refused = thread.locator(".reply", has_text="Sorry to see you go")
    expect(refused.locator(".reactions")).to_contain_text("🚫")
    expect(thread.locator(".ephemeral")).to_contain_text("Not sent")
    expect(phone).not_to_contain_text("Sorry to see you go")

    # Reset starts over.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#reset")
    expect(page.locator("#channel")).to_contain_text("No conversations yet")
    expect(phone.locator("li")).to_have_count(0)


def _text(page: Page, body: str) -> None:
    page.fill("#phone-text", body)
    page.click("#phone-send")


def _reply(page: Page, text: str) -> None:
    thread = page.locator(".thread").first
    thread.locator(".reply-text").fill(text)
    thread.locator(".reply-send").click()
