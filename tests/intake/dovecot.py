"""A throwaway Dovecot IMAP server on 127.0.0.1 for the e-mail intake tests.

Debian's `dovecot-imapd` (CI installs it), started in the foreground with its own configuration,
directories and free ports under a temporary directory; no systemd, nothing of the system's
configuration is read. Any user name logs in with the password "secret" (static passdb) and gets
an empty Maildir, so every test uses a fresh mailbox by using a fresh user name.

Run as root, Dovecot needs unprivileged users: its own `dovenull`/`dovecot` for the login and
internal processes, and `nobody` owns the mail (Dovecot refuses to access mail as root). Run as
another user, everything runs as that user.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import ipaddress
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..certificates import write_pem

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "secret"


def dovecot_available() -> bool:
    return Path(DOVECOT).exists()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own authority (the tests trust it explicitly)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = write_pem(cert, key, directory / "cert.pem", directory / "key.pem")
    key_path.chmod(0o600)
    return cert_path, key_path


class DovecotServer:
    def __init__(self, *, tls: bool) -> None:
        self.tls = tls
        self.root = Path(tempfile.mkdtemp(prefix="dovecot-"))
        self.port = 0
        self.tls_port = 0
        self.cert: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _config(self) -> str:
        mail = self.root / "mail"
        if os.geteuid() == 0:
            owner = pwd.getpwnam("nobody")
            login_user, internal_user = "dovenull", "dovecot"
            self.root.chmod(0o755)  # the unprivileged processes must reach their files
        else:
            owner = pwd.getpwuid(os.geteuid())
            login_user = internal_user = owner.pw_name
        mail.mkdir()
        os.chown(mail, owner.pw_uid, owner.pw_gid)
        ssl_lines = "ssl = no"
        if self.tls:
            self.cert, key = self_signed_certificate(self.root)
            ssl_lines = f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{key}"
        return f"""
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl_lines}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 1
first_valid_gid = 1
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={owner.pw_uid} gid={owner.pw_gid} home={mail}/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
  }}
}}
service anvil {{
  chroot =
}}
"""

    def start(self) -> DovecotServer:
        self.port = free_port()
        self.tls_port = free_port() if self.tls else 0
        config = self.root / "dovecot.conf"
        config.write_text(self._config())
        self.process = subprocess.Popen(  # noqa: S603 - fixed binary, our own config
            [DOVECOT, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.process.stderr.read()!r}\n{self.log}")  # type: ignore[union-attr]
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not start listening:\n{self.log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, user: str, *, imaps: bool = False, folder: str = "INBOX") -> str:
        if imaps:
            return f"imaps://{user}:{PASSWORD}@127.0.0.1:{self.tls_port}/{folder}"
        return f"imap://{user}:{PASSWORD}@127.0.0.1:{self.port}/{folder}"


class TestMailbox:
    """The test's side of one mailbox: deliver mail with APPEND, read flags back."""

    __test__ = False  # not a test class

    def __init__(self, server: DovecotServer, user: str) -> None:
        self.server, self.user = server, user
        self.url = server.url(user)

    def _connect(self) -> imaplib.IMAP4:
        connection = imaplib.IMAP4("127.0.0.1", self.server.port, timeout=10)
        connection.login(self.user, PASSWORD)
        connection.select("INBOX")
        return connection

    def deliver(self, raw: bytes, *, arrived: dt.datetime | None = None) -> None:
        connection = self._connect()
        try:
            # imaplib takes None for "no flags" and "now" (typeshed says str).
            no_flags: Any = None
            when: Any = imaplib.Time2Internaldate(arrived) if arrived else None
            result = connection.append("INBOX", no_flags, when, raw)
            assert result[0] == "OK", result
        finally:
            connection.logout()

    def flags(self) -> list[set[str]]:
        """The flags of every message, in order."""
        connection = self._connect()
        try:
            status, data = connection.uid("FETCH", "1:*", "(FLAGS)")
            assert status == "OK", data
            result = []
            for item in data:
                if not item:
                    continue
                text = item.decode() if isinstance(item, bytes) else item[0].decode()
                inside = text.split("FLAGS (", 1)[1].split(")", 1)[0]
                result.append(set(inside.split()))
            return result
        finally:
            connection.logout()
