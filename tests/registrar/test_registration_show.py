"""`manage.py registration show NAME [--remote]`: the mirror, and beside it the registrar's
live read (GET /api/domain_registrations/:id), differences marked; nothing stored."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from backoffice.models import StaffAction
from registrar.models import Registration
from tests.factories import RegistrationFactory, TldFactory


def run(*argv: str) -> str:
    out = StringIO()
    call_command("registration", "show", *argv, stdout=out)
    return out.getvalue()


@pytest.fixture
def registration(sandbox):
    row = RegistrationFactory(name="example.com", tld=TldFactory(name="com"), locked=True)
    sandbox.seed()
    return row


def test_the_mirror_alone_sends_nothing(registration, sandbox, support_user):
    rows = json.loads(run("example.com", "--as", "support-test", "--format", "json"))
    assert {row["field"]: row["here"] for row in rows["fields"]}["locked"] is True
    assert sandbox.transport.requests == []


def test_remote_reads_the_registrar_and_marks_what_differs(registration, sandbox,
                                                           support_user):
    # The registrar unlocked it behind the back-office's back.
    Registration.objects.filter(pk=registration.pk).update(locked=False)
    out = run("example.com", "--as", "support-test", "--remote")
    [sent] = sandbox.transport.requests
    assert sent.method == "GET" and sent.url.path.endswith(f"/{registration.upstream_id}")
    line = next(line for line in out.splitlines() if line.startswith("locked"))
    assert line.split()[1:] == ["no", "yes", "differs"]
    assert "1 field(s) differ from the registrar." in out
    registration.refresh_from_db()
    assert registration.locked is False and not StaffAction.objects.exists()


def test_a_user_who_may_not_read_registrations_is_refused(registration, sandbox,
                                                          plain_staff_user):
    with pytest.raises(CommandError, match="not allowed to read registrations"):
        run("example.com", "--as", "staff-test", "--remote")
    assert sandbox.transport.requests == []


def test_the_page_shows_the_same_comparison(registration, sandbox, client, support_user):
    from django.urls import reverse

    Registration.objects.filter(pk=registration.pk).update(locked=False)
    client.force_login(support_user)
    cockpit = client.get(reverse("admin:registrar_registration_change",
                                 args=[registration.pk])).content.decode()
    url = reverse("admin:registrar_registration_remote", args=[registration.pk])
    assert url in cockpit
    sandbox.transport.requests.clear()
    page = client.get(url).content.decode()
    [sent] = sandbox.transport.requests
    assert sent.method == "GET" and sent.url.path.endswith(f"/{registration.upstream_id}")
    assert 'data-differs="locked"' in page and "1 field(s) differ" in page
    assert not StaffAction.objects.exists()
    assert client.get(reverse("admin:registrar_registration_remote",
                              args=["x"])).status_code == 404


def test_the_page_says_when_the_registrar_cannot_be_read(registration, sandbox, client,
                                                          support_user):
    from django.urls import reverse

    sandbox.fault("^/api/domain_registrations/", status=502, code="registrar_unavailable",
                  times=10)
    client.force_login(support_user)
    response = client.get(reverse("admin:registrar_registration_remote",
                                  args=[registration.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "The registrar could not be read now:" in page and "Nothing was changed here." in page
    assert 'data-differs=' not in page and not StaffAction.objects.exists()
