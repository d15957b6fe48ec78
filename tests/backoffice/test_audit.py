import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.urls import reverse

from backoffice.audit import mask_secrets, mask_url
from backoffice.models import AppendOnlyError, StaffAction
from tests.factories import RegistrationFactory, UserFactory, staff_action


@pytest.mark.django_db
def test_record_writes_who_what_target_outcome_with_secrets_masked():
    user = UserFactory(username="agent")
    registration = RegistrationFactory(name="audited.com")
    action = staff_action(
        actor=user,
        action="registration.transfer_in",
        target=registration,
        parameters={"authcode": "S3cr3t!", "nested": {"api_key": "k"}, "years": 2,
                    "portal_url": "https://billing.example.com/p/session/abcdefghijklmnopqrstuvwxyz123"},
        outcome="failed",
        upstream_status=422,
        upstream_code="contact_invalid",
    )
    action.refresh_from_db()
    assert action.actor_label == "agent"
    assert action.target_type == "registrar.registration"
    assert action.target_id == str(registration.pk)
    assert action.target_repr == "audited.com"
    assert action.parameters == {
        "authcode": "***", "nested": {"api_key": "***"}, "years": 2,
        "portal_url": "https://billing.example.com/p/session/***",
    }
    assert "S3cr3t" not in str(StaffAction.objects.values_list("parameters", flat=True)[0])


def test_mask_url_keeps_host_and_masks_tokens():
    assert mask_url("https://portal.example/pay?token=abc&x=1") == \
        "https://portal.example/pay?token=%2A%2A%2A&x=%2A%2A%2A"
    assert mask_secrets({"password": ""}) == {"password": ""}


@pytest.mark.django_db
def test_staff_action_cannot_be_changed_or_deleted_through_the_model():
    action = staff_action()
    action.message = "rewritten"
    with pytest.raises(AppendOnlyError):
        action.save()
    with pytest.raises(AppendOnlyError):
        action.delete()
    with pytest.raises(AppendOnlyError):
        StaffAction.objects.all().update(message="x")
    with pytest.raises(AppendOnlyError):
        StaffAction.objects.all().delete()
    assert StaffAction.objects.get(pk=action.pk).message == ""


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL-only")
def test_database_trigger_refuses_raw_updates_and_deletes():
    action = staff_action()
    for sql in ("UPDATE backoffice_staffaction SET message = 'x' WHERE id = %s",
                "DELETE FROM backoffice_staffaction WHERE id = %s"):
        with (pytest.raises((DatabaseError, IntegrityError)), transaction.atomic(),
              connection.cursor() as cursor):
            cursor.execute(sql, [action.pk])
    assert StaffAction.objects.filter(pk=action.pk, message="").exists()


@pytest.mark.django_db
def test_not_even_a_superuser_can_change_or_delete_through_the_admin(client):
    superuser = UserFactory(username="root", is_superuser=True)
    client.force_login(superuser)
    action = staff_action()
    change_url = reverse("admin:backoffice_staffaction_change", args=[action.pk])
    page = client.get(change_url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.post(change_url, {"message": "edited"}).status_code == 403
    delete_url = reverse("admin:backoffice_staffaction_delete", args=[action.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:backoffice_staffaction_add")).status_code == 403
    changelist = client.post(
        reverse("admin:backoffice_staffaction_changelist"),
        {"action": "delete_selected", "_selected_action": [action.pk], "post": "yes"},
    )
    assert changelist.status_code in (200, 302)
    assert StaffAction.objects.filter(pk=action.pk, message="").exists()


@pytest.mark.django_db
def test_the_trail_lists_and_filters_by_channel(client):
    from backoffice import assurance

    client.force_login(UserFactory(username="root", is_superuser=True))
    staff_action(action="registration.lock")
    with assurance.acting(assurance.Channel.WEBHOOK):
        staff_action(action="order.webhook")
    url = reverse("admin:backoffice_staffaction_changelist")
    page = client.get(url).content.decode()
    assert "column-channel" in page
    assert "Command line" in page and "Webhook" in page
    filtered = client.get(url, {"channel__exact": "webhook"})
    assert [row.action for row in filtered.context["cl"].result_list] == ["order.webhook"]
