"""gunicorn configuration: `gunicorn -c config/gunicorn.conf.py config.wsgi`.

Every value comes from config/settings/base.py (the one place that reads the environment; see
the WEB_* settings in .env.example), imported here as a plain module: it needs no Django set-up,
so the master process reads the same settings the workers will. Set DJANGO_SETTINGS_MODULE
(config.settings.production) in the environment of the service, as docs/deploy.md shows.
"""

from config.settings import base as _settings

bind = [_settings.WEB_BIND]
# Threads share a process (and its DB connection per thread); processes isolate crashes.
worker_class = "gthread"
workers = _settings.WEB_CONCURRENCY
threads = _settings.WEB_THREADS
timeout = _settings.WEB_TIMEOUT
graceful_timeout = _settings.WEB_GRACEFUL_TIMEOUT
keepalive = _settings.WEB_KEEPALIVE
max_requests = _settings.WEB_MAX_REQUESTS
max_requests_jitter = max(0, _settings.WEB_MAX_REQUESTS // 10)
forwarded_allow_ips = _settings.WEB_FORWARDED_ALLOW_IPS
# Requests larger than nginx lets through are refused by nginx first (client_max_body_size).
limit_request_line = 8190

# Logs to stdout/stderr (journald under systemd). The access log never records an order-page
# token: the logger class redacts /orders/link/<token> in both logs.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%({x-forwarded-for}i)s" %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
logger_class = "config.gunicorn_logging.RedactingLogger"

# systemd restarts and reloads the service; gunicorn's own control socket (a file in the
# user's home) is not used and would collide between several servers on one machine.
control_socket_disable = True
proc_name = "compensation-web"
