"""The page shown after too many failed logins (django-axes calls `lockout_response`)."""

from __future__ import annotations

from axes.helpers import get_client_ip_address, get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.db.models import Max
from django.shortcuts import render
from django.utils import timezone


def lockout_response(request, original_response=None, credentials=None):
    username = get_client_username(request, credentials) or ""
    cool_off = get_cool_off(request)
    retry_at = None
    if cool_off:
        # The cool-off counts from the last failure that was recorded (failures while
        # locked out do not extend it).
        last = AccessAttempt.objects.filter(
            username=username,
            ip_address=getattr(request, "axes_ip_address", None) or get_client_ip_address(request),
        ).aggregate(last=Max("attempt_time"))["last"]
        retry_at = (last or timezone.now()) + cool_off
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed logins",
        "username": username,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "retry_at": retry_at,
        "cool_off_minutes": int(cool_off.total_seconds() // 60) if cool_off else None,
    }
    return render(request, settings.AXES_LOCKOUT_TEMPLATE, context,
                  status=getattr(settings, "AXES_HTTP_RESPONSE_CODE", 429))
