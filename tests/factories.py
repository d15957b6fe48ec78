"""Factories for test data: one per model, valid by default."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from backoffice import audit
from billing.models import (
    Account,
    LedgerEntry,
    Order,
    OrderItem,
    OrderKind,
    OrderStatus,
    WebhookEvent,
)
from contacts.models import Contact
from registrar.models import (
    DnssecKey,
    Host,
    HostAddress,
    Process,
    ProcessLogEntry,
    ProcessStatus,
    ProviderAccount,
    Registration,
    Tld,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@staff.example")
    is_staff = True
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.set(Group.objects.filter(name__in=extracted))


class ProviderAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProviderAccount
        django_get_or_create = ("label",)

    label = factory.Sequence(lambda n: f"provider-{n}")
    kind = "sandbox"
    base_url = "https://sandbox.invalid"
    account_ref = "test-account"
    secret_env = "PROVIDER_SECRET_SANDBOX"


class TldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tld
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"t{n}")
    provider_account = factory.SubFactory(ProviderAccountFactory, label="sandbox")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    customer_reference = factory.Sequence(lambda n: f"ACC-T{n:05d}")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    upstream_id = factory.Sequence(lambda n: 50_000 + n)
    handle = factory.Sequence(lambda n: f"H{n:04d}")
    first_name = "Ada"
    last_name = "Lovelace"
    organization = "Analytical Engines Ltd"
    street_address = "12 Byron Road"
    post_code = "1011AB"
    city = "Amsterdam"
    country = "NL"
    email = factory.Sequence(lambda n: f"ada{n}@example.com")
    phone = "+31.201234567"
    tld = factory.SubFactory(TldFactory, name="com")
    account = factory.SubFactory(AccountFactory)


class RegistrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Registration

    upstream_id = factory.Sequence(lambda n: f"00000000-0000-4000-8000-{n:012d}")
    name = factory.Sequence(lambda n: f"example{n}.com")
    tld = factory.SubFactory(TldFactory, name="com")
    account = factory.SubFactory(AccountFactory)
    owner_contact = factory.SubFactory(ContactFactory)
    admin_contact = factory.SelfAttribute("owner_contact")
    tech_contact = factory.SelfAttribute("owner_contact")
    billing_contact = factory.SelfAttribute("owner_contact")
    nameservers = ["ns1.example.net", "ns2.example.net"]


class DnssecKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DnssecKey

    registration = factory.SubFactory(RegistrationFactory)
    flags = 257
    algorithm = 13
    public_key = factory.Sequence(lambda n: f"mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJ{n}==")


class HostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Host

    registration = factory.SubFactory(RegistrationFactory)
    host_name = factory.LazyAttributeSequence(lambda h, n: f"ns{n}.{h.registration.name}")


class HostAddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HostAddress

    host = factory.SubFactory(HostFactory)
    address = factory.Sequence(lambda n: f"192.0.2.{n % 250 + 1}")
    version = 4


class ProcessFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Process

    upstream_id = factory.Sequence(lambda n: f"{700_000 + n}")
    registration = factory.SubFactory(RegistrationFactory)
    action = "update_nameservers"
    status = ProcessStatus.RUNNING


class ProcessLogEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProcessLogEntry

    process = factory.SubFactory(ProcessFactory)
    message = "Process started"


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    account = factory.SubFactory(AccountFactory)
    provider_account = factory.SubFactory(ProviderAccountFactory, label="sandbox")
    kind = OrderKind.REGISTRATION
    status = OrderStatus.REGISTERED
    domain = factory.Sequence(lambda n: f"order{n}.com")
    currency = "USD"
    subtotal_minor = 1299
    fees_minor = 100
    total_minor = 1399


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    description = "Registration"
    total_minor = 1299


class LedgerEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LedgerEntry

    order = factory.SubFactory(OrderFactory)
    kind = LedgerEntry.Kind.PAYMENT
    state = LedgerEntry.State.SUCCEEDED
    amount_minor = 1399
    currency = "USD"


class WebhookEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEvent

    provider_account = factory.SubFactory(ProviderAccountFactory, label="sandbox")
    event_id = factory.Sequence(lambda n: f"evt_{n}")
    event_type = "domain_purchase.completed"
    payload = factory.LazyAttribute(lambda e: {"id": e.event_id, "type": e.event_type})
    order = factory.SubFactory(OrderFactory)
    outcome = "applied"


def staff_action(**overrides):
    values = dict(actor=None, action="registration.lock", outcome="succeeded")
    values.update(overrides)
    return audit.record(**values)


class ApprovalFactory(factory.django.DjangoModelFactory):
    """A two-person request, waiting, inside its window."""

    class Meta:
        model = "registrar.Approval"

    operation = "push_transfer"
    rule = "push_transfer"
    registration = factory.SubFactory(RegistrationFactory)
    parameters = factory.LazyFunction(lambda: {"recipient": "REG-IDS"})
    summary = factory.LazyAttribute(lambda o: f"Push transfer of {o.registration}")
    ticket = factory.Sequence(lambda n: f"SUP-{n}")
    verification = "Called back on the number on file."
    requested_by = factory.SubFactory(UserFactory)
    requested_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyAttribute(lambda o: o.requested_at + timedelta(hours=1))
