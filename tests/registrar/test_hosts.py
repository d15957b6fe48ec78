"""Glue hosts: the services against the sandbox (the request that left, the rows left
behind, one audit row), every upstream error, refusals before HTTP, hostile input
through the admin form, and who may see and do what."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.html import escape

from backoffice.models import StaffAction
from backoffice.roles import ADMIN, FINANCE, SUPPORT
from registrar import services
from registrar.models import Host, HostAddress, Registration
from registrar.operations import InvalidInput, OperationUnsupported, RegistrationBusy
from registrar.providers.base import Capability
from registrar.providers.domain_api.adapter import DomainApiProvider
from registrar.providers.http import RetryPolicy
from tests.factories import (
    HostAddressFactory,
    HostFactory,
    RegistrationFactory,
    TldFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def no_retry_waits(monkeypatch):
    """DELETE is idempotent, so the client retries it: without the waits."""
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt: 0.0)


@pytest.fixture
def agent(db):
    return UserFactory(username="agent", groups=[SUPPORT])


@pytest.fixture
def world(sandbox):
    """example.com with one glue host (ns1, two addresses) and the IDN bücher.de,
    both known to the sandbox."""
    registration = RegistrationFactory(name="example.com", tld=TldFactory(name="com"))
    idn = RegistrationFactory(name="bücher.de", tld=TldFactory(name="de"))
    host = HostFactory(registration=registration, host_name="ns1.example.com")
    HostAddressFactory(host=host, address="192.0.2.1", version=4)
    HostAddressFactory(host=host, address="2001:db8::1", version=6)
    sandbox.seed()
    sandbox.transport.requests.clear()
    return type("World", (), {"registration": registration, "idn": idn, "host": host,
                              "sandbox": sandbox})


def body_of(request: httpx.Request) -> dict:
    return json.loads(request.content) if request.content else {}


def mirror(registration: Registration) -> dict[str, set[tuple[str, int]]]:
    """The glue hosts the mirror holds for a registration: {host name: {(address, v)}}."""
    return {host.host_name: {(a.address, a.version) for a in host.addresses.all()}
            for host in Host.objects.filter(registration=registration)}


def upstream_hosts(world, registration: Registration) -> dict[str, set[tuple[str, int]]]:
    state = world.sandbox.registration(registration.upstream_id)
    reply = world.sandbox.client.get(f"/api/domain_registrations/{state['id']}/hosts")
    return {h["host_name"]: {(a["address"], a["version"]) for a in h["addresses"]}
            for h in reply.json()["hosts"]}


# --- success ------------------------------------------------------------------------------


def test_create_sends_the_documented_body_and_mirrors_the_host(world, agent):
    outcome = services.host_create(registration=world.registration, host_name="NS2.Example.com",
                                   addresses=["198.51.100.53", " 2001:DB8:0::53 "],
                                   actor=agent)
    assert outcome.status == "succeeded", outcome.message
    (request,) = world.sandbox.transport.requests
    assert request.method == "POST"
    assert request.url.path == f"/api/domain_registrations/{world.registration.upstream_id}/hosts"
    assert body_of(request) == {"host_name": "ns2.example.com",
                                "addresses": [{"address": "198.51.100.53"},
                                              {"address": "2001:db8::53"}]}
    expected = {("198.51.100.53", 4), ("2001:db8::53", 6)}
    assert mirror(world.registration)["ns2.example.com"] == expected
    assert upstream_hosts(world, world.registration)["ns2.example.com"] == expected
    row = StaffAction.objects.get()
    assert (row.action, row.outcome, row.actor) == ("host.create", "succeeded", agent)
    assert row.target_id == str(world.registration.pk)
    assert row.parameters["host_name"] == "ns2.example.com"


def test_update_replaces_the_address_set(world, agent):
    outcome = services.host_update(host=world.host, addresses=["203.0.113.9", "198.51.100.99"],
                                   actor=agent)
    assert outcome.status == "succeeded", outcome.message
    (request,) = world.sandbox.transport.requests
    assert request.method == "PATCH"
    assert request.url.path.endswith("/hosts/ns1.example.com")
    assert body_of(request) == {"addresses": [{"address": "203.0.113.9"},
                                              {"address": "198.51.100.99"}]}
    assert mirror(world.registration) == {
        "ns1.example.com": {("203.0.113.9", 4), ("198.51.100.99", 4)}}
    assert HostAddress.objects.filter(address="192.0.2.1").count() == 0
    row = StaffAction.objects.get()
    assert (row.action, row.outcome) == ("host.update", "succeeded")
    assert row.parameters["changes"]["addresses"] == {
        "old": ["192.0.2.1", "2001:db8::1"], "new": ["203.0.113.9", "198.51.100.99"]}


def test_delete_removes_the_host_and_its_addresses(world, agent):
    outcome = services.host_delete(host=world.host, actor=agent)
    assert outcome.status == "succeeded", outcome.message
    (request,) = world.sandbox.transport.requests
    assert request.method == "DELETE" and request.url.path.endswith("/hosts/ns1.example.com")
    assert mirror(world.registration) == {}
    assert not HostAddress.objects.exists()
    assert upstream_hosts(world, world.registration) == {}
    row = StaffAction.objects.get()
    assert (row.action, row.outcome) == ("host.delete", "succeeded")
    assert row.upstream_request_id


@pytest.mark.parametrize("typed", ["ns1.bücher.de", "NS1.BÜCHER.DE", "ns1.xn--bcher-kva.de"])
def test_idn_registration_takes_unicode_or_punycode(world, agent, typed):
    outcome = services.host_create(registration=world.idn, host_name=typed,
                                   addresses=["192.0.2.80"], actor=agent)
    assert outcome.status == "succeeded", outcome.message
    (request,) = world.sandbox.transport.requests
    assert body_of(request)["host_name"] == "ns1.xn--bcher-kva.de"
    assert mirror(world.idn) == {"ns1.xn--bcher-kva.de": {("192.0.2.80", 4)}}
    assert "ns1.bücher.de" in outcome.message


def test_idn_host_pages_work_with_the_ascii_name_in_the_url(client, world, agent):
    host = HostFactory(registration=world.idn, host_name="ns1.xn--bcher-kva.de")
    HostAddressFactory(host=host, address="192.0.2.80")
    world.sandbox.seed()
    client.force_login(agent)
    page = client.get(hosts_url(world.idn)).content.decode()
    assert "ns1.bücher.de" in page
    response = client.post(host_url(world.idn, host, "edit"), {"addresses": "192.0.2.81"},
                           follow=True)
    assert "ns1.bücher.de of bücher.de now has the addresses 192.0.2.81" in (
        response.content.decode())
    assert mirror(world.idn) == {"ns1.xn--bcher-kva.de": {("192.0.2.81", 4)}}


# --- upstream errors: mapped, audited, the mirror untouched -------------------------------

RUNS = {
    "create": (lambda w, u: services.host_create(
        registration=w.registration, host_name="ns2.example.com", addresses=["192.0.2.2"],
        actor=u), "POST", "/hosts$"),
    "update": (lambda w, u: services.host_update(
        host=w.host, addresses=["192.0.2.3"], actor=u), "PATCH", "/hosts/ns1.example.com$"),
    "delete": (lambda w, u: services.host_delete(host=w.host, actor=u), "DELETE",
               "/hosts/ns1.example.com$"),
}
ERROR_CASES = [
    ("create", 422, "invalid_host_name"), ("create", 422, "invalid_address"),
    ("create", 422, "host_exists"), ("update", 422, "invalid_address"),
    ("update", 404, "not_found"),
    *[(verb, 502, "registrar_unavailable") for verb in RUNS],
    *[(verb, 409, "registration_busy") for verb in RUNS],
]


def unsettled_hosts(registration: Registration) -> str:
    """The refusal while the hosts are unsettled: the registration's notice, which says
    the glue-host change may have been applied and what happens next."""
    registration.refresh_from_db()
    notice = services.unsettled_notice(registration)
    assert notice == ("The last glue-host change may have been applied (no usable answer "
                      "came back), and the hosts have not been read again yet. The "
                      "back-office keeps trying; a re-sync settles it now.")
    return notice


def unknown_message(reason: str, shown: bool) -> str:
    """An unknown outcome's message, after the hosts were read again."""
    return (f"No usable answer came back from the registrar ({reason}), after the request "
            "was sent: it may have applied the change. Read again: the registrar "
            + ("shows the change, so it was applied." if shown
               else "does not show it, so it was not applied and may be sent again."))


@pytest.mark.parametrize(("verb", "status", "code"), ERROR_CASES,
                         ids=[f"{v}-{s}-{c}" for v, s, c in ERROR_CASES])
def test_upstream_errors_leave_the_mirror_untouched(world, agent, verb, status, code):
    run, method, suffix = RUNS[verb]
    world.sandbox.fault(f"^/api/domain_registrations/{world.registration.upstream_id}{suffix}",
                        method=method, status=status, code=code, times=5)
    before = mirror(world.registration)
    outcome = run(world, agent)
    # A 502 after a write says nothing of whether it was applied: the outcome is unknown
    # and the hosts are read again at once (here: it was not applied).
    unknown = status == 502
    assert outcome.status == ("unknown" if unknown else "failed")
    assert (outcome.error.code, outcome.error.status) == (code, status)
    assert outcome.message and "{" not in outcome.message
    if unknown:
        assert outcome.message == unknown_message("it answered HTTP 502", shown=False)
        assert outcome.data == {"settled": True, "applied": False}
        assert [r.method for r in world.sandbox.transport.requests][-1] == "GET"
    else:
        assert "may have applied" not in outcome.message
    assert mirror(world.registration) == before
    world.registration.refresh_from_db()
    assert world.registration.unsettled_operation == ""
    row = StaffAction.objects.get()
    assert (row.action, row.outcome, row.upstream_code, row.upstream_status) == (
        f"host.{verb}", outcome.status, code, status)


@pytest.mark.parametrize("verb", sorted(RUNS))
def test_a_timeout_is_an_unknown_outcome_and_the_hosts_are_read_again(world, agent, verb):
    run, method, _ = RUNS[verb]
    for _ in range(3):  # a DELETE is retried; the re-read GET takes what is left
        world.sandbox.transport.fail_next(httpx.ReadTimeout("slow registrar"))
    before = mirror(world.registration)
    outcome = run(world, agent)
    assert outcome.status == "unknown" and outcome.error.code == "timeout"
    assert outcome.message == unknown_message("it did not answer in time", shown=False)
    assert outcome.data == {"settled": True, "applied": False}
    sent = [r.method for r in world.sandbox.transport.requests]
    assert sent[0] == method and sent[-1] == "GET"
    # The timeouts came before the sandbox saw anything: read again, the mirror is as it was.
    assert mirror(world.registration) == before
    row = StaffAction.objects.get()
    assert (row.outcome, row.upstream_code) == ("unknown", "timeout")
    assert row.parameters["reread"] == {"settled": True, "applied": False}


@pytest.mark.parametrize(("verb", "after"), [
    ("create", {"ns1.example.com": {("192.0.2.1", 4), ("2001:db8::1", 6)},
                "ns2.example.com": {("192.0.2.2", 4)}}),
    ("update", {"ns1.example.com": {("192.0.2.3", 4)}}),
])
def test_a_change_applied_whose_answer_was_lost_is_found_by_the_re_read(world, agent, verb,
                                                                        after):
    run, method, suffix = RUNS[verb]
    # The sandbox applies the change, then the answer is lost behind a 502 (HTML, as a
    # gateway sends it).
    world.sandbox.fault(f"^/api/domain_registrations/{world.registration.upstream_id}{suffix}",
                        method=method, status=502, body="<html>Bad gateway</html>",
                        content_type="text/html", after=True)
    outcome = run(world, agent)
    assert outcome.status == "unknown"
    assert outcome.message == unknown_message("it answered HTTP 502", shown=True)
    assert outcome.data == {"settled": True, "applied": True}
    assert mirror(world.registration) == after == upstream_hosts(world, world.registration)
    assert StaffAction.objects.get().outcome == "unknown"


def test_a_delete_applied_whose_answer_was_lost_is_retried_and_found_gone(world, agent):
    # DELETE is idempotent: retried, the registrar answers 404, which is the goal reached.
    world.sandbox.fault(f"^/api/domain_registrations/{world.registration.upstream_id}"
                        "/hosts/ns1.example.com$", method="DELETE", status=502,
                        body="<html>Bad gateway</html>", content_type="text/html", after=True)
    outcome = services.host_delete(host=world.host, actor=agent)
    assert outcome.status == "succeeded"
    assert outcome.message == ("Glue host ns1.example.com deleted from example.com (the "
                               "registrar no longer had it).")
    assert [r.method for r in world.sandbox.transport.requests] == ["DELETE", "DELETE"]
    assert mirror(world.registration) == {} == upstream_hosts(world, world.registration)


def test_hosts_that_cannot_be_read_again_refuse_glue_host_changes_until_they_are(world, agent):
    world.sandbox.fault(f"^/api/domain_registrations/{world.registration.upstream_id}/hosts",
                        status=502, code="registrar_unavailable", times=10)
    outcome = services.host_update(host=world.host, addresses=["192.0.2.3"], actor=agent)
    assert outcome.status == "unknown"
    assert outcome.message == (
        "No usable answer came back from the registrar (it answered HTTP 502), after the "
        "request was sent: it may have applied the change. The hosts could not be read "
        "again now (The registrar is not answering; try later). Until they have been, "
        "glue-host changes are refused here; the back-office keeps trying.")
    assert outcome.data == {"settled": False, "applied": None}
    world.registration.refresh_from_db()
    assert world.registration.unsettled_operation == "hosts"
    assert world.registration.unsettled_since is not None
    sent = len(world.sandbox.transport.requests)
    with pytest.raises(OperationUnsupported) as refused:
        services.host_delete(host=world.host, actor=agent)
    assert str(refused.value) == unsettled_hosts(world.registration)
    assert len(world.sandbox.transport.requests) == sent  # refused before any HTTP


def test_the_sandbox_itself_refuses_a_host_it_already_has(world, agent):
    """The mirror lost a host the registrar still has: the registrar says so."""
    Host.objects.filter(pk=world.host.pk).delete()
    outcome = services.host_create(registration=world.registration,
                                   host_name="ns1.example.com", addresses=["192.0.2.7"],
                                   actor=agent)
    assert outcome.status == "failed" and outcome.error.code == "host_exists"
    assert mirror(world.registration) == {}


def test_deleting_a_host_the_registrar_no_longer_has_clears_the_mirror(world, agent):
    """A 404 on delete means the goal is already reached (e.g. a retried DELETE whose
    first attempt went through): the stale mirror row goes, and staff are told why."""
    stray = HostFactory(registration=world.registration, host_name="ns9.example.com")
    HostAddressFactory(host=stray, address="192.0.2.99")
    outcome = services.host_delete(host=stray, actor=agent)
    assert outcome.status == "succeeded"
    assert "no longer had it" in outcome.message
    assert not Host.objects.filter(pk=stray.pk).exists()
    assert StaffAction.objects.get().outcome == "succeeded"


# --- refused before any HTTP ----------------------------------------------------------------


def test_refusals_send_nothing_and_write_no_audit(world, agent, monkeypatch):
    def create(registration, **kwargs):
        return services.host_create(registration=registration, host_name=kwargs.get(
            "host_name", f"ns5.{registration.name}"), addresses=kwargs.get(
            "addresses", ["192.0.2.5"]), actor=kwargs.get("actor", agent))

    with pytest.raises(InvalidInput) as bad_name:
        create(world.registration, host_name="ns5.example.org")
    assert "host_name" in bad_name.value.field_errors
    with pytest.raises(InvalidInput) as bad_address:
        create(world.registration, addresses=["192.0.2.0/24"])
    assert "addresses" in bad_address.value.field_errors
    with pytest.raises(PermissionDenied):
        create(world.registration, actor=UserFactory(username="money", groups=[FINANCE]))
    with pytest.raises(PermissionDenied):
        services.host_delete(host=world.host, actor=UserFactory(username="plain"))

    unconfigured = RegistrationFactory(name="nobody.xyz", tld=TldFactory(
        name="xyz", provider_account=None))
    with pytest.raises(OperationUnsupported, match="No registrar is configured"):
        create(unconfigured)

    Registration.objects.filter(pk=world.registration.pk).update(
        pending_async=True, rtr_process_status="RUNNING")
    with pytest.raises(RegistrationBusy, match="in flight"):
        services.host_update(host=world.host, addresses=["192.0.2.5"], actor=agent)
    Registration.objects.filter(pk=world.registration.pk).update(pending_async=False)

    monkeypatch.setattr(DomainApiProvider, "capabilities",
                        DomainApiProvider.capabilities - {Capability.HOSTS})
    with pytest.raises(OperationUnsupported, match="does not offer"):
        services.host_delete(host=world.host, actor=agent)

    assert world.sandbox.transport.requests == []
    assert not StaffAction.objects.exists()
    assert mirror(world.registration) == {
        "ns1.example.com": {("192.0.2.1", 4), ("2001:db8::1", 6)}}


def test_addresses_are_normalised_and_classified():
    assert services.clean_host_addresses(
        ["192.0.2.1", "2001:DB8:0:0::1", "", "198.51.100.53", "2001:4860::53"]) == [
        ("192.0.2.1", 4), ("2001:db8::1", 6), ("198.51.100.53", 4), ("2001:4860::53", 6)]


@pytest.mark.parametrize("private", ["10.1.2.3", "172.16.0.9", "192.168.1.1", "100.64.0.1",
                                     "198.18.0.1", "fd00::53"])
def test_a_private_address_is_never_glue(private):
    """A glue record is published for the whole internet: a private-use address would
    send every resolver to a network it cannot reach."""
    with pytest.raises(InvalidInput) as refused:
        services.clean_host_addresses(["192.0.2.1", private])
    assert refused.value.field_errors["addresses"] == [
        f"{private}: a private-use address resolves nowhere outside its own network, so the "
        "registry would publish a glue record nobody can reach."]


# --- through the admin ----------------------------------------------------------------------


def hosts_url(registration: Registration) -> str:
    return reverse("admin:registrar_registration_hosts", args=[registration.pk])


def host_url(registration: Registration, host: Host, action: str) -> str:
    return reverse(f"admin:registrar_registration_host_{action}",
                   args=[registration.pk, host.host_name])


def change_url(registration: Registration) -> str:
    return reverse("admin:registrar_registration_change", args=[registration.pk])


def test_add_from_the_page_shows_success_and_lists_the_host(client, world, agent):
    client.force_login(agent)
    response = client.post(hosts_url(world.registration),
                           {"host_name": "ns2.example.com",
                            "addresses": "198.51.100.2\r\n2001:db8::2\r\n"})
    assert response.status_code == 302 and response["Location"] == hosts_url(world.registration)
    html = client.get(response["Location"]).content.decode()
    assert "Glue host ns2.example.com created" in html
    assert 'data-host="ns2.example.com"' in html and "2001:db8::2" in html


def test_delete_needs_the_confirmation_page_and_a_get_changes_nothing(client, world, agent):
    client.force_login(agent)
    for action in ("edit", "delete"):
        page = client.get(host_url(world.registration, world.host, action))
        assert page.status_code == 200 and b"ns1.example.com" in page.content
    assert world.sandbox.transport.requests == []
    response = client.post(host_url(world.registration, world.host, "delete"), follow=True)
    assert "Glue host ns1.example.com deleted" in response.content.decode()
    assert mirror(world.registration) == {}


@pytest.mark.parametrize(("status", "code"), [(422, "invalid_host_name"),
                                              (502, "registrar_unavailable"),
                                              (503, "feature_disabled")])
def test_upstream_errors_become_messages_not_500s(client, world, agent, status, code):
    world.sandbox.fault(f"^/api/domain_registrations/{world.registration.upstream_id}/hosts",
                        status=status, code=code, times=10)
    client.force_login(agent)
    pages = [(hosts_url(world.registration),
              {"host_name": "ns2.example.com", "addresses": "192.0.2.2"}),
             (host_url(world.registration, world.host, "edit"), {"addresses": "192.0.2.3"}),
             (host_url(world.registration, world.host, "delete"), {})]
    unknown = status == 502
    for index, (url, data) in enumerate(pages):
        sent = len(world.sandbox.transport.requests)
        response = client.post(url, data, follow=True)
        assert response.status_code == 200
        html = response.content.decode()
        if unknown and index > 0:
            # The 502 after the first change left its outcome unknown, and the hosts could
            # not be read again (the same 502): glue-host changes are refused, before any
            # HTTP, until they have been.
            assert escape(unsettled_hosts(world.registration)) in html
            assert 'id="hosts-unavailable"' in html
            assert len(world.sandbox.transport.requests) == sent
            continue
        if unknown:
            # Shown as a warning, not an error: the change may well have been made.
            assert 'class="warning"' in html
            assert escape(
                "No usable answer came back from the registrar (it answered HTTP 502), after "
                "the request was sent: it may have applied the change. The hosts could not be "
                "read again now (The registrar is not answering; try later). Until they have "
                "been, glue-host changes are refused here; the back-office keeps trying."
            ) in html
        else:
            assert code in html and 'class="error"' in html
            assert "may have applied" not in html
    assert mirror(world.registration) == {
        "ns1.example.com": {("192.0.2.1", 4), ("2001:db8::1", 6)}}
    assert list(StaffAction.objects.values_list("outcome", flat=True)) == (
        ["unknown"] if unknown else ["failed"] * 3)


def test_a_timeout_through_the_admin_is_a_message(client, world, agent):
    world.sandbox.transport.fail_next(httpx.ReadTimeout("slow registrar"))
    client.force_login(agent)
    response = client.post(host_url(world.registration, world.host, "edit"),
                           {"addresses": "192.0.2.3"}, follow=True)
    html = response.content.decode()
    assert response.status_code == 200 and 'class="warning"' in html
    assert escape(unknown_message("it did not answer in time", shown=False)) in html
    assert mirror(world.registration)["ns1.example.com"] == {("192.0.2.1", 4),
                                                             ("2001:db8::1", 6)}


def test_a_refusal_goes_back_onto_the_form(client, world, agent):
    Registration.objects.filter(pk=world.registration.pk).update(
        pending_async=True, rtr_process_status="RUNNING")
    client.force_login(agent)
    page = client.get(hosts_url(world.registration)).content.decode()
    assert 'id="hosts-unavailable"' in page
    assert 'data-host-action="edit" aria-disabled="true"' in page
    for url, data in [(hosts_url(world.registration),
                       {"host_name": "ns2.example.com", "addresses": "192.0.2.2"}),
                      (host_url(world.registration, world.host, "edit"),
                       {"addresses": "192.0.2.3"}),
                      (host_url(world.registration, world.host, "delete"), {})]:
        response = client.post(url, data)
        assert response.status_code == 200
        assert re.search(r'class="errornote">[^<]*in flight', response.content.decode())
    assert world.sandbox.transport.requests == []
    assert not StaffAction.objects.exists()


def test_unknown_hosts_and_registrations_are_404(client, world, agent):
    client.force_login(agent)
    missing = Host(registration=world.registration, host_name="ns7.example.com")
    assert client.get(host_url(world.registration, missing, "edit")).status_code == 404
    assert client.post(host_url(world.idn, world.host, "delete")).status_code == 404
    assert client.get("/admin/registrar/registration/not-a-number/hosts/").status_code == 404
    assert world.sandbox.transport.requests == []


# Each value is refused on the form: (host name, addresses, the field that complains).
OK_NAME, OK_ADDRESS = "ns2.example.com", "192.0.2.2"
HOSTILE = [
    # host names
    ("", OK_ADDRESS, "host_name"),
    ("example.com", OK_ADDRESS, "host_name"),  # the apex itself
    ("EXAMPLE.COM.", OK_ADDRESS, "host_name"),  # the apex, spelled differently
    ("ns1.example.org", OK_ADDRESS, "host_name"),
    ("ns1.example.com.evil.com", OK_ADDRESS, "host_name"),
    ("ns1.notexample.com", OK_ADDRESS, "host_name"),
    ("ns1example.com", OK_ADDRESS, "host_name"),
    ("xn--zz.example.com", OK_ADDRESS, "host_name"),  # invalid punycode
    ("n\u04551.example.com", OK_ADDRESS, "host_name"),  # Cyrillic dze among Latin letters
    ("xn--n1-eoc.example.com", OK_ADDRESS, "host_name"),  # the same, as punycode
    ("nsא.example.com", OK_ADDRESS, "host_name"),  # right-to-left inside a Latin label
    ("ns 1.example.com", OK_ADDRESS, "host_name"),
    ("ns1\t.example.com", OK_ADDRESS, "host_name"),
    ("ns_1.example.com", OK_ADDRESS, "host_name"),
    ("-ns1.example.com", OK_ADDRESS, "host_name"),
    ("ns1..example.com", OK_ADDRESS, "host_name"),
    ("*.example.com", OK_ADDRESS, "host_name"),
    ("ns1.example.com/x", OK_ADDRESS, "host_name"),
    ("a\u200db.example.com", OK_ADDRESS, "host_name"),  # a joiner with no business there
    (("a" * 64) + ".example.com", OK_ADDRESS, "host_name"),  # label over 63
    (".".join(["a" * 60] * 4) + ".example.com", OK_ADDRESS, "host_name"),  # over 253
    # addresses
    (OK_NAME, "", "addresses"),
    (OK_NAME, " \n \n", "addresses"),
    (OK_NAME, "192.0.2.0/24", "addresses"),
    (OK_NAME, "2001:db8::/32", "addresses"),
    (OK_NAME, "::ffff:192.0.2.1", "addresses"),
    (OK_NAME, "fe80::1%eth0", "addresses"),
    (OK_NAME, "2001:db8::1%1", "addresses"),
    (OK_NAME, "2001:db8::1\n2001:DB8:0::1", "addresses"),  # duplicates once normalised
    (OK_NAME, "192.0.2.1\n192.0.2.1", "addresses"),
    (OK_NAME, "256.1.1.1", "addresses"),
    (OK_NAME, "1.2.3", "addresses"),
    (OK_NAME, "192.000.002.001", "addresses"),  # leading zeros
    (OK_NAME, "0x7f.0.0.1", "addresses"),
    (OK_NAME, "3232235777", "addresses"),  # an integer is not a literal
    (OK_NAME, "192.0.2 .1", "addresses"),
    (OK_NAME, "not an address", "addresses"),
    (OK_NAME, "192.0.2.1, 192.0.2.2", "addresses"),
    (OK_NAME, "0.0.0.0", "addresses"),  # noqa: S104
    (OK_NAME, "::", "addresses"),
    (OK_NAME, "127.0.0.1", "addresses"),
    (OK_NAME, "::1", "addresses"),
    (OK_NAME, "224.0.0.5", "addresses"),
    (OK_NAME, "ff02::1", "addresses"),
    (OK_NAME, "169.254.10.1", "addresses"),
    (OK_NAME, "fe80::1", "addresses"),
    (OK_NAME, "255.255.255.255", "addresses"),
    (OK_NAME, "192.0.2.2\n<script>alert(1)</script>", "addresses"),
]


def test_hostile_input_is_refused_on_the_add_form(client, world, agent):
    """One test over the whole table: a form error each time, nothing sent, no row."""
    client.force_login(agent)
    url = hosts_url(world.registration)
    for host_name, addresses, field in HOSTILE:
        response = client.post(url, {"host_name": host_name, "addresses": addresses})
        assert response.status_code == 200, (host_name, addresses)
        errors = response.context["form"].errors
        assert set(errors) == {field}, (host_name, addresses, errors)
        assert 'class="errorlist' in response.content.decode(), (host_name, addresses)
        assert "<script>alert" not in response.content.decode()
    assert world.sandbox.transport.requests == []
    assert Host.objects.count() == 1
    assert not StaffAction.objects.exists()


def test_hostile_input_is_refused_by_the_service_too(world, agent):
    for host_name, addresses, field in HOSTILE:
        with pytest.raises(InvalidInput) as refused:
            services.host_create(registration=world.registration, host_name=host_name,
                                 addresses=addresses.splitlines(), actor=agent)
        assert field in refused.value.field_errors, (host_name, addresses)
    assert world.sandbox.transport.requests == []
    assert Host.objects.count() == 1


# --- the permission matrix --------------------------------------------------------------------

ALLOWED = {SUPPORT: {"view", "add", "edit", "delete"}, ADMIN: {"view", "add", "edit", "delete"},
           FINANCE: set(), "staff": set()}


@pytest.mark.parametrize("role", [SUPPORT, FINANCE, ADMIN, "staff"])
def test_pages_and_controls_follow_the_permissions(client, world, role_users, role):
    client.force_login(role_users[role])
    allowed = ALLOWED[role]
    change_page = client.get(change_url(world.registration))
    if role == "staff":
        assert change_page.status_code == 403
    else:
        assert ('id="glue-hosts-link"' in change_page.content.decode()) == ("view" in allowed)

    page = client.get(hosts_url(world.registration))
    assert page.status_code == (200 if "view" in allowed else 403), role
    if page.status_code == 200:
        html = page.content.decode()
        assert ('id="host-add-form"' in html) == ("add" in allowed)
        assert ('data-host-action="edit"' in html) == ("edit" in allowed)
        assert ('data-host-action="delete"' in html) == ("delete" in allowed)

    posts = {
        "add": (hosts_url(world.registration),
                {"host_name": "ns3.example.com", "addresses": "192.0.2.3"}),
        "edit": (host_url(world.registration, world.host, "edit"),
                 {"addresses": "192.0.2.4"}),
        "delete": (host_url(world.registration, world.host, "delete"), {}),
    }
    for action, (url, data) in posts.items():
        response = client.post(url, data)
        expected = 302 if action in allowed else 403
        assert response.status_code == expected, (role, action, response.status_code)
    if allowed:
        assert [r.method for r in world.sandbox.transport.mutations] == [
            "POST", "PATCH", "DELETE"]
        assert list(StaffAction.objects.order_by("pk").values_list("action", flat=True)) == [
            "host.create", "host.update", "host.delete"]
        assert mirror(world.registration) == {"ns3.example.com": {("192.0.2.3", 4)}}
    else:
        assert world.sandbox.transport.requests == []
        assert not StaffAction.objects.exists()
        assert set(mirror(world.registration)) == {"ns1.example.com"}


def test_edit_and_delete_need_their_own_permission(client, world):
    """Only add_host: the add form works, edit and delete pages are 403 and hidden."""
    from django.contrib.auth.models import Permission

    user = UserFactory(username="adder")
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label="registrar",
        codename__in=["view_registration", "view_host", "add_host"]))
    client.force_login(user)
    html = client.get(hosts_url(world.registration)).content.decode()
    assert 'id="host-add-form"' in html and "data-host-action" not in html
    assert client.get(host_url(world.registration, world.host, "edit")).status_code == 403
    assert client.get(host_url(world.registration, world.host, "delete")).status_code == 403
