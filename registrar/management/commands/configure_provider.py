"""`manage.py configure_provider`: create or update a provider account and point TLDs at it.

Idempotent: the arguments describe the wanted state, and a run that finds it already in
place writes nothing and says "unchanged". Everything is validated before anything is
written, and the writes happen in one transaction with one audit row (old and new
values; the actor is --as, or the command itself). The account's secret is never
accepted or printed: only the *name* of the environment variable that holds it, which
must start with settings.PROVIDER_SECRET_ENV_PREFIX.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from backoffice import audit
from backoffice.acting_user import resolve_acting_user
from backoffice.cli import ProjectCommand, decimal_number
from backoffice.models import StaffAction
from registrar.models import ProviderAccount, Tld
from registrar.providers.endpoints import (
    TIMEOUT_MAX_SECONDS,
    TIMEOUT_MIN_SECONDS,
    base_url_problem,
    timeout_problem,
)
from registrar.providers.errors import ProviderError
from registrar.providers.registry import ADAPTERS, adapter_class
from registrar.providers.secrets import read_secret, secret_env_problem
from registrar.values.names import normalise_tld, to_unicode

AUDIT_ACTION = "provider_account.configure"
COMMAND_LABEL = "manage.py configure_provider"
PERMISSION = "registrar.change_provideraccount"

# Strict: float() would take "nan", "inf" and Arabic-Indic digits. The model checks the same range.
TIMEOUT = decimal_number(TIMEOUT_MIN_SECONDS, TIMEOUT_MAX_SECONDS,
                         timeout_problem(None) or "")
# How each account field is typed here, so a model refusal names the option.
_OPTIONS = {"label": "label", "kind": "--kind", "base_url": "--base-url",
            "account_ref": "--account", "secret_env": "--secret-env",
            "timeout_seconds": "--timeout"}
# The account fields this command sets, in the order changes are reported.
_FIELDS = ("kind", "base_url", "account_ref", "secret_env", "timeout_seconds", "enabled")


@dataclass
class _Plan:
    """What a run would change: the account's field changes and the TLDs to point at it."""

    account: ProviderAccount
    created: bool
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    new_tlds: list[str] = field(default_factory=list)
    moved_tlds: list[tuple[Tld, str | None]] = field(default_factory=list)
    kept_tlds: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.created or bool(self.changes or self.new_tlds or self.moved_tlds)


class Command(ProjectCommand):
    help = (
        "Create or update a provider account and point TLDs at it. Idempotent: a second "
        "identical run changes nothing. Takes the NAME of the environment variable that "
        "holds the account's secret, never the secret itself."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("label", help="The account's label (a slug), e.g. domain-api-main.")
        parser.add_argument("--kind", required=True, metavar="KIND",
                            help="The upstream API: " + ", ".join(ADAPTERS) + ".")
        parser.add_argument("--base-url", required=True, metavar="URL",
                            help="The API's base URL: https, on the registrar's public host "
                                 "name (loopback http only where "
                                 "PROVIDER_LOOPBACK_HTTP_ALLOWED is on, as in development).")
        parser.add_argument("--account", dest="account_ref", metavar="REF",
                            help="The upstream account reference (X-Auth-Account, "
                                 "applicationId). Omitted: kept as is (new accounts: none).")
        parser.add_argument("--secret-env", metavar="VAR",
                            help="NAME of the environment variable holding the API secret; "
                                 "it must start with PROVIDER_SECRET_, e.g. "
                                 "PROVIDER_SECRET_DOMAIN_API_KEY (or ..._FILE: the path of a "
                                 "file holding it). Omitted: kept as is (new accounts: none).")
        parser.add_argument("--timeout", type=TIMEOUT, dest="timeout_seconds", metavar="SECONDS",
                            help="Request timeout in seconds (1 to 60). Omitted: kept as "
                                 "is (new accounts: 15).")
        parser.add_argument("--disable", action="store_true",
                            help="Store the account disabled. Without it the account is "
                                 "enabled.")
        parser.add_argument("--tld", dest="tlds", action="extend", nargs="+", default=[],
                            metavar="NAME",
                            help="Point these TLDs at the account (.DE and de both work; "
                                 "missing TLD rows are created). Repeatable. TLDs not named "
                                 "are left as they are.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Show what would change; write nothing.")
        parser.add_argument("--as", dest="actor", metavar="USERNAME",
                            help="The staff user making the change (active, staff, with the "
                                 "permission to change provider accounts): the actor of the "
                                 "audit row. Omitted: the row names this command.")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = (resolve_acting_user(options["actor"], permission=PERMISSION,
                                     needed_for="change provider accounts")
                 if options.get("actor") is not None else None)
        wanted = self._validated(options)
        tld_names = self._tld_names(options["tlds"])
        plan = self._plan(options["label"], wanted, tld_names)
        self._report(plan, dry_run=options["dry_run"])
        if plan.changed and not options["dry_run"]:
            self._apply(plan, actor)
        self._warnings(plan.account)
        self.stdout.write(self._summary(plan, dry_run=options["dry_run"]))

    # -- validation: everything before anything is written ------------------------------

    def _validated(self, options: dict[str, Any]) -> dict[str, Any]:
        """The account fields the options ask for, validated; only those given."""
        kind = options["kind"]
        if kind not in ADAPTERS:
            raise CommandError(f"Unknown provider kind “{kind[:40]}” (--kind). Choose one "
                               f"of: {', '.join(ADAPTERS)}.")
        try:
            unavailable = adapter_class(kind).unavailable_reason()
        except ProviderError as error:
            raise CommandError(error.message) from None
        if unavailable:
            raise CommandError(f"Refusing --kind {kind}: {unavailable}")
        base_url = options["base_url"].strip()
        problem = base_url_problem(base_url)
        if problem:
            raise CommandError(f"--base-url “{base_url}”: {problem}")
        wanted: dict[str, Any] = {"kind": kind, "base_url": base_url,
                                  "enabled": not options["disable"]}
        if options["secret_env"] is not None:
            secret_env = options["secret_env"].strip()
            problem = secret_env_problem(secret_env) if secret_env else None
            if problem:
                # The value is not echoed: a mistyped invocation may hold the secret.
                raise CommandError(f"--secret-env: {problem}")
            wanted["secret_env"] = secret_env
        if options["account_ref"] is not None:
            wanted["account_ref"] = options["account_ref"].strip()
        timeout = options["timeout_seconds"]
        if timeout is not None:
            problem = timeout_problem(timeout)
            if problem:
                raise CommandError(f"--timeout: {problem} (got {timeout:g}).")
            wanted["timeout_seconds"] = timeout
        return wanted

    def _tld_names(self, raw_names: list[str]) -> list[str]:
        names: list[str] = []
        errors: list[str] = []
        for raw in raw_names:
            try:
                name = normalise_tld(raw)
            except ValidationError as exc:
                errors.append(f"“{raw}”: {exc.messages[0]}")
                continue
            if name not in names:
                names.append(name)
        if errors:
            raise CommandError("Invalid --tld: " + " ".join(errors))
        return names

    # -- planning: compare the wanted state with the stored one ---------------------------

    def _plan(self, label: str, wanted: dict[str, Any], tld_names: list[str]) -> _Plan:
        account = ProviderAccount.objects.filter(label=label).first()
        created = account is None
        if account is None:
            account = ProviderAccount(label=label)
        plan = _Plan(account=account, created=created)
        for name in _FIELDS:
            if name in wanted and getattr(account, name) != wanted[name]:
                if not created:
                    plan.changes[name] = (getattr(account, name), wanted[name])
                setattr(account, name, wanted[name])
        try:
            # The model's own validators: slug label, URL length, env var name, timeout.
            account.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            messages = "; ".join(f"{_OPTIONS.get(name, name)}: {' '.join(errors)}"
                                 for name, errors in exc.message_dict.items())
            raise CommandError(f"Invalid provider account “{label}”: {messages}") from None
        existing = {tld.name: tld for tld in
                    Tld.objects.filter(name__in=tld_names).select_related("provider_account")}
        for name in tld_names:
            tld = existing.get(name)
            if tld is None:
                plan.new_tlds.append(name)
            elif created or tld.provider_account_id != account.pk:
                previous = tld.provider_account.label if tld.provider_account else None
                plan.moved_tlds.append((tld, previous))
            else:
                plan.kept_tlds.append(name)
        return plan

    @transaction.atomic
    def _apply(self, plan: _Plan, actor: Any) -> None:
        account = plan.account
        if plan.created or plan.changes:
            account.save()
        for tld in [tld for tld, _ in plan.moved_tlds]:
            tld.provider_account = account
            tld.save(update_fields=["provider_account"])
        for name in plan.new_tlds:
            Tld.objects.create(name=name, provider_account=account)
        audit.record(
            actor=actor, actor_label="" if actor is not None else COMMAND_LABEL,
            action=AUDIT_ACTION, target=account, parameters=_audit_parameters(plan),
            outcome=StaffAction.Outcome.SUCCEEDED, message=self._summary(plan, dry_run=False))

    # -- output --------------------------------------------------------------------------

    def _report(self, plan: _Plan, *, dry_run: bool) -> None:
        """One line per change; nothing when nothing changes."""
        prefix = "would " if dry_run else ""
        account = plan.account
        if plan.created:
            settings_text = ", ".join(f"{name}={_shown(getattr(account, name))}"
                                      for name in _FIELDS)
            self.stdout.write(f"  {prefix}create account {account.label}: {settings_text}")
        for name, (old, new) in plan.changes.items():
            self.stdout.write(f"  {prefix}change {name}: {_shown(old)} → {_shown(new)}")
        for name in plan.new_tlds:
            self.stdout.write(f"  {prefix}create TLD .{to_unicode(name)} → {account.label}")
        for tld, previous in plan.moved_tlds:
            source = previous or "no registrar"
            self.stdout.write(f"  {prefix}point TLD .{tld.unicode_name} at {account.label} "
                              f"(was: {source})")

    def _warnings(self, account: ProviderAccount) -> None:
        """Warnings that do not stop the run: a secret variable that is not set, a missing
        account reference, a kind no adapter serves yet. Only the variable's name is ever
        shown, never its value."""
        warn = self.style.WARNING
        try:
            adapter = adapter_class(account.kind)
        except ProviderError:
            self.stderr.write(f"Warning: no adapter serves the kind “{account.kind}” yet; "
                              "operations on its TLDs will be refused.", style_func=warn)
            return
        if account.secret_env and not _secret_is_set(account):
            fallback = (" (it falls back to its built-in development token)"
                        if adapter.default_secret() else "")
            self.stderr.write(f"Warning: the environment variable {account.secret_env} is not "
                              f"set here{fallback}. Set it wherever the back-office and its "
                              "worker run.", style_func=warn)
        elif not account.secret_env and adapter.requires_secret:
            self.stderr.write("Warning: no secret variable is named (--secret-env): calls to "
                              "this account will fail until one is.", style_func=warn)
        if not account.account_ref and adapter.requires_account_ref:
            self.stderr.write("Warning: no --account: this upstream refuses requests without "
                              "the account reference.", style_func=warn)

    def _summary(self, plan: _Plan, *, dry_run: bool) -> str:
        """The one line that ends every run."""
        label = plan.account.label
        counts = [(len(plan.new_tlds), "new"), (len(plan.moved_tlds), "re-pointed"),
                  (len(plan.kept_tlds), "already pointing")]
        tld_text = ", ".join(f"{count} {what}" for count, what in counts if count)
        tlds = f"; TLDs: {tld_text}" if tld_text else ""
        if not plan.changed:
            return f"Provider account {label} unchanged{tlds}."
        if plan.created:
            what = "created"
        elif plan.changes:
            what = f"updated ({', '.join(plan.changes)})"
        else:
            what = "settings unchanged"
        if dry_run:
            verb = "would be " if plan.created or plan.changes else ""
            return (f"Dry run: provider account {label} {verb}{what}{tlds}. "
                    "Nothing was written.")
        return f"Provider account {label} {what}{tlds}."


def _secret_is_set(account: ProviderAccount) -> bool:
    try:
        return bool(read_secret(account.secret_env, account_label=account.label))
    except ProviderError:
        return False


def _audit_parameters(plan: _Plan) -> dict[str, Any]:
    """Old and new values of what changed: variable names, never a secret's value
    (the command never sees one). As a list, so the field names are not taken for
    secret keys and masked."""
    account = plan.account
    fields = _FIELDS if plan.created else tuple(plan.changes)
    changes = [{"field": name,
                "old": None if plan.created else plan.changes[name][0],
                "new": getattr(account, name)} for name in fields]
    return {
        "created": plan.created,
        "changes": changes,
        "tlds_created": list(plan.new_tlds),
        "tlds_repointed": [{"tld": tld.name, "from": previous}
                           for tld, previous in plan.moved_tlds],
    }


def _shown(value: Any) -> str:
    """A field value as the report shows it (empty strings visibly empty)."""
    if value == "" or value is None:
        return "(none)"
    return str(value)
