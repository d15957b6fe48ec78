"""`manage.py contact`: contacts from a shell, against the sandbox: the request that left,
the rows and audit rows left behind, the output and the exit status."""

from __future__ import annotations

import csv
import io
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict

from backoffice.models import StaffAction
from backoffice.roles import FINANCE, SUPPORT
from contacts.models import Contact
from tests.factories import ContactFactory, RegistrationFactory, TldFactory, UserFactory

CREATE = ("--first-name", "Grace", "--last-name", "Hopper", "--organization", "Navy Labs",
          "--street-address", "1 Harbor Way", "--post-code", "1011AB", "--city",
          "Amsterdam", "--country", "NL", "--email", "grace@example.com", "--phone",
          "+31 20 123 4567")


@pytest.fixture
def world(sandbox):
    UserFactory(username="agent", groups=[SUPPORT])
    UserFactory(username="counter", groups=[FINANCE])
    com = TldFactory(name="com")
    it = TldFactory(name="it", requires_contact_validation=True)
    owner = ContactFactory(handle="OWNER-1", tld=com, organization="Engines Ltd")
    registration = RegistrationFactory(name="engines.com", tld=com, owner_contact=owner,
                                       account=owner.account)
    orphan = ContactFactory(handle="ORPHAN-1", tld=com, account=owner.account,
                            first_name="Charles", last_name="Babbage")
    it_contact = ContactFactory(handle="IT-1", tld=it)  # another customer's
    sandbox.seed()
    sandbox.transport.requests.clear()
    return type("World", (), locals())


def run(*args: str) -> str:
    out = StringIO()
    call_command("contact", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def rows() -> list[dict]:
    return [model_to_dict(contact) for contact in Contact.objects.order_by("pk")]


def sent(world, method: str, suffix: str = "") -> dict:
    requests = world.sandbox.transport.sent(method, suffix)
    assert len(requests) == 1, [(r.method, r.url.path) for r in world.sandbox.transport.requests]
    return json.loads(requests[0].content) if requests[0].content else {}


# --- reads ------------------------------------------------------------------------------


def test_list_reads_the_mirror_with_filters_in_every_format(world):
    table = run("list", "--as", "counter")
    assert "OWNER-1" in table and "ORPHAN-1" in table and "IT-1" in table
    assert table.strip().splitlines()[-1] == "3 contact(s)."
    data = json.loads(run("list", "--as", "agent", "--tld", ".it", "--format", "json"))
    assert [row["handle"] for row in data] == ["IT-1"]
    assert data[0]["tld"] == ".it" and data[0]["upstream_id"] == world.it_contact.upstream_id
    found = list(csv.DictReader(io.StringIO(run(
        "list", "--as", "agent", "--search", "babbage", "--format", "csv"))))
    assert [row["handle"] for row in found] == ["ORPHAN-1"]
    reference = world.owner.account.customer_reference
    assert len(json.loads(run("list", "--as", "agent", "--account", reference.lower(),
                              "--format", "json"))) == 2
    limited = run("list", "--as", "agent", "--limit", "1")
    assert "1 contact(s) (more match" in limited
    assert world.sandbox.transport.requests == []


@pytest.mark.parametrize(("argv", "named"), [
    (("--tld", ".nowhere"), "--tld"),
    (("--account", "ACC-NONE"), "--account"),
])
def test_list_refuses_an_unknown_filter_naming_it(world, argv, named):
    with pytest.raises(CommandError) as refused:
        run("list", "--as", "agent", *argv)
    assert str(refused.value).startswith(named)


def test_show_prints_the_mirror(world):
    data = json.loads(run("show", str(world.orphan.pk), "--as", "counter", "--format",
                          "json"))
    fields = {row["field"]: row["value"] for row in data}
    assert fields["handle"] == "ORPHAN-1" and fields["tld"] == ".com"
    assert fields["upstream_id"] == world.orphan.upstream_id
    assert world.sandbox.transport.requests == []


def test_show_remote_reads_the_registrar_marks_differences_and_changes_nothing(world):
    Contact.objects.filter(pk=world.orphan.pk).update(city="Delft")  # the mirror drifted
    before = rows()
    out = run("show", str(world.orphan.pk), "--as", "counter", "--remote")
    [request] = world.sandbox.transport.requests
    assert (request.method, request.url.path) == (
        "GET", f"/api/domain_contacts/{world.orphan.upstream_id}")
    city = next(line for line in out.splitlines() if line.startswith("city "))
    assert city.split() == ["city", "Delft", "Amsterdam", "yes"]
    # The sandbox also states the registrar's timestamps, which the factory left out.
    assert "field(s) differ from the mirror (nothing was changed)" in out
    handle = next(line for line in out.splitlines() if line.startswith("handle "))
    assert handle.split() == ["handle", "ORPHAN-1", "ORPHAN-1"]
    assert rows() == before
    assert not StaffAction.objects.exists()


def test_show_an_unknown_id_names_it(world):
    with pytest.raises(CommandError, match=r"^ID: no contact with id 999999"):
        run("show", "999999", "--as", "agent")


# --- writes -----------------------------------------------------------------------------


def test_create_sends_the_admin_forms_fields_and_mirrors_the_contact(world):
    out = run("create", "--as", "agent", "--tld", ".com", *CREATE)
    body = sent(world, "POST", "/api/domain_contacts")
    assert body["domain_contact"]["phone"] == "+31.201234567"
    assert body["domain_contact"]["email"] == "grace@example.com"
    assert body.get("tld_id") == world.com.upstream_id or body.get("tld_name") == ".com"
    created = Contact.objects.get(email="grace@example.com")
    assert created.tld == world.com and created.upstream_id
    row = StaffAction.objects.get()
    assert (row.action, row.actor.username, row.outcome) == ("contact.create", "agent",
                                                             "succeeded")
    assert out.splitlines()[0].startswith("succeeded: Contact ")
    assert f"Contact id {created.pk}" in out


def test_create_dry_run_checks_and_sends_nothing(world):
    before = rows()
    out = run("create", "--as", "agent", "--tld", "com", *CREATE, "--dry-run")
    assert out.startswith("Dry run: would create a contact pinned to .com.")
    assert '"phone": "+31.201234567"' in out
    assert world.sandbox.transport.requests == []
    assert rows() == before and not StaffAction.objects.exists()


@pytest.mark.parametrize(("replace", "named"), [
    (("--email", "not-an-address"), "--email"),
    (("--phone", "31201234567"), "--phone"),
    (("--country", "XX"), "--country"),
    (("--first-name", "x" * 101), "--first-name"),
    (("--tld", ".nowhere"), "--tld"),
])
def test_create_refuses_bad_input_naming_the_option(world, replace, named):
    argv = [*CREATE, "--tld", ".com"]
    argv[argv.index(replace[0]) + 1] = replace[1]
    before = rows()
    with pytest.raises(CommandError) as refused:
        run("create", "--as", "agent", *argv)
    assert named in str(refused.value)
    assert world.sandbox.transport.requests == []
    assert rows() == before and not StaffAction.objects.exists()


def test_edit_sends_only_the_changed_field(world):
    out = run("edit", str(world.orphan.pk), "--as", "agent", "--field", "city=Delft",
              "--field", "last_name=Babbage")
    body = sent(world, "PATCH", f"/api/domain_contacts/{world.orphan.upstream_id}")
    assert body["domain_contact"] == {"city": "Delft"}
    world.orphan.refresh_from_db()
    assert world.orphan.city == "Delft"
    assert StaffAction.objects.get().action == "contact.update"
    assert out.startswith("succeeded: Contact ORPHAN-1")


def test_edit_dry_run_sends_nothing(world):
    before = rows()
    out = run("edit", str(world.orphan.pk), "--as", "agent", "--field", "city=Delft",
              "--dry-run")
    assert 'Fields sent: {"city": "Delft"}' in out
    assert world.sandbox.transport.requests == []
    assert rows() == before and not StaffAction.objects.exists()


@pytest.mark.parametrize(("field", "message"), [
    ("bogus=x", "--field “bogus=x”: expected NAME=VALUE"),
    ("email", "--field “email”: expected NAME=VALUE"),
    ("email=a@@example.com", "--field email:"),
    ("city=Amsterdam", "--field: Nothing was changed."),
])
def test_edit_refuses_bad_fields_naming_them(world, field, message):
    with pytest.raises(CommandError) as refused:
        run("edit", str(world.orphan.pk), "--as", "agent", "--field", field)
    assert str(refused.value).startswith(message), str(refused.value)
    assert world.sandbox.transport.requests == []
    assert not StaffAction.objects.exists()


def test_delete_an_unused_contact_and_refuse_one_in_use(world):
    with pytest.raises(CommandError, match="still used by 1 registration"):
        run("delete", str(world.owner.pk), "--as", "agent")
    assert world.sandbox.transport.requests == []
    run("delete", str(world.orphan.pk), "--as", "agent", "--dry-run")
    assert world.sandbox.transport.requests == [] and not StaffAction.objects.exists()
    out = run("delete", str(world.orphan.pk), "--as", "agent")
    assert world.sandbox.transport.sent("DELETE",
                                        f"/api/domain_contacts/{world.orphan.upstream_id}")
    assert not Contact.objects.filter(pk=world.orphan.pk).exists()
    assert StaffAction.objects.get().action == "contact.delete"
    assert out.startswith("succeeded:")


def test_resend_verification(world):
    with pytest.raises(CommandError, match="Verification applies only"):
        run("resend", str(world.orphan.pk), "--as", "agent")
    out = run("resend", str(world.it_contact.pk), "--as", "agent", "--dry-run")
    assert "would resend the verification e-mail" in out
    assert world.sandbox.transport.requests == []
    out = run("resend", str(world.it_contact.pk), "--as", "agent")
    assert world.sandbox.transport.sent(
        "POST", f"/api/domain_contacts/{world.it_contact.upstream_id}/resend_verification")
    assert "is queued" in out
    assert StaffAction.objects.get().action == "contact.resend_verification"


@pytest.mark.parametrize("argv", [
    ("create", "--tld", ".com", *CREATE),
    ("edit", "<orphan>", "--field", "city=Delft"),
    ("delete", "<orphan>"),
    ("resend", "<it>"),
    ("sync", "--account", "sandbox"),
], ids=["create", "edit", "delete", "resend", "sync"])
def test_a_user_without_the_role_is_refused_with_no_request(world, argv):
    ids = {"<orphan>": str(world.orphan.pk), "<it>": str(world.it_contact.pk)}
    before = rows()
    with pytest.raises(CommandError, match="counter is not allowed to"):
        run(*[ids.get(arg, arg) for arg in argv], "--as", "counter")
    assert world.sandbox.transport.requests == []
    assert rows() == before and not StaffAction.objects.exists()


def test_a_registrar_refusal_is_audited_and_exits_non_zero(world):
    world.sandbox.fault("/api/domain_contacts", method="POST", status=422,
                        code="contact_invalid")
    before = rows()
    with pytest.raises(CommandError, match="did not succeed"):
        run("create", "--as", "agent", "--tld", ".com", *CREATE)
    assert rows() == before
    assert StaffAction.objects.get().outcome == "failed"
