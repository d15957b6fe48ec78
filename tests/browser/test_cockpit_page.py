"""The registration cockpit in a real browser at 1400x900: what support needs first is
above the fold, and a process in flight shows its end on the page without anyone
reloading it."""

import time

import pytest
from django.contrib.auth import get_user_model

from backoffice.notes import add_note
from registrar import services
from registrar.models import Process, Registration

pytestmark = pytest.mark.browser

FOLD = 900


@pytest.fixture
def wide(browser, live_server, login):
    # The page fixture's context has Playwright's default viewport: this one is 1400x900.
    context = browser.new_context(base_url=live_server.url,
                                  viewport={"width": 1400, "height": FOLD})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto("/admin/login/")
    page.fill("#id_username", "support")
    page.fill("#id_password", "support-demo-2026")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    yield page
    context.close()


def top_and_bottom(page, selector: str) -> tuple[float, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return box["y"], box["y"] + box["height"]


def test_summary_actions_and_the_first_timeline_entry_are_above_the_fold(demo, wide):
    registration = (Registration.objects.filter(tld__name="com", pending_async=False)
                    .order_by("name").first())
    support = get_user_model().objects.get(username="support")
    add_note(target=registration, text="Holder called about the renewal.", actor=support)
    wide.goto(f"/admin/registrar/registration/{registration.pk}/change/")
    wide.wait_for_selector("#registration-panel")
    for selector in ("#registration-badges", "#summary-locked", "#summary-customer",
                     "#summary-expiry", "#registration-operations a[data-operation=lock]",
                     "#timeline-entries li.timeline-entry"):
        _, bottom = top_and_bottom(wide, selector)
        assert bottom < FOLD, f"{selector} ends at {bottom:.0f} px, below the fold"
    # The note just added is among the first entries, and on screen too.
    _, bottom = top_and_bottom(wide, "#timeline-entries li.timeline-entry[data-kind=note]")
    assert bottom < FOLD
    assert "Holder called about the renewal." in wide.inner_text("#timeline-entries")
    # The raw fields are collapsed at the bottom.
    assert not wide.is_visible("#all-fields fieldset")
    wide.click("#all-fields > summary")
    assert wide.is_visible("#all-fields fieldset")


def test_a_process_in_flight_updates_the_page_without_a_reload(demo, wide):
    registration = Registration.objects.get(name="quartz-async.com")
    support = get_user_model().objects.get(username="support")
    outcome = services.registration_set_lock(registration=registration,
                                             locked=not registration.locked, actor=support)
    assert outcome.status == "pending", outcome.message
    process = Process.objects.get(registration=registration, is_terminal=False)
    wide.goto(f"/admin/registrar/registration/{registration.pk}/change/")
    wide.wait_for_selector("#summary-process")
    assert wide.get_attribute("#registration-panel", "data-busy") == "true"
    before = wide.inner_text("#summary-locked")
    # A mark on this document: a reload by the test would lose it; the page's own reload,
    # once the process ends, is what replaces it.
    wide.evaluate("window.cockpitMark = 'kept'")
    time.sleep(1)
    assert wide.evaluate("window.cockpitMark") == "kept"  # polling does not reload

    # The worker, here: the sandbox completes the process after two polls.
    for _ in range(5):
        if services.process_follow_step(process=process) != "running":
            break
    process.refresh_from_db()
    assert process.is_terminal

    # Nobody touches the page: it notices by itself and shows the result.
    wide.wait_for_selector("#summary-process", state="detached", timeout=20_000)
    assert wide.get_attribute("#registration-panel", "data-busy") == "false"
    assert wide.evaluate("window.cockpitMark") is None  # the page reloaded itself, once
    after = wide.inner_text("#summary-locked")
    assert after != before and after in {"Locked", "Unlocked"}
    # Once ended, it stops asking.
    asked = []
    wide.on("request", lambda request: asked.append(request.url)
            if "/status/" in request.url else None)
    time.sleep(4)
    assert asked == []


def test_the_dashboard_shows_my_recent_actions_beside_the_deadlines(demo, wide):
    registration = Registration.objects.filter(tld__name="com").order_by("name").first()
    support = get_user_model().objects.get(username="support")
    add_note(target=registration, text="Called the holder back.", actor=support)
    wide.goto("/admin/")
    wide.wait_for_selector("#deadlines")
    module = wide.locator("#recent-actions-module")
    assert module.is_visible()
    box, deadlines = module.bounding_box(), wide.locator("#deadlines").bounding_box()
    # Beside the deadlines, at the top: not pushed below the fold under them.
    assert box["x"] >= deadlines["x"] + deadlines["width"], (box, deadlines)
    assert box["y"] < FOLD
    assert registration.name in module.inner_text()
