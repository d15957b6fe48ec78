"""Demo data: a believable reseller back-office in miniature.

Idempotent: every row is keyed on a natural key and updated in place, so running it
again changes nothing but timestamps. Deterministic: one seeded RNG and dates taken
from the start of today.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from backoffice.roles import ADMIN, FINANCE, SUPPORT, setup_roles
from billing.models import (
    CHARGED_STATUSES,
    Account,
    LedgerEntry,
    Order,
    OrderItem,
    OrderKind,
    OrderStatus,
)
from billing.order_sync import final_statuses
from contacts.models import Contact
from registrar.models import (
    AuthcodeBehavior,
    DnssecKey,
    Host,
    HostAddress,
    Process,
    ProcessLogEntry,
    ProcessStatus,
    ProviderAccount,
    Registration,
    RegistrationStatus,
    Tld,
)
from registrar.providers.registry import adapter_class

SANDBOX_LABEL = "sandbox"
GUID_NAMESPACE = uuid.UUID("6f1d3c2e-8a51-4b6e-9f0e-3b9a4c7d2e10")

# username, password, group: printed by `manage.py demo` and the README.
DEMO_USERS = [
    ("support", "support-demo-2026", SUPPORT),
    ("finance", "finance-demo-2026", FINANCE),
    ("admin", "admin-demo-2026", ADMIN),
]

# name, flags, privacy fee, registrant-change fee, cancellation window (days)
TLDS = [
    ("com", dict(supports_push_transfer=False), None, (1200, "USD"), 5),
    ("net", dict(supports_push_transfer=False), (499, "USD"), (1200, "USD"), 5),
    ("org", dict(), None, None, 5),
    ("nl", dict(supports_privacy=False), None, None, None),
    ("uk", dict(supports_push_transfer=True, supports_dnssec=True), None, None, 5),
    ("de", dict(supports_transfer_lock=False, supports_privacy=False,
                supports_push_transfer=True), None, None, None),
    ("it", dict(requires_contact_validation=True, authcode_behavior=AuthcodeBehavior.HIDDEN),
     (300, "EUR"), None, None),
    ("au", dict(requires_contact_validation=True, supports_privacy=False,
                supports_dnssec=False), None, None, None),
]
# A TLD with no registrar configured: operations answer registrar_unavailable.
UNCONFIGURED_TLDS = ["io"]

ACCOUNTS = [
    ("Acme Bakery", "owner@acme-bakery.example", "NL", "+31.201234567"),
    ("Brightline Studio", "hello@brightline.example", "GB", "+44.2079460000"),
    ("Café Kranz", "info@cafe-kranz.example", "DE", "+49.3012345678"),
    ("Dune Surf Co", "ops@dunesurf.example", "AU", "+61.291234567"),
    ("Elm Street Dental", "admin@elmdental.example", "US", "+1.2025550143"),
    ("Fiore Ristorante", "ciao@fiore.example", "IT", "+39.0612345678"),
    ("Granite Legal", "it@granitelegal.example", "US", "+1.4155550172"),
    ("Harbour Books", "books@harbour.example", "NL", "+31.107654321"),
]

WORDS = ["acme", "bright", "cafe", "dune", "elm", "fiore", "granite", "harbour", "indigo",
         "juniper", "kestrel", "lumen", "meadow", "nimbus", "orchid", "pioneer", "quartz",
         "riverside", "summit", "tandem"]
IDN_NAMES = ["bücher-harbour.de", "café-kranz.com", "straße-süd.de"]
# Names the sandbox treats specially (README, "The sandbox upstream"), one for each of
# its branches: every operation on the first answers 202 and completes in the
# background; on the second it suspends; the third is always busy (409); on the fourth
# the registrar's call fails (502, nothing changed); the fifth makes changes wait.
# Reading them is plain, so the nightly sync and the worker have nothing to warn about.
MAGIC_NAMES = ["quartz-async.com", "tandem-suspends.net", "meadow-busy.com",
               "granite-fails.com", "nimbus-slow.net"]


@dataclass
class DemoSummary:
    users: list[tuple[str, str, str]]
    counts: dict[str, int]


def _guid(name: str) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, name))


#: (currency, typical subtotals in minor units): a spread finance can filter and chart.
DEMO_PRICES = {"USD": [999, 1299, 1899, 4500], "EUR": [899, 1199, 1799, 3900],
               "GBP": [799, 999, 1499], "JPY": [1400, 1800, 5200]}


def _demo_orders(rng: random.Random, sandbox: ProviderAccount, accounts: list[Account],
                 tlds: dict[str, Tld], today) -> None:
    """Orders in every status over the past year, with their money movements, and one
    of each problem the finance report looks for."""
    kinds = [OrderKind.REGISTRATION, OrderKind.REGISTRATION, OrderKind.RENEWAL,
             OrderKind.TRANSFER_IN, OrderKind.PRIVACY, OrderKind.REGISTRANT_CHANGE]
    currencies = ["USD", "USD", "USD", "EUR", "EUR", "GBP", "JPY"]
    plan: list[tuple[str, int]] = [(status, number * 9) for number, status in
                                   enumerate(OrderStatus, 1)]
    # The bulk: a year of registered orders and renewals, a few refunded.
    plan += [(OrderStatus.REFUNDED if n % 17 == 0 else OrderStatus.REGISTERED, 2 + n * 3)
             for n in range(120)]
    ended = final_statuses(adapter_class(sandbox.kind))
    for number, (status, days_ago) in enumerate(plan, 1):
        account = accounts[number % len(accounts)]
        kind = kinds[number % len(kinds)]
        if status.startswith("transfer"):
            kind = OrderKind.TRANSFER_IN
        elif status not in ended and kind == OrderKind.PRIVACY:
            # An order still being followed is one the sandbox (document 001) can hold.
            kind = OrderKind.REGISTRATION
        currency = currencies[number % len(currencies)]
        subtotal = rng.choice(DEMO_PRICES[currency])
        fees = 0 if kind == OrderKind.PRIVACY or currency == "JPY" else 100
        total = subtotal + fees
        charged = status in CHARGED_STATUSES
        refunded = total if status == OrderStatus.REFUNDED else 0
        quoted = total
        if number == 40:  # charged more than quoted: the report's price mismatch
            quoted = total - 200
        tld = tlds["com"] if number % 4 else tlds["net"]
        domain = f"{WORDS[number % len(WORDS)]}-order{number}.{tld.name}"
        order, _ = Order.objects.update_or_create(
            idempotency_key=f"demo-order-{number}",
            defaults=dict(
                upstream_id=None if status == OrderStatus.QUOTED else f"demo-{number:04d}",
                provider_account=sandbox,
                account=account,
                tld=tld,
                kind=kind,
                status=status,
                status_reason={OrderStatus.REFUNDED: "The registry refused the name.",
                               OrderStatus.TRANSFER_FAILED: "The losing registrar rejected "
                                                            "the transfer."}.get(status, ""),
                domain=domain,
                years=1 + number % 3,
                premium=number % 23 == 0,
                currency=currency,
                subtotal_minor=subtotal,
                fees_minor=fees,
                total_minor=total if status != OrderStatus.QUOTED else 0,
                refunded_minor=refunded,
                quoted_total_minor=quoted,
                quote_expires_at=(today + timedelta(minutes=15)
                                  if status == OrderStatus.QUOTED else None),
                customer_reference=account.customer_reference,
                placed_at=today - timedelta(days=days_ago, hours=number % 24),
            ),
        )
        OrderItem.objects.update_or_create(
            order=order, upstream_id=f"demo-item-{number}",
            defaults=dict(description=f"{order.get_kind_display()} {domain}", domain=domain,
                          unit_amount_minor=subtotal, total_minor=subtotal),
        )
        if charged and not order.ledger_entries.exists():
            payment = LedgerEntry.objects.create(
                order=order, kind=LedgerEntry.Kind.PAYMENT, state=LedgerEntry.State.SUCCEEDED,
                amount_minor=total, currency=currency, external_reference=f"pi_demo_{number}",
                occurred_at=order.placed_at,
            )
            if refunded:
                LedgerEntry.objects.create(
                    order=order, kind=LedgerEntry.Kind.REFUND,
                    state=LedgerEntry.State.SUCCEEDED, amount_minor=refunded, currency=currency,
                    external_reference=f"re_demo_{number}",
                    occurred_at=order.placed_at + timedelta(hours=2),
                )
            elif number == 41:  # a refund asked for and not yet settled
                LedgerEntry.objects.create(
                    order=order, kind=LedgerEntry.Kind.REFUND,
                    state=LedgerEntry.State.PENDING, amount_minor=total, currency=currency,
                    external_reference=f"re_demo_{number}", settles=None,
                    note=f"Customer asked for a refund of payment {payment.external_reference}.",
                    occurred_at=order.placed_at + timedelta(days=1),
                )


@transaction.atomic
def load_demo() -> DemoSummary:
    rng = random.Random(2026)
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    setup_roles()

    sandbox, _ = ProviderAccount.objects.update_or_create(
        label=SANDBOX_LABEL,
        defaults=dict(
            kind="sandbox",
            base_url="https://sandbox.invalid",
            account_ref="demo-account",
            secret_env="PROVIDER_SECRET_SANDBOX",
            timeout_seconds=10,
            enabled=True,
        ),
    )

    tlds: dict[str, Tld] = {}
    for upstream_id, (name, flags, privacy_fee, change_fee, window) in enumerate(TLDS, 1):
        tlds[name], _ = Tld.objects.update_or_create(
            name=name,
            defaults=dict(
                upstream_id=upstream_id,
                provider_account=sandbox,
                supports_privacy=flags.get("supports_privacy", True),
                supports_transfer_lock=flags.get("supports_transfer_lock", True),
                supports_push_transfer=flags.get("supports_push_transfer", False),
                supports_dnssec=flags.get("supports_dnssec", True),
                requires_contact_validation=flags.get("requires_contact_validation", False),
                authcode_behavior=flags.get("authcode_behavior", AuthcodeBehavior.STANDARD),
                privacy_fee_amount=privacy_fee[0] if privacy_fee else None,
                privacy_fee_currency=privacy_fee[1] if privacy_fee else "",
                registrant_change_fee_amount=change_fee[0] if change_fee else None,
                registrant_change_fee_currency=change_fee[1] if change_fee else "",
                cancellation_window_days=window,
            ),
        )
    for offset, name in enumerate(UNCONFIGURED_TLDS, len(TLDS) + 1):
        tlds[name], _ = Tld.objects.update_or_create(
            name=name, defaults=dict(upstream_id=offset, provider_account=None)
        )

    accounts: list[Account] = []
    owners: list[Contact] = []
    for index, (company, email, country, phone) in enumerate(ACCOUNTS, 1):
        account, _ = Account.objects.update_or_create(
            customer_reference=f"ACC-{index:05d}",
            defaults=dict(name=company, email=email, domain_api_account="demo-account"),
        )
        accounts.append(account)
        first, last = company.split(" ", 1)
        home_tld = {"NL": "nl", "GB": "uk", "DE": "de", "AU": "au", "IT": "it"}.get(country, "com")
        owner, _ = Contact.objects.update_or_create(
            upstream_id=1000 + index,
            defaults=dict(
                handle=f"DEMO-{index:03d}",
                first_name=first,
                last_name=last,
                organization=company,
                street_address=f"{index} Demo Street",
                post_code=f"{1000 + index}",
                city="Amsterdam" if country == "NL" else "Springfield",
                country=country,
                email=email,
                phone=phone,
                tld=tlds[home_tld],
                account=account,
                # One registrant on a validating TLD has not verified yet: the
                # dashboard shows its 15-day deadline.
                validations=[{"type": "email",
                              "status": "pending" if country == "IT" else "verified"}]
                if tlds[home_tld].requires_contact_validation
                else [],
                upstream_updated_at=today - timedelta(days=3),
            ),
        )
        owners.append(owner)
    tech, _ = Contact.objects.update_or_create(
        upstream_id=1999,
        defaults=dict(
            handle="DEMO-TECH", first_name="Hosting", last_name="Operations",
            organization="Reseller Platform B.V.", street_address="1 Platform Way",
            post_code="1011AB", city="Amsterdam", country="NL", email="noc@platform.example",
            phone="+31.205550100", tld=tlds["com"],
        ),
    )

    names = [f"{word}{suffix}.{tld}" for word in WORDS for suffix, tld in
             [("", "com"), ("-shop", rng.choice(["net", "org", "nl", "uk", "de", "it", "au"])),
              ("-online", rng.choice(["net", "org", "nl", "uk", "de", "it", "au", "io"]))]]
    names = sorted(set(names))[:47] + IDN_NAMES + MAGIC_NAMES
    registrations: list[Registration] = []
    for index, name in enumerate(names):
        tld = tlds[name.rsplit(".", 1)[1]]
        owner_index = index % len(accounts)
        expires = today + timedelta(days=rng.choice([12, 25, 45, 80, 200, 300, 400, 700]))
        flags = tld
        registration, _ = Registration.objects.update_or_create(
            upstream_id=_guid(name),
            defaults=dict(
                name=name,
                tld=tld,
                account=accounts[owner_index],
                status=RegistrationStatus.ACTIVE,
                expires_at=expires,
                auto_renew=index % 5 != 0,
                locked=flags.supports_transfer_lock and index % 3 != 0,
                privacy_protect=flags.supports_privacy and index % 4 == 0,
                dnssec_enabled=flags.supports_dnssec and index % 6 == 0,
                server_transfer_prohibited=index == 7,
                nameservers=["ns1.platform-dns.example", "ns2.platform-dns.example"],
                owner_contact=owners[owner_index],
                admin_contact=owners[owner_index],
                tech_contact=tech,
                billing_contact=owners[owner_index],
                pending_async=False,
                rtr_process_id="",
                rtr_process_status="",
                transfer_out_pending=index in (4, 19),
                # What the sandbox's registry view says (requested today, 5 days to
                # auto-ACK), as the sync or the decision page would have read it.
                transfer_out_auto_ack_at=today + timedelta(days=5)
                if index in (4, 19) else None,
                push_transfer_pending=False,
                subscription_id=f"sub_demo_{index:03d}",
                cancellation_deadline_at=today + timedelta(days=3) if index == 2 else None,
                within_cancellation_window=True if index == 2 else None,
                upstream_created_at=expires - timedelta(days=365),
                upstream_updated_at=today,
                last_synced_at=today,
            ),
        )
        registrations.append(registration)
        if registration.dnssec_enabled:
            DnssecKey.objects.get_or_create(
                registration=registration, flags=257, algorithm=13,
                public_key=f"mdsswUyr3DPW132mOi8V9xESWE8jTo0d{index:04d}xIBAyP7p+jALgZ6Q==",
            )

    # Glue hosts on a few registrations that run their own name servers.
    for registration in registrations[1:6]:
        for number, (v4, v6) in enumerate([("192.0.2.10", "2001:db8::10"),
                                           ("198.51.100.20", "2001:db8::20")], 1):
            host, _ = Host.objects.get_or_create(
                registration=registration, host_name=f"ns{number}.{registration.name}"
            )
            for address, version in ((v4, 4), (v6, 6)):
                HostAddress.objects.get_or_create(host=host, address=address,
                                                  defaults={"version": version})

    # Processes: some done, some in flight (the registration is busy), one suspended.
    # Only on TLDs a registrar serves: the worker polls the ones in flight, and a TLD
    # with no registrar would answer every poll with registrar_unavailable.
    operable = [r for r in registrations
                if r.tld.provider_account_id and r.name not in MAGIC_NAMES]
    process_plan = [
        (operable[8], "update_nameservers", ProcessStatus.COMPLETED),
        (operable[9], "transfer_lock", ProcessStatus.COMPLETED),
        (operable[10], "update_holder", ProcessStatus.RUNNING),
        (operable[11], "dnssec", ProcessStatus.SCHEDULED),
        (operable[12], "push_transfer", ProcessStatus.SUSPENDED),
        (operable[13], "privacy", ProcessStatus.FAILED),
    ]
    for number, (registration, action, status) in enumerate(process_plan, 1):
        upstream_id = f"{880000 + number}"
        process, _ = Process.objects.update_or_create(
            registration=registration,
            upstream_id=upstream_id,
            defaults=dict(
                action=action,
                status=status,
                raw={"id": int(upstream_id), "action": action, "status": status,
                     "createdDate": (today - timedelta(hours=number)).isoformat()},
                upstream_created_at=today - timedelta(hours=number),
            ),
        )
        if not process.log_entries.exists():
            ProcessLogEntry.objects.create(
                process=process, logged_at=today - timedelta(hours=number),
                message=f"Process {action} created", raw={"message": f"{action} created"},
            )
        if not ProcessStatus.is_terminal(status):
            Registration.objects.filter(pk=registration.pk).update(
                pending_async=True, rtr_process_id=upstream_id, rtr_process_status=status
            )

    _demo_orders(rng, sandbox, accounts, tlds, today)

    user_model = get_user_model()
    for username, password, group_name in DEMO_USERS:
        user, _ = user_model.objects.update_or_create(
            username=username,
            defaults=dict(email=f"{username}@backoffice.example", is_staff=True,
                          is_superuser=False, is_active=True),
        )
        user.set_password(password)
        user.save(update_fields=["password"])
        user.groups.set([Group.objects.get(name=group_name)])

    counts = {
        "registrations": Registration.objects.count(),
        "contacts": Contact.objects.count(),
        "hosts": Host.objects.count(),
        "processes": Process.objects.count(),
        "orders": Order.objects.count(),
        "accounts": Account.objects.count(),
    }
    if settings.SANDBOX_ENABLED:
        # So the demo's registrations also exist upstream, in the sandbox.
        from registrar.sandbox.seed import seed_from_mirror

        seed_from_mirror()
    return DemoSummary(users=DEMO_USERS, counts=counts)
