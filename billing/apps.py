from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        # Registrar operations that charge (the paid registrant change) keep their orders
        # here, through registrar.charges: registrar itself does not import billing.
        from billing.charges import OrderBook
        from registrar import charges

        charges.register(OrderBook())

        # Registrations read from a registrar are attached to the customer who ordered
        # them, or whose e-mail their holder has.
        from billing.customers import find_customers
        from registrar import customers

        customers.register(find_customers)

        # The sandbox, seeded from the mirror, also knows the orders being followed.
        from billing.sandbox_seed import open_sandbox_orders
        from registrar.sandbox import seed

        seed.register_mirror_source(open_sandbox_orders)

        # Orders and their webhook events on the timelines of registrations and customers.
        from backoffice import timeline
        from billing import history

        timeline.register_common(["billing.account"])
        for subject in ("registrar.registration", "billing.account"):
            timeline.register(subject, history.order_entries)
            timeline.register(subject, history.webhook_entries)
