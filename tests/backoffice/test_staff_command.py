"""`manage.py staff`: the staff second-factor page from a shell, superusers only, a
reset confirmed by the superuser's own fresh code."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice.models import StaffAction
from tests.factories import UserFactory
from tests.mfa import enrol_totp, totp_code


def run(*argv: str) -> str:
    out = StringIO()
    call_command("staff", *argv, stdout=out)
    return out.getvalue()


@pytest.fixture
def boss(db, settings):
    settings.STAFF_MFA_REQUIRED = True
    return UserFactory(username="boss", is_superuser=True)


def test_a_reset_needs_the_superusers_own_code_and_is_audited(boss, support_user):
    enrol_totp(support_user)
    StaticDevice.objects.create(user=support_user, name="Backup codes", confirmed=True)
    own = enrol_totp(boss)
    with pytest.raises(CommandError, match="--otp"):
        run("reset-second-factor", "support-test", "--as", "boss")
    assert TOTPDevice.objects.filter(user=support_user).exists()
    assert not StaffAction.objects.filter(action="security.second_factor_reset").exists()

    out = run("reset-second-factor", "support-test", "--as", "boss", "--otp", totp_code(own))
    assert "2 device(s) removed" in out
    assert not TOTPDevice.objects.filter(user=support_user).exists()
    assert not StaticDevice.objects.filter(user=support_user).exists()
    row = StaffAction.objects.get(action="security.second_factor_reset")
    assert (row.actor, row.target_id, row.channel) == (boss, str(support_user.pk), "cli")


def test_a_wrong_code_removes_nothing(boss, support_user):
    enrol_totp(support_user)
    enrol_totp(boss)
    with pytest.raises(CommandError, match="--otp"):
        run("reset-second-factor", "support-test", "--as", "boss", "--otp", "000000")
    assert TOTPDevice.objects.filter(user=support_user).exists()
    assert not StaffAction.objects.filter(action="security.second_factor_reset").exists()


def test_a_dry_run_checks_everything_and_removes_nothing(boss, support_user):
    enrol_totp(support_user)
    own = enrol_totp(boss)
    with pytest.raises(CommandError, match="--otp"):
        run("reset-second-factor", "support-test", "--as", "boss", "--dry-run")
    out = run("reset-second-factor", "support-test", "--as", "boss", "--dry-run",
              "--otp", totp_code(own))
    assert "Would reset" in out and "totp" in out
    assert TOTPDevice.objects.filter(user=support_user).exists()
    assert not StaffAction.objects.exists()


def test_only_a_superuser_may_list_or_reset(boss, admin_user_role, support_user):
    enrol_totp(support_user)
    for argv in (("list",), ("reset-second-factor", "support-test")):
        with pytest.raises(CommandError, match="only a superuser"):
            run(*argv, "--as", "admin-test")
    assert TOTPDevice.objects.filter(user=support_user).exists()


def test_the_list_shows_who_holds_which_factor(boss, support_user, finance_user):
    enrol_totp(support_user)
    rows = json.loads(run("list", "--as", "boss", "--format", "json"))
    held = {row["username"]: row["second_factors"] for row in rows}
    assert held["support-test"] == "totp" and held["finance-test"] == "none"
    assert "3 staff user(s)." in run("list", "--as", "boss")
