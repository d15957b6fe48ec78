"""The totals of all orders, kept by PostgreSQL itself, so the finance pages do not sum a
million orders on every view (billing/finance/totals.py `totals_of_all_orders`).

Statement-level triggers with transition tables append one delta row per (currency,
status) a statement changed. Deltas are only ever inserted, never updated, so concurrent
writers (a split sync on several workers) never wait on a shared summary row nor
deadlock on it; `billing_order_total_compact()` folds them together from time to time
(the beat's compact-order-totals). Updates that move no money and no status cancel out
and append nothing. TRUNCATE empties the deltas with the orders.

SQLite, the embedded default with demo-sized data, has no such table: its totals are
summed directly.
"""

from django.db import migrations

FORWARD = """
CREATE TABLE billing_order_total_delta (
    id bigserial PRIMARY KEY,
    currency text NOT NULL,
    status text NOT NULL,
    order_count bigint NOT NULL,
    total_minor numeric NOT NULL,
    fees_minor numeric NOT NULL,
    refunded_minor numeric NOT NULL
);

CREATE FUNCTION billing_order_total_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO billing_order_total_delta (currency, status, order_count, total_minor, fees_minor,
                             refunded_minor)
        SELECT currency, status, count(*), sum(total_minor), sum(fees_minor),
               sum(refunded_minor)
        FROM new_rows GROUP BY currency, status;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO billing_order_total_delta (currency, status, order_count, total_minor, fees_minor,
                             refunded_minor)
        SELECT currency, status, -count(*), -sum(total_minor), -sum(fees_minor),
               -sum(refunded_minor)
        FROM old_rows GROUP BY currency, status;
    ELSE
        INSERT INTO billing_order_total_delta (currency, status, order_count, total_minor, fees_minor,
                             refunded_minor)
        SELECT currency, status, sum(n), sum(t), sum(f), sum(r)
        FROM (SELECT currency, status, 1 AS n, total_minor::numeric AS t,
                     fees_minor::numeric AS f, refunded_minor::numeric AS r FROM new_rows
              UNION ALL
              SELECT currency, status, -1, -total_minor::numeric, -fees_minor::numeric,
                     -refunded_minor::numeric FROM old_rows) AS moved
        GROUP BY currency, status
        HAVING sum(n) <> 0 OR sum(t) <> 0 OR sum(f) <> 0 OR sum(r) <> 0;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER billing_order_total_insert AFTER INSERT ON billing_order
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION billing_order_total_append();
CREATE TRIGGER billing_order_total_update AFTER UPDATE ON billing_order
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION billing_order_total_append();
CREATE TRIGGER billing_order_total_delete AFTER DELETE ON billing_order
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION billing_order_total_append();

CREATE FUNCTION billing_order_total_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE billing_order_total_delta;
    RETURN NULL;
END $$;
CREATE TRIGGER billing_order_total_truncate AFTER TRUNCATE ON billing_order
    FOR EACH STATEMENT EXECUTE FUNCTION billing_order_total_truncate();

-- Folds the committed deltas into one row per (currency, status); rows appended
-- meanwhile are not in this statement's snapshot and stay for the next run.
CREATE FUNCTION billing_order_total_compact() RETURNS void LANGUAGE sql AS $$
    WITH folded AS (DELETE FROM billing_order_total_delta RETURNING *)
    INSERT INTO billing_order_total_delta (currency, status, order_count, total_minor, fees_minor,
                         refunded_minor)
    SELECT currency, status, sum(order_count), sum(total_minor), sum(fees_minor),
           sum(refunded_minor)
    FROM folded GROUP BY currency, status
    HAVING sum(order_count) <> 0 OR sum(total_minor) <> 0 OR sum(fees_minor) <> 0
        OR sum(refunded_minor) <> 0;
$$;

-- The orders already there, counted while no one can write one.
LOCK TABLE billing_order IN SHARE MODE;
INSERT INTO billing_order_total_delta (currency, status, order_count, total_minor, fees_minor, refunded_minor)
SELECT currency, status, count(*), sum(total_minor), sum(fees_minor), sum(refunded_minor)
FROM billing_order GROUP BY currency, status;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS billing_order_total_insert ON billing_order;
DROP TRIGGER IF EXISTS billing_order_total_update ON billing_order;
DROP TRIGGER IF EXISTS billing_order_total_delete ON billing_order;
DROP TRIGGER IF EXISTS billing_order_total_truncate ON billing_order;
DROP FUNCTION IF EXISTS billing_order_total_append();
DROP FUNCTION IF EXISTS billing_order_total_truncate();
DROP FUNCTION IF EXISTS billing_order_total_compact();
DROP TABLE IF EXISTS billing_order_total_delta;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:  # several statements, no params
            cursor.execute(FORWARD)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(BACKWARD)


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0011_account_reference_upper'),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
