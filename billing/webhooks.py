"""Endpoints the upstreams push events to: POST /webhooks/<kind>/<label>/.

Neither document specifies a signature, so each provider account has a shared secret
(the environment variable named in its options as `webhook_secret_env`, by default
PROVIDER_SECRET_<LABEL>_WEBHOOK; like every provider secret it must start with
PROVIDER_SECRET_) that the sender puts in the X-Webhook-Secret header. See
docs/webhooks.md for the payloads.
"""

from __future__ import annotations

import hmac
import json
import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from backoffice import assurance
from billing.services import WebhookPayloadError, webhook_receive
from registrar.models import ProviderAccount
from registrar.providers.errors import ConfigurationError
from registrar.providers.secrets import read_secret, secret_prefix

logger = logging.getLogger(__name__)

MAX_BODY = 256 * 1024


def webhook_secret_env(account: ProviderAccount) -> str:
    """The variable holding `account`'s webhook secret: its option, else the default."""
    named = (account.options or {}).get("webhook_secret_env")
    if named:
        return str(named)
    return f"{secret_prefix()}{account.label.upper().replace('-', '_')}_WEBHOOK"


def webhook_secret(account: ProviderAccount) -> str:
    """The shared secret, or "" when none is configured or the option names a variable
    outside the provider-secret prefix (such an account accepts no webhook)."""
    try:
        return read_secret(webhook_secret_env(account), account_label=account.label,
                           what="webhook secret")
    except ConfigurationError as error:
        logger.warning("webhook for %s refused: %s", account.label, error.message)
        return ""


@csrf_exempt  # authenticated by the shared secret, not by a browser session
@require_POST
def receive(request: HttpRequest, kind: str, label: str) -> JsonResponse:
    # An upstream pushed this, not a staff session: what it changes is audited as such.
    with assurance.acting(assurance.Channel.WEBHOOK):
        return _receive(request, kind, label)


def _receive(request: HttpRequest, kind: str, label: str) -> JsonResponse:
    account = ProviderAccount.objects.filter(kind=kind, label=label, enabled=True).first()
    if account is None:
        return JsonResponse({"error": "unknown provider account"}, status=404)
    secret = webhook_secret(account)
    if not secret:
        return JsonResponse({"error": "webhooks are not configured for this account"},
                            status=503)
    given = request.headers.get("X-Webhook-Secret", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        return JsonResponse({"error": "bad secret"}, status=401)
    if len(request.body) > MAX_BODY:
        return JsonResponse({"error": "payload too large"}, status=400)
    try:
        payload = json.loads(request.body)
        if not isinstance(payload, dict):
            raise ValueError("not an object")
        # The upstream's own parser reads the event (registrar/providers/<kind>/).
        status = webhook_receive(account=account, payload=payload)
    except (ValueError, WebhookPayloadError) as exc:
        return JsonResponse({"error": f"bad payload: {exc}"}, status=400)
    return JsonResponse({"status": status})
