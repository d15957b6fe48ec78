"""The changelists and the needs-attention report at scale: the ledger's figures kept on
each order (filled here for the orders there are), the partial indexes of the
needs-attention sections, the account e-mail index for search by e-mail, and trigram
indexes for substring search (PostgreSQL only)."""

import django.db.models.functions.text
from django.db import migrations, models

from backoffice.db import trigram_indexes


def fill_ledger_figures(apps, schema_editor):
    """One UPDATE over the orders that have ledger entries, each figure a sum over the
    order's own entries (the ledger's order_id index)."""
    from django.db.models import BigIntegerField, Count, OuterRef, Subquery, Sum, Value
    from django.db.models.functions import Coalesce

    Order = apps.get_model("billing", "Order")
    LedgerEntry = apps.get_model("billing", "LedgerEntry")
    db = schema_editor.connection.alias

    def total(kind, state, aggregate, **extra):
        rows = (LedgerEntry.objects.using(db).filter(order=OuterRef("pk"), kind=kind,
                                                     state=state, **extra)
                .order_by().values("order").annotate(total=aggregate).values("total"))
        return Coalesce(Subquery(rows, output_field=BigIntegerField()), Value(0),
                        output_field=BigIntegerField())

    Order.objects.using(db).filter(
        pk__in=LedgerEntry.objects.using(db).values("order_id")).update(
        paid_minor=total("payment", "succeeded", Sum("amount_minor")),
        refunded_back_minor=total("refund", "succeeded", Sum("amount_minor")),
        refunds_pending=total("refund", "pending", Count("pk"), settled_by__isnull=True))


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0008_currency_from_iso4217_table'),
    ]

    operations = [
        migrations.AddField(
            model_name='order',
            name='paid_minor',
            field=models.PositiveBigIntegerField(default=0, editable=False, help_text='Succeeded payments recorded in the ledger.', verbose_name='paid (ledger)'),
        ),
        migrations.AddField(
            model_name='order',
            name='refunded_back_minor',
            field=models.PositiveBigIntegerField(default=0, editable=False, help_text='Succeeded refunds recorded in the ledger.', verbose_name='refunded (ledger)'),
        ),
        migrations.AddField(
            model_name='order',
            name='refunds_pending',
            field=models.PositiveIntegerField(default=0, editable=False, help_text='Refund entries pending that no later entry settles.', verbose_name='refunds pending (ledger)'),
        ),
        # Filled before the partial indexes exist: one pass, no index kept up as it goes.
        migrations.RunPython(fill_ledger_figures, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name='account',
            index=models.Index(django.db.models.functions.text.Upper('email'), name='account_email_upper'),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(condition=models.Q(('status__in', ['payment_successful', 'registration_in_progress', 'transfer_ack', 'transfer_started'])), fields=['placed_at', 'id'], name='order_attention_undelivered'),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(condition=models.Q(('paid_minor__gt', 0), ('refunded_back_minor__lt', models.F('paid_minor')), ('status__in', ['failed', 'transfer_failed'])), fields=['placed_at', 'id'], name='order_attention_failed'),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(condition=models.Q(('refunds_pending__gt', 0)), fields=['placed_at', 'id'], name='order_attention_refund'),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(condition=models.Q(('quoted_total_minor__isnull', False), ('status__in', ['payment_successful', 'refunded', 'registered', 'registration_in_progress', 'transfer_ack', 'transfer_completed', 'transfer_failed', 'transfer_started', 'transfer_success', 'transferred']), models.Q(('quoted_total_minor', models.F('total_minor')), _negated=True)), fields=['placed_at', 'id'], name='order_attention_price'),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(condition=models.Q(('refunded_minor', 0), ('status', 'refunded')), fields=['placed_at', 'id'], name='order_attention_refunded'),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(condition=models.Q(('unsettled_since__isnull', False)), fields=['placed_at', 'id'], name='order_attention_unsettled'),
        ),
        migrations.AddIndex(
            model_name='ledgerentry',
            index=models.Index(fields=['external_reference'], name='ledger_reference'),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['upstream_id'], name='order_upstream_id'),
        ),
        migrations.AddIndex(
            model_name='webhookevent',
            index=models.Index(fields=['event_id'], name='webhook_event_id'),
        ),
        trigram_indexes("billing_order", "domain"),
        trigram_indexes("billing_orderitem", "domain", upper=["description"]),
        trigram_indexes("billing_account", upper=["name"]),
    ]
