"""Endpoints the upstreams push events to: POST /webhooks/<kind>/<label>/.

Neither document specifies a signature, so each provider account has a shared secret
(the environment variable named in its options as `webhook_secret_env`, by default
<LABEL>_WEBHOOK_SECRET) that the sender puts in the X-Webhook-Secret header. See
docs/webhooks.md for the payloads.
"""

from __future__ import annotations

import hmac
import json
import os

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.services import WebhookPayloadError, webhook_receive
from registrar.models import ProviderAccount

MAX_BODY = 256 * 1024


def webhook_secret(account: ProviderAccount) -> str:
    name = (account.options or {}).get("webhook_secret_env") or (
        f"{account.label.upper().replace('-', '_')}_WEBHOOK_SECRET")
    return os.environ.get(name, "")


@csrf_exempt  # authenticated by the shared secret, not by a browser session
@require_POST
def receive(request: HttpRequest, kind: str, label: str) -> JsonResponse:
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
