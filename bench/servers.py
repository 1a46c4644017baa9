"""Processes the HTTP and cluster benchmarks run: gunicorn on a socket this process bound to
127.0.0.1 port 0 (handed over as a file descriptor, so no port is ever guessed), the django-q2
cluster, and the load generator (wrk when installed — `apt-get install wrk` — else a small
threaded Python client)."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def bench_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING", **extra})
    return env


@contextlib.contextmanager
def gunicorn(*, workers: int = 2, env: dict[str, str]) -> Iterator[str]:
    """gunicorn serving config.wsgi on 127.0.0.1:<ephemeral>; yields the base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter's gunicorn
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"fd://{fd}",
            "--log-level",
            "warning",
            "--worker-class",
            "sync",
        ],
        cwd=ROOT,
        env=env,
        pass_fds=(fd,),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/bench/minimal", process)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        listener.close()


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - 127.0.0.1
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@contextlib.contextmanager
def qcluster(*, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass(frozen=True)
class Load:
    requests_per_s: float
    p99_ms: float
    p50_ms: float
    errors: int
    tool: str


def load(url: str, *, seconds: float, connections: int = 8) -> Load:
    if shutil.which("wrk"):
        return _wrk(url, seconds=seconds, connections=connections)
    return _python_load(url, seconds=seconds, connections=connections)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk(url: str, *, seconds: float, connections: int) -> Load:
    output = subprocess.run(  # noqa: S603
        [
            shutil.which("wrk") or "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: .*", output)
    return Load(
        requests_per_s=rate,
        p99_ms=_ms(*p99.groups()) if p99 else float("nan"),
        p50_ms=_ms(*p50.groups()) if p50 else float("nan"),
        errors=int(errors.group(1)) if errors else 0 + (1 if socket_errors else 0),
        tool="wrk -t2",
    )


def _python_load(url: str, *, seconds: float, connections: int) -> Load:
    """Keep-alive HTTP/1.1 clients in threads: slower than wrk (the GIL), same for every URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        mine: list[float] = []
        while time.monotonic() < stop_at:
            begun = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - begun) * 1000)
            if response.status >= 400:
                errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return Load(
        requests_per_s=len(latencies) / elapsed,
        p99_ms=latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan"),
        p50_ms=statistics.median(latencies) if latencies else float("nan"),
        errors=errors[0],
        tool="python threads (wrk not installed)",
    )
