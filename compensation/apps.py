from django.apps import AppConfig


class CompensationConfig(AppConfig):
    name = "compensation"
    verbose_name = "Compensation"

    def ready(self) -> None:
        from compensation import receivers
        from inventory.signals import stock_arrived

        stock_arrived.connect(
            receivers.stock_arrived_wake_fulfilment,
            dispatch_uid="compensation.stock_arrived_wake_fulfilment",
        )
