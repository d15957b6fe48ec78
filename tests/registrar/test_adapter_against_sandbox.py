"""The adapter against the sandbox through httpx.WSGITransport: for each mutation, a 200
that is applied, a 202 whose process later completes, and 409 while it is in flight."""

import httpx
import pytest

from registrar.providers.base import Done, Pending, RegistrationBusy
from registrar.providers.domain_api import DnssecKeyData, DomainApiProvider, RoleContactSource
from registrar.sandbox import get_app, reset_sandbox
from registrar.sandbox.seed import seed_from_mirror
from tests.factories import RegistrationFactory, TldFactory

KEY = DnssecKeyData(257, 13, "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+"
                             "KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==")

# operation -> (call, what the registration looks like once applied)
MUTATIONS = {
    "lock": (lambda api, g: api.set_lock(g, True), lambda r: r.fields["locked"] is True),
    "privacy": (lambda api, g: api.set_privacy(g, True),
                lambda r: r.fields["privacy_protect"] is True),
    "dnssec": (lambda api, g: api.set_dnssec(g, "enable", [KEY]),
               lambda r: r.fields["dnssec_enabled"] is True),
    "auto_renew": (lambda api, g: api.set_auto_renew(g, False),
                   lambda r: r.fields["auto_renew"] is False),
    "nameservers": (lambda api, g: api.set_nameservers(g, ["ns1.new.example", "ns2.new.example"]),
                    lambda r: r.fields["nameservers"] == ["ns1.new.example", "ns2.new.example"]),
    "holder": (lambda api, g: api.update_holder(g, action_mode="edit_current",
                                                holder={"city": "Utrecht"}),
               lambda r: r.contacts["owner"].fields["city"] == "Utrecht"),
    "role_contacts": (lambda api, g: api.set_role_contacts(
        g, {"tech": RoleContactSource("same_as_owner")}),
        lambda r: r.contacts["tech"].upstream_id == r.contacts["owner"].upstream_id),
    "transfer_out": (lambda api, g: api.decide_transfer_out(g, "reject"),
                     lambda r: r.fields["transfer_out_pending"] is False),
    "push_transfer": (lambda api, g: api.push_transfer(g, "REG-IDS"), lambda r: True),
}


@pytest.fixture
def api(db):
    reset_sandbox()
    tld = TldFactory(name="com", supports_push_transfer=True)
    registration = RegistrationFactory(name="adapter.com", tld=tld, transfer_out_pending=True,
                                       auto_renew=True)
    seed_from_mirror()
    provider = DomainApiProvider(base_url="http://sandbox.invalid", token="sandbox-token",
                                 account_ref="acct", transport=httpx.WSGITransport(app=get_app()))
    yield provider, registration.upstream_id
    provider.close()
    reset_sandbox()


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_200_is_applied_upstream(api, name):
    provider, guid = api
    call, applied = MUTATIONS[name]
    result = call(provider, guid)
    assert isinstance(result, Done)
    assert applied(provider.get_registration(guid).registration)


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_202_completes_after_polling_and_409_while_in_flight(api, name):
    provider, guid = api
    call, applied = MUTATIONS[name]
    get_app().state.add_async_rule(registration=guid, action="*", polls=2, outcome="COMPLETED")
    result = call(provider, guid)
    assert isinstance(result, Pending)
    view = provider.get_registration(guid).registration
    assert view.fields["pending_async"] is True
    with pytest.raises(RegistrationBusy):
        provider.set_lock(guid, False)
    statuses = [provider.get_process(guid, result.process.id).process.status for _ in range(2)]
    assert statuses[-1] == "COMPLETED"
    after = provider.get_registration(guid).registration
    assert after.fields["pending_async"] is False
    assert applied(after)
    assert provider.list_processes(guid)[0].id == result.process.id
