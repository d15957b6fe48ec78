import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.test import override_settings

from billing.models import Order, OrderStatus
from registrar.models import Registration


def _row_counts():
    return {m._meta.label: m.objects.count() for m in apps.get_models()
            if m._meta.app_label in {"registrar", "contacts", "billing", "auth", "backoffice"}}


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_demo_is_idempotent_and_prints_logins(capsys):
    call_command("demo")
    first = _row_counts()
    out = capsys.readouterr().out
    call_command("demo")
    assert _row_counts() == first
    for username, password in [("support", "support-demo-2026"), ("finance", "finance-demo-2026"),
                               ("admin", "admin-demo-2026")]:
        assert f"{username} / {password}" in " ".join(out.split())


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_demo_covers_the_states_staff_meet(client):
    call_command("demo")
    registrations = Registration.objects.all()
    assert 45 <= registrations.count() <= 60
    assert registrations.filter(locked=True).exists()
    assert registrations.filter(locked=False).exists()
    assert registrations.filter(privacy_protect=True).exists()
    assert registrations.filter(dnssec_enabled=True, dnssec_keys__isnull=False).exists()
    assert registrations.filter(transfer_out_pending=True).exists()
    assert registrations.filter(pending_async=True, processes__is_terminal=False).exists()
    assert registrations.filter(name__startswith="xn--").exists()
    assert set(Order.objects.values_list("status", flat=True)) == set(OrderStatus.values)
    # The published password works on the real login page (django-axes checks every login
    # against its request, so through the page rather than client.login).
    response = client.post("/admin/login/", {"username": "support",
                                             "password": "support-demo-2026"})
    assert response.status_code == 302, response.content
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_demo_refuses_with_debug_off():
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("demo")
    assert not Registration.objects.exists()


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_demo_gives_the_worker_nothing_it_cannot_do_and_the_dashboard_its_deadlines():
    from contacts.models import Contact
    from registrar.models import Process

    call_command("demo")
    # Every process the worker follows is on a TLD a registrar serves.
    assert not Process.objects.filter(registration__tld__provider_account__isnull=True).exists()
    leaving = Registration.objects.filter(transfer_out_pending=True)
    assert leaving.exists()
    assert not leaving.filter(transfer_out_auto_ack_at__isnull=True).exists()
    assert Contact.objects.filter(verification_state="pending",
                                  verification_due_at__isnull=False).exists()


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_demo_orders_being_followed_are_known_to_the_sandbox():
    """The worker follows the demo's orders in transit on the sandbox: each one is there,
    so the follow-up reads it (and moves it on) instead of failing on a 404."""
    from billing.order_sync import mirror_orders, open_orders
    from registrar.models import ProviderAccount

    call_command("demo")
    sandbox = ProviderAccount.objects.get(kind="sandbox")
    following = open_orders(sandbox).count()
    assert following >= 5
    report = mirror_orders(sandbox)
    assert report.ok, report.summary()
    assert (report.seen, report.failed) == (following, 0), report.summary()
    # A rerun of the demo (it is idempotent) re-seeds without starting the orders over.
    call_command("demo")
    assert mirror_orders(sandbox).failed == 0


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_demo_has_a_registration_for_every_sandbox_branch():
    from registrar.sandbox.records import MAGIC, magic_of

    call_command("demo")
    branches = set()
    for name in Registration.objects.filter(
            tld__provider_account__isnull=False).values_list("name", flat=True):
        branches |= magic_of(name)
    assert branches == set(MAGIC)


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_demo_prints_the_logins_with_the_address_dev_py_serves(capsys):
    # dev.py run 0.0.0.0:8001 passes the URL it serves (tests/backoffice/test_dev_run.py).
    call_command("demo", "--url", "http://localhost:8001/admin/")
    out = capsys.readouterr().out
    assert "Logins (http://localhost:8001/admin/):" in out
    assert "127.0.0.1:8000" not in out
    call_command("demo")
    assert "Logins (http://127.0.0.1:8000/admin/):" in capsys.readouterr().out


@pytest.mark.django_db
@override_settings(DEBUG=True)
@pytest.mark.parametrize("url", ["localhost:8001", "ftp://localhost/admin/", "http:///admin/",
                                 "http://localhost:99999/admin/", "http://a b/admin/",
                                 "http://localhost:8001/admin/?next=x", "http://u:p@h/admin/",
                                 "http://localhost:8001/\x00", "http://localhost:0/admin/",
                                 "http://localhost:8001/", "http://a<b>/admin/",
                                 "http://localhost:8001/admin/?"])
def test_demo_refuses_an_address_that_is_not_one_before_loading_anything(url):
    with pytest.raises(CommandError, match="--url"):
        call_command("demo", "--url", url)
    assert not Registration.objects.exists()
