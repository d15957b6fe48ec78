"""The search box in the admin header: on every page once fully signed in, never on the
login page nor while a second factor is due; what it submits opens the row."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import RegistrationFactory, UserFactory
from tests.mfa import enrol_totp, login_verified

BOX = re.compile(r'<form id="header-search" role="search" method="get" action="([^"]+)">'
                 r'.*?</form>', re.S)


def header_box(response) -> str | None:
    """The box's markup, or None; only inside the page's header."""
    html = response.content.decode()
    header = html[html.index('<header id="header">'):html.index("</header>")]
    found = BOX.search(header)
    return found.group(0) if found else None


@pytest.mark.parametrize("url", [
    "/admin/",
    "/admin/registrar/registration/",
    "/admin/billing/account/",
    "/admin/security/",
])
def test_the_box_is_on_every_page_of_a_signed_in_user(client, support_user, url):
    client.force_login(support_user)
    page = client.get(url)
    assert page.status_code == 200
    box = header_box(page)
    assert box is not None, url
    assert f'action="{reverse("admin:search")}"' in box
    assert 'name="q"' in box and 'maxlength="253"' in box
    # A label for screen readers, tied to the field; nothing inline for the CSP.
    assert '<label for="header-search-q" class="visually-hidden">' in box
    assert 'id="header-search-q"' in box
    assert "style=" not in box and "<script" not in box
    assert not re.search(r"\son\w+=", box)  # no inline event handler


def test_the_box_is_absent_on_the_login_page(client):
    page = client.get(reverse("admin:login"))
    assert page.status_code == 200
    assert header_box(page) is None


def test_the_box_is_absent_while_a_second_factor_is_due(client, settings, db):
    settings.STAFF_MFA_REQUIRED = True
    user = UserFactory(username="support-pending", groups=["Support"])
    enrol_totp(user)
    client.force_login(user)  # a password only: the code is still due
    page = client.get(reverse("admin:security_verify"))
    assert page.status_code == 200
    assert header_box(page) is None
    # Once the code is given, it is there.
    login_verified(client, user)
    assert header_box(client.get(reverse("admin:index"))) is not None


def test_a_unicode_domain_typed_as_punycode_opens_the_registration(client, support_user):
    munich = RegistrationFactory(name="xn--mnchen-3ya.de")
    RegistrationFactory(name="example.com")
    client.force_login(support_user)
    action = re.search(r'action="([^"]+)"', header_box(client.get("/admin/"))).group(1)
    answer = client.get(action, {"q": "xn--mnchen-3ya.de"})
    assert answer.status_code == 302
    assert answer["Location"] == reverse("admin:registrar_registration_change",
                                         args=[munich.pk])
    page = client.get(answer["Location"])
    assert page.status_code == 200 and "münchen.de" in page.content.decode()
