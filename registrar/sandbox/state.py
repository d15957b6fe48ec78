"""The sandbox's state and where it lives.

`SandboxState` keeps one JSON-able dict: TLDs, contacts, registrations (with their
hosts and DNSSEC keys), processes, orders, queued faults and async rules, counters.
Every request runs inside `transaction()`, which gives exclusive access:

- in memory: a lock, for threads of one process (tests, `runsandbox --memory`);
- in a JSON file: the same lock plus an `fcntl.flock` on a sibling `.lock` file, so
  the web server, the Celery worker and `runsandbox` share one upstream. The parsed
  file is reused while its inode, mtime and size are unchanged and the revision
  token that every writer leaves in the lock file is the one we last saw (two
  writes within one clock tick can leave mtime and size alike). Writes go to a
  temporary file renamed over the old one, so a reader never sees half a file.

A transaction that raises is rolled back to the last committed state, so a handler
may refuse a request half-way without leaving half a change behind.

Seeding (`seed`) upserts records given in a wire-like form; see `apply_seed`.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError

from registrar.sandbox import records as r
from registrar.sandbox.wire import ApiError, Json, invalid
from registrar.values.names import normalise_tld

logger = logging.getLogger("registrar.sandbox")

STATE_VERSION = 1
# Ids the sandbox hands out start above these, well clear of seeded ones.
COUNTER_STARTS = {"tld": 100, "contact": 5000, "process": 890000, "order": 70000,
                  "cart": 60000}
DEFAULT_PRICE_CENTS = 1299
REVISION_BYTES = 16


def empty_state() -> Json:
    return {
        "version": STATE_VERSION,
        "tlds": {},
        "contacts": {},
        "registrations": {},
        "processes": {},
        "orders": {},
        "idempotency": {},
        # Names registered elsewhere: unavailable to register, open to transfer in.
        "taken": [],
        "faults": [],
        "async_rules": [],
        "counters": dict(COUNTER_STARTS),
    }


def _dump(data: Json) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


class SandboxState:
    """The sandbox's state: in memory when `path` is None, else in that JSON file.

    Thread-safe; with a file, also safe across processes on one machine.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path: Path | None = Path(path) if path is not None else None
        self._lock = threading.RLock()
        self._data: Json = empty_state()
        self._text = _dump(self._data)  # the last committed state, for rollback
        # (inode, mtime_ns, size, revision) of the file as last read or written
        self._file_key: tuple[int, int, int, bytes] | None = None
        self._lock_fd: int | None = None  # the lock file, while a transaction holds it

    def __repr__(self) -> str:
        return f"SandboxState({str(self.path) if self.path else 'memory'})"

    # --- transactions ---------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Json]:
        """Exclusive access to the state dict; changes are kept when the block ends
        normally and rolled back when it raises."""
        with self._lock, self._file_lock():
            self._refresh()
            try:
                yield self._data
            except BaseException:
                self._data = json.loads(self._text)
                raise
            text = _dump(self._data)
            if text != self._text:
                self._write(text)
                self._text = text

    @contextlib.contextmanager
    def read(self) -> Iterator[Json]:
        """Access for requests that change nothing: the same exclusion, but no rollback
        copy and no write, which with thousands of registrations is most of a request's
        cost. The caller must not mutate what it is given."""
        with self._lock, self._file_lock():
            self._refresh()
            yield self._data

    def snapshot(self) -> Json:
        """A deep copy of the whole state (what `GET /_sandbox/state` answers)."""
        with self.transaction() as data:
            return copy.deepcopy(data)

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._lock_fd = fd
            yield
        finally:
            self._lock_fd = None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _revision(self) -> bytes:
        assert self._lock_fd is not None
        return os.pread(self._lock_fd, REVISION_BYTES, 0)

    def _refresh(self) -> None:
        """Re-read the file if another process (or instance) wrote it since."""
        if self.path is None:
            return
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            if self._file_key is not None:  # deleted under us: start again, empty
                self._data, self._file_key = empty_state(), None
                self._text = _dump(self._data)
            return
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size, self._revision())
        if key == self._file_key:
            return
        text = self.path.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
                raise ValueError("not a sandbox state of this version")
        except ValueError as exc:
            # Only a hand edit gets here. An upstream that starts empty is easier to
            # recover from than a back-office that cannot reach it at all.
            logger.warning("Ignoring unreadable sandbox state %s (%s); starting empty.",
                           self.path, exc)
            data = empty_state()
        self._data, self._text, self._file_key = data, _dump(data), key

    def _write(self, text: str) -> None:
        if self.path is None:
            return
        temporary = self.path.with_name(
            f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, self.path)
        assert self._lock_fd is not None
        revision = secrets.token_hex(REVISION_BYTES // 2).encode()
        os.pwrite(self._lock_fd, revision, 0)
        stat = self.path.stat()
        self._file_key = (stat.st_ino, stat.st_mtime_ns, stat.st_size, revision)

    # --- conveniences for Python callers (tests, seeding, runsandbox) -----------------

    def reset(self, seed: Mapping[str, Any] | None = None) -> dict[str, int]:
        """Empty the state, then upsert `seed` if given. Returns the seeded counts."""
        with self.transaction() as data:
            data.clear()
            data.update(empty_state())
            return apply_seed(data, seed or {})

    def seed(self, payload: Mapping[str, Any]) -> dict[str, int]:
        """Upsert `{"tlds", "contacts", "registrations", "processes", "taken"}`.
        Raises ApiError (422) on malformed input, leaving the state unchanged."""
        with self.transaction() as data:
            return apply_seed(data, payload)

    def add_fault(self, **fault: Any) -> Json:
        """Queue a fault; see `normalise_fault` for the keys."""
        with self.transaction() as data:
            record = normalise_fault(fault)
            data["faults"].append(record)
            return copy.deepcopy(record)

    def add_async_rule(self, **rule: Any) -> Json:
        """Make the next matching mutation answer 202; see `normalise_async_rule`."""
        with self.transaction() as data:
            record = normalise_async_rule(rule)
            data["async_rules"].append(record)
            return copy.deepcopy(record)


# --- Faults and async rules -----------------------------------------------------------


def normalise_fault(raw: Mapping[str, Any]) -> Json:
    """A fault from `{"method", "path", "status", "code", "message", "body",
    "content_type", "delay", "times", "after"}`.

    `method` is a verb or "*" (default); `path` a regex searched in the request path
    (default: every /api path). With `status` (and optional `code`) the answer is a
    JSON error; with `body` it is that raw text (`content_type`, default text/plain;
    status default 200). With neither, the request is only delayed by `delay`
    seconds and then handled normally. `times` (default 1) requests match. With
    `after` true the request is first handled normally (a mutation is applied) and
    its answer then replaced by the fault: the upstream that applied a change and
    lost the answer.
    """
    method = str(raw.get("method") or "*").upper()
    path = raw.get("path") or ".*"
    if not isinstance(path, str):
        raise invalid("path must be a regular expression.")
    try:
        re.compile(path)
    except re.error as exc:
        raise invalid(f"path is not a valid regular expression: {exc}.") from None
    status, body = raw.get("status"), raw.get("body")
    if status is not None and (r.as_int(status) is None or not 200 <= int(status) <= 599):
        raise invalid("status must be an HTTP status from 200 to 599.")
    if body is not None and not isinstance(body, str):
        raise invalid("body must be a string (it is sent as it is).")
    try:
        delay = float(raw.get("delay") or 0)
    except (TypeError, ValueError):
        raise invalid("delay must be a number of seconds.") from None
    times = r.as_int(raw.get("times", 1))
    if delay < 0 or times is None or times < 1:
        raise invalid("delay must be >= 0 and times >= 1.")
    if body is not None and status is None:
        status = 200
    after = raw.get("after", False)
    if not isinstance(after, bool):
        raise invalid("after must be true or false.")
    if after and status is None:
        raise invalid("after needs a status or a body: the answer that replaces the real one.")
    return {
        "method": method,
        "path": path,
        "status": int(status) if status is not None else None,
        "code": str(raw.get("code") or ""),
        "message": str(raw.get("message") or ""),
        "body": body,
        "content_type": str(raw.get("content_type") or
                            ("text/plain" if body is not None else "application/json")),
        "delay": delay,
        "times": times,
        "after": after,
    }


def take_fault(data: Json, method: str, path: str) -> Json | None:
    """The first queued fault matching the request, counted down (removed at zero)."""
    for index, fault in enumerate(data["faults"]):
        if fault["method"] not in ("*", method) or not re.search(fault["path"], path):
            continue
        fault["times"] -= 1
        if fault["times"] <= 0:
            del data["faults"][index]
        return copy.deepcopy(fault)
    return None


def normalise_async_rule(raw: Mapping[str, Any]) -> Json:
    """An async rule from `{"registration", "action", "polls", "outcome", "times"}`.

    `registration` is a guid or a name ("*" or absent: any); `action` a process
    action such as "update_nameservers" ("*" or absent: any mutation). The process
    reaches `outcome` (COMPLETED, FAILED, INVALID or SUSPENDED; default COMPLETED)
    on its `polls`-th view (default 2). `times` (default 1) mutations match.
    """
    registration = str(raw.get("registration") or "*").strip()
    if registration != "*" and "." in registration:
        try:
            registration = r.ascii_name(registration)
        except ValidationError:
            raise invalid(f"“{registration}” is not a domain name.") from None
    polls, times = r.as_int(raw.get("polls", r.DEFAULT_POLLS)), r.as_int(raw.get("times", 1))
    outcome = str(raw.get("outcome") or "COMPLETED").upper()
    if polls is None or polls < 0 or times is None or times < 1:
        raise invalid("polls must be >= 0 and times >= 1.")
    if outcome not in r.OUTCOMES:
        raise invalid(f"outcome must be one of {', '.join(sorted(r.OUTCOMES))}.")
    return {"registration": registration, "action": str(raw.get("action") or "*"),
            "polls": max(1, polls), "outcome": outcome, "times": times}


def take_async_rule(data: Json, registration: Json, action: str) -> Json | None:
    for index, rule in enumerate(data["async_rules"]):
        if rule["registration"] not in ("*", registration["id"], registration["name"]):
            continue
        if rule["action"] not in ("*", action):
            continue
        rule["times"] -= 1
        if rule["times"] <= 0:
            del data["async_rules"][index]
        return copy.deepcopy(rule)
    return None


# --- Seeding --------------------------------------------------------------------------


def apply_seed(data: Json, payload: Mapping[str, Any]) -> dict[str, int]:
    """Upsert seed records into `data` and return how many of each were given.

    TLDs are keyed by name, contacts by id, registrations by guid (`id`), processes
    by id, orders by id. Records are wire-like: a TLD has the feature flags, `authcode_behavior`,
    `registrar` (null: none configured), money fields (`privacy_fee`,
    `registrant_change_fee`, `create_price`, `transfer_price`, `renew_price`) and
    `cancellation_window_days`; a contact has document 001's fields plus `tld_id`
    or `tld`; a registration has the document's scalars, `tld_id` or `tld`,
    `{role}_contact_id`, `hosts`, `dnssec_keys`, `authcode`, `transfer_out`,
    `dns_zone`, `linked_site` and `drift` (fields that `force_sync` will find
    changed at the registry). Its process fields follow from seeded processes. An
    order has document 001's order fields (`kind`, `status`, `domain`, `years`,
    `total`, `registration_id`) and the `account` it was placed on; it moves on when
    viewed, like one placed here.
    """
    if not isinstance(payload, Mapping):
        raise invalid("The seed must be an object.")
    counts: dict[str, int] = {}
    for key, upsert in (("tlds", _upsert_tld), ("contacts", _upsert_contact),
                        ("registrations", _upsert_registration),
                        ("processes", _upsert_process), ("orders", _upsert_order)):
        items = payload.get(key) or []
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            raise invalid(f"{key} must be a list of objects.")
        for item in items:
            upsert(data, item)
        counts[key] = len(items)
    taken = payload.get("taken") or []
    if not isinstance(taken, list):
        raise invalid("taken must be a list of domain names.")
    for name in taken:
        ascii_name = _name(name)
        if ascii_name not in data["taken"]:
            data["taken"].append(ascii_name)
    counts["taken"] = len(taken)
    return counts


def _name(value: Any, *, min_labels: int = 2) -> str:
    try:
        return r.ascii_name(value, min_labels=min_labels)
    except ValidationError:
        raise invalid(f"“{value}” is not a domain name.") from None


def _bool(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(f"{key} must be true or false.")
    return value


def _timestamp(value: Any, key: str) -> str | None:
    try:
        return r.iso(r.parse_iso(value))
    except (TypeError, ValueError):
        raise invalid(f"{key} must be an ISO 8601 timestamp.") from None


def _upsert_tld(data: Json, raw: Mapping[str, Any]) -> None:
    try:
        name = normalise_tld(str(raw.get("name") or ""))
    except ValidationError:
        raise invalid(f"“{raw.get('name')}” is not a TLD.") from None
    tld = r.tld_by_name(data, name)
    wanted_id = r.as_int(raw.get("id")) if raw.get("id") is not None else None
    if raw.get("id") is not None and wanted_id is None:
        raise invalid("A TLD id must be an integer.")
    if tld is None:
        if wanted_id is not None and str(wanted_id) in data["tlds"]:
            raise invalid(f"TLD id {wanted_id} already belongs to another TLD.")
        tld_id = wanted_id if wanted_id is not None else r.next_id(data, "tld")
        r.raise_counter(data, "tld", tld_id)
        tld = {"id": tld_id, "name": name, "registrar": r.REGISTRAR,
               "supports_privacy": True, "supports_transfer_lock": True,
               "supports_push_transfer": False, "supports_dnssec": True,
               "requires_contact_validation": False, "authcode_behavior": "standard",
               "cancellation_window_days": None,
               **{key: None for key in r.TLD_MONEY}}
        data["tlds"][str(tld_id)] = tld
        new = True
    else:
        if wanted_id is not None and wanted_id != tld["id"]:
            raise invalid(f"TLD {name} already has id {tld['id']}, not {wanted_id}.")
        new = False
    for flag in r.TLD_FLAGS:
        tld[flag] = _bool(raw, flag, tld[flag])
    behavior = str(raw.get("authcode_behavior") or tld["authcode_behavior"])
    if behavior not in r.AUTHCODE_BEHAVIORS:
        raise invalid(f"authcode_behavior must be one of {sorted(r.AUTHCODE_BEHAVIORS)}.")
    tld["authcode_behavior"] = behavior
    if "registrar" in raw:
        tld["registrar"] = str(raw["registrar"]) if raw["registrar"] else None
    if "cancellation_window_days" in raw:
        window = raw["cancellation_window_days"]
        if window is not None and (r.as_int(window) is None):
            raise invalid("cancellation_window_days must be a whole number or null.")
        tld["cancellation_window_days"] = r.as_int(window) if window is not None else None
    for key in r.TLD_MONEY:
        if key in raw:
            tld[key] = r.parse_money(raw[key], key)
    if new:
        # Prices are the sandbox's own (the mirror has none): in the currency of the
        # TLD's fees, so one order never mixes currencies.
        currency = next((tld[k]["currency"] for k in ("privacy_fee", "registrant_change_fee")
                         if tld[k]), "USD")
        for key in ("create_price", "transfer_price", "renew_price"):
            if key not in raw:
                tld[key] = r.money(DEFAULT_PRICE_CENTS, currency)


def _upsert_contact(data: Json, raw: Mapping[str, Any]) -> None:
    contact_id = r.as_int(raw.get("id"))
    if contact_id is None:
        raise invalid("A seeded contact needs an integer id.")
    contact = r.contact_by_id(data, contact_id)
    now = r.now_iso()
    if contact is None:
        contact = {"id": contact_id, "handle": f"SBX-{contact_id}",
                   **{name: "" for name in r.CONTACT_FIELDS}, "extra_properties": {},
                   "validations": [], "split_from_id": None, "tld_id": None,
                   "created_at": now, "updated_at": now}
        data["contacts"][str(contact_id)] = contact
        r.raise_counter(data, "contact", contact_id)
    for name in r.CONTACT_FIELDS:
        if name in raw:
            value = raw[name]
            if name == "extra_properties":
                if not isinstance(value or {}, Mapping):
                    raise invalid("extra_properties must be an object.")
                contact[name] = dict(value or {})
            else:
                contact[name] = "" if value is None else str(value)
    if "handle" in raw:
        contact["handle"] = str(raw["handle"] or "")
    if "validations" in raw:
        if not isinstance(raw["validations"] or [], list):
            raise invalid("validations must be a list.")
        contact["validations"] = copy.deepcopy(raw["validations"] or [])
    if "split_from_id" in raw:
        contact["split_from_id"] = r.as_int(raw["split_from_id"])
    tld_ref = raw.get("tld_id", raw.get("tld"))
    if tld_ref is not None:
        contact["tld_id"] = _tld_ref(data, tld_ref)["id"]
    for key in ("created_at", "updated_at"):
        if raw.get(key):
            contact[key] = _timestamp(raw[key], key)


def _tld_ref(data: Json, ref: Any) -> Json:
    """A TLD named by id, by name, or by a `{id}`/`{name}` object."""
    if isinstance(ref, Mapping):
        ref = ref.get("id") if ref.get("id") is not None else ref.get("name")
    tld = r.tld_by_id(data, ref) if r.as_int(ref) is not None else r.tld_by_name(data,
                                                                                str(ref))
    if tld is None:
        raise invalid(f"Unknown TLD {ref!r}: seed it first.")
    return tld


def _contact_ref(data: Json, ref: Any) -> int | None:
    if ref is None:
        return None
    if isinstance(ref, Mapping):
        ref = ref.get("id")
    contact = r.contact_by_id(data, ref)
    if contact is None:
        raise invalid(f"Unknown contact {ref!r}: seed it first.")
    return contact["id"]


REGISTRATION_BOOLS = ("auto_renew", "locked", "privacy_protect", "dnssec_enabled",
                      "server_transfer_prohibited", "local_contact_active",
                      "transfer_out_pending", "push_transfer_pending")
DRIFTABLE = (*REGISTRATION_BOOLS, "status", "expires_at", "nameservers", "subscription_id")


def _upsert_registration(data: Json, raw: Mapping[str, Any]) -> None:
    guid = str(raw.get("id") or "").strip()
    if not guid or "/" in guid:
        raise invalid("A seeded registration needs an id (its guid).")
    registration = data["registrations"].get(guid)
    name = _name(raw["name"]) if raw.get("name") else None
    if registration is None and name is None:
        raise invalid(f"Registration {guid} needs a name.")
    if name is not None:
        other = r.registration_by_name(data, name)
        if other is not None and other["id"] != guid:
            raise invalid(f"{name} is already registration {other['id']}.")
    tld_ref = raw.get("tld_id", raw.get("tld"))
    if tld_ref is None and registration is None:
        tld_ref = (name or "").rsplit(".", 1)[-1]
    tld = _tld_ref(data, tld_ref) if tld_ref is not None else None
    if registration is None:
        assert name is not None and tld is not None
        registration = r.new_registration(guid, name, tld)
        data["registrations"][guid] = registration
    else:
        if name is not None:
            registration["name"] = name
        if tld is not None:
            registration["tld_id"] = tld["id"]
    for key in REGISTRATION_BOOLS:
        registration[key] = _bool(raw, key, registration[key])
    if "status" in raw:
        if raw["status"] not in r.REGISTRATION_STATUSES:
            raise invalid(f"status must be one of {sorted(r.REGISTRATION_STATUSES)}.")
        registration["status"] = raw["status"]
    for key in ("expires_at", "cancellation_deadline_at", "created_at", "updated_at"):
        if key in raw:
            registration[key] = _timestamp(raw[key], key)
    if "within_cancellation_window" in raw:
        value = raw["within_cancellation_window"]
        registration["within_cancellation_window"] = None if value is None else bool(value)
    if "nameservers" in raw:
        if not isinstance(raw["nameservers"], list):
            raise invalid("nameservers must be a list.")
        registration["nameservers"] = [_name(ns) for ns in raw["nameservers"]]
    for role in r.ROLES:
        for key in (f"{role}_contact_id", f"{role}_contact"):
            if key in raw:
                registration[f"{role}_contact_id"] = _contact_ref(data, raw[key])
    for key in ("subscription_id", "authcode", "push_transfer_recipient"):
        if key in raw:
            registration[key] = str(raw[key] or "")
    if "dnssec_keys" in raw:
        registration["dnssec_keys"] = r.parse_keys(raw["dnssec_keys"] or [], strict=False)
    if "hosts" in raw:
        hosts = []
        for host in raw["hosts"] or []:
            if not isinstance(host, Mapping):
                raise invalid("Each host must be an object {host_name, addresses}.")
            hosts.append({"host_name": r.host_name_for(host.get("host_name"),
                                                       registration["name"]),
                          "addresses": r.parse_addresses(host.get("addresses"))})
        registration["hosts"] = sorted(hosts, key=lambda h: h["host_name"])
    for key in ("transfer_out", "dns_zone", "linked_site"):
        if key in raw:
            if raw[key] is not None and not isinstance(raw[key], Mapping):
                raise invalid(f"{key} must be an object or null.")
            registration[key] = copy.deepcopy(raw[key])
    if "drift" in raw:
        drift = raw["drift"] or {}
        if not isinstance(drift, Mapping) or not set(drift) <= set(DRIFTABLE):
            raise invalid(f"drift may set only {', '.join(DRIFTABLE)}.")
        registration["drift"] = copy.deepcopy(dict(drift))
    if registration["transfer_out_pending"] and not registration.get("transfer_out"):
        registration["transfer_out"] = default_transfer_out(registration)


def default_transfer_out(registration: Json) -> Json:
    """A plausible registry view of an outbound transfer that nobody described."""
    requested = r.parse_iso(registration.get("updated_at")) or r.utc_now()
    return {"status": "pending", "gaining_registrar": "REG-OTHER",
            "requested_at": r.iso(requested),
            "auto_approve_at": r.iso(requested + timedelta(days=5))}


def _upsert_process(data: Json, raw: Mapping[str, Any]) -> None:
    """A seeded process. One that has not ended makes its registration busy; it has
    no change to apply and ends like a sandbox process (COMPLETED after its polls;
    SUSPENDED waits for a resend)."""
    process_id = str(raw.get("id") or "").strip()
    if not process_id or "/" in process_id:
        raise invalid("A seeded process needs an id.")
    registration = data["registrations"].get(str(raw.get("registration_id") or ""))
    if registration is None:
        raise invalid(f"Process {process_id}: unknown registration_id.")
    status = str(raw.get("status") or "RUNNING").upper()
    if status not in r.STATUSES:
        raise invalid(f"Process {process_id}: unknown status {status}.")
    created = _timestamp(raw.get("createdDate") or raw.get("created_at"), "createdDate")
    now = r.now_iso()
    log = raw.get("log") or []
    if not isinstance(log, list):
        raise invalid("log must be a list.")
    process = data["processes"].get(process_id) or {}
    process.update(
        id=process_id, registration_id=registration["id"],
        action=str(raw.get("action") or process.get("action") or ""), status=status,
        created_at=created or process.get("created_at") or now,
        updated_at=_timestamp(raw.get("updatedDate"), "updatedDate") or created or now,
        polls=0, polls_needed=r.DEFAULT_POLLS,
        outcome="SUSPENDED" if status == "SUSPENDED" else "COMPLETED",
        resumed=False, change={"registration": registration["id"], "fields": {}},
        log=[{"date": _timestamp(e.get("date"), "date") or now,
              "level": str(e.get("level") or "INFO"), "message": str(e.get("message") or "")}
             for e in log if isinstance(e, Mapping)],
    )
    data["processes"][process_id] = process
    r.raise_counter(data, "process", process_id)
    if status not in r.TERMINAL:
        registration.update(pending_async=True, rtr_process_id=process_id,
                            rtr_process_status=status)
    elif registration["rtr_process_id"] == process_id:
        registration.update(pending_async=False, rtr_process_id="", rtr_process_status="")


__all__ = ["ApiError", "SandboxState", "apply_seed", "empty_state", "normalise_async_rule",
           "normalise_fault", "take_async_rule", "take_fault"]


#: Document 001's order kinds, and the statuses an order is in while it is followed.
ORDER_KINDS = frozenset({"register", "transfer", "renew", "registrant_change"})


def _upsert_order(data: Json, raw: Mapping[str, Any]) -> None:
    """A seeded order, as if placed earlier: viewing it polls it on to its end (its
    effect applied then, as for an order placed here). Re-seeding keeps its polls and
    cart, so a seeded order does not start over."""
    order_id = str(raw.get("id") or "").strip()
    if not order_id or "/" in order_id:
        raise invalid("A seeded order needs an id.")
    kind = raw.get("kind") or "register"
    if kind not in ORDER_KINDS:
        raise invalid(f"Order {order_id}: unknown kind {kind!r}.")
    status = raw.get("status") or "pending"
    if status not in {"pending", "processing", *r.ORDER_TERMINAL}:
        raise invalid(f"Order {order_id}: unknown status {status!r}.")
    total = raw.get("total")
    if not isinstance(total, Mapping) or not isinstance(total.get("amount_cents"), int) \
            or isinstance(total.get("amount_cents"), bool) or total["amount_cents"] < 0 \
            or not isinstance(total.get("currency"), str) or len(total["currency"]) != 3:
        raise invalid(f"Order {order_id}: total must be {{amount_cents, currency}}.")
    years = raw.get("years")
    if years is not None and (isinstance(years, bool) or not isinstance(years, int)
                              or not 1 <= years <= 10):
        raise invalid(f"Order {order_id}: years must be 1 to 10.")
    domain = _name(raw.get("domain"))
    registration_id = raw.get("registration_id")
    if registration_id is not None and str(registration_id) not in data["registrations"]:
        raise invalid(f"Order {order_id}: unknown registration_id.")
    now = r.now_iso()
    existing = data["orders"].get(order_id) or {}
    amount = {"amount_cents": total["amount_cents"], "currency": total["currency"].upper()}
    what = {"register": "Registration", "transfer": "Transfer", "renew": "Renewal",
            "registrant_change": "Registrant change"}[kind]
    data["orders"][order_id] = {
        "id": order_id, "kind": kind, "status": status,
        "status_reason": str(raw.get("status_reason") or ""),
        "polls": existing.get("polls", 0), "process_id": None,
        "registration_id": str(registration_id) if registration_id is not None else None,
        "owner_contact_id": None, "years": years,
        "account": str(raw.get("account") or ""),
        "created_at": _timestamp(raw.get("created_at"), "created_at") if raw.get(
            "created_at") else now,
        "updated_at": now,
        "cart": existing.get("cart") or {"id": r.next_id(data, "cart"), "status": "paid"},
        "domain": domain, "total": amount,
        "line_items": [{"description": f"{what} of {domain}", "domain": domain, "role": kind,
                        "years": years, **amount}],
        "refund": None,
    }
