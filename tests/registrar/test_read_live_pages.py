"""The four read-only pages that read an upstream live beside the mirror: the provider
account's registrations at the registrar, a contact, a registration's glue hosts and a
process. Each against the sandbox: the request that left, the page a person reads, that
nothing was stored, who may see it, a bad id, and an upstream that fails."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from backoffice.models import StaffAction
from backoffice.roles import ADMIN, FINANCE, SUPPORT
from contacts.models import Contact
from registrar.models import Host, HostAddress, Process, ProcessLogEntry, Registration
from registrar.providers.http import RetryPolicy
from tests.factories import (
    HostAddressFactory,
    HostFactory,
    ProcessFactory,
    ProcessLogEntryFactory,
    ProviderAccountFactory,
    RegistrationFactory,
    TldFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def no_retry_waits(monkeypatch):
    """Reads are retried on a 5xx: without the waits."""
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt: 0.0)


def text(response) -> str:
    """The words of the page's main content, as a person reads them."""
    html = response.content.decode()
    main = html[html.index('id="content-main"'):]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)).replace(" ,", ",")


def sent(sandbox) -> list[tuple[str, str]]:
    return [(request.method, request.url.path) for request in sandbox.transport.requests]


def stored() -> tuple[int, ...]:
    """What a read must not change: audit rows and every mirror table it shows."""
    return (StaffAction.objects.count(), Registration.objects.count(), Contact.objects.count(),
            Host.objects.count(), HostAddress.objects.count(), Process.objects.count(),
            ProcessLogEntry.objects.count())


@pytest.fixture
def world(sandbox):
    """example.com (one glue host, one running process) known here and at the sandbox,
    and other.com known only at the sandbox; then the mirror drifts: a second address,
    another city."""
    registration = RegistrationFactory(name="example.com", tld=TldFactory(name="com"))
    gone = RegistrationFactory(name="other.com", tld=registration.tld)
    host = HostFactory(registration=registration, host_name="ns1.example.com")
    HostAddressFactory(host=host, address="192.0.2.1", version=4)
    process = ProcessFactory(registration=registration, upstream_id="700001")
    ProcessLogEntryFactory(process=process, message="Queued here.")
    sandbox.seed()
    gone.delete()
    HostAddressFactory(host=host, address="192.0.2.9", version=4)
    contact = registration.owner_contact
    Contact.objects.filter(pk=contact.pk).update(city="Utrecht")
    contact.refresh_from_db()
    sandbox.transport.requests.clear()
    return type("World", (), {"registration": registration, "host": host,
                              "process": process, "contact": contact,
                              "account": registration.tld.provider_account,
                              "sandbox": sandbox})


@pytest.fixture
def as_role(client, db):
    def login(role: str):
        client.force_login(UserFactory(username=f"u-{role}", groups=[role]))
        return client
    return login


def upstream_url(account) -> str:
    return reverse("admin:registrar_provideraccount_upstream", args=[account.pk])


def contact_url(contact) -> str:
    return reverse("admin:contacts_contact_remote", args=[contact.pk])


def hosts_url(registration) -> str:
    return reverse("admin:registrar_registration_hosts_remote", args=[registration.pk])


def process_url(process) -> str:
    return reverse("admin:registrar_process_remote", args=[process.pk])


# --- 1. the provider account's registrations at the registrar --------------------------------


def test_account_page_lists_the_upstream_and_marks_what_is_mirrored(world, as_role):
    client = as_role(ADMIN)
    before = stored()
    response = client.get(upstream_url(world.account))
    assert response.status_code == 200
    assert sent(world.sandbox) == [("GET", "/api/domain_registrations")]
    assert world.sandbox.transport.requests[0].url.params["per_page"] == "25"
    page = text(response)
    assert "2 shown, 1 of them mirrored here." in page
    assert re.search(r"example\.com \S+ active .*mirrored here", page)
    assert re.search(r"other\.com \S+ active .*not here", page)
    change = reverse("admin:registrar_registration_change", args=[world.registration.pk])
    assert f'<a href="{change}" data-here="mirrored">mirrored here</a>' in response.content.decode()
    assert stored() == before


def test_account_page_reads_only_the_first_page(sandbox, as_role):
    tld = TldFactory(name="com")
    for n in range(27):
        RegistrationFactory(name=f"bulk{n:02d}.com", tld=tld)
    sandbox.seed()
    sandbox.transport.requests.clear()
    response = as_role(FINANCE).get(upstream_url(tld.provider_account))
    assert response.status_code == 200
    assert sent(sandbox) == [("GET", "/api/domain_registrations")]
    assert "25 shown, 25 of them mirrored here." in text(response)


def test_account_page_explains_an_upstream_without_a_registration_list(sandbox, as_role):
    account = ProviderAccountFactory(label="domainee", kind="domainee")
    response = as_role(ADMIN).get(upstream_url(account))
    assert response.status_code == 200
    assert "accounts list no registrations, so there is nothing to read at the registrar." \
        in text(response)
    assert sent(sandbox) == []


def test_account_page_upstream_failure_is_a_message(world, as_role):
    world.sandbox.fault("^/api/domain_registrations$", status=502, code="registrar_unavailable",
                        times=10)
    before = stored()
    response = as_role(ADMIN).get(upstream_url(world.account))
    assert response.status_code == 200
    page = text(response)
    assert "The registrar could not be read now:" in page and "Nothing was changed here." in page
    assert "mirrored here" not in page
    assert {call for call in sent(world.sandbox)} == {("GET", "/api/domain_registrations")}
    assert stored() == before


def test_account_page_is_linked_and_guarded(world, as_role, client):
    change = reverse("admin:registrar_provideraccount_change", args=[world.account.pk])
    assert upstream_url(world.account) in as_role(ADMIN).get(change).content.decode()
    # Support may not see provider accounts at all.
    assert as_role(SUPPORT).get(upstream_url(world.account)).status_code == 403
    client.force_login(UserFactory(username="adm2", groups=[ADMIN]))
    assert client.get("/admin/registrar/provideraccount/abc/upstream/").status_code == 404
    assert client.get("/admin/registrar/provideraccount/99999/upstream/").status_code == 404
    assert sent(world.sandbox) == []


# --- 2. a contact at the registrar --------------------------------------------------------


def test_contact_page_shows_both_sides_and_marks_the_difference(world, as_role):
    before = stored()
    response = as_role(SUPPORT).get(contact_url(world.contact))
    assert response.status_code == 200
    assert sent(world.sandbox) == [("GET", f"/api/domain_contacts/{world.contact.upstream_id}")]
    page = text(response)
    assert "City Utrecht Amsterdam differs" in page
    assert "Country NL NL" in page and "Country NL NL differs" not in page
    assert stored() == before
    world.contact.refresh_from_db()
    assert world.contact.city == "Utrecht"


def test_contact_page_upstream_failure_is_a_message(world, as_role):
    world.sandbox.fault("^/api/domain_contacts/", status=503, code="feature_disabled", times=10)
    before = stored()
    response = as_role(FINANCE).get(contact_url(world.contact))
    assert response.status_code == 200
    page = text(response)
    assert "The registrar could not be read now:" in page and "Nothing was changed here." in page
    assert "differs" not in page
    assert stored() == before


def test_contact_page_is_linked_and_guarded(world, as_role):
    change = reverse("admin:contacts_contact_change", args=[world.contact.pk])
    assert contact_url(world.contact) in as_role(SUPPORT).get(change).content.decode()
    assert as_role("staff").get(contact_url(world.contact)).status_code == 403
    client = as_role(ADMIN)
    assert client.get("/admin/contacts/contact/x1/remote/").status_code == 404
    assert client.get("/admin/contacts/contact/99999/remote/").status_code == 404
    assert sent(world.sandbox) == []


# --- 3. glue hosts at the registrar ---------------------------------------------------------


def test_hosts_page_compares_mirror_and_registrar(world, as_role):
    before = stored()
    response = as_role(SUPPORT).get(hosts_url(world.registration))
    assert response.status_code == 200
    assert sent(world.sandbox) == [
        ("GET", f"/api/domain_registrations/{world.registration.upstream_id}/hosts")]
    page = text(response)
    assert "1 host(s) differ between the mirror and the registrar." in page
    assert "ns1.example.com 192.0.2.1, 192.0.2.9 192.0.2.1 differs" in page
    assert stored() == before


def test_hosts_page_agreeing_says_so(world, as_role):
    HostAddress.objects.filter(address="192.0.2.9").delete()
    response = as_role(ADMIN).get(hosts_url(world.registration))
    page = text(response)
    assert "The mirror and the registrar agree." in page and "differs" not in page


def test_hosts_page_upstream_failure_is_a_message(world, as_role):
    world.sandbox.fault("/hosts$", status=502, code="registrar_unavailable",
                        times=10)
    before = stored()
    response = as_role(SUPPORT).get(hosts_url(world.registration))
    assert response.status_code == 200
    page = text(response)
    assert "The registrar could not be read now:" in page and "Nothing was changed here." in page
    assert "ns1.example.com 192.0.2.1, 192.0.2.9 not read" in page
    assert {call for call in sent(world.sandbox)} == {
        ("GET", f"/api/domain_registrations/{world.registration.upstream_id}/hosts")}
    assert stored() == before


def test_hosts_page_is_linked_and_guarded(world, as_role):
    hosts = reverse("admin:registrar_registration_hosts", args=[world.registration.pk])
    assert hosts_url(world.registration) in as_role(SUPPORT).get(hosts).content.decode()
    assert as_role(FINANCE).get(hosts_url(world.registration)).status_code == 403
    client = as_role(ADMIN)
    assert client.get("/admin/registrar/registration/1x/hosts/remote/").status_code == 404
    assert client.get("/admin/registrar/registration/99999/hosts/remote/").status_code == 404
    assert sent(world.sandbox) == []


# --- 4. a process at the registrar ------------------------------------------------------------


def test_process_page_shows_the_registrar_beside_the_mirror(world, as_role):
    before = stored()
    response = as_role(SUPPORT).get(process_url(world.process))
    assert response.status_code == 200
    assert sent(world.sandbox) == [
        ("GET", f"/api/domain_registrations/{world.registration.upstream_id}"
                f"/processes/{world.process.upstream_id}")]
    page = text(response)
    assert "Process 700001 of example.com as the registrar has it now" in page
    assert "Status RUNNING" in page
    assert "A registrar may count this read as a poll of the process" in page
    assert "Log in the mirror When Message" in page and "Queued here." in page
    assert stored() == before
    world.process.refresh_from_db()
    assert world.process.status == "RUNNING"


def test_process_page_upstream_failure_is_a_message(world, as_role):
    world.sandbox.fault("/processes/", status=502, code="registrar_unavailable",
                        times=10)
    before = stored()
    response = as_role(ADMIN).get(process_url(world.process))
    assert response.status_code == 200
    page = text(response)
    assert "The registrar could not be read now:" in page and "Nothing was changed here." in page
    assert "Status RUNNING not read" in page and "Queued here." in page
    assert stored() == before


def test_process_page_is_linked_and_guarded(world, as_role):
    change = reverse("admin:registrar_process_change", args=[world.process.pk])
    assert process_url(world.process) in as_role(SUPPORT).get(change).content.decode()
    assert as_role(FINANCE).get(process_url(world.process)).status_code == 403
    client = as_role(ADMIN)
    assert client.get("/admin/registrar/process/a1/remote/").status_code == 404
    assert client.get("/admin/registrar/process/99999/remote/").status_code == 404
    assert sent(world.sandbox) == []


def test_account_page_reads_entri_through_its_domain_list(db, monkeypatch, as_role):
    """Another upstream, another wire: an Entri account's page is GET /domains (httpx
    MockTransport behind the fake), page 0 only."""
    from django.core.cache import cache

    from tests.fakes.entri import PREFIX, FakeEntri

    monkeypatch.setenv("PROVIDER_SECRET_ENTRI_LIVE", "entri-secret-live")
    account = ProviderAccountFactory(label="entri-live", kind="entri",
                                     base_url="https://api.goentri.com",
                                     account_ref="app-live",
                                     secret_env="PROVIDER_SECRET_ENTRI_LIVE")
    mirrored = RegistrationFactory(name="kept.shop", upstream_id=None,
                                   tld=TldFactory(name="shop", provider_account=account))
    fake = FakeEntri(application_id="app-live", secret="entri-secret-live")
    fake.add_domain("kept.shop")
    fake.add_domain("elsewhere.shop")
    cache.clear()  # Entri's JWT is shared through the cache
    before = stored()
    with fake.serving("entri-live"):
        response = as_role(ADMIN).get(upstream_url(account))
    cache.clear()
    assert response.status_code == 200
    assert [(r.method, r.url.path) for r in fake.api_requests] == [("GET", f"{PREFIX}/domains")]
    page = text(response)
    assert "2 shown, 1 of them mirrored here." in page
    assert re.search(r"kept\.shop .*mirrored here", page)
    assert re.search(r"elsewhere\.shop .*not here", page)
    change = reverse("admin:registrar_registration_change", args=[mirrored.pk])
    assert f'href="{change}"' in response.content.decode()
    assert stored() == before


def test_account_page_with_an_unusable_account_id_is_a_message(sandbox, as_role):
    """An account id stored around the form's rules cannot be sent as a header: the page
    says so, and nothing leaves."""
    account = ProviderAccountFactory(label="odd", account_ref="café-account")
    response = as_role(ADMIN).get(upstream_url(account))
    assert response.status_code == 200
    assert "a value it sends as a header (such as its account id) is not plain ASCII. " \
        "Nothing was sent." in text(response)
    assert sent(sandbox) == []
