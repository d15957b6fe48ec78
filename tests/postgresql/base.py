"""Django's PostgreSQL backend, emptying the test database the way an operator would.

Transactional tests end by flushing every table with one TRUNCATE, which the triggers
of the append-only tables (the audit trail, the ledger) refuse, as they should refuse it
in production. The suite connects as a superuser, which may run the flush in replica
mode (session_replication_role), where ordinary triggers do not fire; the application's
own role may not set it.
"""

from django.db import transaction
from django.db.backends.postgresql import base


class DatabaseOperations(base.DatabaseOperations):
    def execute_sql_flush(self, sql_list):
        with (transaction.atomic(using=self.connection.alias,
                                 savepoint=self.connection.features.can_rollback_ddl),
              self.connection.cursor() as cursor):
            cursor.execute("SET LOCAL session_replication_role = replica")
            for sql in sql_list:
                cursor.execute(sql)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
