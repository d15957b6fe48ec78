"""Playwright driving Debian's chromium package against pytest-django's live server.

Where no Chromium binary is found the tests skip with the reason, unless
BACKOFFICE_REQUIRE_BROWSER=1 (set by .ci/run), which turns that skip into a failure.
"""

import os
import shutil

import pytest
from django.core.management import call_command
from django.test import override_settings

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests
# make around it are ordinary synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # This machine's network is closed: keep Chromium from trying to phone home.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which(
        "chromium-browser"
    )


@pytest.fixture(scope="session")
def browser():
    path = _chromium_path()
    if not path:
        reason = "Debian's chromium package is not installed (apt-get install -y chromium)"
        if os.environ.get("BACKOFFICE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Browser tests are required here, but {reason}.")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True,
                                             args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def login(page):
    def _login(username: str, password: str):
        page.goto("/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        return page

    return _login


@pytest.fixture
def demo(transactional_db, sandbox):
    """The demo data, in the database the live server reads and in the sandbox (the demo
    seeds it from the mirror); the sandbox's request log starts empty. Returns the
    sandbox fixture."""
    with override_settings(DEBUG=True):
        call_command("demo", verbosity=0)
    sandbox.transport.requests.clear()
    return sandbox
