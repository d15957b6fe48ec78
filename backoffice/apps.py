import contextlib

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate


class BackofficeAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, with the back-office's own AdminSite as `admin.site`."""

    default = False
    default_site = "backoffice.sites.BackofficeAdminSite"


class BackofficeConfig(AppConfig):
    default = True
    name = "backoffice"
    verbose_name = "Back-office"

    def ready(self) -> None:
        # Registers the deploy checks (`check --deploy`).
        from backoffice import checks  # noqa: F401

        post_migrate.connect(_ensure_roles, sender=self)
        _unregister_device_admins()


def _ensure_roles(sender, using="default", **kwargs) -> None:
    # Runs after every migrate (and after test flushes), once every app's
    # permissions exist, so the three groups are always present and exact.
    from backoffice.roles import setup_roles

    # A partial migrate (some apps not yet migrated) lacks permissions: the next
    # full one sets the roles up.
    with contextlib.suppress(LookupError):
        setup_roles(using=using)


def _unregister_device_admins() -> None:
    # django-otp's own admin pages show a TOTP key's QR code and edit or delete devices
    # with no audit row. Second factors are set up and reset on the back-office's own,
    # audited pages (backoffice/security/) instead.
    from django.contrib import admin
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for model in (TOTPDevice, StaticDevice):
        if admin.site.is_registered(model):
            admin.site.unregister(model)
