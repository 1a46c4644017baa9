"""Which webhook URLs may be called: http(s) only, no credentials in the URL, and hosts that
resolve only to public addresses — loopback, link-local, private and other non-global ranges are
refused unless WEBHOOK_ALLOW_PRIVATE_HOSTS is on. Checked when an endpoint is saved and again,
with a fresh lookup, before every attempt (a name may be re-pointed after it was saved)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

MAX_URL_LENGTH = 500


class AddressRefused(ValueError):
    """The URL may not be called (the message says why, for staff)."""


def _refused_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not public"
    return None


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise AddressRefused(f"the host {host!r} cannot be resolved") from exc
    return sorted({str(info[4][0]) for info in infos})


def url_check(url: str, *, allow_private: bool, resolve: bool = True) -> None:
    """Raise AddressRefused unless `url` may be called. With `resolve`, every address the host
    resolves to must be public (unless private hosts are allowed)."""
    if len(url) > MAX_URL_LENGTH:
        raise AddressRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise AddressRefused("the URL is not valid") from exc
    if parts.scheme not in ("http", "https"):
        raise AddressRefused("only http:// and https:// URLs can receive webhooks")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("put no user name or password in the URL (the signature is the proof)")
    host = parts.hostname
    if not host:
        raise AddressRefused("the URL has no host")
    if allow_private:
        return
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        candidates = [str(literal)]
    elif host.rstrip(".").lower() == "localhost" or host.lower().endswith(".localhost"):
        raise AddressRefused(f"{host} is a loopback host")
    elif not resolve:
        return
    else:
        candidates = _resolve(host, port)
    for candidate in candidates:
        reason = _refused_reason(ipaddress.ip_address(candidate.split("%", 1)[0]))
        if reason is not None:
            raise AddressRefused(
                f"{host} resolves to {candidate}, a {reason} address "
                "(set WEBHOOK_ALLOW_PRIVATE_HOSTS=true to allow it)"
            )
