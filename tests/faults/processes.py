"""Real processes for the fault tests: a web server and a django-q2 cluster on the test database,
and a loop that terminates PostgreSQL backends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent.parent


def database_dsn() -> str:
    settings_dict = connection.settings_dict
    return (
        f"postgresql://{settings_dict['USER'] or 'postgres'}@{settings_dict['HOST']}:"
        f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    )


def process_env(*, application_name: str, **extra: str) -> dict[str, str]:
    """Environment of a child process on the test database (base settings, not test ones: real
    e-mail backend, a real task broker)."""
    dsn = database_dsn().replace("postgresql://", "postgres://")
    env = {
        **os.environ,
        "DATABASE_URL": f"{dsn}?application_name={application_name}",
        "DATABASE_CONN_MAX_AGE": "60",
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "Q_SYNC": "false",
        "Q_WORKERS": "1",
        "LOG_LEVEL": "WARNING",
        "COMPENSATION_RATE_LIMIT": "0",
    }
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 60) -> str:
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=timeout,
        capture_output=True,
        text=True,
    )
    return result.stdout


@dataclass
class Cluster:
    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        """SIGKILL the whole cluster (the parent and its worker processes)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@contextmanager
def qcluster(env: dict[str, str]) -> Iterator[Cluster]:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    cluster = Cluster(process)
    try:
        yield cluster
    finally:
        cluster.kill()


@dataclass
class Web:
    process: subprocess.Popen[str]
    url: str


@contextmanager
def web_server(env: dict[str, str]) -> Iterator[Web]:
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, str(ROOT / "tests" / "faults" / "serve_wsgi.py")],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("PORT "), f"the web server did not start: {line!r}"
        yield Web(process=process, url=f"http://127.0.0.1:{line.split()[1]}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@dataclass
class Terminator:
    """Terminates, every `interval` seconds, the backends of the processes named `target`."""

    dsn: str
    target: str
    interval: float
    terminated: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as admin:
            while not self._stop.wait(self.interval):
                rows = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s AND pid <> pg_backend_pid()",
                    [self.target],
                ).fetchall()
                self.terminated += sum(1 for (done,) in rows if done)


@contextmanager
def terminating_backends(target: str, *, interval: float) -> Iterator[Terminator]:
    terminator = Terminator(dsn=database_dsn(), target=target, interval=interval)
    thread = threading.Thread(target=terminator.run, daemon=True)
    thread.start()
    try:
        yield terminator
    finally:
        terminator._stop.set()
        thread.join(timeout=10)


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
