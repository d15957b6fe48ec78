"""The audit trail and the payment ledger are append-only: no ORM path changes or
removes a row, and on PostgreSQL the database refuses UPDATE, DELETE and TRUNCATE
itself, whoever connects."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from backoffice.models import AppendOnlyError, StaffAction
from billing.models import LedgerEntry
from tests.factories import LedgerEntryFactory, UserFactory, staff_action

POSTGRESQL_ONLY = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the append-only triggers exist on PostgreSQL only; on SQLite the model layer "
           "is the guard (tested above)")
DEPLOY_DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


@pytest.fixture(params=["audit", "ledger"])
def row(request, db):
    """A row of each append-only table, with the field a rewrite would change."""
    if request.param == "audit":
        return staff_action(actor=UserFactory(), message="as written")
    return LedgerEntryFactory(note="as written")


def field(obj) -> str:
    return "message" if isinstance(obj, StaffAction) else "note"


def unchanged(obj) -> bool:
    model = type(obj)
    return model.objects.filter(pk=obj.pk, **{field(obj): "as written"}).exists()


ORM_PATHS = {
    "instance save": lambda obj: (setattr(obj, field(obj), "rewritten"), obj.save()),
    "instance save, update_fields": lambda obj: obj.save(update_fields=[field(obj)]),
    "instance save, force_update": lambda obj: obj.save(force_update=True),
    "instance delete": lambda obj: obj.delete(),
    "queryset update": lambda obj: type(obj).objects.filter(pk=obj.pk).update(
        **{field(obj): "rewritten"}),
    "queryset delete": lambda obj: type(obj).objects.filter(pk=obj.pk).delete(),
    "base manager update": lambda obj: type(obj)._base_manager.filter(pk=obj.pk).update(
        **{field(obj): "rewritten"}),
    "base manager _update": lambda obj: type(obj)._base_manager.filter(pk=obj.pk)._update(
        {type(obj)._meta.get_field(field(obj)): "rewritten"}.items()),
    "base manager delete": lambda obj: type(obj)._base_manager.filter(pk=obj.pk).delete(),
    "base manager _raw_delete": lambda obj: type(obj)._base_manager.filter(
        pk=obj.pk)._raw_delete(connection.alias),
    "default manager _raw_delete": lambda obj: type(obj).objects.all()._raw_delete(
        connection.alias),
    "bulk_update": lambda obj: type(obj).objects.bulk_update(
        [setattr(obj, field(obj), "rewritten") or obj], [field(obj)]),
    "base manager bulk_update": lambda obj: type(obj)._base_manager.bulk_update(
        [setattr(obj, field(obj), "rewritten") or obj], [field(obj)]),
    "upsert (bulk_create update_conflicts)": lambda obj: type(obj).objects.bulk_create(
        [obj], update_conflicts=True, unique_fields=["id"], update_fields=[field(obj)]),
}


@pytest.mark.parametrize("path", ORM_PATHS)
def test_no_orm_path_changes_or_removes_a_row(row, path):
    with pytest.raises(AppendOnlyError, match="append-only"):
        ORM_PATHS[path](row)
    assert unchanged(row)


def test_related_managers_refuse_too(db):
    actor = UserFactory()
    action = staff_action(actor=actor, message="as written")
    entry = LedgerEntryFactory(note="as written")
    for attempt in (lambda: actor.staff_actions.update(message="x"),
                    lambda: actor.staff_actions.all().delete(),
                    lambda: entry.order.ledger_entries.update(note="x"),
                    lambda: entry.order.ledger_entries.all().delete()):
        with pytest.raises(AppendOnlyError):
            attempt()
    assert unchanged(action) and unchanged(entry)


def test_a_row_given_an_existing_id_never_overwrites_it(row):
    impostor = type(row)(**{f.attname: getattr(row, f.attname)
                            for f in type(row)._meta.concrete_fields})
    setattr(impostor, field(row), "rewritten")
    assert impostor._state.adding
    with pytest.raises(DatabaseError), transaction.atomic():  # IntegrityError, not UPDATE
        impostor.save()
    assert unchanged(row)


def test_new_rows_are_still_written(db):
    before = StaffAction.objects.count()
    staff_action()
    StaffAction.objects.bulk_create([StaffAction(actor_label="system", action="x.y",
                                                 outcome="succeeded")])
    assert StaffAction.objects.count() == before + 2
    LedgerEntryFactory()
    assert LedgerEntry.objects.count() == 1


# --- the ledger's admin: read-only, and a POST is refused, not a server error ------------


def test_an_admin_post_on_a_ledger_row_is_refused_with_403(client, admin_user_role):
    entry = LedgerEntryFactory(note="as written")
    client.force_login(admin_user_role)
    change_url = reverse("admin:billing_ledgerentry_change", args=[entry.pk])
    page = client.get(change_url)
    assert page.status_code == 200  # to read
    assert b'name="_save"' not in page.content
    assert client.post(change_url, {"note": "rewritten"}).status_code == 403
    delete_url = reverse("admin:billing_ledgerentry_delete", args=[entry.pk])
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert unchanged(entry)


# --- PostgreSQL: the database refuses it too ---------------------------------------------


@POSTGRESQL_ONLY
@pytest.mark.parametrize("statement", [
    "UPDATE {table} SET {column} = 'rewritten' WHERE id = %s",
    "DELETE FROM {table} WHERE id = %s",
    "TRUNCATE {table} CASCADE",
])
def test_the_database_refuses_raw_sql(row, statement):
    table = type(row)._meta.db_table
    sql = statement.format(table=table, column=field(row))
    with (pytest.raises(DatabaseError, match="append-only"), transaction.atomic(),
          connection.cursor() as cursor):
        # Check the test's deferred foreign keys now: TRUNCATE refuses a table with
        # pending trigger events before the append-only trigger gets a say.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql, [row.pk] if "%s" in sql else None)
    assert unchanged(row)


@POSTGRESQL_ONLY
def test_the_triggers_are_in_place(db):
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE NOT t.tgisinternal AND c.relname IN ('backoffice_staffaction',
                                                       'billing_ledgerentry')
            ORDER BY 1, 2""")
        triggers = cursor.fetchall()
    assert triggers == [
        ("backoffice_staffaction", "backoffice_staffaction_append_only"),
        ("backoffice_staffaction", "backoffice_staffaction_no_truncate"),
        ("billing_ledgerentry", "billing_ledgerentry_append_only"),
        ("billing_ledgerentry", "billing_ledgerentry_no_truncate"),
    ]


def _deploy_grants(app_role: str) -> list[str]:
    """The application role's grants, as docs/deploy.md gives them."""
    text = DEPLOY_DOC.read_text()
    block = re.search(r"```sql\n-- The application role's grants.*?\n(.*?)```", text, re.S)
    assert block, "docs/deploy.md has lost its grants block"
    sql = block.group(1).replace("backoffice_app", app_role)
    sql = sql.replace("backoffice_owner", connection.settings_dict["USER"] or "postgres")
    sql = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [part.strip() for part in sql.split(";") if part.strip()]


# What the application role does on each table: read, and append (the id from the table's
# sequence); and what it must not be able to do. Table names come from the models.
APPENDS = {
    StaffAction: (
        "INSERT INTO {table} (created_at, actor_label, action, target_type, target_id, "
        "target_repr, parameters, outcome, upstream_code, upstream_request_id, process_id, "
        "message, channel) VALUES (now(), 'app', 'x.y', '', '', '', '{{}}', 'succeeded', '', "
        "'', '', '', 'web') RETURNING id"),
    LedgerEntry: (
        "INSERT INTO {table} (order_id, kind, state, amount_minor, currency, "
        "external_reference, note, occurred_at) SELECT order_id, 'payment', 'succeeded', 1, "
        "'USD', '', '', now() FROM {table} WHERE id = %s RETURNING id"),
}
READ = "SELECT count(*) FROM {table}"
FORBIDDEN = (
    "UPDATE {table} SET {column} = 'x'",
    "DELETE FROM {table}",
    "TRUNCATE {table}",
    "ALTER TABLE {table} DISABLE TRIGGER ALL",
    "DROP TRIGGER {table}_append_only ON {table}",
)


@POSTGRESQL_ONLY
def test_the_documented_application_role_can_append_but_not_rewrite(row):
    """The grants of docs/deploy.md, applied to a role of this test's own (rolled back
    with it): that role writes new rows but cannot change, remove, empty or unguard the
    append-only tables."""
    app_role = "backoffice_app_test_grants"
    names = {"table": type(row)._meta.db_table, "column": field(row)}
    with connection.cursor() as cursor:
        cursor.execute("CREATE ROLE backoffice_app_test_grants NOLOGIN")
        for statement in _deploy_grants(app_role):
            cursor.execute(statement)
        cursor.execute("SET ROLE backoffice_app_test_grants")
        try:
            cursor.execute(READ.format(**names))
            append = APPENDS[type(row)].format(**names)
            cursor.execute(append, [row.pk] if "%s" in append else None)
            assert cursor.fetchone()[0] > row.pk
            for refused in FORBIDDEN:
                with (pytest.raises(DatabaseError, match=r"permission denied|must be owner"),
                      transaction.atomic()):
                    cursor.execute(refused.format(**names))
        finally:
            cursor.execute("RESET ROLE")
    assert unchanged(row)
