"""Email through SMTP (stdlib smtplib), one connection for a whole run.

KHALTI_SMTP_URL: ``smtp://user@host:587`` (STARTTLS, required), ``smtps://user@host:465`` (TLS from the
first byte). The password comes from KHALTI_SMTP_PASSWORD only. Without TLS nothing is sent, except to a
server on this machine (loopback), where STARTTLS is used when offered.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

from khalti_cli.channels import NOT_SENT, REJECTED, SENT, UNKNOWN, ChannelAnswer, cap
from khalti_cli.errors import ConfigError
from khalti_cli.webaddress import is_loopback


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    mime: str = "application/octet-stream"


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    message_id: str  # the ledger's own id: a recipient's mail program can drop a duplicate
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool
    user: str | None
    sender: str

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def parse_smtp_url(url: str, sender: str | None) -> SmtpTarget:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(
            "KHALTI_SMTP_URL must look like smtp://user@mail.example.com:587 (STARTTLS) or "
            "smtps://user@mail.example.com:465."
        )
    if parts.password:
        raise ConfigError("Put the SMTP password in KHALTI_SMTP_PASSWORD, not in KHALTI_SMTP_URL.")
    try:
        port = parts.port or (465 if scheme == "smtps" else 587)
    except ValueError:
        raise ConfigError("The port in KHALTI_SMTP_URL is not a number from 1 to 65535.") from None
    user = unquote(parts.username) if parts.username else None
    chosen = sender or (user if user and "@" in user else None)
    if not chosen:
        raise ConfigError("Set KHALTI_SMTP_FROM to the address messages come from, e.g. fees@school.edu.np.")
    return SmtpTarget(parts.hostname, port, scheme == "smtps", user, chosen)


def build(email: Email, sender: str, sender_name: str) -> EmailMessage:
    """The MIME message: a UTF-8 text part (Nepali, then English) and the attachments."""
    from email.headerregistry import Address

    msg = EmailMessage(policy=SMTP)
    local, _, domain = sender.partition("@")
    msg["From"] = Address(display_name=sender_name, username=local, domain=domain)
    msg["To"] = email.to
    msg["Subject"] = email.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = email.message_id
    msg.set_content(email.text, charset="utf-8")
    for item in email.attachments:
        maintype, _, subtype = item.mime.partition("/")
        msg.add_attachment(item.data, maintype=maintype, subtype=subtype, filename=item.filename)
    return msg


class SmtpMailer:
    def __init__(
        self,
        target: SmtpTarget,
        password: str | None,
        *,
        sender_name: str,
        timeout_ms: int = 15000,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.target = target
        self._password = password
        self.sender_name = sender_name
        self.timeout = timeout_ms / 1000
        self._log = log
        self._conn: smtplib.SMTP | None = None

    def _said(self, text: object) -> str:
        return cap(str(text), (self._password or "",))

    def _connect(self) -> smtplib.SMTP:
        t = self.target
        context = ssl.create_default_context()
        conn: smtplib.SMTP
        if t.implicit_tls:
            conn = smtplib.SMTP_SSL(t.host, t.port, timeout=self.timeout, context=context)
        else:
            conn = smtplib.SMTP(t.host, t.port, timeout=self.timeout)
            conn.ehlo()
            if conn.has_extn("starttls"):
                conn.starttls(context=context)
                conn.ehlo()
            elif not t.loopback:
                conn.close()
                raise ConfigError(
                    f"The mail server {t.host}:{t.port} does not offer STARTTLS, and khalti sends mail only "
                    "over TLS. Use its TLS port (smtps://...:465) or a server that supports STARTTLS."
                )
        if t.user:
            try:
                conn.login(t.user, self._password or "")
            except smtplib.SMTPServerDisconnected:  # some servers hang up after a refused login
                raise smtplib.SMTPAuthenticationError(535, b"disconnected after the login") from None
        return conn

    def send(self, email: Email) -> ChannelAnswer:
        msg = build(email, self.target.sender, self.sender_name)
        try:
            if self._conn is None:
                self._conn = self._connect()
        except smtplib.SMTPAuthenticationError:
            self._drop()
            return ChannelAnswer(NOT_SENT, "The mail server refused the login.", stop="config")
        except smtplib.SMTPNotSupportedError:
            self._drop()
            return ChannelAnswer(NOT_SENT, "The mail server does not offer a login (AUTH).", stop="config")
        except ConfigError as exc:
            return ChannelAnswer(NOT_SENT, str(exc), stop="config")
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            return ChannelAnswer(
                NOT_SENT, f"Could not connect to the mail server ({exc.__class__.__name__}).", "outage"
            )
        try:
            refused = self._conn.send_message(msg, from_addr=self.target.sender, to_addrs=[email.to])
        except smtplib.SMTPRecipientsRefused as exc:
            return ChannelAnswer(REJECTED, self._said(_first(exc.recipients)))
        except smtplib.SMTPSenderRefused as exc:
            self._drop()
            return ChannelAnswer(NOT_SENT, self._said(f"{exc.smtp_code} {exc.smtp_error!r}"), stop="config")
        except smtplib.SMTPDataError as exc:
            said = self._said(f"{exc.smtp_code} {exc.smtp_error!r}")
            return ChannelAnswer(NOT_SENT if 400 <= exc.smtp_code < 500 else REJECTED, said)
        except (smtplib.SMTPServerDisconnected, OSError, smtplib.SMTPException) as exc:
            # The message may have been taken before the line went quiet.
            self._drop()
            return ChannelAnswer(UNKNOWN, f"The mail server stopped answering ({exc.__class__.__name__}).")
        if refused:
            return ChannelAnswer(REJECTED, self._said(_first(refused)))
        if self._log:
            self._log(f"SMTP {self.target.host}:{self.target.port}: accepted one message")
        return ChannelAnswer(SENT, "250 accepted")

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                conn.close()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException, socket.timeout):
                self._conn.quit()
            self._drop()


def _first(refused: dict[str, tuple[int, bytes]]) -> str:
    for address, (code, text) in refused.items():
        return f"{address}: {code} {text.decode('utf-8', 'replace')}"
    return ""
