"""Every URL the back-office answers, GET by every kind of visitor, against one explicit
table of what each should see.

The URLs come from the URL configuration itself (every ModelAdmin's get_urls included),
filled with real objects, so a URL added anywhere is met here: a URL missing from the
table fails until it is classified, and a table row for a URL that no longer exists
fails too. Each cell is an outcome class:

- "200", "403", "404", "405": the status;
- "login": a redirect to the admin login page;
- "-> <namespace>:<name>": a redirect to that named page.

GET never changes anything: after the whole matrix, no row changed and nothing was sent
upstream but reads. A POST by Finance (read-only) to any change page answers 403.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice.models import StaffAction
from backoffice.roles import ADMIN, FINANCE, SUPPORT
from billing.models import Account, LedgerEntry, Order, OrderItem, WebhookEvent
from contacts.models import Contact
from registrar.models import (
    Approval,
    DnssecKey,
    Host,
    HostAddress,
    Process,
    ProcessLogEntry,
    ProviderAccount,
    Registration,
    Tld,
)
from tests.factories import (
    AccountFactory,
    ContactFactory,
    DnssecKeyFactory,
    HostAddressFactory,
    HostFactory,
    LedgerEntryFactory,
    OrderFactory,
    OrderItemFactory,
    ProcessFactory,
    ProcessLogEntryFactory,
    ProviderAccountFactory,
    RegistrationFactory,
    TldFactory,
    UserFactory,
    WebhookEventFactory,
    staff_action,
)

VISITORS = ("anonymous", "staff", SUPPORT, FINANCE, ADMIN, "superuser")

LOGIN = L = "login"
INDEX = "-> admin:index"
TO_ORDER = "-> admin:billing_order_change"


def r(anonymous: str, staff: str, support: str, finance: str, admin_: str,
      superuser: str) -> dict[str, str]:
    """One row: what each visitor meets, in the order of VISITORS."""
    return dict(zip(VISITORS, (anonymous, staff, support, finance, admin_, superuser),
                    strict=True))


def signed_in(seen: str) -> dict[str, str]:
    """Anonymous visitors are sent to log in; everyone signed in meets `seen` (a redirect
    that checks no permission itself, such as <object_id>/ to the change page)."""
    return r(LOGIN, seen, seen, seen, seen, seen)


# --- the table ----------------------------------------------------------------------------
# Keys are the URL patterns with their parameters named (<object_id>); values are what
# each visitor meets: anonymous, staff in no group, Support, Finance, Admin, superuser.
# Written from backoffice/roles.py (which group may view, add, change or delete which
# model, and run which operation) and checked against what the pages answer. A model's
# change page with only the view permission is shown read-only (200).
EXPECTED: dict[str, dict[str, str]] = {
    # Outside the admin
    "": r(INDEX, INDEX, INDEX, INDEX, INDEX, INDEX),
    "webhooks/<kind>/<label>/": r("405", "405", "405", "405", "405", "405"),
    "finance/": r(L, "403", "403", "200", "200", "200"),
    "finance/orders.csv": r(L, "403", "403", "200", "200", "200"),
    "finance/revenue.svg": r(L, "403", "403", "200", "200", "200"),
    "finance/orders/<pk>/": r(L, "403", "403", "200", "200", "200"),
    "finance/attention/": r(L, "403", "403", "200", "200", "200"),

    # Signing in, out and the second factor. The passkey ceremonies and new backup codes
    # answer POST only; with nothing set up, there is no code to give (verify) and no app to
    # confirm (authenticator); resetting someone's second factor is a superuser's.
    "admin/security/webauthn/registration/begin/": r("403", "405", "405", "405", "405", "405"),
    "admin/security/webauthn/registration/complete/": r("403", "405", "405", "405", "405", "405"),
    "admin/security/webauthn/authentication/begin/": r("403", "405", "405", "405", "405", "405"),
    "admin/security/webauthn/authentication/complete/": r("403", "405", "405", "405", "405", "405"),
    "admin/security/webauthn/jsi18n/": r("200", "200", "200", "200", "200", "200"),
    "admin/security/": r(L, "200", "200", "200", "200", "200"),
    "admin/security/verify/": signed_in(INDEX),
    "admin/security/authenticator/": signed_in("-> admin:security"),
    "admin/security/backup-codes/": r(L, "405", "405", "405", "405", "405"),
    "admin/security/staff/": r(L, "403", "403", "403", "403", "200"),
    "admin/security/staff/<user_id>/reset/": r(L, "403", "403", "403", "403", "200"),
    "admin/login/": r("200", INDEX, INDEX, INDEX, INDEX, INDEX),
    "admin/logout/": r(INDEX, "405", "405", "405", "405", "405"),
    "admin/password_change/": r(L, "200", "200", "200", "200", "200"),
    "admin/password_change/done/": r(L, "200", "200", "200", "200", "200"),
    # The admin's own pages. No model has a page on the site (view_on_site: 404);
    # autocomplete refuses a request without its parameters; an app list of no app one may
    # see is 404.
    "admin/": r(L, "200", "200", "200", "200", "200"),
    "admin/autocomplete/": r(L, "403", "403", "403", "403", "403"),
    "admin/jsi18n/": r(L, "200", "200", "200", "200", "200"),
    # The header's search: each sees only the kinds they may view.
    "admin/search/": r(L, "200", "200", "200", "200", "200"),
    # The domain search: whoever may see the TLDs (the form alone, without a name).
    "admin/domain-search/": r(L, "403", "200", "200", "200", "200"),
    "admin/r/<content_type_id>/<object_id>/": r(L, "404", "404", "404", "404", "404"),
    "admin/<app_label>/": r(L, "404", "200", "200", "200", "200"),
    "admin/<url>": r(L, "404", "404", "404", "404", "404"),

    # Login attempts and lockouts: Admins look, nobody adds; deleting (unlocking) is a superuser's.
    "admin/axes/accessattempt/": r(L, "403", "403", "403", "200", "200"),
    "admin/axes/accessattempt/add/": r(L, "403", "403", "403", "403", "403"),
    "admin/axes/accessattempt/<object_id>/history/": r(L, "403", "403", "403", "200", "200"),
    "admin/axes/accessattempt/<object_id>/delete/": r(L, "403", "403", "403", "403", "200"),
    "admin/axes/accessattempt/<object_id>/change/": r(L, "403", "403", "403", "200", "200"),
    "admin/axes/accessattempt/<object_id>/": signed_in("-> admin:axes_accessattempt_change"),
    "admin/axes/accesslog/": r(L, "403", "403", "403", "200", "200"),
    "admin/axes/accesslog/add/": r(L, "403", "403", "403", "403", "403"),
    "admin/axes/accesslog/<object_id>/history/": r(L, "403", "403", "403", "200", "200"),
    "admin/axes/accesslog/<object_id>/delete/": r(L, "403", "403", "403", "403", "200"),
    "admin/axes/accesslog/<object_id>/change/": r(L, "403", "403", "403", "200", "200"),
    "admin/axes/accesslog/<object_id>/": signed_in("-> admin:axes_accesslog_change"),
    "admin/axes/accessfailurelog/": r(L, "403", "403", "403", "200", "200"),
    "admin/axes/accessfailurelog/add/": r(L, "403", "403", "403", "403", "403"),
    "admin/axes/accessfailurelog/<object_id>/history/": r(L, "403", "403", "403", "200", "200"),
    "admin/axes/accessfailurelog/<object_id>/delete/": r(L, "403", "403", "403", "403", "200"),
    "admin/axes/accessfailurelog/<object_id>/change/": r(L, "403", "403", "403", "200", "200"),
    "admin/axes/accessfailurelog/<object_id>/": signed_in("-> admin:axes_accessfailurelog_change"),

    # The audit trail: Admins read it; nobody adds, changes or deletes a row, superusers included.
    "admin/backoffice/staffaction/": r(L, "403", "403", "403", "200", "200"),
    "admin/backoffice/staffaction/add/": r(L, "403", "403", "403", "403", "403"),
    "admin/backoffice/staffaction/<object_id>/history/": r(L, "403", "403", "403", "200", "200"),
    "admin/backoffice/staffaction/<object_id>/delete/": r(L, "403", "403", "403", "403", "403"),
    "admin/backoffice/staffaction/<object_id>/change/": r(L, "403", "403", "403", "200", "200"),
    "admin/backoffice/staffaction/<object_id>/":
        signed_in("-> admin:backoffice_staffaction_change"),

    # Staff and groups: Admins manage them; setting a password is a superuser's.
    "admin/auth/user/<id>/password/": r(L, "403", "403", "403", "403", "200"),
    "admin/auth/user/": r(L, "403", "403", "403", "200", "200"),
    "admin/auth/user/add/": r(L, "403", "403", "403", "200", "200"),
    "admin/auth/user/<object_id>/history/": r(L, "403", "403", "403", "200", "200"),
    "admin/auth/user/<object_id>/delete/": r(L, "403", "403", "403", "200", "200"),
    "admin/auth/user/<object_id>/change/": r(L, "403", "403", "403", "200", "200"),
    "admin/auth/user/<object_id>/": signed_in("-> admin:auth_user_change"),
    "admin/auth/group/": r(L, "403", "403", "403", "200", "200"),
    "admin/auth/group/add/": r(L, "403", "403", "403", "200", "200"),
    "admin/auth/group/<object_id>/history/": r(L, "403", "403", "403", "200", "200"),
    "admin/auth/group/<object_id>/delete/": r(L, "403", "403", "403", "200", "200"),
    "admin/auth/group/<object_id>/change/": r(L, "403", "403", "403", "200", "200"),
    "admin/auth/group/<object_id>/": signed_in("-> admin:auth_group_change"),

    # Two-person approvals: Support follow their requests, Admins decide; made only by operations.
    "admin/registrar/approval/<approval_id>/decide/": r(L, "403", "403", "403", "200", "200"),
    "admin/registrar/approval/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/approval/add/": r(L, "403", "403", "403", "403", "403"),
    "admin/registrar/approval/<object_id>/history/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/approval/<object_id>/delete/": r(L, "403", "403", "403", "403", "403"),
    "admin/registrar/approval/<object_id>/change/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/approval/<object_id>/": signed_in("-> admin:registrar_approval_change"),

    # Upstream accounts: Finance read them, Admins manage them.
    "admin/registrar/provideraccount/": r(L, "403", "403", "200", "200", "200"),
    "admin/registrar/provideraccount/add/": r(L, "403", "403", "403", "200", "200"),
    "admin/registrar/provideraccount/<object_id>/history/": r(L, "403", "403", "200", "200", "200"),
    "admin/registrar/provideraccount/<object_id>/delete/": r(L, "403", "403", "403", "200", "200"),
    "admin/registrar/provideraccount/<object_id>/change/": r(L, "403", "403", "200", "200", "200"),
    # The registrations the account's upstream lists, read live: view_provideraccount and
    # view_registration (Finance and Admins; Support cannot see provider accounts).
    "admin/registrar/provideraccount/<object_id>/upstream/":
        r(L, "403", "403", "200", "200", "200"),
    "admin/registrar/provideraccount/<object_id>/":
        signed_in("-> admin:registrar_provideraccount_change"),

    # TLDs: everyone with a role reads them, Admins manage them.
    "admin/registrar/tld/": r(L, "403", "200", "200", "200", "200"),
    "admin/registrar/tld/add/": r(L, "403", "403", "403", "200", "200"),
    "admin/registrar/tld/<object_id>/history/": r(L, "403", "200", "200", "200", "200"),
    "admin/registrar/tld/<object_id>/delete/": r(L, "403", "403", "403", "200", "200"),
    "admin/registrar/tld/<object_id>/change/": r(L, "403", "200", "200", "200", "200"),
    "admin/registrar/tld/<object_id>/": signed_in("-> admin:registrar_tld_change"),

    # Registrations: read by every role; operated by Support and Admins; made and removed only
    # by the registrar (no add or delete, not even for superusers).
    "admin/registrar/registration/<object_id>/operation/<operation>/":
        r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/registration/<object_id>/auth-code/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/registration/<object_id>/hosts/": r(L, "403", "200", "403", "200", "200"),
    # The glue hosts read at the registrar beside the mirror's: the hosts page's readers.
    "admin/registrar/registration/<object_id>/hosts/remote/":
        r(L, "403", "200", "403", "200", "200"),
    # Connecting a registration to its upstream's edge (the DNS-records right); where the
    # upstream cannot, the page says why.
    "admin/registrar/registration/<object_id>/connect/":
        r(L, "403", "200", "403", "200", "200"),
    # The support cockpit: the status every reader's page polls, the note page (Finance
    # may add notes too), and attaching a customer (a change of the registration).
    "admin/registrar/registration/<object_id>/status/": r(L, "403", "200", "200", "200", "200"),
    "admin/registrar/registration/<object_id>/note/": r(L, "403", "200", "200", "200", "200"),
    "admin/registrar/registration/<object_id>/customer/":
        r(L, "403", "200", "403", "200", "200"),
    # Suppressing or resuming the customer's renewal notices: Support and Admins.
    "admin/registrar/registration/<object_id>/notices/":
        r(L, "403", "200", "403", "200", "200"),
    # The registration's processes as the registrar lists them: the process admin's readers.
    "admin/registrar/registration/<object_id>/processes/":
        r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/registration/<object_id>/hosts/<host_name>/edit/":
        r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/registration/<object_id>/hosts/<host_name>/delete/":
        r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/registration/": r(L, "403", "200", "200", "200", "200"),
    "admin/registrar/registration/add/": r(L, "403", "403", "403", "403", "403"),
    "admin/registrar/registration/<object_id>/history/": r(L, "403", "200", "200", "200", "200"),
    "admin/registrar/registration/<object_id>/delete/": r(L, "403", "403", "403", "403", "403"),
    "admin/registrar/registration/<object_id>/change/": r(L, "403", "200", "200", "200", "200"),
    "admin/registrar/registration/<object_id>/remote/": r(L, "403", "200", "200", "200", "200"),
    "admin/registrar/registration/<object_id>/":
        signed_in("-> admin:registrar_registration_change"),

    # Glue hosts, addresses, DNSSEC keys, processes: Support and Admins; changed only through
    # operations. Finance do not see them.
    "admin/registrar/host/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/host/add/": r(L, "403", "403", "403", "403", "403"),
    "admin/registrar/host/<object_id>/history/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/host/<object_id>/delete/": r(L, "403", "403", "403", "403", "403"),
    "admin/registrar/host/<object_id>/change/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/host/<object_id>/": signed_in("-> admin:registrar_host_change"),
    "admin/registrar/hostaddress/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/hostaddress/add/": r(L, "403", "403", "403", "403", "403"),
    "admin/registrar/hostaddress/<object_id>/history/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/hostaddress/<object_id>/delete/": r(L, "403", "403", "403", "403", "403"),
    "admin/registrar/hostaddress/<object_id>/change/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/hostaddress/<object_id>/": signed_in("-> admin:registrar_hostaddress_change"),
    "admin/registrar/dnsseckey/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/dnsseckey/add/": r(L, "403", "403", "403", "403", "403"),
    "admin/registrar/dnsseckey/<object_id>/history/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/dnsseckey/<object_id>/delete/": r(L, "403", "403", "403", "403", "403"),
    "admin/registrar/dnsseckey/<object_id>/change/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/dnsseckey/<object_id>/": signed_in("-> admin:registrar_dnsseckey_change"),
    "admin/registrar/process/<object_id>/<action>/": r(L, "403", "200", "403", "200", "200"),
    # The process read at the registrar beside the mirror row: the process admin's readers.
    "admin/registrar/process/<object_id>/remote/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/process/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/process/add/": r(L, "403", "403", "403", "403", "403"),
    "admin/registrar/process/<object_id>/history/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/process/<object_id>/delete/": r(L, "403", "403", "403", "403", "403"),
    "admin/registrar/process/<object_id>/change/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/process/<object_id>/": signed_in("-> admin:registrar_process_change"),
    "admin/registrar/processlogentry/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/processlogentry/add/": r(L, "403", "403", "403", "403", "403"),
    "admin/registrar/processlogentry/<object_id>/history/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/processlogentry/<object_id>/delete/": r(L, "403", "403", "403", "403", "403"),
    "admin/registrar/processlogentry/<object_id>/change/": r(L, "403", "200", "403", "200", "200"),
    "admin/registrar/processlogentry/<object_id>/":
        signed_in("-> admin:registrar_processlogentry_change"),

    # Contacts: Support and Admins manage them; Finance read them.
    "admin/contacts/contact/<object_id>/edit/": r(L, "403", "200", "403", "200", "200"),
    # The contact read at the registrar beside the mirror: every contact reader.
    "admin/contacts/contact/<object_id>/remote/": r(L, "403", "200", "200", "200", "200"),
    "admin/contacts/contact/<object_id>/resend-verification/":
        r(L, "403", "200", "403", "200", "200"),
    "admin/contacts/contact/": r(L, "403", "200", "200", "200", "200"),
    # Mirroring the registrar's contact list creates and changes contacts: Support, Admins.
    "admin/contacts/contact/sync/": r(L, "403", "200", "403", "200", "200"),
    "admin/contacts/contact/add/": r(L, "403", "200", "403", "200", "200"),
    "admin/contacts/contact/<object_id>/history/": r(L, "403", "200", "200", "200", "200"),
    "admin/contacts/contact/<object_id>/delete/": r(L, "403", "200", "403", "200", "200"),
    "admin/contacts/contact/<object_id>/change/": r(L, "403", "200", "200", "200", "200"),
    "admin/contacts/contact/<object_id>/": signed_in("-> admin:contacts_contact_change"),

    # Customer accounts: read by every role; orders and links from Support, Admins (and the
    # billing link from Finance); an order that is no quote sends the person to the order.
    "admin/billing/account/<object_id>/email-order/": r(L, "403", "200", "403", "200", "200"),
    "admin/billing/account/<object_id>/domain-order/": r(L, "403", "200", "403", "200", "200"),
    "admin/billing/account/<object_id>/domain-order/<order_id>/":
        r(L, "403", TO_ORDER, "403", TO_ORDER, TO_ORDER),
    "admin/billing/account/<object_id>/billing-link/": r(L, "403", "200", "200", "200", "200"),
    # A note on the customer: everyone who may add notes (GET shows the form, POST adds).
    "admin/billing/account/<object_id>/note/": r(L, "403", "200", "200", "200", "200"),
    "admin/billing/account/": r(L, "403", "200", "200", "200", "200"),
    "admin/billing/account/add/": r(L, "403", "403", "403", "200", "200"),
    "admin/billing/account/<object_id>/history/": r(L, "403", "200", "200", "200", "200"),
    "admin/billing/account/<object_id>/delete/": r(L, "403", "403", "403", "200", "200"),
    "admin/billing/account/<object_id>/change/": r(L, "403", "200", "200", "200", "200"),
    "admin/billing/account/<object_id>/": signed_in("-> admin:billing_account_change"),

    # Orders and their items: read by every role, never added, changed or deleted by hand.
    "admin/billing/order/": r(L, "403", "200", "200", "200", "200"),
    "admin/billing/order/add/": r(L, "403", "403", "403", "403", "403"),
    "admin/billing/order/<object_id>/history/": r(L, "403", "200", "200", "200", "200"),
    "admin/billing/order/<object_id>/delete/": r(L, "403", "403", "403", "403", "403"),
    "admin/billing/order/<object_id>/change/": r(L, "403", "200", "200", "200", "200"),
    # Checking an order's status at its upstream: those who place orders (GET says what
    # it would do, or why this order cannot be checked; POST checks).
    "admin/billing/order/<object_id>/status-check/": r(L, "403", "200", "403", "200", "200"),
    "admin/billing/order/<object_id>/follow/": r(L, "403", "200", "200", "200", "200"),
    # Orders at the upstream: a read of an account's order list, by whoever views orders
    # (without an account chosen, the choice alone).
    "admin/billing/order/upstream/": r(L, "403", "200", "200", "200", "200"),
    "admin/billing/order/<object_id>/": signed_in("-> admin:billing_order_change"),
    "admin/billing/orderitem/": r(L, "403", "200", "200", "200", "200"),
    "admin/billing/orderitem/add/": r(L, "403", "403", "403", "403", "403"),
    "admin/billing/orderitem/<object_id>/history/": r(L, "403", "200", "200", "200", "200"),
    "admin/billing/orderitem/<object_id>/delete/": r(L, "403", "403", "403", "403", "403"),
    "admin/billing/orderitem/<object_id>/change/": r(L, "403", "200", "200", "200", "200"),
    "admin/billing/orderitem/<object_id>/": signed_in("-> admin:billing_orderitem_change"),

    # The ledger and webhook events: Finance and Admins read them; append-only, even for superusers.
    "admin/billing/ledgerentry/": r(L, "403", "403", "200", "200", "200"),
    "admin/billing/ledgerentry/add/": r(L, "403", "403", "403", "403", "403"),
    "admin/billing/ledgerentry/<object_id>/history/": r(L, "403", "403", "200", "200", "200"),
    "admin/billing/ledgerentry/<object_id>/delete/": r(L, "403", "403", "403", "403", "403"),
    "admin/billing/ledgerentry/<object_id>/change/": r(L, "403", "403", "200", "200", "200"),
    "admin/billing/ledgerentry/<object_id>/": signed_in("-> admin:billing_ledgerentry_change"),
    "admin/billing/webhookevent/": r(L, "403", "403", "200", "200", "200"),
    "admin/billing/webhookevent/add/": r(L, "403", "403", "403", "403", "403"),
    "admin/billing/webhookevent/<object_id>/history/": r(L, "403", "403", "200", "200", "200"),
    "admin/billing/webhookevent/<object_id>/delete/": r(L, "403", "403", "403", "403", "403"),
    "admin/billing/webhookevent/<object_id>/change/": r(L, "403", "403", "200", "200", "200"),
    "admin/billing/webhookevent/<object_id>/": signed_in("-> admin:billing_webhookevent_change"),
}


# --- the objects behind the parameters -------------------------------------------------------


@pytest.fixture
def world(sandbox, role_users):
    """One real object of every model the admin shows, so each <object_id> names one."""
    provider = ProviderAccountFactory(label="sandbox")
    tld = TldFactory(name="com", provider_account=provider, supports_transfer_lock=True)
    account = AccountFactory(name="Matrix Customer")
    contact = ContactFactory(account=account, tld=tld, handle="MATRIX-1")
    registration = RegistrationFactory(name="matrix.com", tld=tld, account=account,
                                       owner_contact=contact)
    host = HostFactory(registration=registration, host_name="ns1.matrix.com")
    # Its own registration: a process in flight would make matrix.com's pages "busy".
    process = ProcessFactory()
    order = OrderFactory(account=account, provider_account=provider, domain="matrix.com")
    target = UserFactory(username="matrix-target", is_staff=True)
    now = timezone.now()
    objects: dict[type[Model], Model] = {
        ProviderAccount: provider,
        Tld: tld,
        Account: account,
        Contact: contact,
        Registration: registration,
        Host: host,
        HostAddress: HostAddressFactory(host=host),
        DnssecKey: DnssecKeyFactory(registration=registration),
        Process: process,
        ProcessLogEntry: ProcessLogEntryFactory(process=process),
        Order: order,
        OrderItem: OrderItemFactory(order=order),
        LedgerEntry: LedgerEntryFactory(order=order),
        WebhookEvent: WebhookEventFactory(provider_account=provider, order=order),
        StaffAction: staff_action(action="registration.lock", target=registration),
        Approval: Approval.objects.create(
            operation="registrant_change", rule="registrant_change",
            registration=registration, summary="Registrant change of matrix.com",
            ticket="T-1", verification="Called the customer back on file.",
            requested_by=target, requested_at=now, expires_at=now + timedelta(hours=1)),
        type(target): target,
        Group: Group.objects.create(name="Matrix group"),
        # The target user's second factor (what admin/security/staff/ resets); a role
        # user with one would owe a second factor on every page.
        TOTPDevice: TOTPDevice.objects.create(user=target, name="Matrix app", confirmed=True),
        StaticDevice: StaticDevice.objects.create(user=target, name="Matrix backup codes"),
        AccessAttempt: AccessAttempt.objects.create(
            username="matrix-target", ip_address="192.0.2.1", user_agent="test",
            http_accept="*/*", path_info="/admin/login/", get_data="", post_data="",
            failures_since_start=1),
        AccessLog: AccessLog.objects.create(
            username="matrix-target", ip_address="192.0.2.1", user_agent="test",
            http_accept="*/*", path_info="/admin/login/"),
        AccessFailureLog: AccessFailureLog.objects.create(
            username="matrix-target", ip_address="192.0.2.1", user_agent="test",
            http_accept="*/*", path_info="/admin/login/"),
    }
    sandbox.seed()
    sandbox.transport.requests.clear()
    superuser = UserFactory(username="matrix-root", is_superuser=True)
    users = {"staff": role_users["staff"], SUPPORT: role_users[SUPPORT],
             FINANCE: role_users[FINANCE], ADMIN: role_users[ADMIN], "superuser": superuser}
    return type("World", (), {"objects": objects, "users": users, "sandbox": sandbox,
                              "target": target, "order": order, "host": host,
                              "registration": registration, "provider": provider})


# --- the URLs, from the URL configuration -------------------------------------------------


def routes(resolver: URLResolver | None = None, prefix: str = "") -> list[str]:
    """Every pattern's full route, as Django spells it."""
    found = []
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            found.append(route)
    return found


_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def key_of(route: str) -> str:
    """The table's key: the route with each parameter written <name>, whether it is a
    path() converter or a regex group."""
    return _CONVERTER.sub(r"<\1>", _REGEX_GROUP.sub(r"<\1>", route)).replace(
        "^", "").replace("$", "")


def admin_model(route: str) -> type[Model] | None:
    """The model of the ModelAdmin a route belongs to (admin/<app>/<model>/...)."""
    match = re.match(r"admin/(\w+)/(\w+)/", route)
    if match:
        for model in admin.site._registry:
            if (model._meta.app_label, model._meta.model_name) == match.groups():
                return model
    return None


def fill(route: str, world) -> str:
    """The route with real values: each <object_id> is the ModelAdmin's own object."""
    model = admin_model(route)
    if model is not None and model not in world.objects:
        raise AssertionError(f"{route}: no {model.__name__} in the test's world; add one.")
    values = {
        "object_id": (world.objects[model] if model else world.registration).pk,
        "pk": (world.objects[model] if model else world.order).pk,
        "id": world.target.pk,
        "user_id": world.target.pk,
        "approval_id": world.objects[Approval].pk,
        "content_type_id": ContentType.objects.get_for_model(Registration).pk,
        "operation": "lock",
        "host_name": world.host.host_name,
        "order_id": world.order.pk,
        "action": "resend",
        "app_label": "registrar",
        "url": "no-such-page/",
        "kind": world.provider.kind,
        "label": world.provider.label,
    }

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise AssertionError(f"{route}: no value for the parameter <{name}>; add one.")
        return str(values[name])

    url = "/" + _CONVERTER.sub(value, _REGEX_GROUP.sub(value, route)).replace(
        "^", "").replace("$", "")
    # The filled URL must reach the pattern it was made from (not an earlier one).
    assert key_of(resolve(url).route) == key_of(route), (route, url, resolve(url).route)
    return url


def urls(world) -> dict[str, str]:
    """{table key: a URL to GET}, one per pattern."""
    found: dict[str, str] = {}
    for route in routes():
        key = key_of(route)
        assert key not in found, f"two patterns have the key {key!r}"
        found[key] = fill(route, world)
    return found


# --- visiting ---------------------------------------------------------------------------


def clients(world) -> dict[str, Client]:
    # A 500 is an outcome to report in the table, not an exception that stops the run.
    visitors = {"anonymous": Client(raise_request_exception=False)}
    for name, user in world.users.items():
        visitors[name] = Client(raise_request_exception=False)
        visitors[name].force_login(user)
    return visitors


def outcome(response) -> str:
    if response.status_code not in {301, 302, 303, 307, 308}:
        return str(response.status_code)
    path = urlsplit(response["Location"]).path
    try:
        match = resolve(path)
    except Resolver404:
        return f"-> {path}"
    if match.view_name == "admin:login":
        return LOGIN
    return f"-> {match.view_name}"


#: Audit rows a GET writes: a CSV download is recorded (who took which orders), the
#: record of a read rather than a change of anything.
READ_RECORDS = {"orders.export"}


def stored_rows(world) -> dict[str, list[dict]]:
    """Every row of the models the world holds, but the records of reads: to prove a GET
    changed nothing."""
    rows = {model.__name__: [model_to_dict(row) for row in model._default_manager.order_by("pk")]
            for model in world.objects}
    rows["StaffAction"] = [row for row in rows["StaffAction"]
                           if row["action"] not in READ_RECORDS]
    return rows


def row_text(key: str, seen: dict[str, str]) -> str:
    cells = ", ".join(f'"{seen[visitor]}"' for visitor in VISITORS)
    return f'    "{key}": r({cells}),'


def test_every_url_answers_each_visitor_as_the_table_says(world):
    targets = urls(world)
    visitors = clients(world)  # logging in writes its own rows (last login, access log)
    before = stored_rows(world)
    seen = {key: {name: outcome(client.get(url)) for name, client in visitors.items()}
            for key, url in targets.items()}

    unclassified = [row_text(key, seen[key]) for key in targets if key not in EXPECTED]
    gone = sorted(set(EXPECTED) - set(targets))
    mismatches = [
        f"  {key} (GET {targets[key]}) as {visitor}: expected {expected[visitor]}, "
        f"got {seen[key][visitor]}"
        for key, expected in EXPECTED.items() if key in targets
        for visitor in VISITORS if seen[key][visitor] != expected[visitor]
    ]
    report = []
    if unclassified:
        report += ["URLs missing from EXPECTED (what each visitor got now; check each "
                   "against backoffice/roles.py before adding it):", *unclassified]
    if gone:
        report += ["Rows in EXPECTED for URLs that no longer exist:", *gone]
    if mismatches:
        report += [f"{len(mismatches)} cell(s) differ:", *mismatches]
    assert not report, "\n".join(report)

    # Nothing a GET did changed a row or anything upstream; the downloads are on record.
    assert stored_rows(world) == before
    assert world.sandbox.transport.mutations == []
    downloads = StaffAction.objects.filter(action="orders.export")
    assert sorted(downloads.values_list("actor_label", flat=True)) == sorted(
        world.users[name].get_username() for name in (FINANCE, ADMIN, "superuser"))


def test_a_read_only_finance_post_to_any_change_page_is_refused(world):
    targets = urls(world)
    change_pages = {key: url for key, url in targets.items()
                    if re.fullmatch(r"admin/\w+/\w+/<object_id>/change/", key)}
    assert len(change_pages) == len(admin.site._registry)
    finance = clients(world)[FINANCE]
    before = stored_rows(world)
    refused = {key: finance.post(url, {}).status_code for key, url in change_pages.items()}
    assert {key: status for key, status in refused.items() if status != 403} == {}
    assert stored_rows(world) == before
    assert world.sandbox.transport.requests == []


# --- while a second factor is due ----------------------------------------------------------

#: The pages a signed-in person reaches before giving a second factor: giving one,
#: setting one up (the passkey ceremonies too) and logging out.
OPEN_WHILE_SECOND_FACTOR_DUE = {
    "admin/security/",
    "admin/security/verify/",
    "admin/security/authenticator/",
    "admin/logout/",
}
#: Where a password-only session is sent: to set a second factor up, or, for someone
#: who has one, to give its code.
TO_ENROL, TO_VERIFY = "-> admin:security", "-> admin:security_verify"


def test_a_password_only_session_reaches_nothing_but_the_second_factor_pages(world, settings):
    settings.STAFF_MFA_REQUIRED = True
    targets = urls(world)
    visitors = clients(world)
    visitors.pop("anonymous")
    expected = dict.fromkeys(visitors, TO_ENROL)
    # And someone who set up an authenticator app but has not given its code yet.
    enrolled = UserFactory(username="matrix-enrolled", groups=[SUPPORT])
    TOTPDevice.objects.create(user=enrolled, name="Authenticator app", confirmed=True)
    visitors["Support with an app"] = Client(raise_request_exception=False)
    visitors["Support with an app"].force_login(enrolled)
    expected["Support with an app"] = TO_VERIFY

    open_keys = OPEN_WHILE_SECOND_FACTOR_DUE | {
        key for key in targets if key.startswith("admin/security/webauthn/")}
    assert open_keys <= set(targets), sorted(open_keys - set(targets))
    let_through = [
        f"  {key} (GET {url}) as {name}: {got}"
        for key, url in targets.items() if key not in open_keys
        for name, client in visitors.items()
        if (got := outcome(client.get(url))) != expected[name]
    ]
    assert not let_through, ("Not sent to the second-factor page first (expected "
                             f"{TO_ENROL}, or {TO_VERIFY} for someone with an app):\n"
                             + "\n".join(let_through))
    # The open pages answer, or pass the person on among themselves (the code page sends
    # someone with nothing set up yet to enrolment); a POST-only one says 405.
    among_them = {"200", "405", TO_ENROL, TO_VERIFY, "-> admin:security_totp"}
    kept_out = [
        f"  {key} as {name}: {got}"
        for key in sorted(OPEN_WHILE_SECOND_FACTOR_DUE)
        for name, client in visitors.items()
        if (got := outcome(client.get(targets[key]))) not in among_them
    ]
    assert not kept_out, "Second-factor pages that kept the person out:\n" + "\n".join(
        kept_out)
