"""The sample deployment files in deploy/ work as shipped: the systemd units pass
`systemd-analyze verify`, and deploy/nginx.conf passes `nginx -t` and, run in front of gunicorn
(config/gunicorn.conf.py, production settings), redirects HTTP to HTTPS, forwards
X-Forwarded-Proto (no redirect loop), refuses bodies over client_max_body_size and keeps
order-page tokens out of its access log (path and referrer)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import urllib3
from cryptography.fernet import Fernet

from .certificates import self_signed
from .prod_stack import HOST, LISTENING, SECRET_KEY, wait_for

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
TOKEN = "Nq8TOKENd0notlog-7f3a"


def _require(tool: str) -> str:
    found = shutil.which(tool) or next(
        (p for p in (f"/usr/sbin/{tool}", f"/sbin/{tool}") if os.path.exists(p)), None
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(
                f"CI must test the deployment files: {tool} is missing (.ci/run installs it)"
            )
        pytest.skip(f"needs {tool}")
    return found


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = _require("systemd-analyze")
    units = []
    for name in (
        "compensation-web.service",
        "compensation-cluster.service",
        "compensation-backup.service",
        "compensation-backup.timer",
    ):
        text = (DEPLOY / name).read_text().replace("/srv/compensation/app", str(ROOT))
        unit = tmp_path / name
        unit.write_text(text)
        units.append(str(unit))
    result = subprocess.run(  # noqa: S603
        [analyze, "verify", *units], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "compensation" not in result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _site(tmp: Path, *, http_port: int, https_port: int, upstream: int) -> Path:
    """deploy/nginx.conf with only the machine-specific parts changed: ports, certificate and
    log paths. Everything the test checks (maps, log format, headers, limits) is as shipped."""
    cert, key = self_signed(tmp, HOST)
    text = (DEPLOY / "nginx.conf").read_text()
    replacements = {
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream};",
        "    listen [::]:80;\n": "",
        "    listen [::]:443 ssl http2;\n": "",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        f"/etc/letsencrypt/live/{HOST}/fullchain.pem": str(cert),
        f"/etc/letsencrypt/live/{HOST}/privkey.pem": str(key),
        "/var/log/nginx/": f"{tmp}/",
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    (tmp / "site.conf").write_text(text)
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"  {kind}_temp_path {tmp}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = tmp / "nginx.conf"
    main.write_text(
        f"{user}worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/main-error.log;\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{\n{temp}\n  access_log off;\n  include {tmp}/site.conf;\n}}\n"
    )
    return main


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=SECRET_KEY,
        CREDENTIALS_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS=HOST,
        STATUS_API_URL="http://127.0.0.1:9",
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        STATIC_ROOT=str(tmp_path / "static"),
        WEB_BIND="127.0.0.1:0",
        WEB_CONCURRENCY="1",
        WEB_THREADS="2",
        LOG_LEVEL="WARNING",
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        port = wait_for(lambda: LISTENING.search(log.read_text(errors="replace")), 60)
        yield int(port.group(1)), log
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_nginx_site_redirects_forwards_limits_and_redacts(
    tmp_path: Path, gunicorn: tuple[int, Path]
) -> None:
    nginx = _require("nginx")
    upstream, gunicorn_log = gunicorn
    http_port, https_port = _free_port(), _free_port()
    main = _site(tmp_path, http_port=http_port, https_port=https_port, upstream=upstream)
    args = [nginx, "-p", str(tmp_path), "-c", str(main)]
    check = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
    assert check.returncode == 0, check.stderr
    server = subprocess.Popen([*args, "-g", "daemon off;"], start_new_session=True)  # noqa: S603
    try:
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        http = requests.Session()
        http.trust_env = False
        http.verify = False  # the test's own self-signed certificate
        http.headers["Host"] = HOST
        https = f"https://127.0.0.1:{https_port}"
        wait_for(lambda: http.get(f"{https}/healthz?scope=web", timeout=5), 30)

        plain = http.get(f"http://127.0.0.1:{http_port}/some/page?x=1", allow_redirects=False)
        assert plain.status_code == 301
        assert plain.headers["Location"] == f"https://{HOST}/some/page?x=1"

        # Through HTTPS the app sees X-Forwarded-Proto: https: an answer, not a redirect.
        page = http.get(
            f"{https}/orders/link/{TOKEN}/",
            headers={"Referer": f"https://{HOST}/orders/link/{TOKEN}x/"},
            allow_redirects=False,
            timeout=10,
        )
        assert page.status_code == 404
        assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        # The client cannot pretend to be on plain HTTP or spoof the scheme: nginx sets it.
        spoofed = http.get(
            f"{https}/orders/link/{TOKEN}/",
            headers={"X-Forwarded-Proto": "http"},
            allow_redirects=False,
            timeout=10,
        )
        assert spoofed.status_code == 404

        too_big = http.post(
            f"{https}/api/v1/compensation-requests",
            data=b"x" * (21 * 1024 * 1024),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert too_big.status_code == 413
    finally:
        server.terminate()
        server.wait(timeout=30)
    access = (tmp_path / "compensation.access.log").read_text()
    assert '"GET /orders/link/<redacted>/ HTTP/1.1" 404' in access
    assert f'"https://{HOST}/orders/link/<redacted>/"' in access
    assert TOKEN not in access
    assert '"GET /some/page?x=1 HTTP/1.1" 301' in access
    # (the 413 is logged once nginx has drained the refused body; its error log says why)
    assert (
        "client intended to send too large body"
        in (tmp_path / "compensation.error.log").read_text()
    )
    assert TOKEN not in gunicorn_log.read_text()
    assert "/orders/link/<redacted>/" in gunicorn_log.read_text()
