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
