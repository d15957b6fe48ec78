"""The provider interface: every hook the core calls, the capability set that says which
of them an adapter implements, and the records that cross the boundary.

Every upstream adapter speaks its own wire format and answers in these terms, so the
core (services, sync, billing) never sees httpx, status codes, an upstream's error
bodies or its vocabulary, and never asks which upstream it is talking to: it asks
`supports(capability)`. The records here are plain values: an adapter imports no app's
models, and the core maps records to rows.

A hook an adapter does not implement raises `Unsupported`; the core only calls hooks
whose capability the adapter declares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from registrar.providers.errors import Unsupported

if TYPE_CHECKING:
    import httpx


class Capability(StrEnum):
    # Registration operations (one button each in the admin).
    LOCK = "lock"
    PRIVACY = "privacy"
    DNSSEC = "dnssec"
    AUTO_RENEW = "auto_renew"
    HOLDER_EDIT = "holder_edit"
    HOLDER_CHANGE = "holder_change"
    REGISTRANT_CHANGE_ORDER = "registrant_change_order"
    ROLE_CONTACTS = "role_contacts"
    NAMESERVERS = "nameservers"
    AUTH_CODE = "auth_code"
    # Start a transfer to another registrar; the answer carries the auth code.
    TRANSFER_OUT_START = "transfer_out_start"
    TRANSFER_OUT_DECISION = "transfer_out_decision"
    PUSH_TRANSFER = "push_transfer"
    VERIFICATION_RESEND = "verification_resend"
    FORCE_SYNC = "force_sync"
    DNS_RECORDS = "dns_records"
    # What hangs off a registration.
    HOSTS = "hosts"
    PROCESSES = "processes"
    CONTACTS = "contacts"
    # The account's whole contact list, page by page (the contact mirror), beyond the
    # contacts that come with its registrations.
    CONTACT_LIST = "contact_list"
    # Reading registrations: the whole list (the reconcile job), or one (a re-read).
    REGISTRATION_SYNC = "registration_sync"
    REGISTRATION_READ = "registration_read"
    # Money.
    DOMAIN_ORDERS = "domain_orders"
    ORDER_FOLLOW = "order_follow"
    ORDER_MIRROR = "order_mirror"
    # Ask the upstream where one placed order stands now (it may check and update it).
    ORDER_STATUS = "order_status"
    EMAIL_ORDERS = "email_orders"
    # What an email order form reads before anything is placed: the plans with their
    # prices, candidate domains, and suggested mailbox names.
    EMAIL_ORDER_TOOLS = "email_order_tools"
    BILLING_LINK = "billing_link"
    # Reading what a name costs and whether it is free, for staff to compare upstreams.
    DOMAIN_SEARCH = "domain_search"
    # Fast first hints for the domain search: a DNS-zone signal (never availability),
    # and TLD-level list prices (never a name's exact price).
    ZONE_CHECK = "zone_check"
    TLD_LIST_PRICES = "tld_list_prices"
    # Serving a domain from the upstream's edge: on a purchase (auto-connect, rolled back
    # whole when it fails), or for a domain registered already.
    AUTO_CONNECT = "auto_connect"
    DOMAIN_CONNECT = "domain_connect"
    # Events the upstream pushes to /webhooks/<kind>/<label>/.
    WEBHOOKS = "webhooks"


#: The capabilities that operate a registration: an upstream with none of them sells or
#: lists domains but does not manage them.
REGISTRATION_OPERATIONS = frozenset({
    Capability.LOCK, Capability.PRIVACY, Capability.DNSSEC, Capability.AUTO_RENEW,
    Capability.HOLDER_EDIT, Capability.HOLDER_CHANGE, Capability.REGISTRANT_CHANGE_ORDER,
    Capability.ROLE_CONTACTS, Capability.NAMESERVERS, Capability.AUTH_CODE,
    Capability.TRANSFER_OUT_START, Capability.TRANSFER_OUT_DECISION, Capability.PUSH_TRANSFER,
    Capability.VERIFICATION_RESEND, Capability.FORCE_SYNC, Capability.DNS_RECORDS,
    Capability.HOSTS,
})


# --- Values -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Money:
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class RegistrationRef:
    """How the core names a registration to its upstream: the ASCII name, and the
    upstream's own id where it has one (the Domain API's guid). Each adapter uses what
    its API keys registrations by."""

    name: str
    upstream_id: str = ""


class RegistrationState(StrEnum):
    """Registration statuses, as the mirror stores them (registrar.RegistrationStatus)."""

    ACTIVE = "active"
    PENDING = "pending"
    PENDING_TRANSFER = "pending_transfer"
    EXPIRED = "expired"
    REDEMPTION = "redemption"
    TRANSFERRED_OUT = "transferred_out"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ContactRecord:
    """An upstream contact, as `contacts.Contact` field values (`upstream_id` among
    them, when the upstream keeps contacts of its own)."""

    fields: dict[str, Any]
    split_from_upstream_id: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def upstream_id(self) -> int:
        return self.fields["upstream_id"]


@dataclass(frozen=True)
class RegistrationRecord:
    """An upstream registration: scalar `Registration` field values (only those the
    upstream stated: applying the record never invents a value), plus the related
    objects the mirror resolves separately (TLD, role contacts).

    `fields["upstream_id"]` is present where the upstream has ids of its own; otherwise
    the registration is keyed by its name."""

    fields: dict[str, Any]
    tld: dict[str, Any] = field(default_factory=dict)
    contacts: dict[str, ContactRecord | None] = field(default_factory=dict)
    feature_flags: dict[str, Any] = field(default_factory=dict)
    fees: dict[str, Money | None] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.fields["name"]

    @property
    def upstream_id(self) -> str:
        return str(self.fields.get("upstream_id") or "")

    @property
    def key(self) -> str:
        """What identifies it upstream: its id, else its name."""
        return self.upstream_id or self.name


@dataclass(frozen=True)
class ProcessInfo:
    """An upstream asynchronous process, as the 202 (or a poll) described it."""

    id: str
    status: str
    action: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProcessView:
    process: ProcessInfo
    log: list[dict[str, Any]]


@dataclass(frozen=True)
class RegistrationView:
    """One registration read live: the record, and what only a single read carries."""

    registration: RegistrationRecord
    dns_zone: dict[str, Any] | None = None
    linked_site: dict[str, Any] | None = None
    transfer_out: dict[str, Any] | None = None


@dataclass(frozen=True)
class ContactUpdate:
    """The outcome of a contact update. On a split, `contact` is the new contact (it
    backs `moved_registration_ids`) and `original` keeps the registrations that
    rejected the change."""

    contact: ContactRecord
    original: ContactRecord | None = None
    moved_registration_ids: list[str] = field(default_factory=list)
    kept_registration_ids: list[str] = field(default_factory=list)
    process: ProcessInfo | None = None
    request_id: str = ""

    @property
    def split(self) -> bool:
        return self.original is not None


@dataclass(frozen=True)
class DnssecKeyData:
    flags: int
    algorithm: int
    public_key: str

    def as_wire(self) -> dict[str, Any]:
        return {"flags": self.flags, "algorithm": self.algorithm, "publicKey": self.public_key}


@dataclass(frozen=True)
class RoleContactSource:
    """One role's new contact: same as the owner, an existing contact, or a new one."""

    source: Literal["same_as_owner", "existing", "new"]
    contact_id: int | None = None
    new_contact: Mapping[str, Any] | None = None


DnssecMode = Literal["enable", "disable", "add_keys"]
HolderMode = Literal["edit_current", "change"]
TransferDecision = Literal["approve", "reject"]
ContactRole = Literal["admin", "tech", "billing"]


# --- Results of a mutation --------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """The upstream applied the change. `changes` are mirror field values to apply;
    `record` is the refreshed upstream object when the answer carried one (the mirror
    applies it whole); `body` is the parsed response for callers that need more
    (scenario, changed, ...)."""

    changes: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""
    record: RegistrationRecord | None = None


@dataclass(frozen=True)
class Pending:
    """The upstream accepted the change and opened a process (HTTP 202)."""

    process: ProcessInfo
    body: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""
    record: RegistrationRecord | None = None


@dataclass(frozen=True)
class PaymentRequired:
    """A fee gate (HTTP 402): nothing changed; staff see the price and the portal link."""

    price: Money
    portal_url: str
    role: str = ""
    remediation: str = ""
    request_id: str = ""


Result = Done | Pending | PaymentRequired


# --- Orders -----------------------------------------------------------------------------


class OrderState(StrEnum):
    """Where an upstream order stands, in one vocabulary for every upstream. The values
    are Entri's status words, which cover the others; billing maps each to its own
    order status in one table."""

    AWAITING_PAYMENT = "payment_initiated"
    PAID = "payment_successful"
    PAYMENT_FAILED = "payment_failed"
    IN_PROGRESS = "registration_in_progress"
    COMPLETED = "registered"
    TRANSFERRED = "transferred"
    TRANSFER_STARTED = "transfer_started"
    TRANSFER_ACKNOWLEDGED = "transfer_ack"
    TRANSFER_COMPLETED = "transfer_completed"
    TRANSFER_SUCCEEDED = "transfer_success"
    TRANSFER_FAILED = "transfer_failed"
    REFUNDED = "refunded"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: The states in which the thing ordered was delivered: a registration exists.
DELIVERED_STATES = frozenset({
    OrderState.COMPLETED, OrderState.TRANSFERRED, OrderState.TRANSFER_COMPLETED,
    OrderState.TRANSFER_SUCCEEDED,
})


class OrderType(StrEnum):
    REGISTRATION = "registration"
    TRANSFER_IN = "transfer_in"
    RENEWAL = "renewal"
    REGISTRANT_CHANGE = "registrant_change"
    EMAIL_INFRASTRUCTURE = "email_infrastructure"


class OrderAction(StrEnum):
    """What staff can order for a domain."""

    REGISTER = "register"
    TRANSFER = "transfer"
    RENEW = "renew"


ORDER_TYPE_OF_ACTION = {OrderAction.REGISTER: OrderType.REGISTRATION,
                        OrderAction.TRANSFER: OrderType.TRANSFER_IN,
                        OrderAction.RENEW: OrderType.RENEWAL}


@dataclass(frozen=True)
class OrderLine:
    """One line of an order. Amounts left None were not stated by the upstream."""

    description: str
    domain: str = ""
    quantity: int = 1
    unit_amount_minor: int | None = None
    total_minor: int | None = None
    upstream_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderRecord:
    """An upstream order, as its upstream describes it.

    Every field left None (or empty) was not stated, and the mirror leaves what it has:
    a partial record (a status event) updates an order, and only a record with a
    currency can create one. `lines` None says nothing about the items;
    `lines_authoritative` False means they were made up from the record (no itemisation
    upstream) and only fill an order that has none. `local_id` is set when the adapter
    matched the record to one of the `KnownOrder`s it was given. `delivered` are the
    registrations the order made, as the upstream described them."""

    upstream_id: str | None
    state: OrderState
    type: OrderType | None = None
    domain: str = ""
    years: int | None = None
    currency: str | None = None
    subtotal_minor: int | None = None
    fees_minor: int | None = None
    total_minor: int | None = None
    refunded_minor: int | None = None
    status_reason: str = ""
    customer_reference: str = ""
    upstream_customer_id: str = ""
    placed_at: datetime | None = None
    lines: tuple[OrderLine, ...] | None = None
    lines_authoritative: bool = True
    registration_id: str = ""
    delivered: tuple[RegistrationRecord, ...] = ()
    local_id: int | None = None
    # The upstream took the money, whatever became of the order since (a Domain API
    # cart is paid at placement). None: the state says (charged states only).
    paid: bool | None = None


@dataclass(frozen=True)
class KnownOrder:
    """A local order, as plain values, for an adapter that must match upstream records
    to what was placed here (an upstream that lists domains, not orders)."""

    local_id: int
    upstream_id: str | None
    open: bool
    lines: tuple[OrderLine, ...] = ()


#: Called with a record of the wrong shape and its parse error; the record is skipped.
OnMalformed = Callable[[Any, Exception], None]


@dataclass(frozen=True)
class DomainQuoteRequest:
    """What staff ask a price for. `owner` is the registrant that would be sent: an
    upstream checks it against its own input rules at quote time, so what the
    placement would refuse is refused here, before anything is placed."""

    action: OrderAction
    domain: str  # ASCII
    years: int
    allow_acquisition: bool = False
    # For an upstream without a price endpoint: the most staff agree to pay.
    ceiling: Money | None = None
    owner: ContactRecord | None = None


@dataclass(frozen=True)
class DomainQuote:
    """What staff are shown before anything is placed. `total_minor` None: the upstream
    quotes no price for this (its own price for the term applies). `data` is kept on
    the local order and handed back to `place_domain_order`."""

    currency: str
    total_minor: int | None
    ceiling_minor: int | None = None
    purchase_type: str = "registration"
    premium: bool = False
    notes: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DomainOffer:
    """One name as an upstream offers it (DOMAIN_SEARCH): read only, nothing reserved or
    charged. A field left None (or empty) was not stated by the upstream.

    `term_price` is what the term asked for costs; `term_estimated` says it was worked
    out here from yearly prices rather than quoted for the term. `renewal_price` is per
    year. `purchase_type` uses name.com's words (registration, aftermarket_s, ...)."""

    domain: str  # ASCII
    available: bool | None
    premium: bool | None = None
    purchase_type: str = ""
    term_years: int | None = None
    term_price: Money | None = None
    term_estimated: bool = False
    renewal_price: Money | None = None
    reason: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DomainPlacement:
    """A confirmed quote, to place. `owner` is the registrant (ContactRecord field values,
    with its `upstream_id` where the upstream keeps contacts); `auth_code` is sent once
    and never kept."""

    action: OrderAction
    domain: str
    years: int
    quote: Mapping[str, Any]
    currency: str
    quoted_total_minor: int | None
    idempotency_key: str
    customer_reference: str
    owner: ContactRecord | None = None
    auth_code: str = field(default="", repr=False)
    # When it was (first) sent: what an upstream lists from before is another order.
    placed_at: datetime | None = None
    # The customer the order is for: their e-mail, and the upstream's id for them where
    # it keeps customers (an upstream that asks for either at placement).
    customer_email: str = ""
    customer_upstream_id: str = ""
    # AUTO_CONNECT: {"origin_url", "keep_host"}: serve the new domain from the upstream's
    # edge as part of the purchase (None: do not).
    auto_connect: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class PlacedOrder:
    """The upstream took the order (or charged and refunded it). `estimated`: the
    amounts were not stated, so the record carries the most they can have been."""

    record: OrderRecord
    request_id: str = ""
    estimated: bool = False
    # AUTO_CONNECT: the upstream's id of the edge connection it made ("" when none).
    connected_domain_id: str = ""


@dataclass(frozen=True)
class ZoneHint:
    """ZONE_CHECK: whether a name looks free in the registry's DNS zone (cached zone
    files). A hint for browsing only: never availability, a purchase type or a price."""

    domain: str  # ASCII
    free_in_zone: bool | None


@dataclass(frozen=True)
class TldListPrice:
    """TLD_LIST_PRICES: a TLD's standard (non-premium) list prices for a term. Never a
    name's exact price: a premium or acquisition name costs something else."""

    tld: str  # ASCII, no dot
    years: int
    registration: Money | None = None
    renewal: Money | None = None
    transfer: Money | None = None


@dataclass(frozen=True)
class EmailPlan:
    """EMAIL_ORDER_TOOLS: one billing cycle of one mailbox provider, with its prices as
    the upstream lists them (None: not stated)."""

    email_service_provider: str
    plan_type: str
    mailbox_price: Money | None = None
    domain_price: Money | None = None


@dataclass(frozen=True)
class DomainConnection:
    """DOMAIN_CONNECT: the upstream's edge row for a domain it now serves."""

    domain: str
    upstream_id: str
    status: str = ""
    request_id: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EmailOrderPlaced:
    """An email-infrastructure order the upstream took. `checkout_url` (https only) is
    where the customer pays; empty for a free order, and when the upstream sent a link
    that is not an https URL (`checkout_refused`: payment is needed, but there is no
    link to hand on)."""

    record: OrderRecord
    checkout_url: str = ""
    request_id: str = ""
    body: dict[str, Any] = field(default_factory=dict)
    checkout_refused: bool = False


@dataclass(frozen=True)
class TransferOutStarted:
    """TRANSFER_OUT_START: the upstream started a transfer to another registrar and
    handed over the auth code. `auth_code` is a secret: shown once, never stored or
    logged, kept out of the repr. `changes` are mirror field values to apply."""

    auth_code: str = field(repr=False)
    status: str = ""
    changes: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""


@dataclass(frozen=True)
class PushedEvent:
    """One webhook delivery: its id (deliveries are applied once per id), its type,
    and the order it updates (None for a type that is only stored)."""

    event_id: str
    event_type: str
    order: OrderRecord | None = None


# --- The interface -------------------------------------------------------------------------


class Provider:
    """Base of every adapter.

    Subclasses declare `capabilities` and implement the hooks for them; the core checks
    `supports()` (or the class's `capabilities`, when no client is needed) before it
    offers or calls one. Every hook that is not implemented raises `Unsupported`.
    """

    kind: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    # --- configuration (read without building a client) --------------------------------
    #: The account must name an environment variable holding its secret.
    requires_secret: ClassVar[bool] = True
    #: The account reference (X-Auth-Account, applicationId, API user) is required.
    requires_account_ref: ClassVar[bool] = False

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this kind cannot be used on this installation at all, or None."""
        return None

    @classmethod
    def default_secret(cls) -> str:
        """The secret to use when the account's variable is unset ("" = none: refuse)."""
        return ""

    @classmethod
    def default_transport(cls) -> httpx.BaseTransport | None:
        """The transport to reach the upstream when tests do not plug one in."""
        return None

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        account_ref: str = "",
        timeout: float = 15.0,
        user_agent: str = "registrar-backoffice",
        transport: httpx.BaseTransport | None = None,
        label: str = "",
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.label = label or self.kind

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def ping(self) -> None:
        """The cheapest authorised read: raises ProviderError if unreachable or refused."""
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - overridden where there is a client
        pass

    def _unsupported(self, what: str) -> Unsupported:
        return Unsupported(f"{self.display_name or self.kind} does not offer {what}.",
                           code="unsupported")

    # --- registration operations ----------------------------------------------------------
    # Each answers Done (applied), Pending (a process is following it) or
    # PaymentRequired (a fee gate: nothing changed), or raises ProviderError.

    def set_lock(self, ref: RegistrationRef, locked: bool) -> Result:
        """LOCK: the registrar transfer lock on or off."""
        raise self._unsupported("a transfer lock")

    def set_privacy(self, ref: RegistrationRef, privacy_protect: bool) -> Result:
        """PRIVACY: WHOIS privacy on or off (a fee gate where the TLD bills it)."""
        raise self._unsupported("WHOIS privacy")

    def set_dnssec(self, ref: RegistrationRef, mode: DnssecMode,
                   keys: Sequence[DnssecKeyData] = ()) -> Result:
        """DNSSEC: enable with keys, disable, or add keys."""
        raise self._unsupported("DNSSEC")

    def set_auto_renew(self, ref: RegistrationRef, auto_renew: bool) -> Result:
        """AUTO_RENEW: Done.body may carry `scenario` (how a cancel was refunded)."""
        raise self._unsupported("auto-renew")

    def set_nameservers(self, ref: RegistrationRef, nameservers: Sequence[str]) -> Result:
        """NAMESERVERS: replace the delegation, in the order given."""
        raise self._unsupported("nameserver changes")

    def update_holder(self, ref: RegistrationRef, *, action_mode: HolderMode,
                      holder: Mapping[str, Any] | None = None,
                      confirm_reverification: bool = False,
                      source_contact_id: int | None = None,
                      new_contact: Mapping[str, Any] | None = None) -> Result:
        """HOLDER_EDIT / HOLDER_CHANGE: edit the owner contact in place, or replace it
        with an existing (`source_contact_id`) or a new contact."""
        raise self._unsupported("holder changes")

    def order_registrant_change(self, ref: RegistrationRef, *, idempotency_key: str,
                                source_contact_id: int | None = None,
                                new_contact: Mapping[str, Any] | None = None) -> PlacedOrder:
        """REGISTRANT_CHANGE_ORDER: the paid registrant change, as an order, under the
        local order's `idempotency_key`: sent again with the same key (a retry, or
        settling a lost answer), it answers with the first order and charges once."""
        raise self._unsupported("paid registrant changes")

    def set_role_contacts(self, ref: RegistrationRef,
                          roles: Mapping[ContactRole, RoleContactSource]) -> Result:
        """ROLE_CONTACTS: the admin, tech and billing contacts given; others stay."""
        raise self._unsupported("role contacts")

    def get_auth_code(self, ref: RegistrationRef) -> str:
        """AUTH_CODE: the EPP code. The caller shows it once, never stores or logs it."""
        raise self._unsupported("the auth code")

    def start_transfer_out(self, ref: RegistrationRef) -> TransferOutStarted:
        """TRANSFER_OUT_START: start the transfer away; the answer's auth code is shown
        once by the caller, never stored or logged."""
        raise self._unsupported("starting an outbound transfer")

    def force_sync(self, ref: RegistrationRef) -> Done:
        """FORCE_SYNC: have the upstream re-read the registry; Done carries the record."""
        raise self._unsupported("a forced re-sync")

    def decide_transfer_out(self, ref: RegistrationRef, decision: TransferDecision) -> Result:
        """TRANSFER_OUT_DECISION: approve or reject a waiting outbound transfer."""
        raise self._unsupported("outbound transfer decisions")

    def push_transfer(self, ref: RegistrationRef, recipient: str) -> Result:
        """PUSH_TRANSFER: move the registration to another registrar's account."""
        raise self._unsupported("push transfers")

    def resend_holder_verification(self, ref: RegistrationRef) -> str:
        """VERIFICATION_RESEND: the upstream's status or message."""
        raise self._unsupported("verification e-mails")

    def get_dns_records(self, ref: RegistrationRef) -> list[dict[str, Any]]:
        """DNS_RECORDS: the zone's records ({host, type, value, ttl})."""
        raise self._unsupported("DNS records")

    def replace_dns_records(self, ref: RegistrationRef,
                            records: Sequence[Mapping[str, Any]]) -> Done:
        """DNS_RECORDS: replace every record of the zone. The records are validated
        (`clean_dns_records`) before anything is sent; Done.changes carries the zone as
        the mirror keeps it."""
        raise self._unsupported("DNS records")

    @classmethod
    def clean_dns_records(cls, records: Any) -> list[dict[str, Any]]:
        """DNS_RECORDS: validate and normalise records by this upstream's rules, sending
        nothing. Raises django's ValidationError with one message per problem."""
        raise Unsupported(f"{cls.display_name or cls.kind} does not host DNS records.")

    # --- registration reads -------------------------------------------------------------

    def iter_registrations(self, *, name: str | None = None,
                           page_size: int = 100) -> Iterator[RegistrationRecord]:
        """REGISTRATION_SYNC: every registration of the account, page by page (lazily),
        or only the one called `name` (ASCII)."""
        raise self._unsupported("a registration list")

    def get_registration(self, ref: RegistrationRef) -> RegistrationView:
        """REGISTRATION_READ: one registration, read live."""
        raise self._unsupported("registration reads")

    # --- glue hosts ---------------------------------------------------------------------

    def list_hosts(self, ref: RegistrationRef) -> list[dict[str, Any]]:
        """HOSTS: [{host_name, addresses: [{address}]}]."""
        raise self._unsupported("glue hosts")

    def create_host(self, ref: RegistrationRef, host_name: str,
                    addresses: Sequence[str]) -> dict[str, Any]:
        raise self._unsupported("glue hosts")

    def update_host(self, ref: RegistrationRef, host_name: str,
                    addresses: Sequence[str]) -> dict[str, Any]:
        raise self._unsupported("glue hosts")

    def delete_host(self, ref: RegistrationRef, host_name: str) -> str:
        raise self._unsupported("glue hosts")

    # --- processes ----------------------------------------------------------------------

    def list_processes(self, ref: RegistrationRef) -> list[ProcessInfo]:
        """PROCESSES: the registration's processes, open and ended."""
        raise self._unsupported("registrar processes")

    def get_process(self, ref: RegistrationRef, process_id: str) -> ProcessView:
        raise self._unsupported("registrar processes")

    def resend_process(self, ref: RegistrationRef, process_id: str) -> str:
        raise self._unsupported("registrar processes")

    def cancel_process(self, ref: RegistrationRef, process_id: str) -> str:
        raise self._unsupported("registrar processes")

    # --- contacts -----------------------------------------------------------------------

    def list_contacts(self, q: str | None = None) -> list[ContactRecord]:
        """CONTACTS: the account's contacts (a substring filter where supported)."""
        raise self._unsupported("contacts")

    def iter_contacts(self, *, q: str | None = None,
                      page_size: int = 100) -> Iterator[ContactRecord]:
        """CONTACT_LIST: every contact of the account, page by page (lazily), or those
        the substring `q` matches where the upstream filters."""
        raise self._unsupported("a contact list")

    def get_contact(self, contact_id: int) -> ContactRecord:
        raise self._unsupported("contacts")

    def create_contact(self, *, contact: Mapping[str, Any], tld_id: int | None = None,
                       tld_name: str | None = None) -> ContactRecord:
        raise self._unsupported("contacts")

    def update_contact(self, contact_id: int, *, contact: Mapping[str, Any],
                       tld_id: int | None = None,
                       tld_name: str | None = None) -> ContactUpdate:
        raise self._unsupported("contacts")

    def delete_contact(self, contact_id: int, *, tld_id: int | None = None,
                       tld_name: str | None = None) -> str:
        raise self._unsupported("contacts")

    def resend_contact_verification(self, contact_id: int) -> str:
        raise self._unsupported("contacts")

    # --- domain orders --------------------------------------------------------------------
    #: What staff may order here, and what each order needs from them.
    ordering_actions: ClassVar[frozenset[OrderAction]] = frozenset()
    #: Actions that need the registrant chosen at quote time.
    order_owner_required: ClassVar[frozenset[OrderAction]] = frozenset()
    #: The registrant must already exist upstream (its id is sent, not its fields).
    order_owner_upstream: ClassVar[bool] = False
    #: No price endpoint: staff give the ceiling the upstream must stay under.
    order_ceiling_required: ClassVar[bool] = False
    #: A registration is ordered for exactly this many years (the order takes no term);
    #: None: staff choose the term.
    order_fixed_term_years: ClassVar[int | None] = None
    #: After a placement whose answer was lost, an order the upstream still does not show
    #: once ORDER_SETTLE_GRACE_MINUTES have passed was not placed. Where the upstream can
    #: hold an order it does not show (one not paid yet), this is "" and the order is
    #: left for a person instead; otherwise it says why (for staff).
    unshown_order_not_placed: ClassVar[str] = "it would show a placed order by now"

    def quote_domain_order(self, request: DomainQuoteRequest) -> DomainQuote:
        """DOMAIN_ORDERS: availability and price, sending nothing that costs money.
        Raises QuoteRefused (with its rule) when the order cannot be placed."""
        raise self._unsupported("domain orders")

    def place_domain_order(self, placement: DomainPlacement) -> PlacedOrder:
        """DOMAIN_ORDERS: re-check the quote right before placing (PriceMoved, nothing
        sent, if it moved), then place it with `placement.idempotency_key`, so a retry of
        the same local order never charges twice."""
        raise self._unsupported("domain orders")

    def settle_placement(self, placement: DomainPlacement) -> OrderRecord | None:
        """DOMAIN_ORDERS: after a placement whose answer was lost, what became of it,
        found without placing it twice: the upstream's order, or None when the upstream
        shows none (yet). Raises ProviderError when it cannot tell now, and Unsupported
        where this upstream gives no way to tell (a person checks)."""
        raise self._unsupported("a way to find a placed order")

    def order_idempotency_key(self, local_order_id: int | str) -> str:
        """The Idempotency-Key of a local order: the same order always sends the same."""
        return f"backoffice-order-{local_order_id}"

    # --- following and mirroring orders -------------------------------------------------------
    #: Upstream states after which an order's record no longer changes: the mirror stops
    #: reading such an order.
    final_order_states: ClassVar[frozenset[OrderState]] = frozenset()
    #: `iter_orders` needs the local orders (`known`) to tell which order a record is.
    order_mirror_needs_known: ClassVar[bool] = False

    def read_order(self, upstream_id: str) -> OrderRecord:
        """ORDER_FOLLOW: one order, read again (NotFound when the upstream has none)."""
        raise self._unsupported("order reads")

    def check_order_status(self, upstream_id: str) -> OrderRecord:
        """ORDER_STATUS: where one placed order stands now, as the upstream checks it
        (a partial record: its id and state). NotFound when the upstream has none."""
        raise self._unsupported("order status checks")

    def iter_orders(self, *, known: Sequence[KnownOrder] = (),
                    on_malformed: OnMalformed | None = None) -> Iterator[OrderRecord]:
        """ORDER_MIRROR: every order the upstream lists. `known` describes the local
        orders, for upstreams whose list needs matching to them. A record of the wrong
        shape raises MalformedResponse, or, with `on_malformed`, is handed to it and
        skipped."""
        raise self._unsupported("an order list")

    # --- domain search ------------------------------------------------------------------

    def domain_offer(self, domain: str, *, years: int) -> DomainOffer:
        """DOMAIN_SEARCH: whether `domain` (ASCII) is free here, and at what price for
        `years`; reads only. Raises ProviderError when the upstream cannot say."""
        raise self._unsupported("a domain search")

    def domain_suggestions(self, base: str, *, tlds: Sequence[str],
                           years: int) -> list[DomainOffer]:
        """DOMAIN_SEARCH: other names on offer like `base` (a label, ASCII), in `tlds`
        where the upstream takes a TLD filter; reads only."""
        raise self._unsupported("domain suggestions")

    def zone_check(self, domains: Sequence[str]) -> list[ZoneHint]:
        """ZONE_CHECK: one batch of names (ASCII) against cached DNS zones; names the
        upstream drops from the batch are simply absent. Reads only."""
        raise self._unsupported("a zone check")

    def tld_list_prices(self, tlds: Sequence[str], *, years: int) -> list[TldListPrice]:
        """TLD_LIST_PRICES: the list prices of `tlds` (ASCII, no dot) for `years`; TLDs
        the upstream does not sell are absent. Reads only."""
        raise self._unsupported("TLD list prices")

    # --- edge connections -------------------------------------------------------------------

    def connect_domain(self, domain: str, *, idempotency_key: str) -> DomainConnection:
        """DOMAIN_CONNECT: have the upstream serve `domain` (ASCII) from its edge (a TLS
        certificate, proxying). Sent with `idempotency_key`, so a retry connects once."""
        raise self._unsupported("connecting a domain")

    # --- email-infrastructure orders -------------------------------------------------------
    #: The choices an order form offers: mailbox providers, and billing cycles as
    #: (value, label), the first being the upstream's default.
    email_service_providers: ClassVar[tuple[str, ...]] = ()
    email_plan_choices: ClassVar[tuple[tuple[str, str], ...]] = ()

    @classmethod
    def clean_email_order(cls, *, owner: Mapping[str, Any], email_service_provider: str,
                          domains: Sequence[Mapping[str, Any]], plan_type: str,
                          is_replacement: bool = False,
                          is_free_order: bool = False) -> dict[str, Any]:
        """EMAIL_ORDERS: the order as it would be sent, or ValidationError keyed by
        field, sending nothing."""
        raise Unsupported(f"{cls.display_name or cls.kind} does not sell email "
                          "infrastructure.")

    @classmethod
    def email_order_record(cls, body: Mapping[str, Any]) -> OrderRecord:
        """EMAIL_ORDERS: the order a `clean_email_order` body makes, before any answer
        (its lines): kept when the placement's answer is lost, to settle it later."""
        raise Unsupported(f"{cls.display_name or cls.kind} does not sell email "
                          "infrastructure.")

    def place_email_order(self, *, owner: Mapping[str, Any], email_service_provider: str,
                          domains: Sequence[Mapping[str, Any]], plan_type: str,
                          is_replacement: bool = False,
                          is_free_order: bool = False) -> EmailOrderPlaced:
        """EMAIL_ORDERS: place the order once (never retried without a key upstream)."""
        raise self._unsupported("email infrastructure")

    def email_plans(self) -> list[EmailPlan]:
        """EMAIL_ORDER_TOOLS: the plans on sale and their prices. Reads only."""
        raise self._unsupported("email plans")

    def email_domain_candidates(self, query: str) -> list[DomainOffer]:
        """EMAIL_ORDER_TOOLS: domains on offer for `query` (a name or a keyword), to pick
        for an order. Reads only: nothing is reserved."""
        raise self._unsupported("a domain search for email orders")

    def suggest_mailbox_names(self, *, first_name: str, last_name: str, domain: str,
                              count: int) -> list[str]:
        """EMAIL_ORDER_TOOLS: up to `count` mailbox addresses for a sender on `domain`.
        Reads only: nothing is reserved."""
        raise self._unsupported("mailbox-name suggestions")

    def refresh_email_order(self, known: KnownOrder, *, max_polls: int = 1,
                            interval: float = 0.0,
                            sleep: Callable[[float], None] | None = None
                            ) -> OrderRecord | None:
        """EMAIL_ORDERS: where provisioning stands (None: nothing to say yet)."""
        raise self._unsupported("email infrastructure")

    # --- billing ----------------------------------------------------------------------------

    def billing_link(self, *, email: str, return_url: str) -> str:
        """BILLING_LINK: a short-lived https link to the customer's billing portal.
        Show it once; never store or log it."""
        raise self._unsupported("billing-portal links")

    # --- webhooks ---------------------------------------------------------------------------

    @classmethod
    def parse_webhook(cls, payload: Mapping[str, Any]) -> PushedEvent:
        """WEBHOOKS: one delivery, already authenticated and parsed as a JSON object.
        Raises ValueError (answered 400, nothing stored) for one of the wrong shape."""
        raise ValueError(f"{cls.display_name or cls.kind} sends no webhooks.")

