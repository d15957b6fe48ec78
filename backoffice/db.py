"""Database-level guards shared by migrations."""

from collections.abc import Sequence

from django.db import migrations


def append_only(table: str) -> migrations.RunPython:
    """A migration operation that makes `table` refuse UPDATE and DELETE on PostgreSQL.

    The first version of the guard, kept for the migrations that use it;
    `append_only_guard` (below) supersedes it and refuses TRUNCATE as well.
    """

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(
            f"""
            CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{table} is append-only: %% is not allowed', TG_OP;
            END;
            $$ LANGUAGE plpgsql;
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION {table}_append_only();
            """
        )

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};"
            f"DROP FUNCTION IF EXISTS {table}_append_only();"
        )

    return migrations.RunPython(forwards, backwards)


class PostgreSQLOnly(migrations.RunSQL):
    """RunSQL that runs on PostgreSQL and is a no-op on every other database.

    Each statement is given whole (a list, not a script), so dollar-quoted function
    bodies are not split and a literal % needs no escaping."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def append_only_guard(table: str) -> PostgreSQLOnly:
    """Make `table` refuse UPDATE, DELETE (row-level triggers) and TRUNCATE (a
    statement-level trigger) on PostgreSQL, whoever connects.

    The model layer refuses the same through the ORM; the triggers also stop raw SQL,
    other clients, and a `manage.py flush` pointed at the wrong database. They belong to
    the role that runs migrations: the application's role is granted only SELECT and
    INSERT on these tables (docs/deploy.md), so it can neither change rows nor drop or
    disable the triggers. Replaces the UPDATE/DELETE trigger of `append_only` in place.
    """
    function = f"{table}_append_only"
    refuse = f"""
        CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'restrict_violation',
                      HINT = 'Rows of this table are never changed or removed; '
                             'record a new row instead.';
        END;
        $$"""
    return PostgreSQLOnly(
        sql=[
            refuse,
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION {function}()""",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION {function}()""",
        ],
        # Back to the first guard: UPDATE and DELETE refused, TRUNCATE allowed.
        reverse_sql=[f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}"],
    )


def trigram_indexes(table: str, *columns: str, upper: Sequence[str] = ()) -> PostgreSQLOnly:
    """GIN trigram (pg_trgm) indexes on `table`'s `columns`, on PostgreSQL only.

    They serve the changelists' substring and prefix searches (backoffice/changelist.py):
    a column in `columns` is indexed as stored, for `LIKE` on lower-case names; one in
    `upper` as `UPPER(column::text)`, the expression Django's `icontains` compares.
    pg_trgm is a trusted extension, so the database owner may create it.
    """
    statements = ["CREATE EXTENSION IF NOT EXISTS pg_trgm"]
    reverse = []
    for column in columns:
        name = f"{table}_{column}_trgm"[:63]
        statements.append(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
                          f'USING gin ("{column}" gin_trgm_ops)')
        reverse.append(f'DROP INDEX IF EXISTS "{name}"')
    for column in upper:
        name = f"{table}_{column}_upper_trgm"[:63]
        statements.append(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
                          f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)')
        reverse.append(f'DROP INDEX IF EXISTS "{name}"')
    return PostgreSQLOnly(sql=statements, reverse_sql=reverse)


_BYTEWISE: dict[str, bool] = {}


def sorts_bytewise(using: str = "default") -> bool:
    """Whether text in this database sorts by code point (SQLite; PostgreSQL under a C
    collation, C.UTF-8 included). Only then is "name starts with p" the same as
    p <= name < p' (p with its last character incremented), a range the name index
    walks in order. PostgreSQL does not treat C.UTF-8 as C for LIKE, so without the
    range a prefix LIKE with ORDER BY name LIMIT walks the whole index."""
    if using not in _BYTEWISE:
        from django.db import connections

        connection = connections[using]
        bytewise = connection.vendor == "sqlite"
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT datcollate FROM pg_database "
                               "WHERE datname = current_database()")
                row = cursor.fetchone()
            bytewise = bool(row) and row[0].split(".")[0] in ("C", "POSIX")
        _BYTEWISE[using] = bytewise
    return _BYTEWISE[using]


def prefix_range(field: str, prefix: str, using: str = "default") -> dict[str, str]:
    """Lookups for `field` starting with `prefix`: the startswith, plus the range that
    lets the index serve it in order where the collation allows (`sorts_bytewise`)."""
    lookups = {f"{field}__startswith": prefix}
    if prefix and sorts_bytewise(using) and ord(prefix[-1]) < 0x10FFFF:
        lookups |= {f"{field}__gte": prefix,
                    f"{field}__lt": prefix[:-1] + chr(ord(prefix[-1]) + 1)}
    return lookups
