"""The staff user and group admins: an Admin (the role, not a superuser) manages staff
without being able to raise anyone's privileges, their own included, or take over
another account; every change is audited with its old and new values."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from backoffice.models import StaffAction
from backoffice.roles import FINANCE, SUPPORT
from tests.backoffice.admin_forms import form_data
from tests.factories import UserFactory

User = get_user_model()
NEW_PASSWORD = "a-long-new-passphrase-2026"


def change_url(user) -> str:
    return reverse("admin:auth_user_change", args=[user.pk])


def password_url(user) -> str:
    return reverse("admin:auth_user_password_change", args=[user.pk])


def password_post(client, user):
    return client.post(password_url(user), {"password1": NEW_PASSWORD,
                                            "password2": NEW_PASSWORD,
                                            "usable_password": "true"})


@pytest.fixture
def admin_client(client, admin_user_role):
    client.force_login(admin_user_role)
    return client


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


# --- privileges --------------------------------------------------------------------------


def test_an_admin_cannot_make_themselves_superuser_by_a_forged_post(admin_client,
                                                                     admin_user_role):
    page = admin_client.get(change_url(admin_user_role))
    assert page.status_code == 200
    # Read-only for them: the page offers no box to tick.
    for name in ("is_superuser", "is_staff", "user_permissions", "groups"):
        assert f'name="{name}"'.encode() not in page.content
    data = form_data(page, is_superuser="on", email="admin-test@staff.example")

    response = admin_client.post(change_url(admin_user_role), data)

    assert response.status_code == 403
    admin_user_role.refresh_from_db()
    assert not admin_user_role.is_superuser
    refused = StaffAction.objects.get(action="config.user.change")
    assert (refused.actor, refused.outcome, refused.target_id) == (
        admin_user_role, StaffAction.Outcome.FAILED, str(admin_user_role.pk))
    assert refused.parameters == {"refused": ["is_superuser"]}
    assert refused.message == "Refused: only a superuser may change is_superuser."


def test_an_admin_cannot_join_a_group_or_grant_permissions_directly(admin_client,
                                                                    admin_user_role,
                                                                    support_user):
    page = admin_client.get(change_url(admin_user_role))
    finance = Group.objects.get(name=FINANCE)
    own_groups = [str(g.pk) for g in admin_user_role.groups.all()]
    response = admin_client.post(change_url(admin_user_role),
                                 form_data(page, groups=[*own_groups, str(finance.pk)]))
    assert response.status_code == 403
    assert not admin_user_role.groups.filter(name=FINANCE).exists()

    # Someone else's direct permissions, and their staff flag, are the superuser's too.
    page = admin_client.get(change_url(support_user))
    assert b'name="user_permissions"' not in page.content
    assert b'name="groups"' in page.content  # placing others in roles is the Admin's job
    permission = Permission.objects.get(codename="change_staffaction")
    for forged in ({"user_permissions": [str(permission.pk)]}, {"is_staff": "false"}):
        assert admin_client.post(change_url(support_user),
                                 form_data(page, **forged)).status_code == 403
    support_user.refresh_from_db()
    assert support_user.is_staff and not support_user.user_permissions.exists()
    assert StaffAction.objects.filter(action="config.user.change",
                                      outcome=StaffAction.Outcome.FAILED).count() == 3


def test_an_admin_edits_another_staff_member_and_the_audit_has_old_and_new(
        admin_client, admin_user_role, support_user):
    page = admin_client.get(change_url(support_user))
    finance = Group.objects.get(name=FINANCE)
    support = Group.objects.get(name=SUPPORT)
    response = admin_client.post(change_url(support_user), form_data(
        page, email="new-address@staff.example", first_name="Sam",
        groups=[str(finance.pk)]))

    assert response.status_code == 302
    support_user.refresh_from_db()
    assert support_user.email == "new-address@staff.example"
    row = StaffAction.objects.get(action="config.user.change")
    assert (row.actor, row.outcome, row.target_type, row.target_id, row.channel) == (
        admin_user_role, StaffAction.Outcome.SUCCEEDED, "auth.user", str(support_user.pk),
        "web")
    assert row.parameters == {"changes": {
        "email": {"old": "support-test@staff.example", "new": "new-address@staff.example"},
        "first_name": {"old": "", "new": "Sam"},
        "groups": {"added": [str(finance)], "removed": [str(support)]},
    }}
    assert row.message == "Changed user support-test: email, first_name, groups."


def test_an_admin_cannot_change_a_superuser_at_all(admin_client, superuser):
    page = admin_client.get(change_url(superuser))
    assert page.status_code == 200  # to read
    assert b'name="_save"' not in page.content
    assert admin_client.post(change_url(superuser),
                             form_data(page, email="taken@example.com")).status_code == 403
    assert admin_client.post(reverse("admin:auth_user_delete", args=[superuser.pk]),
                             {"post": "yes"}).status_code == 403
    assert password_post(admin_client, superuser).status_code == 403
    superuser.refresh_from_db()
    assert superuser.email == "root@staff.example"
    assert not superuser.check_password(NEW_PASSWORD)


def test_a_superuser_may_grant_superuser_and_it_is_audited(client, superuser, support_user):
    client.force_login(superuser)
    page = client.get(change_url(support_user))
    assert b'name="is_superuser"' in page.content
    response = client.post(change_url(support_user), form_data(page, is_superuser="on"))
    assert response.status_code == 302
    support_user.refresh_from_db()
    assert support_user.is_superuser
    row = StaffAction.objects.get(action="config.user.change")
    assert row.parameters == {"changes": {"is_superuser": {"old": False, "new": True}}}


# --- passwords ---------------------------------------------------------------------------


def test_an_admin_cannot_set_a_support_users_password(admin_client, support_user):
    assert admin_client.get(password_url(support_user)).status_code == 403
    assert password_post(admin_client, support_user).status_code == 403
    support_user.refresh_from_db()
    assert support_user.check_password("correct-horse-battery")
    assert not StaffAction.objects.filter(action="config.user.change").exists()


def test_an_admin_may_change_their_own_password(admin_client, admin_user_role):
    assert password_post(admin_client, admin_user_role).status_code == 302
    admin_user_role.refresh_from_db()
    assert admin_user_role.check_password(NEW_PASSWORD)
    row = StaffAction.objects.get(action="config.user.change")
    assert row.parameters == {"credentials": "password changed"}


def test_a_superuser_sets_a_password_and_the_trail_never_holds_it(client, superuser,
                                                                  support_user):
    client.force_login(superuser)
    assert password_post(client, support_user).status_code == 302
    support_user.refresh_from_db()
    assert support_user.check_password(NEW_PASSWORD)
    row = StaffAction.objects.get(action="config.user.change")
    assert (row.actor, row.target_id, row.outcome) == (superuser, str(support_user.pk),
                                                       StaffAction.Outcome.SUCCEEDED)
    assert row.parameters == {"credentials": "password changed"}
    assert row.message == "Password changed for user support-test."
    stored = f"{row.parameters} {row.message}"
    assert NEW_PASSWORD not in stored and support_user.password not in stored


# --- adding and deleting users -----------------------------------------------------------


def test_adding_and_deleting_a_user_are_audited(admin_client, admin_user_role):
    response = admin_client.post(reverse("admin:auth_user_add"), {
        "username": "newcomer", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD,
        "usable_password": "true"})
    assert response.status_code == 302
    newcomer = User.objects.get(username="newcomer")
    assert not newcomer.is_staff and not newcomer.is_superuser
    added = StaffAction.objects.get(action="config.user.add")
    assert added.parameters == {"values": {"username": "newcomer"},
                                "credentials": "password set"}
    assert NEW_PASSWORD not in str(added.parameters)

    response = admin_client.post(reverse("admin:auth_user_delete", args=[newcomer.pk]),
                                 {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(username="newcomer").exists()
    deleted = StaffAction.objects.get(action="config.user.delete")
    assert deleted.target_id == str(newcomer.pk) and deleted.target_repr == "newcomer"
    assert deleted.parameters["values"]["username"] == "newcomer"
    assert "password" not in deleted.parameters["values"]


def test_a_forged_add_of_a_superuser_is_refused(admin_client):
    response = admin_client.post(reverse("admin:auth_user_add"), {
        "username": "sneaky", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD,
        "usable_password": "true", "is_superuser": "on", "is_staff": "on"})
    assert response.status_code == 403
    assert not User.objects.filter(username="sneaky").exists()
    refused = StaffAction.objects.get(action="config.user.add")
    assert refused.outcome == StaffAction.Outcome.FAILED
    assert refused.parameters == {"refused": ["is_superuser", "is_staff"]}


# --- groups ------------------------------------------------------------------------------


def test_a_group_edit_is_audited_with_old_and_new(admin_client, admin_user_role):
    group = Group.objects.create(name="Auditors")
    view = Permission.objects.get(codename="view_staffaction")
    url = reverse("admin:auth_group_change", args=[group.pk])
    page = admin_client.get(url)
    assert b"setup_roles" not in b"".join(m.message.encode() for m in
                                          page.context["messages"])
    response = admin_client.post(url, form_data(page, name="Trail readers",
                                                permissions=[str(view.pk)]))
    assert response.status_code == 302
    row = StaffAction.objects.get(action="config.group.change")
    assert (row.actor, row.target_id, row.outcome) == (admin_user_role, str(group.pk),
                                                       StaffAction.Outcome.SUCCEEDED)
    assert row.parameters == {"changes": {
        "name": {"old": "Auditors", "new": "Trail readers"},
        "permissions": {"added": [str(view)], "removed": []},
    }}


def test_editing_a_role_group_warns_that_setup_roles_undoes_it(admin_client):
    group = Group.objects.get(name=SUPPORT)
    page = admin_client.get(reverse("admin:auth_group_change", args=[group.pk]))
    warnings = [str(m) for m in page.context["messages"]]
    assert warnings == [
        "Support is one of the three role groups: setup_roles, which runs after every "
        "migrate, resets its permissions to those listed in backoffice/roles.py, so a "
        "change made here will be undone."]
    listing = admin_client.get(reverse("admin:auth_group_changelist"))
    text = listing.content.decode()
    assert "setup_roles resets their permissions after every migrate" in text
    assert text.count("Yes: setup_roles resets its permissions") == 3


def test_deleting_a_group_is_audited(admin_client):
    group = Group.objects.create(name="Temporary")
    response = admin_client.post(reverse("admin:auth_group_delete", args=[group.pk]),
                                 {"post": "yes"})
    assert response.status_code == 302
    row = StaffAction.objects.get(action="config.group.delete")
    assert row.target_repr == "Temporary"
    assert row.parameters == {"values": {"name": "Temporary", "permissions": []}}



def test_the_user_page_lists_second_factors_and_only_a_superuser_gets_the_reset(
        client, admin_client, superuser, support_user):
    from tests.mfa import enrol_totp

    enrol_totp(support_user)
    reset = reverse("admin:security_reset", args=[support_user.pk])
    as_admin = admin_client.get(change_url(support_user)).content.decode()
    assert "Authenticator app" in as_admin or "totp" in as_admin.lower()
    assert reset not in as_admin
    client.force_login(superuser)
    as_superuser = client.get(change_url(support_user)).content.decode()
    assert f'href="{reset}"' in as_superuser
