"""config/gunicorn.conf.py takes its values from the settings (the WEB_* variables), and its
logger keeps order-page tokens out of gunicorn's access and error logs."""

from __future__ import annotations

import io
import logging
import os
import runpy
import subprocess
import sys
from pathlib import Path

from gunicorn.config import Config

from config.gunicorn_logging import RedactingLogger

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "eyJvIjo1LCJuIjoiQUJDIn0:1vabc:SIGNATURE-do-not-log"


def test_gunicorn_settings_come_from_the_environment_through_settings() -> None:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(
        WEB_BIND="127.0.0.1:9123",
        WEB_CONCURRENCY="3",
        WEB_THREADS="7",
        WEB_TIMEOUT="45",
        WEB_MAX_REQUESTS="1000",
    )
    probe = (
        "import runpy, json; c = runpy.run_path('config/gunicorn.conf.py'); "
        "print(json.dumps({k: c[k] for k in ('bind', 'workers', 'threads', 'timeout', "
        "'max_requests', 'max_requests_jitter', 'worker_class', 'logger_class', "
        "'control_socket_disable')}))"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == (
        '{"bind": ["127.0.0.1:9123"], "workers": 3, "threads": 7, "timeout": 45, '
        '"max_requests": 1000, "max_requests_jitter": 100, "worker_class": "gthread", '
        '"logger_class": "config.gunicorn_logging.RedactingLogger", '
        '"control_socket_disable": true}'
    )


def test_every_setting_of_the_config_file_is_a_gunicorn_setting() -> None:
    values = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    names = {k for k in values if not k.startswith("_") and not callable(values[k])}
    known = set(Config().settings)
    assert names - known == set()


def _logger() -> tuple[RedactingLogger, io.StringIO]:
    config = Config()
    config.set("accesslog", "-")
    config.set("errorlog", "-")
    logger = RedactingLogger(config)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    for log in (logger.access_log, logger.error_log):
        log.handlers = [handler]
    return logger, out


def test_error_log_names_a_failed_request_without_its_token() -> None:
    logger, out = _logger()

    logger.exception("Error handling request %s", f"/orders/link/{TOKEN}/")
    logger.error("Invalid request from %s: %s", "1.2.3.4", f"GET /orders/link/{TOKEN}/?x=1")

    assert TOKEN not in out.getvalue()
    assert out.getvalue().count("/orders/link/<redacted>/") == 2


def test_a_second_setup_does_not_stack_filters() -> None:
    logger, _ = _logger()
    logger.setup(logger.cfg)

    assert len(logger.error_log.filters) == 1
    assert len(logger.access_log.filters) == 1
