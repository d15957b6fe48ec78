"""The sandbox upstream, driven over HTTP (httpx through WSGI, and once over a real
socket): auth, every documented error branch, the async process life cycle, faults,
orders, and state shared between processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from registrar.sandbox import SandboxApp, SandboxState, get_app, reset_sandbox
from registrar.sandbox.seed import seed_from_mirror

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "sandbox-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "X-Auth-Account": "acct-1"}
KEY = {"flags": 257, "algorithm": 13, "publicKey": "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+Gq"}
NEW = {"first_name": "Grace", "last_name": "Hopper", "country": "US",
       "email": "grace@example.com", "phone": "+1.2025550143"}


def _guid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def _reg(n: int, name: str, contact: int = 1001, **extra: Any) -> dict[str, Any]:
    return {"id": _guid(n), "name": name, "owner_contact_id": contact,
            "admin_contact_id": contact, "tech_contact_id": contact,
            "billing_contact_id": contact,
            "locked": False, "nameservers": ["ns1.example.net", "ns2.example.net"], **extra}


SEED: dict[str, Any] = {
    "tlds": [
        {"id": 1, "name": "com", "registrant_change_fee": {"amount_cents": 1200,
                                                          "currency": "USD"},
         "cancellation_window_days": 5},
        {"id": 2, "name": "net", "privacy_fee": {"amount_cents": 499, "currency": "USD"}},
        {"id": 3, "name": "de", "supports_transfer_lock": False, "supports_privacy": False,
         "supports_push_transfer": True},
        {"id": 4, "name": "it", "requires_contact_validation": True,
         "authcode_behavior": "hidden"},
        {"id": 5, "name": "io", "registrar": None},
        {"id": 6, "name": "org"},
    ],
    "contacts": [
        {"id": 1001, "handle": "ACME", "first_name": "Ada", "last_name": "Lovelace",
         "organization": "Acme Bakery", "country": "NL", "email": "ada@acme.example",
         "phone": "+31.201234567", "tld": "com"},
        {"id": 1002, "handle": "FIORE", "first_name": "Gia", "last_name": "Fiore",
         "country": "IT", "email": "gia@fiore.example", "phone": "+39.0612345678",
         "tld": "it", "validations": [{"type": "email", "status": "verified"}]},
        {"id": 1003, "handle": "LOOSE", "first_name": "Lo", "last_name": "Ose",
         "country": "NL", "email": "lo@ose.example", "phone": "+31.201234567"},
        {"id": 1004, "handle": "MAGIC", "first_name": "Mag", "last_name": "Ic",
         "country": "NL", "email": "magic@example.com", "phone": "+31.201234567",
         "tld": "com"},
    ],
    "registrations": [
        _reg(1, "example.com"),
        _reg(2, "metered.net"),
        _reg(3, "push.de"),
        _reg(4, "fiore.it", owner_contact_id=1002, admin_contact_id=1002,
             tech_contact_id=1001, billing_contact_id=1002),
        _reg(5, "nowhere.io"),
        _reg(6, "prohibited.com", server_transfer_prohibited=True),
        _reg(7, "leaving.com", transfer_out_pending=True),
        _reg(8, "shop-async.com", 1004),
        _reg(9, "shop-suspends.com", 1004),
        _reg(10, "shop-busy.com", 1004),
        _reg(11, "shop-fails.com", 1004),
        _reg(12, "shop-slow.com", 1004),
        _reg(13, "ownerless.org", owner_contact_id=None),
        _reg(14, "fresh.com", cancellation_deadline_at="2999-01-01T00:00:00Z"),
        _reg(15, "stale.com", cancellation_deadline_at="2001-01-01T00:00:00Z"),
        _reg(16, "drifted.com", drift={"locked": True, "status": "expired"},
             dns_zone={"id": 7, "name": "drifted.com"}),
    ],
    "taken": ["elsewhere.com"],
}
COM, NET, DE, IT, IO, PROHIBITED, LEAVING, ASYNC, SUSPENDS, BUSY, FAILS, SLOW, OWNERLESS, \
    FRESH, STALE, DRIFTED = (_guid(n) for n in range(1, 17))


def _client(app: SandboxApp, **headers: str) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=app),
                        base_url="http://sandbox.invalid", headers={**HEADERS, **headers})


@pytest.fixture
def state() -> SandboxState:
    state = SandboxState()
    state.seed(SEED)
    return state


@pytest.fixture
def app(state: SandboxState) -> SandboxApp:
    return SandboxApp(state, token=TOKEN, slow_seconds=0.2)


@pytest.fixture
def client(app: SandboxApp):
    with _client(app) as client:
        yield client


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json().get("code", "")


def _reg_of(client: httpx.Client, guid: str) -> dict[str, Any]:
    return client.get(f"/api/domain_registrations/{guid}").json()["domain_registration"]


# --- Plumbing ---------------------------------------------------------------------------


def test_auth_account_header_and_feature_flag(app):
    with _client(app, Authorization="") as anonymous:
        assert _code(anonymous.get("/api/domain_registrations")) == (401, "unauthorized")
        assert _code(anonymous.get("/_sandbox/state")) == (401, "unauthorized")
    with _client(app, Authorization="Bearer nope") as wrong:
        assert _code(wrong.get("/api/domain_registrations")) == (401, "unauthorized")
    with _client(app, **{"X-Auth-Account": ""}) as no_account:
        assert _code(no_account.get("/api/domain_registrations")) == (
            400, "missing_account_header")
        assert no_account.get("/_sandbox/state").status_code == 200  # controls need none
    with _client(app, **{"X-Auth-Account": "feature-off"}) as off:
        assert _code(off.get(f"/api/domain_registrations/{COM}")) == (503, "feature_disabled")
    with _client(app) as client:
        response = client.get("/api/domain_registrations")
        assert response.headers["content-type"] == "application/json"
        assert re.fullmatch(r"req_[0-9a-f]+", response.headers["x-request-id"])
        assert _code(client.get("/api/nothing")) == (404, "not_found")
        assert _code(client.put(f"/api/domain_registrations/{COM}")) == (
            405, "method_not_allowed")
        assert _code(client.post("/api/domain_registrations/check", content=b"{nope",
                                 headers={"Content-Type": "application/json"})) == (
            400, "invalid_json")


def test_get_app_and_reset_sandbox(tmp_path):
    app = reset_sandbox()
    assert get_app() is app and app.state.path is None
    with override_settings(SANDBOX_STATE_FILE=tmp_path / "s.json"):
        assert get_app() is app and app.state.path == tmp_path / "s.json"
    assert reset_sandbox() is app and app.state.path is None
    with override_settings(SANDBOX_ENABLED=False), pytest.raises(ImproperlyConfigured,
                                                                  match="SANDBOX_ENABLED"):
        get_app()


def test_controls_reset_seed_and_rollback(client):
    reset = client.post("/_sandbox/reset", json={"seed": {"tlds": [{"name": ".com"}]}})
    assert reset.json() == {"status": "reset", "seeded": {"tlds": 1, "contacts": 0,
                                                          "registrations": 0, "processes": 0,
                                                          "orders": 0,
                                                          "taken": 0}}
    # A seed that fails half-way changes nothing (the TLD came first, then a bad one).
    bad = client.post("/_sandbox/seed", json={"tlds": [{"name": "org"}, {"name": "a b"}]})
    assert _code(bad) == (422, "invalid_params")
    state = client.get("/_sandbox/state").json()
    assert [t["name"] for t in state["tlds"].values()] == ["com"]
    client.post("/_sandbox/seed", json={"contacts": [{"id": 7, "first_name": "X"}]})
    deleted = client.delete("/api/domain_contacts/7", params={"tld_id": 1})
    assert deleted.status_code == 404  # tld ids are the sandbox's own here: 101
    deleted = client.delete("/api/domain_contacts/7", params={"tld_name": "com"})
    assert deleted.status_code == 204 and deleted.content == b""
    assert re.fullmatch(r"req_[0-9a-f]+", deleted.headers["x-request-id"])


# --- Contacts ---------------------------------------------------------------------------


def test_contacts_list_view_create_and_delete(client):
    def ids(q: str) -> list[int]:
        return [c["id"] for c in client.get("/api/domain_contacts", params={"q": q})
                .json()["domain_contacts"]]

    assert ids("fiore.it") == [1001, 1002]  # 1001 is its tech contact
    assert ids("GIA FIO") == [1002]
    assert ids("loose") == [1003]
    assert ids("acme bak") == [1001]
    view = client.get("/api/domain_contacts/1001").json()
    assert view["split"] is None and view["domain_contact"]["handle"] == "ACME"
    assert _code(client.get("/api/domain_contacts/999")) == (404, "not_found")

    created = client.post("/api/domain_contacts", json={"tld_name": ".uk",
                                                       "domain_contact": NEW})
    assert _code(created) == (404, "tld_not_found")
    created = client.post("/api/domain_contacts", json={"tld_name": ".it",
                                                       "domain_contact": NEW})
    assert created.status_code == 201
    contact = created.json()["domain_contact"]
    assert contact["validations"] == [{"type": "email", "status": "pending"}]
    assert contact["created_at"].endswith("Z")
    bad = client.post("/api/domain_contacts", json={
        "tld_id": 1, "domain_contact": {**NEW, "phone": "+1 202 555", "country": "us"}})
    assert _code(bad) == (422, "contact_invalid")
    assert {v["field"] for v in bad.json()["violations"]} == {"phone", "country"}

    assert _code(client.delete("/api/domain_contacts/1001")) == (422, "contact_in_use")
    assert _code(client.delete("/api/domain_contacts/1003")) == (
        422, "tld_required_for_orphan")
    assert client.delete("/api/domain_contacts/1003", params={"tld_name": "com"}
                         ).status_code == 204
    assert client.delete(f"/api/domain_contacts/{contact['id']}").status_code == 204
    assert client.post("/api/domain_contacts/1001/resend_verification").json() == {
        "status": "queued"}


def test_contact_update_plain_and_split(client):
    plain = client.patch("/api/domain_contacts/1001", json={"domain_contact": {"city": "Delft"}})
    assert plain.status_code == 200 and plain.json()["split"] is None
    assert plain.json()["domain_contact"]["city"] == "Delft"
    assert _reg_of(client, COM)["owner_contact"]["city"] == "Delft"

    client.post("/_sandbox/async", json={"registration": "fiore.it", "action": "update_contact"})
    pending = client.patch("/api/domain_contacts/1002", json={"domain_contact": {"city": "Bari"}})
    assert pending.status_code == 202 and pending.json()["domain_contact"]["city"] == ""
    process = pending.json()["pending_process"]
    for _ in range(2):
        client.get(f"/api/domain_registrations/{IT}/processes/{process['id']}")
    assert client.get("/api/domain_contacts/1002").json()["domain_contact"]["city"] == "Bari"

    # fiore.it's registry validates its holder (1002) and refuses a new name in place,
    # so the contact splits: the original keeps fiore.it; nothing else uses 1002.
    refused = client.patch("/api/domain_contacts/1002", json={"domain_contact": {
        "last_name": "Rossi"}})
    assert _code(refused) == (422, "contact_invalid")

    # 1001 is fiore.it's tech contact only (accepts) and owner elsewhere: plain update.
    client.post("/_sandbox/seed", json={"registrations": [
        {"id": _guid(40), "name": "second.it", "owner_contact_id": 1001},
        {"id": _guid(41), "name": "third.com", "owner_contact_id": 1001}]})
    split = client.patch("/api/domain_contacts/1001", json={"domain_contact": {
        "organization": "Acme Patisserie"}})
    assert split.status_code == 200
    body = split.json()
    assert body["split"]["original_contact"]["id"] == 1001
    assert body["split"]["original_contact"]["organization"] == "Acme Bakery"
    assert body["domain_contact"]["split_from_id"] == 1001
    assert body["split"]["kept_registration_ids"] == [_guid(40)]
    assert _guid(41) in body["split"]["moved_registration_ids"]
    new_id = body["domain_contact"]["id"]
    assert _reg_of(client, _guid(41))["owner_contact"]["id"] == new_id
    assert _reg_of(client, _guid(40))["owner_contact"]["id"] == 1001


# --- Registrations: reads ------------------------------------------------------------------


def test_registration_list_paging_and_view(client):
    first = client.get("/api/domain_registrations", params={"per_page": 5}).json()
    assert first["meta"] == {"page": 1, "per_page": 5, "total": 16, "next_page": 2}
    last = client.get("/api/domain_registrations", params={"per_page": 5, "page": 4}).json()
    assert len(last["domain_registrations"]) == 1 and last["meta"]["next_page"] is None
    found = client.get("/api/domain_registrations", params={"q": "SHOP-"}).json()
    assert len(found["domain_registrations"]) == 5

    view = client.get(f"/api/domain_registrations/{NET}").json()
    registration = view["domain_registration"]
    assert view["dns_zone"] is None and view["linked_site"] is None
    assert "transfer_out" not in view
    assert registration["tld"] == {"id": 2, "name": "net", "registrar": "realtime_register"}
    assert registration["fees"] == {"privacy_enable": {"amount_cents": 499, "currency": "USD"},
                                    "registrant_change": None}
    assert registration["feature_flags"]["supports_privacy"] is True
    assert registration["owner_contact"]["id"] == 1001
    assert registration["pending_async"] is False and registration["rtr_process_id"] == ""
    assert client.get(f"/api/domain_registrations/{LEAVING}").json()["transfer_out"][
        "status"] == "pending"
    assert _code(client.get("/api/domain_registrations/no-such-guid")) == (404, "not_found")


def test_check_and_suggestions(client):
    check = client.post("/api/domain_registrations/check", json={"domain": "Brand-New.COM"})
    assert check.json() == {"domain": "brand-new.com", "available": True, "premium": False,
                            "owned_by_account": False, "reason": None,
                            "create_price": {"amount_cents": 1299, "currency": "USD"},
                            "transfer_price": None}
    owned = client.post("/api/domain_registrations/check", json={"domain": "example.com"})
    assert owned.json()["owned_by_account"] is True and owned.json()["available"] is False
    taken = client.post("/api/domain_registrations/check", json={"domain": "elsewhere.com"})
    assert taken.json()["transfer_price"] is not None and not taken.json()["available"]
    assert client.post("/api/domain_registrations/check", json={"domain": "abc.com"}
                       ).json()["premium"] is True
    for body, expected in [({}, (422, "missing_domain")),
                           ({"domain": "no spaces.com"}, (422, "invalid_domain")),
                           ({"domain": "example.zz"}, (422, "unknown_tld")),
                           ({"domain": "x.io"}, (503, "registrar_unavailable"))]:
        assert _code(client.post("/api/domain_registrations/check", json=body)) == expected
    suggestions = client.post("/api/domain_registrations/suggestions",
                              json={"domain": "bakery.net"}).json()
    assert suggestions["suggestions"][0]["domain"] == "bakery.net"
    assert {s["tld"] for s in suggestions["suggestions"]} >= {"com", "net", "org"}
    assert _code(client.post("/api/domain_registrations/suggestions", json={})) == (
        422, "missing_domain")


# --- Registrations: mutations ----------------------------------------------------------------


def test_auto_renew_scenarios(client):
    def toggle(guid: str, value: Any = False) -> httpx.Response:
        return client.patch(f"/api/domain_registrations/{guid}",
                            json={"domain_registration": {"auto_renew": value}})

    assert toggle(COM).json()["scenario"] == "clean_cancel"
    assert toggle(COM, True).json()["scenario"] == "enabled"
    assert toggle(FRESH).json()["scenario"] == "refund_cancel"
    assert _reg_of(client, FRESH)["within_cancellation_window"] is True
    assert _code(toggle(STALE)) == (422, "cancellation_window_passed")
    client.post("/_sandbox/seed", json={"registrations": [{"id": COM, "status": "expired"}]})
    response = toggle(COM)
    assert response.json()["scenario"] == "late_cancel"
    assert response.json()["domain_registration"]["auto_renew"] is False
    assert _code(client.patch(f"/api/domain_registrations/{COM}",
                              json={"domain_registration": {"locked": True}})) == (400, "no_op")


def test_nameservers_lock_privacy(client):
    base = "/api/domain_registrations"
    assert _code(client.patch(f"{base}/{COM}/nameservers", json={"nameservers": [" ", ""]})) \
        == (422, "nameservers_required")
    done = client.patch(f"{base}/{COM}/nameservers", json={"nameservers": ["NS1.New.example"]})
    assert done.json()["domain_registration"]["nameservers"] == ["ns1.new.example"]

    assert _code(client.patch(f"{base}/{DE}/lock", json={"locked": True})) == (
        422, "lock_unsupported")
    assert _code(client.patch(f"{base}/{PROHIBITED}/lock", json={"locked": False})) == (
        422, "server_transfer_prohibited")
    assert client.patch(f"{base}/{COM}/lock", json={"locked": True}).json()[
        "domain_registration"]["locked"] is True

    assert _code(client.patch(f"{base}/{DE}/privacy", json={"privacy_protect": True})) == (
        422, "privacy_unsupported")
    fee = client.patch(f"{base}/{NET}/privacy", json={"privacy_protect": True})
    assert fee.status_code == 402
    assert fee.json()["code"] == "payment_required"
    assert fee.json()["price"] == {"amount_cents": 499, "currency": "USD", "role": "privacy"}
    assert fee.json()["portal_url"].startswith("https://") and fee.json()["remediation"]
    assert _reg_of(client, NET)["privacy_protect"] is False
    client.post("/_sandbox/seed", json={"registrations": [{"id": NET, "privacy_protect": True}]})
    off = client.patch(f"{base}/{NET}/privacy", json={"privacy_protect": False})
    assert off.status_code == 200 and off.json()["domain_registration"]["privacy_protect"] is False
    assert _code(client.patch(f"{base}/{IO}/lock", json={"locked": True})) == (
        503, "registrar_unavailable")


def test_dnssec_modes(client, state):
    url = f"/api/domain_registrations/{COM}/dnssec"
    assert _code(client.patch(url, json={})) == (422, "invalid_mode")
    assert _code(client.patch(url, json={"mode": "rotate"})) == (422, "invalid_mode")
    assert _code(client.patch(url, json={"mode": "enable"})) == (422, "dnssec_no_keys")
    assert _code(client.patch(url, json={"mode": "add_keys", "key_data": []})) == (
        422, "dnssec_no_keys")
    assert _code(client.patch(url, json={"mode": "enable", "key_data": [
        {**KEY, "publicKey": "not base64!"}]})) == (422, "invalid_params")
    assert client.patch(url, json={"mode": "enable", "key_data": [KEY]}).json()[
        "domain_registration"]["dnssec_enabled"] is True
    client.patch(url, json={"mode": "add_keys", "key_data": [{**KEY, "flags": 256}, KEY]})
    assert len(state.snapshot()["registrations"][COM]["dnssec_keys"]) == 2
    assert client.patch(url, json={"mode": "disable"}).json()[
        "domain_registration"]["dnssec_enabled"] is False
    assert state.snapshot()["registrations"][COM]["dnssec_keys"] == []


def test_holder_edit_and_change(client):
    url = f"/api/domain_registrations/{IT}/holder"
    free = client.patch(url, json={"holder_contact": {"action_mode": "edit_current",
                                                      "city": "Roma"}})
    assert free.status_code == 200
    assert free.json()["domain_registration"]["owner_contact"]["city"] == "Roma"
    email = {"action_mode": "edit_current", "email": "new@fiore.example"}
    assert _code(client.patch(url, json={"holder_contact": email})) == (
        409, "reverification_required")
    confirmed = client.patch(url, json={"holder_contact": {**email,
                                                           "confirm_reverification": "1"}})
    owner = confirmed.json()["domain_registration"]["owner_contact"]
    assert owner["email"] == "new@fiore.example"
    assert owner["validations"] == [{"type": "email", "status": "pending"}]

    change = {"holder_contact": {"action_mode": "change"}}
    assert _code(client.patch(url, json={**change, "source_domain_contact_id": 4242})) == (
        404, "source_contact_not_found")
    moved = client.patch(url, json={**change, "source_domain_contact_id": 1001})
    assert moved.json()["domain_registration"]["owner_contact"]["id"] == 1001
    created = client.patch(url, json={**change, "new_contact": NEW})
    assert created.json()["domain_registration"]["owner_contact"]["first_name"] == "Grace"
    # .com meters registrant changes: the change is bounced to the portal.
    fee = client.patch(f"/api/domain_registrations/{COM}/holder",
                       json={**change, "source_domain_contact_id": 1002})
    assert fee.status_code == 402 and fee.json()["price"]["role"] == "registrant_change"
    assert _reg_of(client, COM)["owner_contact"]["id"] == 1001


def test_registrant_change_order_branches_and_completion(app, client):
    url = f"/api/domain_registrations/{COM}/registrant_change"
    for headers, expected in [({"Authorization": "Bearer sandbox-system-key"},
                               (401, "user_required")),
                              ({"Authorization": "Bearer sandbox-no-orders"},
                               (403, "forbidden")),
                              ({"X-Auth-Account": "trial"}, (403, "trial_account"))]:
        with _client(app, **headers) as other:
            assert _code(other.post(url, json={"source_domain_contact_id": 1002})) == expected
    assert _code(client.post(url, json={"source_domain_contact_id": 4242})) == (
        422, "source_contact_not_found")
    invalid = client.post(url, json={"new_contact": {**NEW, "email": "nope"}})
    assert _code(invalid) == (422, "contact_invalid")
    assert invalid.json()["violations"] == [{"field": "email",
                                             "message": "is not an e-mail address"}]
    assert _code(client.post(f"/api/domain_registrations/{NET}/registrant_change",
                             json={"source_domain_contact_id": 1002})) == (
        422, "no_registrant_change_price")
    contacts_before = len(client.get("/api/domain_contacts").json()["domain_contacts"])
    assert _code(client.post(url, json={"new_contact": {**NEW,
                                                        "email": "payfail@example.com"}})) == (
        422, "cart_pay_failed")
    assert len(client.get("/api/domain_contacts").json()["domain_contacts"]) == contacts_before

    placed = client.post(url, json={"new_contact": NEW})
    assert placed.status_code == 202
    order, cart = placed.json()["order"], placed.json()["cart"]
    assert order["total"] == {"amount_cents": 1200, "currency": "USD"}
    assert order["line_items"][0]["role"] == "registrant_change"
    assert cart["status"] == "paid"
    assert _code(client.post(url, json={"source_domain_contact_id": 1002})) == (
        409, "registration_busy")
    assert client.get(f"/api/orders/{order['id']}").json()["order"]["status"] == "processing"
    assert client.get(f"/api/orders/{order['id']}").json()["order"]["status"] == "completed"
    registration = _reg_of(client, COM)
    assert registration["owner_contact"]["first_name"] == "Grace"
    assert registration["pending_async"] is False
    assert _code(client.get("/api/orders/1")) == (404, "not_found")


def test_role_contacts(client):
    url = f"/api/domain_registrations/{OWNERLESS}/contacts"
    assert _code(client.patch(url, json={"admin_contact": {"source": "same_as_owner"}})) == (
        422, "owner_contact_missing")
    assert _code(client.patch(url, json={})) == (400, "no_op")
    url = f"/api/domain_registrations/{IT}/contacts"
    assert _code(client.patch(url, json={"tech_contact": {"source": "existing"},
                                         "tech_source_domain_contact_id": 9})) == (
        404, "source_contact_not_found")
    bad = client.patch(url, json={"billing_contact": {"source": "new"},
                                  "billing_new_contact": {**NEW, "phone": "12"}})
    assert _code(bad) == (422, "contact_invalid") and bad.json()["violations"][0]["role"] == \
        "billing"
    done = client.patch(url, json={
        "admin_contact": {"source": "existing"}, "admin_source_domain_contact_id": 1003,
        "tech_contact": {"source": "same_as_owner"},
        "billing_contact": {"source": "new"}, "billing_new_contact": NEW,
    }).json()["domain_registration"]
    assert done["admin_contact"]["id"] == 1003 and done["tech_contact"]["id"] == 1002
    assert done["billing_contact"]["first_name"] == "Grace"


def test_epp_code_force_sync_transfer_out_push_and_verification(client):
    base = "/api/domain_registrations"
    code = client.get(f"{base}/{COM}/epp_code").json()["authcode"]
    assert code and client.get(f"{base}/{COM}/epp_code").json()["authcode"] == code
    assert _code(client.get(f"{base}/{PROHIBITED}/epp_code")) == (
        422, "server_transfer_prohibited")
    assert _code(client.get(f"{base}/{IT}/epp_code")) == (422, "authcode_unavailable")
    assert _code(client.get(f"{base}/{FAILS}/epp_code")) == (502, "authcode_unavailable")

    synced = client.post(f"{base}/{DRIFTED}/force_sync").json()
    assert synced["changed"] == ["locked", "status"]
    assert synced["domain_registration"]["status"] == "expired"
    assert client.post(f"{base}/{DRIFTED}/force_sync").json()["changed"] == []
    assert client.get(f"{base}/{DRIFTED}").json()["dns_zone"] == {"id": 7, "name": "drifted.com"}

    assert _code(client.post(f"{base}/{COM}/transfer_out", json={"decision": "approve"})) == (
        422, "no_pending_transfer_out")
    assert _code(client.post(f"{base}/{LEAVING}/transfer_out", json={"decision": "maybe"})) == (
        422, "invalid_decision")
    approved = client.post(f"{base}/{LEAVING}/transfer_out", json={"decision": "approve"})
    assert approved.json()["domain_registration"]["status"] == "transferred_out"
    assert approved.json()["domain_registration"]["transfer_out_pending"] is False

    assert _code(client.post(f"{base}/{COM}/push_transfer", json={"recipient": "REG-IDS"})) == (
        422, "push_transfer_unsupported")
    client.post("/_sandbox/seed", json={"registrations": [
        {"id": _guid(30), "name": "held.de", "server_transfer_prohibited": True}]})
    assert _code(client.post(f"{base}/{_guid(30)}/push_transfer",
                             json={"recipient": "REG-IDS"})) == (422, "domain_not_transferable")
    pushed = client.post(f"{base}/{DE}/push_transfer", json={"recipient": "REG-IDS"})
    assert pushed.json()["domain_registration"]["push_transfer_pending"] is True
    assert _code(client.post(f"{base}/{DE}/push_transfer", json={"recipient": "REG-IDS"})) == (
        422, "push_transfer_in_progress")

    assert _code(client.post(f"{base}/{COM}/resend_contact_verification")) == (
        422, "verification_not_applicable")
    assert client.post(f"{base}/{IT}/resend_contact_verification").json() == {
        "status": "queued"}


def test_hosts(client):
    url = f"/api/domain_registrations/{COM}/hosts"
    created = client.post(url, json={"host_name": "NS1.example.com", "addresses": [
        {"address": "192.0.2.1"}, {"address": "2001:db8:0::1"}]})
    assert created.status_code == 201
    assert created.json()["host"] == {"host_name": "ns1.example.com", "addresses": [
        {"address": "192.0.2.1", "version": 4}, {"address": "2001:db8::1", "version": 6}]}
    assert _code(client.post(url, json={"host_name": "ns1.example.org",
                                        "addresses": [{"address": "192.0.2.1"}]})) == (
        422, "invalid_host_name")
    assert _code(client.post(url, json={"host_name": "ns2.example.com",
                                        "addresses": [{"address": "192.0.2.0/24"}]})) == (
        422, "invalid_address")
    assert _code(client.post(url, json={"host_name": "ns1.example.com",
                                        "addresses": [{"address": "192.0.2.9"}]})) == (
        422, "host_exists")
    updated = client.patch(f"{url}/ns1.example.com", json={"addresses": [
        {"address": "198.51.100.7"}]})
    assert updated.json()["host"]["addresses"] == [{"address": "198.51.100.7", "version": 4}]
    assert client.get(url).json()["hosts"][0]["host_name"] == "ns1.example.com"
    assert client.delete(f"{url}/ns1.example.com").status_code == 204
    assert _code(client.delete(f"{url}/ns1.example.com")) == (404, "not_found")
    assert client.get(url).json() == {"hosts": []}


# --- The async life cycle ---------------------------------------------------------------------


def test_async_rule_completes_after_polls_and_blocks_meanwhile(client):
    rule = client.post("/_sandbox/async", json={"registration": "example.com",
                                               "action": "update_nameservers", "polls": 2})
    assert rule.status_code == 201
    base = f"/api/domain_registrations/{COM}"
    accepted = client.patch(f"{base}/nameservers", json={"nameservers": ["ns9.example.org"]})
    assert accepted.status_code == 202
    body = accepted.json()
    process = body["pending_process"]
    assert process["status"] == "NEW" and process["action"] == "update_nameservers"
    assert process["registration_id"] == COM and process["createdDate"].endswith("Z")
    registration = body["domain_registration"]
    assert registration["pending_async"] is True
    assert registration["rtr_process_id"] == str(process["id"])
    assert registration["nameservers"] == ["ns1.example.net", "ns2.example.net"]
    assert _code(client.patch(f"{base}/lock", json={"locked": True})) == (
        409, "registration_busy")

    first = client.get(f"{base}/processes/{process['id']}").json()
    assert first["process"]["status"] == "RUNNING"
    assert _reg_of(client, COM)["rtr_process_status"] == "RUNNING"
    second = client.get(f"{base}/processes/{process['id']}").json()
    assert second["process"]["status"] == "COMPLETED"
    assert [entry["level"] for entry in second["log"]] == ["INFO", "INFO", "INFO"]
    registration = _reg_of(client, COM)
    assert registration["nameservers"] == ["ns9.example.org"]
    assert (registration["pending_async"], registration["rtr_process_id"]) == (False, "")
    # The rule was used up: the next mutation is synchronous again.
    assert client.patch(f"{base}/lock", json={"locked": True}).status_code == 200


def test_failed_suspended_and_cancelled_processes(client):
    base = f"/api/domain_registrations/{COM}"
    client.post("/_sandbox/async", json={"registration": COM, "polls": 1, "outcome": "FAILED"})
    failed = client.patch(f"{base}/lock", json={"locked": True}).json()["pending_process"]
    assert client.get(f"{base}/processes/{failed['id']}").json()["process"]["status"] == \
        "FAILED"
    assert _reg_of(client, COM)["locked"] is False
    assert _reg_of(client, COM)["pending_async"] is False

    # -suspends: suspended on the first poll, a resend, then one poll completes it.
    base = f"/api/domain_registrations/{SUSPENDS}"
    suspended = client.patch(f"{base}/lock", json={"locked": True}).json()["pending_process"]
    url = f"{base}/processes/{suspended['id']}"
    assert client.get(url).json()["process"]["status"] == "SUSPENDED"
    assert client.get(url).json()["process"]["status"] == "SUSPENDED"
    assert _code(client.patch(f"{base}/lock", json={"locked": False})) == (
        409, "registration_busy")
    assert client.post(f"{url}/resend").json() == {"status": "queued"}
    assert client.get(url).json()["process"]["status"] == "COMPLETED"
    assert _reg_of(client, SUSPENDS)["locked"] is True
    assert _code(client.post(f"{url}/resend")) == (422, "process_not_suspended")

    # -async, cancelled while in flight: nothing changes and the registration is free.
    base = f"/api/domain_registrations/{ASYNC}"
    pending = client.patch(f"{base}/nameservers", json={"nameservers": ["ns.x.org"]}).json()
    process_id = pending["pending_process"]["id"]
    assert client.delete(f"{base}/processes/{process_id}/cancel").json() == {
        "status": "cancelled"}
    assert client.get(f"{base}/processes/{process_id}").json()["process"]["status"] == \
        "CANCELLED"
    assert _reg_of(client, ASYNC)["nameservers"] == ["ns1.example.net", "ns2.example.net"]
    assert _code(client.delete(f"{base}/processes/{process_id}/cancel")) == (
        422, "process_not_cancellable")
    second = client.patch(f"{base}/lock", json={"locked": True}).json()["pending_process"]
    listed = client.get(f"{base}/processes").json()["processes"]
    assert [p["id"] for p in listed] == [second["id"], process_id]  # newest first
    assert _code(client.get(f"/api/domain_registrations/{COM}/processes/{process_id}")) == (
        404, "not_found")


def test_magic_names(app, client):
    base = "/api/domain_registrations"
    assert _code(client.patch(f"{base}/{BUSY}/lock", json={"locked": True})) == (
        409, "registration_busy")
    assert _code(client.patch(f"{base}/{FAILS}/lock", json={"locked": True})) == (
        502, "registrar_unavailable")
    assert _reg_of(client, FAILS)["locked"] is False
    process = client.patch(f"{base}/{ASYNC}/lock", json={"locked": True}).json()[
        "pending_process"]
    statuses = [client.get(f"{base}/{ASYNC}/processes/{process['id']}").json()["process"][
        "status"] for _ in range(3)]
    assert statuses == ["RUNNING", "COMPLETED", "COMPLETED"]
    assert _reg_of(client, ASYNC)["locked"] is True
    started = time.monotonic()
    assert client.patch(f"{base}/{SLOW}/lock", json={"locked": True}).status_code == 200
    assert time.monotonic() - started >= app.slow_seconds
    started = time.monotonic()
    client.get(f"{base}/{SLOW}")  # reads are not slowed
    assert time.monotonic() - started < app.slow_seconds


# --- Faults -------------------------------------------------------------------------------


def test_faults_status_raw_body_delay_and_times(client, state):
    assert client.post("/_sandbox/faults", json={"method": "GET", "path": "/processes$",
                                                 "status": 503, "code": "missing_api_key",
                                                 "times": 2}).status_code == 201
    url = f"/api/domain_registrations/{COM}/processes"
    assert client.post(url).status_code == 405  # another method: the fault waits
    assert _code(client.get(url)) == (503, "missing_api_key")
    assert _code(client.get(url)) == (503, "missing_api_key")
    assert client.get(url).status_code == 200

    state.add_fault(path="domain_registrations$", status=502, body="<html>Bad gateway</html>",
                    content_type="text/html")
    html = client.get("/api/domain_registrations")
    assert html.status_code == 502 and html.text == "<html>Bad gateway</html>"
    assert html.headers["content-type"] == "text/html" and "x-request-id" not in html.headers
    client.post("/_sandbox/faults", json={"path": "check", "body": '{"domain": '})
    broken = client.post("/api/domain_registrations/check", json={"domain": "a.com"})
    assert broken.status_code == 200 and broken.text == '{"domain": '

    state.add_fault(path=COM, delay=0.3)  # only a delay: then the normal answer
    started = time.monotonic()
    assert client.get(f"/api/domain_registrations/{COM}").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert state.snapshot()["faults"] == []
    assert client.post("/_sandbox/faults", json={"path": "("}).status_code == 422


def test_a_fault_after_applying_makes_the_change_and_loses_the_answer(client, state):
    base = f"/api/domain_registrations/{COM}"
    assert client.post("/_sandbox/faults", json={
        "method": "PATCH", "path": "/lock$", "status": 500, "after": True}).status_code == 201
    assert _code(client.patch(f"{base}/lock", json={"locked": True})) == (500, "upstream_error")
    assert _reg_of(client, COM)["locked"] is True  # applied all the same

    state.add_fault(method="PATCH", path="/lock$", status=502, body="<html>Bad gateway</html>",
                    content_type="text/html", after=True)
    html = client.patch(f"{base}/lock", json={"locked": False})
    assert html.status_code == 502 and html.text == "<html>Bad gateway</html>"
    assert _reg_of(client, COM)["locked"] is False

    # Without `after` the same fault answers instead of the handler: nothing applied.
    state.add_fault(method="PATCH", path="/lock$", status=500)
    assert client.patch(f"{base}/lock", json={"locked": True}).status_code == 500
    assert _reg_of(client, COM)["locked"] is False

    for bad, field in (({"after": "yes", "status": 500}, "after must be true or false"),
                       ({"after": True}, "after needs a status or a body")):
        refused = client.post("/_sandbox/faults", json={"path": "lock", **bad})
        assert refused.status_code == 422 and field in refused.text


# --- Orders -------------------------------------------------------------------------------


def test_domain_orders_are_idempotent_and_complete(app, client):
    order = {"domain": "brand-new.com", "action": "register", "years": 2,
             "new_contact": NEW, "max_total": {"amount_cents": 3000, "currency": "USD"}}
    first = client.post("/api/orders/domain", json=order, headers={"Idempotency-Key": "o-1"})
    assert first.status_code == 202
    assert first.json()["order"]["total"] == {"amount_cents": 2598, "currency": "USD"}
    again = client.post("/api/orders/domain", json=order, headers={"Idempotency-Key": "o-1"})
    assert again.json()["order"]["id"] == first.json()["order"]["id"]
    assert len(client.get("/_sandbox/state").json()["orders"]) == 1

    order_id = first.json()["order"]["id"]
    assert client.get(f"/api/orders/{order_id}").json()["order"]["status"] == "processing"
    done = client.get(f"/api/orders/{order_id}").json()["order"]
    assert done["status"] == "completed" and done["registration_id"]
    registration = _reg_of(client, done["registration_id"])
    assert registration["name"] == "brand-new.com"
    assert registration["owner_contact"]["first_name"] == "Grace"

    assert _code(client.post("/api/orders/domain", json={**order, "domain": "other.com",
                                                        "max_total": {"amount_cents": 100,
                                                                      "currency": "USD"}})) == (
        409, "price_changed")
    assert _code(client.post("/api/orders/domain", json={**order, "domain": "example.com"})) \
        == (422, "domain_unavailable")
    renew = client.post("/api/orders/domain", json={"domain": "example.com",
                                                    "action": "renew", "years": 1})
    assert renew.status_code == 202
    with _client(app, **{"X-Auth-Account": "trial"}) as trial:
        assert _code(trial.post("/api/orders/domain", json=order)) == (403, "trial_account")


# --- Persistence, seeding, real HTTP ---------------------------------------------------------


def test_file_backed_state_is_shared_between_instances(tmp_path):
    path = tmp_path / "sandbox.json"
    one, two = SandboxState(path), SandboxState(path)
    one.seed(SEED)
    with _client(SandboxApp(one, token=TOKEN)) as first, \
            _client(SandboxApp(two, token=TOKEN)) as second:
        first.patch(f"/api/domain_registrations/{COM}/lock", json={"locked": True})
        assert _reg_of(second, COM)["locked"] is True
        second.post("/_sandbox/async", json={"registration": COM})
        process = first.patch(f"/api/domain_registrations/{COM}/lock",
                              json={"locked": False}).json()["pending_process"]
        assert _code(second.patch(f"/api/domain_registrations/{COM}/lock",
                                  json={"locked": False})) == (409, "registration_busy")
        second.get(f"/api/domain_registrations/{COM}/processes/{process['id']}")
        first.get(f"/api/domain_registrations/{COM}/processes/{process['id']}")
        assert _reg_of(second, COM)["locked"] is False
    assert SandboxState(path).snapshot()["registrations"][COM]["locked"] is False


def test_file_backed_state_survives_concurrent_writers(tmp_path):
    path = tmp_path / "sandbox.json"
    SandboxState(path).seed(SEED)

    def add_contacts() -> None:
        with _client(SandboxApp(SandboxState(path), token=TOKEN)) as client:
            for _ in range(10):
                assert client.post("/api/domain_contacts", json={
                    "tld_id": 1, "domain_contact": NEW}).status_code == 201

    threads = [threading.Thread(target=add_contacts) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(SandboxState(path).snapshot()["contacts"]) == len(SEED["contacts"]) + 30


@pytest.mark.django_db
def test_seed_from_mirror():
    from tests.factories import (
        DnssecKeyFactory,
        HostAddressFactory,
        ProcessFactory,
        RegistrationFactory,
        TldFactory,
    )

    registration = RegistrationFactory(name="mirror.com", tld=TldFactory(name="com",
                                                                         upstream_id=11))
    DnssecKeyFactory(registration=registration)
    HostAddressFactory(host__registration=registration, host__host_name="ns1.mirror.com",
                       address="192.0.2.53")
    ProcessFactory(registration=registration, upstream_id="777001", status="RUNNING")
    RegistrationFactory(name="local-only.com", upstream_id=None,
                        tld=registration.tld)
    state = SandboxState()
    counts = seed_from_mirror(state)
    assert counts["registrations"] == 1 and counts["processes"] == 1
    seeded = state.snapshot()["registrations"][registration.upstream_id]
    assert seeded["tld_id"] == 11 and seeded["pending_async"] is True
    assert seeded["hosts"][0]["addresses"] == [{"address": "192.0.2.53", "version": 4}]
    assert seeded["owner_contact_id"] == registration.owner_contact.upstream_id
    assert seed_from_mirror(state) == counts  # idempotent
    with _client(SandboxApp(state, token=TOKEN)) as client:
        url = f"/api/domain_registrations/{registration.upstream_id}"
        assert _code(client.patch(f"{url}/lock", json={"locked": True})) == (
            409, "registration_busy")
        assert client.get(f"{url}/processes/777001").json()["process"]["status"] == "RUNNING"
        assert client.get(f"{url}/processes/777001").json()["process"]["status"] == "COMPLETED"
        assert client.patch(f"{url}/lock", json={"locked": True}).status_code == 200


def test_runsandbox_serves_real_http_on_loopback():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "runsandbox", "--port", "0", "--memory",
         "--host", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = _await_url(process, timeout=15)
        with httpx.Client(base_url=url, headers=HEADERS, timeout=5) as client:
            assert client.post("/_sandbox/seed", json=SEED).status_code == 200
            response = client.get(f"/api/domain_registrations/{COM}")
            assert response.status_code == 200
            assert response.json()["domain_registration"]["name"] == "example.com"
            # A delay really sleeps: a short client timeout gives up.
            client.post("/_sandbox/faults", json={"path": "/check$", "delay": 2})
            with pytest.raises(httpx.ReadTimeout):
                client.post("/api/domain_registrations/check", json={"domain": "a.com"},
                            timeout=0.3)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout:
            process.stdout.close()


def _await_url(process: subprocess.Popen[str], timeout: float) -> str:
    """The URL runsandbox prints, read on a thread so the wait is bounded."""
    found: list[str] = []
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            match = re.search(r"http://127\.0\.0\.1:\d+", line)
            if match:
                found.append(match.group(0))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not found:
        raise AssertionError(f"runsandbox did not start: {''.join(lines)}")
    return found[0]


def test_a_seeded_order_is_followed_to_its_end_like_one_placed_here(client):
    seeded = client.post("/_sandbox/seed", json={
        "tlds": [{"name": "com"}],
        "orders": [{"id": "demo-0007", "kind": "register", "status": "processing",
                    "domain": "seeded-order.com", "years": 2,
                    "total": {"amount_cents": 1299, "currency": "usd"},
                    "account": "acct-1"}]})
    assert seeded.json()["seeded"]["orders"] == 1
    views = [client.get("/api/orders/demo-0007").json()["order"] for _ in range(4)]
    assert views[0]["total"] == {"amount_cents": 1299, "currency": "USD"}
    assert views[-1]["status"] == "completed"
    registration = _reg_of(client, views[-1]["registration_id"])
    assert registration["name"] == "seeded-order.com"
    # Seeding it again keeps where it got to: it does not start over.
    client.post("/_sandbox/seed", json={"orders": [{
        "id": "demo-0007", "kind": "register", "domain": "seeded-order.com",
        "total": {"amount_cents": 1299, "currency": "USD"}}]})
    assert client.get("/api/orders/demo-0007").json()["order"]["status"] != "pending"


@pytest.mark.parametrize("order, message", [
    ({"kind": "register"}, "needs an id"),
    ({"id": "o1", "kind": "privacy"}, "unknown kind"),
    ({"id": "o1", "status": "paid"}, "unknown status"),
    ({"id": "o1", "total": {"amount_cents": -1, "currency": "USD"}}, "total"),
    ({"id": "o1", "years": 11}, "years"),
    ({"id": "o1", "registration_id": "nope"}, "registration_id"),
])
def test_a_seeded_order_that_is_not_one_is_refused_and_changes_nothing(client, order, message):
    payload = {"domain": "x-order.com", "total": {"amount_cents": 100, "currency": "USD"},
               **order}
    refused = client.post("/_sandbox/seed", json={"orders": [payload]})
    assert _code(refused) == (422, "invalid_params")
    assert message in refused.text
    assert client.get("/_sandbox/state").json()["orders"] == {}
