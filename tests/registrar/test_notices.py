"""Customer renewal notices (ICANN Expired Registration Recovery Policy) over the whole
schedule, with the clock pinned through `now`: what goes out and when, to whom, what it
says, once only (reruns, two runs at once, a run that died mid-send), a renewal in
between, the registrations that get none, suppression, the timeline, the registration
page and `manage.py send_notices`."""

from __future__ import annotations

import html
import json
import os
import re
import smtplib
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from backoffice import timeline
from backoffice.models import StaffAction
from registrar import notices
from registrar.models import (
    NoticeOutcome,
    NoticeSuppression,
    Registration,
    RegistrationStatus,
    RenewalNotice,
)
from registrar.operations import InvalidInput
from tests.factories import AccountFactory, ContactFactory, RegistrationFactory

ROOT = Path(__file__).resolve().parents[2]
EXPIRES = datetime(2027, 3, 15, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def days(count: float) -> timedelta:
    return timedelta(days=count)


class RefusingBackend(BaseEmailBackend):
    """A mail server that refuses every message (the SMTP boundary)."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"mailbox unavailable")})


@pytest.fixture
def domain(db):
    account = AccountFactory(name="Bücher GmbH", email="billing@buecher.example")
    return RegistrationFactory(name="bücher.com", account=account, expires_at=EXPIRES,
                               auto_renew=False)


def run(now: datetime, **options) -> notices.RunReport:
    return notices.send_due_notices(now=now, **options)


# --- the schedule, once each ----------------------------------------------------------


def test_the_three_notices_go_out_over_the_schedule_each_once(domain):
    moments = [EXPIRES - days(45), EXPIRES - days(30) + HOUR, EXPIRES - days(29),
               EXPIRES - days(7) + HOUR, EXPIRES - days(6), EXPIRES,
               EXPIRES + days(3) + HOUR, EXPIRES + days(4), EXPIRES + days(6)]
    sent_at = {}
    for moment in moments:
        before = len(mail.outbox)
        report = run(moment)
        assert len(mail.outbox) - before == len(report.sent)
        for notice in report.sent:
            sent_at[notice.point] = moment
        # A rerun at the same moment sends nothing new.
        assert run(moment).sent == [] and len(mail.outbox) - before == len(report.sent)
    assert sent_at == {"month_before": EXPIRES - days(30) + HOUR,
                       "week_before": EXPIRES - days(7) + HOUR,
                       "after_expiry": EXPIRES + days(3) + HOUR}
    assert len(mail.outbox) == 3
    rows = RenewalNotice.objects.filter(registration=domain).order_by("offset_days")
    assert [(row.point, row.outcome, row.recipient, row.recipient_source, row.expiry_date)
            for row in rows] == [
        (point, NoticeOutcome.SENT, "billing@buecher.example", "account", EXPIRES.date())
        for point in ("month_before", "week_before", "after_expiry")]
    assert all(row.sent_at and row.message_id for row in rows)
    # The Message-ID recorded is the one the e-mail carried.
    assert sorted(m.extra_headers["Message-ID"] for m in mail.outbox) == sorted(
        row.message_id for row in rows)


def test_the_e_mail_names_the_domain_the_expiry_and_how_to_renew(domain, settings):
    settings.NOTICE_RENEW_URL = "https://shop.example/renew?domain={domain}"
    settings.NOTICE_SUPPORT_EMAIL = "help@shop.example"
    settings.NOTICE_SUPPORT_PHONE = "+44 20 7946 0000"
    run(EXPIRES - days(30) + HOUR)
    (message,) = mail.outbox
    assert message.to == ["billing@buecher.example"]
    assert message.reply_to == ["help@shop.example"]
    assert message.subject == "Your domain bücher.com expires on 15 March 2027: renew it"
    for body in (message.body, message.alternatives[0][0]):
        assert "bücher.com" in body and "(xn--bcher-kva.com)" in body
        assert "15 March 2027" in body and "in 30 days" in body
        assert "https://shop.example/renew?domain=xn--bcher-kva.com" in body
        assert "help@shop.example" in body and "+44 20 7946 0000" in body
        assert "Auto-renew is off" in body
    assert message.alternatives[0][1] == "text/html"

    run(EXPIRES + days(3) + HOUR)
    after = mail.outbox[-1]
    assert after.subject == "Your domain bücher.com expired on 15 March 2027: renew it now"
    assert "expired on 15 March 2027" in after.body


def test_auto_renew_still_gets_its_reminders_saying_so(db):
    registration = RegistrationFactory(name="renews.com", expires_at=EXPIRES, auto_renew=True)
    run(EXPIRES - days(7) + HOUR)
    (message,) = mail.outbox
    assert "renews.com" in message.subject and "due for renewal" in message.subject
    assert "Auto-renew is on" in message.body
    assert "(xn--" not in message.body  # an ASCII name is not repeated
    assert RenewalNotice.objects.get(registration=registration).point == "week_before"


def test_a_point_missed_while_the_job_was_down_is_sent_late_unless_overtaken(domain):
    # Down from 30 days before until 20 days before: the month notice goes out late.
    assert [n.point for n in run(EXPIRES - days(20)).sent] == ["month_before"]
    # A second registration whose month notice was never sent, first seen at -6 days: only
    # the week notice goes (two reminders on one day help nobody).
    other = RegistrationFactory(name="late.com", expires_at=EXPIRES)
    assert [(n.registration_id, n.point) for n in run(EXPIRES - days(6)).sent] == [
        (domain.pk, "week_before"), (other.pk, "week_before")]
    # After the last point's window (five days after expiry) nothing more is owed.
    third = RegistrationFactory(name="later.com", expires_at=EXPIRES)
    assert run(EXPIRES + days(5) + HOUR).sent == []
    assert not RenewalNotice.objects.filter(registration=third).exists()


def test_the_schedule_is_a_setting(domain, settings):
    settings.NOTICE_SCHEDULE = {"early": -60, "on_the_day": 0}
    assert [n.point for n in run(EXPIRES - days(59)).sent] == ["early"]
    assert run(EXPIRES - days(7) + HOUR).sent == []
    assert [n.point for n in run(EXPIRES + HOUR).sent] == ["on_the_day"]
    settings.NOTICE_SCHEDULE = {"Bad Name": -3}
    with pytest.raises(CommandError, match="NOTICE_SCHEDULE"):
        call_command("send_notices", stdout=StringIO())


# --- renewals, and what gets none -----------------------------------------------------


def test_a_registration_renewed_in_between_is_skipped_then_reminded_for_its_new_expiry(
        domain):
    run(EXPIRES - days(30) + HOUR)
    renewed = EXPIRES + days(365)
    Registration.objects.filter(pk=domain.pk).update(expires_at=renewed)
    for moment in (EXPIRES - days(7) + HOUR, EXPIRES + days(3) + HOUR):
        assert run(moment).sent == []
    assert len(mail.outbox) == 1
    # A year on, the new expiry date owes its own reminders.
    (notice,) = run(renewed - days(30) + HOUR).sent
    assert (notice.point, notice.expiry_date) == ("month_before", renewed.date())
    assert RenewalNotice.objects.filter(registration=domain).count() == 2


def test_a_renewal_between_the_read_and_the_claim_sends_nothing(domain):
    moment = EXPIRES - days(7) + HOUR
    (due,) = notices.due_notices(now=moment)
    Registration.objects.filter(pk=domain.pk).update(expires_at=EXPIRES + days(365))
    notice, why = notices._claim(due, now=moment)
    assert notice is None and why.startswith("Renewed meanwhile")
    assert not RenewalNotice.objects.exists() and mail.outbox == []


@pytest.mark.parametrize("changes", [
    {"status": RegistrationStatus.TRANSFERRED_OUT},
    {"status": RegistrationStatus.CANCELLED},
    {"missing_upstream_at": EXPIRES - days(40)},
    {"expires_at": None},
])
def test_registrations_no_longer_ours_get_no_notices(domain, changes):
    Registration.objects.filter(pk=domain.pk).update(**changes)
    for moment in (EXPIRES - days(30) + HOUR, EXPIRES - days(7) + HOUR,
                   EXPIRES + days(3) + HOUR):
        assert run(moment).sent == []
    assert mail.outbox == [] and not RenewalNotice.objects.exists()
    domain.refresh_from_db()
    assert notices.notice_state(domain).next_point is None


def test_an_expired_registration_still_gets_the_notice_after_expiry(domain):
    Registration.objects.filter(pk=domain.pk).update(status=RegistrationStatus.EXPIRED)
    assert [n.point for n in run(EXPIRES + days(3) + HOUR).sent] == ["after_expiry"]


# --- recipients -----------------------------------------------------------------------


def test_without_a_customer_the_holder_is_written_to(db):
    holder = ContactFactory(email="holder@example.org")
    registration = RegistrationFactory(name="holder.com", account=None, owner_contact=holder,
                                       expires_at=EXPIRES)
    (notice,) = run(EXPIRES - days(30) + HOUR).sent
    assert (notice.recipient, notice.recipient_source) == ("holder@example.org", "holder")
    assert mail.outbox[0].to == ["holder@example.org"]
    assert "Dear Ada Lovelace" in mail.outbox[0].body
    assert notice.registration_id == registration.pk


def test_with_no_address_at_all_it_is_recorded_not_sendable_and_sent_once_one_is_known(
        db, support_user):
    holder = ContactFactory(email="")
    registration = RegistrationFactory(name="nobody.com", account=None, owner_contact=holder,
                                       expires_at=EXPIRES)
    report = run(EXPIRES - days(30) + HOUR)
    assert report.sent == [] and len(report.not_sendable) == 1 and mail.outbox == []
    row = RenewalNotice.objects.get()
    assert row.outcome == NoticeOutcome.NOT_SENDABLE and row.recipient == ""
    assert run(EXPIRES - days(29)).not_sendable == []  # recorded once
    (entry,) = timeline.build(registration, support_user, kinds=["notice"]).entries
    assert entry.title.startswith("Could not send the renewal notice (30 days before expiry")
    assert entry.outcome == "not_sendable"
    # The holder's address is fixed: the next run sends the same notice.
    holder.email = "found@example.org"
    holder.save()
    (notice,) = run(EXPIRES - days(28)).sent
    assert notice.pk == row.pk and notice.recipient == "found@example.org"
    assert RenewalNotice.objects.count() == 1 and len(mail.outbox) == 1


# --- once only: two runs at once, a refusal, a run that died mid-send ----------------


def test_two_runs_that_read_the_same_notice_send_it_once(domain):
    moment = EXPIRES - days(30) + HOUR
    (first,) = notices.due_notices(now=moment)
    (second,) = notices.due_notices(now=moment)  # the other run read it too
    claimed, _ = notices._claim(first, now=moment)
    lost, why = notices._claim(second, now=moment)
    assert claimed is not None and lost is None and why == "Another run claimed it first."
    assert RenewalNotice.objects.count() == 1


def test_a_notice_claimed_by_a_run_that_died_is_not_sent_again_and_shows_as_unknown(
        domain, support_user):
    moment = EXPIRES - days(30) + HOUR
    (due,) = notices.due_notices(now=moment)
    claimed, _ = notices._claim(due, now=moment)  # ... and the run dies before the answer
    assert run(moment).sent == [] and run(EXPIRES - days(29)).sent == [] and mail.outbox == []
    RenewalNotice.objects.filter(pk=claimed.pk).update(
        claimed_at=timezone.now() - timedelta(hours=1))
    (entry,) = timeline.build(domain, support_user, kinds=["notice"]).entries
    assert entry.outcome == "unknown" and "not known" in entry.title
    assert claimed.message_id in entry.detail


def test_a_refused_notice_is_recorded_failed_and_tried_again_a_few_times(domain, settings):
    settings.EMAIL_BACKEND = "tests.registrar.test_notices.RefusingBackend"
    settings.NOTICE_MAX_ATTEMPTS = 2
    with pytest.raises(CommandError, match="1 notice"):
        call_command("send_notices", "--now", "2027-02-13T13:00:00Z", stdout=StringIO())
    row = RenewalNotice.objects.get()
    assert row.outcome == NoticeOutcome.FAILED and row.attempts == 1
    assert "SMTPRecipientsRefused" in row.detail
    assert len(run(EXPIRES - days(29)).failed) == 1  # the second attempt
    assert run(EXPIRES - days(28)).failed == []  # no third
    settings.NOTICE_MAX_ATTEMPTS = 3
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    (notice,) = run(EXPIRES - days(27)).sent
    assert notice.pk == row.pk and notice.attempts == 3 and len(mail.outbox) == 1


# --- suppression ----------------------------------------------------------------------


def test_suppression_is_audited_and_stops_sending_until_resumed(domain, support_user):
    outcome = notices.notices_suppress(registration=domain, actor=support_user,
                                       reason="Customer is moving the domain away (T-42).")
    assert outcome.ok
    row = StaffAction.objects.get()
    assert (row.action, row.actor, row.target_id, row.parameters["reason"]) == (
        "registration.notices_suppressed", support_user, str(domain.pk),
        "Customer is moving the domain away (T-42).")
    assert run(EXPIRES - days(30) + HOUR).sent == [] and mail.outbox == []
    state = notices.notice_state(domain, now=EXPIRES - days(29))
    assert state.suppression is not None and "T-42" in state.reason
    with pytest.raises(InvalidInput):
        notices.notices_suppress(registration=domain, actor=support_user, reason="again")

    notices.notices_resume(registration=domain, actor=support_user, reason="Stays with us.")
    resumed = StaffAction.objects.order_by("-id").first()
    assert (resumed.action, resumed.actor, resumed.parameters["reason"]) == (
        "registration.notices_resumed", support_user, "Stays with us.")
    assert StaffAction.objects.count() == 2
    assert NoticeSuppression.objects.get().resumed_by == support_user
    assert [n.point for n in run(EXPIRES - days(7) + HOUR).sent] == ["week_before"]


@pytest.mark.parametrize("reason", ["", "   ", "a\u202eb", "x" * 1001])
def test_a_suppression_without_a_usable_reason_is_refused_and_not_kept(domain, support_user,
                                                                       reason):
    with pytest.raises(InvalidInput) as refused:
        notices.notices_suppress(registration=domain, actor=support_user, reason=reason)
    assert list(refused.value.field_errors) == ["reason"]
    assert not NoticeSuppression.objects.exists() and not StaffAction.objects.exists()


def test_only_those_allowed_suppress_notices(domain, finance_user, plain_staff_user):
    for user in (finance_user, plain_staff_user):
        with pytest.raises(PermissionDenied):
            notices.notices_suppress(registration=domain, actor=user, reason="No.")
    assert not NoticeSuppression.objects.exists() and not StaffAction.objects.exists()


# --- what staff see -------------------------------------------------------------------


def test_the_timeline_shows_each_notice_to_those_who_may_see_it(domain, support_user,
                                                                 plain_staff_user):
    run(EXPIRES - days(30) + HOUR)
    run(EXPIRES - days(7) + HOUR)
    entries = timeline.build(domain, support_user).entries
    shown = [entry for entry in entries if entry.kind == "notice"]
    assert [entry.title for entry in shown] == [
        "Sent the renewal notice (7 days before expiry, expiry 2027-03-15) to "
        "billing@buecher.example",
        "Sent the renewal notice (30 days before expiry, expiry 2027-03-15) to "
        "billing@buecher.example"]
    assert all(entry.outcome == "sent" and "Message-ID <" in entry.detail for entry in shown)
    assert not [e for e in timeline.build(domain, plain_staff_user).entries
                if e.kind == "notice"]


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))


def change_page(client, registration) -> str:
    response = client.get(reverse("admin:registrar_registration_change",
                                  args=[registration.pk]))
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_the_registration_page_shows_the_next_notice_and_suppress_resume_work(
        client, support_user, finance_user):
    now = timezone.now()
    registration = RegistrationFactory(name="cockpit.com", expires_at=now + days(20),
                                       account=AccountFactory(email="owner@cockpit.example"))
    client.force_login(support_user)
    # Twenty days before expiry, the month notice is still owed (late), and due now.
    page = change_page(client, registration)
    due = (registration.expires_at - days(30)).astimezone(UTC)
    assert f"30 days before expiry, {due:%Y-%m-%d %H:%M} UTC due now" in text_of(page)
    assert "to owner@cockpit.example (account)" in page
    assert len(notices.send_due_notices().sent) == 1
    page = change_page(client, registration)
    due = (registration.expires_at - days(7)).astimezone(UTC)
    assert f"7 days before expiry, {due:%Y-%m-%d %H:%M} UTC" in page
    assert "due now" not in page
    assert "Sent the renewal notice (30 days before expiry" in page  # on the timeline
    url = reverse("admin:registrar_registration_notices", args=[registration.pk])
    assert f'href="{url}"' in page

    assert client.get(url).status_code == 200
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 400 and not NoticeSuppression.objects.exists()
    assert "Say why no reminders should go out." in html.unescape(refused.content.decode())
    response = client.post(url, {"reason": "Domain is being deleted on request."})
    assert response.status_code == 302
    page = change_page(client, registration)
    assert "Suppressed" in page and "Domain is being deleted on request." in page
    assert StaffAction.objects.filter(action="registration.notices_suppressed",
                                      actor=support_user).count() == 1
    assert client.post(url, {"reason": ""}).status_code == 302  # resume: reason optional
    assert StaffAction.objects.filter(action="registration.notices_resumed").count() == 1
    assert "Suppressed" not in change_page(client, registration)

    client.force_login(finance_user)
    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": "Finance says no."}).status_code == 403
    assert f'href="{url}"' not in change_page(client, registration)
    assert NoticeSuppression.objects.filter(resumed_at__isnull=True).count() == 0


# --- the command ----------------------------------------------------------------------


def test_the_dry_run_lists_what_would_go_out_and_sends_nothing(domain):
    nobody = RegistrationFactory(name="nobody.com", account=None,
                                 owner_contact=ContactFactory(email=""), expires_at=EXPIRES)
    out = StringIO()
    call_command("send_notices", "--dry-run", "--now", "2027-02-13T13:00:00Z", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["Name", "Point", "Due", "(UTC)", "Expires", "(UTC)",
                                "Recipient", "From", "Result"]
    assert "bücher.com" in lines[2] and "month_before" in lines[2]
    assert "billing@buecher.example" in lines[2] and "would send" in lines[2]
    assert "nobody.com" in lines[3] and "not sendable" in lines[3]
    assert lines[-1] == "Dry run: 2 notice(s) due; nothing was sent or recorded."
    assert mail.outbox == [] and not RenewalNotice.objects.exists()
    assert nobody.pk

    out = StringIO()
    call_command("send_notices", "--dry-run", "--now", "2027-02-13T13:00:00Z",
                 "--format", "json", stdout=out)
    rows = json.loads(out.getvalue())
    assert rows[0] == {"name": "bücher.com", "point": "month_before",
                       "due_at": "2027-02-13T12:00:00Z", "expires_at": "2027-03-15T12:00:00Z",
                       "recipient": "billing@buecher.example", "recipient_source": "account",
                       "result": "would send"}


def test_the_command_sends_and_a_rerun_sends_nothing(domain):
    out = StringIO()
    call_command("send_notices", "--now", "2027-02-13T13:00:00Z", "--format", "csv",
                 stdout=out)
    assert out.getvalue().splitlines()[1].startswith("bücher.com,month_before,")
    out = StringIO()
    call_command("send_notices", "--now", "2027-02-13T14:00:00Z", stdout=out)
    assert out.getvalue().strip() == ("0 notice(s) sent, 0 failed, 0 not sendable (no e-mail "
                                      "address), 0 skipped.")
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("value", ["tomorrow", "2027-02-13", "1999-12-31T00:00:00Z"])
def test_the_command_refuses_a_now_it_cannot_read(db, value):
    with pytest.raises(CommandError, match="--now"):
        call_command("send_notices", "--now", value, stdout=StringIO())


def test_the_beat_task_runs_the_schedule(domain, settings):
    from registrar.tasks import send_renewal_notices

    assert settings.CELERY_BEAT_SCHEDULE["send-renewal-notices"]["task"] == (
        "registrar.send_renewal_notices")
    # Nothing is due today for a registration expiring in 2027.
    assert send_renewal_notices.apply().get().startswith("0 notice(s) sent")


# --- e-mail settings ------------------------------------------------------------------


def _email_settings(**environment: str) -> str:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("EMAIL_") and key not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}}
    env.update({"SECRET_KEY": "settings-test-secret-key-0123456789-abcdefghijklmn",
                **environment})
    code = ("from backoffice import settings as s; print(s.EMAIL_BACKEND, s.EMAIL_HOST, "
            "s.EMAIL_PORT, s.EMAIL_USE_TLS, s.EMAIL_HOST_USER)")
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_e_mail_goes_to_the_console_in_the_demo_and_by_smtp_in_production(tmp_path):
    var = {"VAR_DIR": str(tmp_path)}
    assert _email_settings(DEBUG="1", **var).startswith(
        "django.core.mail.backends.console.EmailBackend")
    assert _email_settings(DEBUG="0", **var).startswith(
        "django.core.mail.backends.smtp.EmailBackend localhost 25")
    assert _email_settings(DEBUG="0", EMAIL_URL="smtp+tls://mailer:pw@smtp.example.com:587",
                           **var) == ("django.core.mail.backends.smtp.EmailBackend "
                                      "smtp.example.com 587 True mailer")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="two runs at once need row locks and concurrent transactions")
def test_two_runs_at_once_send_each_notice_once():
    registrations = [RegistrationFactory(name=f"race{n}.com", expires_at=EXPIRES)
                     for n in range(6)]
    moment = EXPIRES - days(30) + HOUR
    start = threading.Barrier(2)
    reports: list[notices.RunReport] = []

    def run_once():
        try:
            start.wait()
            reports.append(run(moment))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(reports) == 2
    assert sum(len(report.sent) for report in reports) == len(registrations)
    assert len(mail.outbox) == len(registrations)
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        r.account.email for r in registrations)
    assert RenewalNotice.objects.filter(outcome=NoticeOutcome.SENT).count() == 6


def test_a_late_notice_says_how_many_days_are_really_left(domain):
    (notice,) = run(EXPIRES - days(12)).sent
    assert notice.point == "month_before"
    assert "expires on 15 March 2027 (UTC), in 12 days." in mail.outbox[0].body


def test_a_broken_schedule_setting_names_itself_on_the_page_instead_of_failing(
        client, support_user, domain, settings):
    settings.NOTICE_SCHEDULE = {"Bad Name": -3}
    client.force_login(support_user)
    assert "NOTICE_SCHEDULE" in change_page(client, domain)
    url = reverse("admin:registrar_registration_notices", args=[domain.pk])
    assert client.post(url, {"reason": "Customer asked."}).status_code == 302
    assert NoticeSuppression.objects.filter(registration=domain).exists()
