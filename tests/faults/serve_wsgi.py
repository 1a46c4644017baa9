"""Serve the project over real HTTP on 127.0.0.1, an ephemeral port (printed as `PORT n`).

Django's threaded development WSGI server, without the autoreloader or static files: what the
fault tests need is a separate process with its own database connections, like a web worker.
"""

from __future__ import annotations

import sys

from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.wsgi import get_wsgi_application


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


def main() -> None:
    server = ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler, allow_reuse_address=True)
    server.set_app(get_wsgi_application())  # sets Django up
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
