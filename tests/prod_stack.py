"""A production-like stack on one machine, for the smoke test, the two-node burst test and
`bench/bench_scaleout.py`: a throwaway PostgreSQL database migrated by `manage.py migrate`,
Redis as broker and cache, gunicorn servers with config/gunicorn.conf.py and
`config.settings.production`, `manage.py qcluster` processes, the status-service double (a real
HTTP server in this process) and e-mail written to files (`filemail://`).

Every server binds 127.0.0.1 port 0; the port is read from gunicorn's "Listening at" line.
Nothing here uses pytest: a benchmark script drives the same stack.
"""

from __future__ import annotations

import contextlib
import csv
import email
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import psycopg
import redis
import requests
from cryptography.fernet import Fernet

from compensation.status.double import StatusDouble, profile

ROOT = Path(__file__).resolve().parent.parent
HOST = "shop.example.com"
SECRET_KEY = "stack-" + "q8Wd3Rt6Yu1Io4Pa7Sd0Fg2Hj5Kl9Zx" * 2
METRICS_TOKEN = "stack-metrics-token-5f1c2a"
# Redis databases of this worktree's stack (broker, cache); flushed at start and end.
BROKER_REDIS = os.environ.get("STACK_BROKER_REDIS_URL", "redis://127.0.0.1:6379/2")
CACHE_REDIS = os.environ.get("STACK_CACHE_REDIS_URL", "redis://127.0.0.1:6379/3")
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


def redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(BROKER_REDIS, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def pg_server_url(settings_dict: dict[str, Any]) -> str:
    user = settings_dict.get("USER") or "postgres"
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}" if password else user
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}"


@contextlib.contextmanager
def throwaway_database(server_url: str, name: str) -> Iterator[str]:
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server_url}/{name}"
    finally:
        with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def locked_resolver(platform: str, username: str, user_id: str | None) -> dict[str, Any]:
    """Every account the desk asks about is locked and untouched since delivery (approved)."""
    return profile(
        platform=platform, username=username, user_id=user_id, state="locked", followers=250
    )


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM to the main process (graceful: gunicorn finishes its requests, qcluster its
        tasks, each stopping its own children), then SIGKILL to the whole process group."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        return int(self.popen.returncode)

    def output(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")


@dataclass
class Web(Process):
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Stack:
    workdir: Path
    database_url: str
    status: StatusDouble
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)

    # --- environment --------------------------------------------------------------------------
    @property
    def email_dir(self) -> Path:
        return self.workdir / "mail"

    @property
    def static_root(self) -> Path:
        return self.workdir / "static"

    def env(self, **overrides: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        base.update(
            DJANGO_SETTINGS_MODULE="config.settings.production",
            SECRET_KEY=SECRET_KEY,
            CREDENTIALS_ENCRYPTION_KEYS=self.extra_env.get("CREDENTIALS_ENCRYPTION_KEYS", ""),
            ALLOWED_HOSTS=HOST,
            SITE_URL=f"https://{HOST}",
            DATABASE_URL=self.database_url,
            REDIS_URL=BROKER_REDIS,
            CACHE_URL=CACHE_REDIS.replace("redis://", "rediscache://", 1),
            EMAIL_URL=f"filemail:///{self.email_dir}",  # django-environ drops one slash
            STATUS_API_URL=self.status.url,
            STATUS_API_BACKOFF_BASE="0.05",
            COMPENSATION_RATE_LIMIT="0",
            STATIC_ROOT=str(self.static_root),
            METRICS_TOKEN=METRICS_TOKEN,
            LOG_LEVEL="WARNING",
            WEB_BIND="127.0.0.1:0",
            WEB_CONCURRENCY="2",
            WEB_THREADS="4",
            Q_WORKERS="2",
            PYTHONUNBUFFERED="1",
        )
        base.update(self.extra_env)
        base.update(overrides)
        return base

    # --- commands -----------------------------------------------------------------------------
    def manage(self, *args: str, timeout: float = 300, **env: str) -> str:
        result = subprocess.run(  # noqa: S603 - our interpreter, our arguments
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
            )
        return result.stdout

    def deploy(self) -> None:
        """The deployment steps of docs/deploy.md, in order."""
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        self.manage("setup_roles")
        self.manage("setup_schedules")

    # --- processes ----------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        stdout, stderr = self.workdir / f"{name}.out", self.workdir / f"{name}.err"
        popen = subprocess.Popen(  # noqa: S603
            args,
            cwd=ROOT,
            env=env,
            stdout=stdout.open("wb"),
            stderr=stderr.open("wb"),
            start_new_session=True,  # its own process group: stopped as a whole, by our pid
        )
        process = Process(name, popen, stdout, stderr)
        self.processes.append(process)
        return process

    def start_web(self, name: str, **env: str) -> Web:
        process = self._spawn(
            name,
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"],
            self.env(**env),
        )
        web = Web(process.name, process.popen, process.stdout, process.stderr)
        self.processes[-1] = web
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = LISTENING.search(web.stderr.read_text(errors="replace"))
            if found:
                web.port = int(found.group(1))
                break
            if web.popen.poll() is not None:
                raise RuntimeError(f"gunicorn {name} exited:\n{web.output()}")
            time.sleep(0.1)
        else:
            raise RuntimeError(f"gunicorn {name} did not listen:\n{web.output()}")
        wait_for(lambda: self.client().get(f"{web.url}/healthz?scope=web", timeout=5), 60)
        return web

    def start_cluster(self, name: str, **env: str) -> Process:
        return self._spawn(name, [sys.executable, "manage.py", "qcluster"], self.env(**env))

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    # --- talking to it ------------------------------------------------------------------------
    @staticmethod
    def client() -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        # As nginx forwards it: the public host name, and HTTPS ended at the proxy. One
        # connection per request: a kept-alive connection that gunicorn closes after
        # WEB_KEEPALIVE idle seconds races a request sent on it at that moment (a reset seen
        # under load). nginx avoids it by closing idle upstream connections first
        # (deploy/nginx.conf: keepalive_timeout below WEB_KEEPALIVE).
        session.headers.update({"Host": HOST, "X-Forwarded-Proto": "https", "Connection": "close"})
        return session

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return list(conn.execute(query, params).fetchall())

    def emails(self) -> list[Message]:
        """Every message the file backend wrote (one file per connection, messages separated by
        a line of 79 dashes)."""
        messages = []
        for path in sorted(self.email_dir.glob("*.log")) if self.email_dir.exists() else []:
            for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
                if chunk.strip():
                    messages.append(email.message_from_bytes(chunk))
        return messages


def wait_for(probe: Any, timeout: float, interval: float = 0.2) -> Any:
    """Call `probe` until it returns something truthy (a response: status 200); its last value
    or exception is reported on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if isinstance(last, requests.Response) and last.status_code == 200:
                return last
            if last and not isinstance(last, requests.Response):
                return last
        except (requests.RequestException, psycopg.Error) as exc:
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"gave up after {timeout} s; last: {getattr(last, 'text', last)!r}")


@contextlib.contextmanager
def stack(workdir: Path, server_url: str, db_name: str) -> Iterator[Stack]:
    """A migrated throwaway database, flushed Redis databases, the status double; every process
    started through the returned Stack is stopped (SIGTERM, then SIGKILL) on the way out."""
    workdir.mkdir(parents=True, exist_ok=True)
    for url in (BROKER_REDIS, CACHE_REDIS):
        redis.Redis.from_url(url).flushdb()
    with throwaway_database(server_url, db_name) as database_url, StatusDouble() as double:
        double.resolver = locked_resolver
        running = Stack(
            workdir=workdir,
            database_url=database_url,
            status=double,
            extra_env={"CREDENTIALS_ENCRYPTION_KEYS": Fernet.generate_key().decode()},
        )
        try:
            yield running
        finally:
            running.stop_all()
            for url in (BROKER_REDIS, CACHE_REDIS):
                redis.Redis.from_url(url).flushdb()


# --- data files in the import formats (docs/formats.md) ---------------------------------------

COUNTERS = ("followers", "posts", "reposts", "comments", "likes", "follows", "messages")


def write_products(path: Path, products: list[tuple[str, str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "name", "platform"])
        writer.writerows(products)
    return path


def write_stock(path: Path, sku: str, usernames: list[str]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "username", "password", *COUNTERS])
        for username in usernames:
            writer.writerow([sku, username, f"pw-{username}", 250, 0, 0, 0, 0, 0, 0])
    return path


def write_orders(path: Path, orders: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(orders))
    return path


def history_order(
    order_id: str, email_address: str, sku: str, usernames: list[str], placed_at: str
) -> dict[str, Any]:
    """An order whose accounts were delivered before (their counters are the baseline)."""
    accounts = [
        {
            "username": u,
            "password": f"pw-{u}",
            **{c: (250 if c == "followers" else 0) for c in COUNTERS},
        }
        for u in usernames
    ]
    return {
        "order_id": order_id,
        "email": email_address,
        "placed_at": placed_at,
        "lines": [{"sku": sku, "accounts": accounts}],
    }
