"""The screenshots in docs/tour/ (described in docs/tour.md), taken from the demo data in
a real Chromium against Django's live server: `python3 dev.py tour`.

A pytest module rather than a script so it gets the same live server, sandbox and
browser as the browser tests (tests/browser/conftest.py); its name does not start with
test_, so the suite never runs it (it writes files). Each shot is the 1400x900 viewport,
not the full page, which keeps every PNG small and shows what a person sees first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from billing.models import Account
from registrar.models import Registration

pytestmark = pytest.mark.browser

TOUR = Path(__file__).resolve().parents[2] / "docs" / "tour"
VIEWPORT = {"width": 1400, "height": 900}


def _signed_in(browser, live_server, username: str, password: str):
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#content")
    return context, page


def _shot(page, name: str, url: str, ready: str = "#content") -> Path:
    page.goto(url)
    page.wait_for_selector(ready)
    target = TOUR / f"{name}.png"
    page.screenshot(path=str(target), full_page=False)
    return target


def test_tour(browser, live_server, demo):
    TOUR.mkdir(parents=True, exist_ok=True)
    # A registration with something to show: transfer-out waiting, so the operation
    # buttons and the deadline are both on the page.
    registration = (Registration.objects.filter(transfer_out_pending=True)
                    .order_by("name").first()
                    or Registration.objects.order_by("name").first())
    customer = Account.objects.order_by("name").first()
    shots: list[Path] = []

    context, page = _signed_in(browser, live_server, "support", "support-demo-2026")
    shots.append(_shot(page, "01-dashboard", reverse("admin:index")))
    shots.append(_shot(page, "02-registrations",
                       reverse("admin:registrar_registration_changelist"), "#result_list"))
    shots.append(_shot(page, "03-registration",
                       reverse("admin:registrar_registration_change", args=[registration.pk]),
                       "#registration-panel"))
    shots.append(_shot(page, "04-operation",
                       reverse("admin:registrar_registration_operation",
                               args=[registration.pk, "transfer_out"]), "#content form"))
    shots.append(_shot(page, "05-search", f"{reverse('admin:search')}?q=harbour",
                       ".search-group"))
    shots.append(_shot(page, "07-customer",
                       reverse("admin:billing_account_change", args=[customer.pk])))
    context.close()

    context, page = _signed_in(browser, live_server, "finance", "finance-demo-2026")
    shots.append(_shot(page, "06-finance", reverse("finance:orders")))
    context.close()

    for shot in shots:
        assert shot.stat().st_size > 0
        print(f"wrote {shot.relative_to(TOUR.parents[1])} ({shot.stat().st_size // 1024} KiB)")
