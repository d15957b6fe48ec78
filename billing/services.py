"""Order-side services: events an upstream pushes, applied to orders."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from backoffice import audit
from backoffice.models import StaffAction
from billing.models import WebhookEvent
from billing.order_sync import RECORD_ERRORS, upsert_record
from registrar.models import ProviderAccount
from registrar.providers.base import Capability
from registrar.providers.registry import adapter_class
from registrar.sync import changes_for_audit

WEBHOOK_ACTION = "order.webhook"
#: A stored event that would have moved its order backwards.
OUT_OF_ORDER = "out_of_order"


class WebhookPayloadError(ValueError):
    """The event is malformed: answered 400, nothing stored."""


def webhook_receive(*, account: ProviderAccount, payload: Mapping[str, Any]) -> str:
    """Apply one pushed event: "applied", "ignored" (stored, but a type that updates
    nothing, or about an order that is not here), "out_of_order" (stored and flagged: it
    would have moved its order backwards) or "duplicate" (seen before: nothing
    changes). Raises WebhookPayloadError (nothing
    stored) for an event its upstream's parser refuses."""
    if not account.supports(Capability.WEBHOOKS):
        raise WebhookPayloadError(f"{account.get_kind_display()} sends no webhooks.")
    try:
        event = adapter_class(account.kind).parse_webhook(payload)
    except ValueError as exc:
        raise WebhookPayloadError(str(exc)) from exc
    try:
        with transaction.atomic():
            if WebhookEvent.objects.filter(provider_account=account,
                                           event_id=event.event_id).exists():
                return "duplicate"
            order, changes = None, {}
            if event.order is not None:
                try:
                    applied_to = upsert_record(account, event.order, audited=False,
                                               actor_label=f"webhook:{account.label}")
                except RECORD_ERRORS as exc:
                    raise WebhookPayloadError(f"Unreadable order: {exc}") from exc
                order, changes = applied_to.order, applied_to.changes
                if applied_to.stale is not None:
                    # Late or out of order: kept and flagged, never applied backwards.
                    WebhookEvent.objects.create(
                        provider_account=account, event_id=event.event_id,
                        event_type=event.event_type, payload=dict(payload), order=order,
                        outcome=OUT_OF_ORDER)
                    return OUT_OF_ORDER
            # An event about an order not here (yet) is kept, and applies to nothing.
            applied = order is not None
            WebhookEvent.objects.create(provider_account=account, event_id=event.event_id,
                                        event_type=event.event_type, payload=dict(payload),
                                        order=order,
                                        outcome="applied" if applied else "ignored")
            if order is not None:
                audit.record(
                    actor=None, actor_label=f"webhook:{account.label}", action=WEBHOOK_ACTION,
                    target=order, parameters={"event": event.event_id,
                                              "type": event.event_type,
                                              "status": order.status,
                                              "changes": changes_for_audit(changes)},
                    outcome=StaffAction.Outcome.SUCCEEDED,
                    message=f"{event.event_type} from {account.label}: order {order.pk} is "
                            f"{order.get_status_display()}.")
    except IntegrityError:
        # The same event delivered twice at once (the other one won) is a duplicate; any
        # other broken constraint is the event's fault, and is raised for a 400.
        if WebhookEvent.objects.filter(provider_account=account,
                                       event_id=event.event_id).exists():
            return "duplicate"
        raise
    return "applied" if applied else "ignored"
