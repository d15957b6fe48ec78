"""The admin offers each registration what its registrar can do: an Entri-served one gets
DNS records and no transfer lock; a Domain Registration API one the opposite."""

from __future__ import annotations

import json
import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from backoffice.models import StaffAction
from registrar.models import Registration
from tests.factories import ProviderAccountFactory, RegistrationFactory, TldFactory
from tests.fakes.entri import PREFIX, FakeEntri, jwt

RECORDS = [{"host": "@", "type": "A", "value": "192.0.2.10", "ttl": 3600}]
ZONE_PATH = f"{PREFIX}/domains/store.shop/dns-records"


@pytest.fixture
def entri(db, sandbox, monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_ENTRI_TEST", "entri-secret")
    account = ProviderAccountFactory(label="entri-main", kind="entri",
                                     base_url="https://api.entri.test", account_ref="app-1",
                                     secret_env="PROVIDER_SECRET_ENTRI_TEST")
    registration = RegistrationFactory(name="store.shop", upstream_id=None,
                                       tld=TldFactory(name="shop", provider_account=account))
    fake = FakeEntri(application_id="app-1", secret="entri-secret")
    fake.add_domain("store.shop", dns_records=RECORDS)
    cache.clear()  # Entri's JWT is shared through the cache
    with fake.serving("entri-main"):
        yield registration, fake
    cache.clear()


def shown(client, registration: Registration) -> set[str]:
    html = client.get(reverse("admin:registrar_registration_change",
                              args=[registration.pk])).content.decode()
    return set(re.findall(r'data-operation="([a-z_]+)"', html))


def test_entri_registration_offers_dns_records_and_no_lock(client, support_user, entri):
    registration, _ = entri
    domain_api = RegistrationFactory(name="classic.com", tld=TldFactory(name="com"))
    client.force_login(support_user)
    entri_ops, classic_ops = shown(client, registration), shown(client, domain_api)
    assert "dns_records" in entri_ops and "auto_renew" in entri_ops
    assert not {"lock", "privacy", "dnssec", "auth_code", "nameservers"} & entri_ops
    assert "lock" in classic_ops and "dns_records" not in classic_ops
    # A hand-made POST for what Entri cannot do is refused, not sent.
    client.post(reverse("admin:registrar_registration_operation",
                        args=[registration.pk, "lock"]), {"enabled": "1"})
    assert not StaffAction.objects.exists()


def test_dns_records_are_shown_live_and_replaced(client, support_user, entri):
    registration, fake = entri
    client.force_login(support_user)
    url = reverse("admin:registrar_registration_operation",
                  args=[registration.pk, "dns_records"])
    assert "192.0.2.10" in client.get(url).content.decode()
    response = client.post(url, {"records": "@ A 192.0.2.20 3600\nwww CNAME store.shop. 300\n"
                                            "@ MX 10 mail.store.shop 3600"}, follow=True)
    assert "were replaced (3 record(s))" in response.content.decode()
    (put,) = fake.sent("PUT", ZONE_PATH)
    sent = json.loads(put.content)["dns_records"]
    assert {r["type"] for r in sent} == {"A", "CNAME", "MX"}
    assert put.headers["Authorization"] == f"Bearer {jwt(1)}"
    assert put.headers["applicationId"] == "app-1"
    # Entri now serves the zone as sent.
    assert fake.domain("store.shop")["dnsRecords"] == sent
    assert StaffAction.objects.get().action == "registration.dns_records"


@pytest.mark.parametrize("line", ["@ A 2001:db8::1 3600", "www CNAME 192.0.2.1 300",
                                  "@ AAAA 192.0.2.1 300", "@ A 192.0.2.1 0", "@ SPF v=spf1 300",
                                  "@ A", ""])
def test_bad_dns_records_are_refused_before_sending(client, support_user, entri, line):
    registration, fake = entri
    client.force_login(support_user)
    url = reverse("admin:registrar_registration_operation",
                  args=[registration.pk, "dns_records"])
    response = client.post(url, {"records": line})
    assert response.status_code == 200 and b"errorlist" in response.content
    assert fake.sent("PUT", ZONE_PATH) == []
    assert fake.domain("store.shop")["dnsRecords"] == RECORDS


def test_auto_renew_on_entri_addresses_the_domain_by_name(client, support_user, entri):
    from registrar.services import registration_set_auto_renew

    registration, fake = entri
    outcome = registration_set_auto_renew(registration=registration, auto_renew=False,
                                          actor=support_user)
    assert outcome.status == "succeeded", outcome.message
    (put,) = fake.sent("PUT", f"{PREFIX}/domains/store.shop/auto-renew")
    assert json.loads(put.content) == {"autoRenew": False, "period": 12}
    assert fake.domain("store.shop")["autoRenewed"] is False
    registration.refresh_from_db()
    assert registration.auto_renew is False
