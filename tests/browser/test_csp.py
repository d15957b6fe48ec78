"""Every page works under the Content-Security-Policy: nothing inline runs or styles
without the response's nonce. Chromium reports each blocked script, style or handler as
a `securitypolicyviolation` event and a console error; a page visited by Support,
Finance and Admin must raise neither. Without a browser: the header and its nonce, and
no template with an inline script, style or handler that would need one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from billing.models import Account, Order
from contacts.models import Contact
from registrar.models import Host, Process, Registration

# Before any of the page's own code: every violation of every document, kept for the test.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push([event.violatedDirective, event.blockedURI,
                               event.sourceFile + ":" + event.lineNumber, event.sample].join(" "));
}, true);
"""

ROLES = {
    "Support": ("support", "support-demo-2026"),
    "Finance": ("finance", "finance-demo-2026"),
    "Admin": ("admin", "admin-demo-2026"),
}


def pages() -> list[str]:
    """The pages staff use most, each kind of page once: the admin's own (dashboard,
    lists, change forms), the back-office's (operation pages, glue hosts, the billing
    link, a process), the finance area with its chart, and the audit trail."""
    registration = Registration.objects.order_by("name").first()
    hosted = Host.objects.order_by("pk").first()
    order = Order.objects.order_by("pk").first()
    process = Process.objects.order_by("pk").first()
    account = Account.objects.order_by("pk").first()
    contact = Contact.objects.order_by("pk").first()
    assert None not in (registration, hosted, order, process, account, contact), \
        "the demo has one of each"
    operation = f"/admin/registrar/registration/{registration.pk}/operation"
    return [
        "/admin/",
        "/admin/registrar/registration/",
        "/admin/registrar/registration/?q=b%C3%BCcher",
        f"/admin/registrar/registration/{registration.pk}/change/",
        f"{operation}/lock/",
        f"{operation}/holder/",
        f"{operation}/role_contacts/",
        f"{operation}/nameservers/",
        f"/admin/registrar/registration/{registration.pk}/auth-code/",
        f"/admin/registrar/registration/{hosted.registration_id}/hosts/",
        f"/admin/registrar/process/{process.pk}/change/",
        "/admin/contacts/contact/",
        f"/admin/contacts/contact/{contact.pk}/change/",
        "/admin/contacts/contact/add/",
        "/admin/billing/order/",
        f"/admin/billing/order/{order.pk}/change/",
        f"/admin/billing/account/{account.pk}/change/",
        f"/admin/billing/account/{account.pk}/billing-link/",
        "/admin/billing/ledgerentry/",
        "/finance/",
        "/finance/?currency=EUR&status=registered",
        f"/finance/orders/{order.pk}/",
        "/finance/attention/",
        "/finance/revenue.svg",
        "/admin/backoffice/staffaction/",
        "/admin/auth/user/",
        "/admin/registrar/approval/",
        "/admin/security/",
        "/admin/password_change/",
    ]


def visit_all(page, urls: list[str]) -> dict[str, list[str]]:
    """Each URL in turn: what the policy blocked there (events and console errors), and
    a note where a page came without the header."""
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None)
    found: dict[str, list[str]] = {}
    for url in urls:
        console.clear()
        response = page.goto(url, wait_until="load")
        problems = []
        if response.status >= 500:
            problems.append(f"HTTP {response.status}")
        if not response.header_value("content-security-policy"):
            problems.append("no Content-Security-Policy header")
        if response.status == 200 and url.endswith(".svg"):
            violations = []  # a picture: scripts do not run in it, so nothing records
        else:
            page.wait_for_load_state("networkidle")
            violations = page.evaluate("window.__cspViolations || []")
        problems += [f"violation: {v}" for v in violations] + [f"console: {c}" for c in console]
        if problems:
            found[url] = problems
    return found


@pytest.mark.browser
@pytest.mark.parametrize("role", ROLES)
def test_every_page_works_under_the_policy(demo, page, login, role):
    page.add_init_script(RECORD_VIOLATIONS)
    assert visit_all(page, ["/admin/login/"]) == {}
    login(*ROLES[role])
    page.wait_for_selector("#site-name")
    urls = pages()
    assert visit_all(page, urls) == {}


@pytest.mark.browser
def test_a_blocked_inline_script_is_seen(demo, page, login):
    """The listener works: an inline handler added to the page is blocked and recorded."""
    page.add_init_script(RECORD_VIOLATIONS)
    login(*ROLES["Support"])
    page.wait_for_selector("#site-name")
    page.evaluate("""() => {
        const s = document.createElement("div");
        s.innerHTML = '<img src="data:," onerror="window.__ran = true">';
        document.body.appendChild(s);
    }""")
    page.wait_for_function("() => window.__cspViolations.length > 0")
    assert page.evaluate("window.__ran === true") is False
    assert any("script-src" in v for v in page.evaluate("window.__cspViolations"))


@pytest.mark.browser
def test_the_finance_chart_draws_under_its_own_policy(demo, page, login):
    login(*ROLES["Finance"])
    page.goto("/finance/")
    chart = page.locator("#revenue-chart")
    chart.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const i = document.getElementById('revenue-chart');"
        " return i.complete && i.naturalWidth > 0; }")
    response = page.request.get(chart.get_attribute("src"))
    assert response.headers["content-security-policy"] == "default-src 'none'"
    svg = response.text()
    # Drawn with presentation attributes: nothing a style-src would have to allow.
    assert "<style" not in svg and not re.search(r"\sstyle=", svg)
    assert 'class="bar"' in svg


@pytest.mark.browser
def test_the_portal_link_copy_button_runs_from_its_script_file(demo, page, login):
    """The copy button's handler lives in a static file now: it still answers a click.
    The link comes with a fee gate: privacy on a TLD that charges for it."""
    page.add_init_script(RECORD_VIOLATIONS)
    registration = (Registration.objects.filter(
        privacy_protect=False, tld__name="net", pending_async=False).order_by("name").first())
    login(*ROLES["Support"])
    page.goto(f"/admin/registrar/registration/{registration.pk}/operation/privacy/")
    page.click("input[type=submit]")
    page.wait_for_selector("#copy-portal-link")
    page.click("#copy-portal-link")
    # Without clipboard access it falls back to selecting the link for the person.
    page.wait_for_function(
        "() => document.getElementById('copy-status').textContent !== ''")
    assert page.inner_text("#copy-status") in {"Copied.", "Select it and copy (Ctrl+C)."}
    assert page.evaluate("window.__cspViolations") == []


# --- without a browser ------------------------------------------------------------------


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {name: values for name, *values in
            (part.split() for part in header.split(";") if part.strip())}


def test_a_page_carries_the_policy_and_the_nonce_its_scripts_use(client, support_user):
    client.force_login(support_user)
    dashboard = client.get(reverse("admin:index"))
    assert dashboard.status_code == 200
    policy = policy_of(dashboard)
    assert policy["script-src"][0] == "'self'" and policy["style-src"][0] == "'self'"
    assert "'unsafe-inline'" not in policy["script-src"] + policy["style-src"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]

    # The second-factor page loads the passkey scripts with the response's nonce.
    page = client.get(reverse("admin:security"))
    assert page.status_code == 200
    nonces = set(re.findall(r'<script[^>]*\snonce="([^"]+)"', page.content.decode()))
    assert len(nonces) == 1, "the page's scripts carry one nonce"
    (nonce,) = nonces
    assert f"'nonce-{nonce}'" in policy_of(page)["script-src"]
    # A fresh one for every response.
    assert nonce not in client.get(reverse("admin:security")).headers["Content-Security-Policy"]


#: What the policy blocks without a nonce: an inline <script> (one with no src), any
#: <style> element, a style="" attribute, an on...="" handler.
INLINE = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>|<style\b[^>]*>|\sstyle=|\son[a-z]+=",
                    re.IGNORECASE)


def test_no_template_holds_what_the_policy_would_block():
    found = []
    for template in sorted(Path(settings.BASE_DIR, "templates").rglob("*.html")):
        for number, line in enumerate(template.read_text().splitlines(), 1):
            for match in INLINE.finditer(line):
                # An element with the response's nonce is allowed; JSON data is no script.
                tag_end = line.find(">", match.start())
                tag = line[match.start():tag_end + 1 if tag_end >= 0 else None]
                if "csp_nonce" in tag or 'type="application/json"' in tag:
                    continue
                found.append(f"{template.relative_to(settings.BASE_DIR)}:{number}: "
                             f"{match.group(0).strip()}")
    assert found == []
