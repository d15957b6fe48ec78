"""403 and 404 render inside the admin's layout, with a way back."""

from __future__ import annotations

from django.urls import reverse


def test_a_403_keeps_the_admin_header_and_a_way_back(client, support_user):
    client.force_login(support_user)
    page = client.get(reverse("admin:backoffice_staffaction_changelist"))
    assert page.status_code == 403
    html = page.content.decode()
    assert "Registrar back-office" in html  # the admin's header
    assert f'href="{reverse("admin:index")}"' in html
    assert "Back to the dashboard" in html


def test_a_404_offers_the_search_and_the_dashboard(client, support_user):
    client.force_login(support_user)
    page = client.get("/admin/registrar/registration/999999/change/")
    assert page.status_code in (302, 404)
    page = client.get("/no/such/page/")
    assert page.status_code == 404
    html = page.content.decode()
    assert "Registrar back-office" in html and reverse("admin:search") in html
    assert "Back to the dashboard" in html


def test_an_anonymous_404_still_renders(client):
    page = client.get("/no/such/page/")
    assert page.status_code == 404
    assert "There is nothing here" in page.content.decode()


def test_recent_actions_are_the_users_own_audit_rows(client, support_user, admin_user_role):
    from backoffice import audit
    from tests.factories import RegistrationFactory

    registration = RegistrationFactory(name="mine.com")
    audit.record(actor=support_user, action="registration.lock", target=registration,
                 outcome="succeeded", message="mine.com is locked.")
    audit.record(actor=admin_user_role, action="registration.lock", target=registration,
                 outcome="succeeded", message="someone else's action")
    client.force_login(support_user)
    html = client.get(reverse("admin:index")).content.decode()
    assert "mine.com is locked." in html and "someone else" not in html
    assert reverse("admin:registrar_registration_change", args=[registration.pk]) in html
