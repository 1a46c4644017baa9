from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "compensation.health"
    label = "health"
    verbose_name = "Health"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from compensation.health.heartbeat import beat_on_worker_start

        # A freshly started cluster is visible at once, not only after the first schedule run.
        post_spawn.connect(beat_on_worker_start, dispatch_uid="health-heartbeat-on-spawn")
