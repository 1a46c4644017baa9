"""Settings for the cluster benchmark: the HTTP benchmark's settings plus a bench-only app that
counts every task the cluster's workers run (a Redis INCR per task, by function), so the benchmark
reports the tasks that really ran instead of an estimate."""

from bench.http_settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench.task_counting.TaskCountingConfig"]  # noqa: F405
