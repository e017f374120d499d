"""Sending one message over SMTP with the standard library's `smtplib`.

A reply code of 5xx to the sender, a recipient or the data is permanent: the
server will never take this message, so it is not retried. Anything else
that fails (4xx, a refused or dropped connection, a timeout, a failed login,
which is the operator's configuration to fix) is retried with backoff.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import datetime

from leadbill.core.smtp_settings import DEFAULT_PORT, SECURITY, password_variable
from leadbill.entities.models import BillingEntity
from leadbill.errors import InvalidInput
from leadbill.mail.messages import Rendered
from leadbill.settings import Settings

MAX_ERROR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how the worker sends: host, port, STARTTLS / implicit TLS / none, login."""

    host: str
    port: int = 587
    security: str = "starttls"
    user: str | None = None
    password: str | None = None
    timeout: float = 10.0
    # Where the password comes from, named when it is missing.
    password_variable: str = "LEADBILL_SMTP_PASSWORD"

    def __post_init__(self) -> None:
        if self.security not in SECURITY:
            raise InvalidInput(
                "smtp_security", f"{self.security!r} is not one of {', '.join(SECURITY)}"
            )
        if not 0 < self.port < 65536:
            raise InvalidInput("smtp_port", f"{self.port} is not a TCP port")

    @classmethod
    def configured(cls, settings: Settings, timeout: float = 10.0) -> SmtpServer | None:
        """The server of the settings (LEADBILL_SMTP_*); None when no host is set."""
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            user=settings.smtp_user,
            password=settings.smtp_password,
            timeout=timeout,
        )

    @classmethod
    def of_entity(
        cls, entity: BillingEntity, settings: Settings, timeout: float = 10.0
    ) -> SmtpServer | None:
        """A billing entity's own server; None when it has none (it uses the default).

        Its password comes from LEADBILL_SMTP_PASSWORD_<CODE> in the worker's
        environment; a login without one logs in with an empty password, which the
        server refuses, and the message is retried until the variable is set.
        """
        if not entity.smtp_host:
            return None
        security = entity.smtp_security or "starttls"
        passwords = dict(settings.entity_smtp_passwords)
        return cls(
            host=entity.smtp_host,
            port=entity.smtp_port or DEFAULT_PORT[security],
            security=security,
            user=entity.smtp_user,
            password=passwords.get(password_variable(entity.code)),
            timeout=timeout,
            password_variable=password_variable(entity.code),
        )


@dataclass(frozen=True, slots=True)
class Servers:
    """Which server sends a message: its billing entity's own, else the default one.

    The default is the LEADBILL_SMTP_* server (None: messages of entities without a
    server of their own stay in the outbox).
    """

    default: SmtpServer | None
    settings: Settings
    timeout: float = 10.0

    def for_entity(self, entity: BillingEntity | None) -> SmtpServer | None:
        """The server of the entity's messages (None: none can send them)."""
        own = SmtpServer.of_entity(entity, self.settings, self.timeout) if entity else None
        return own or self.default


@dataclass(frozen=True, slots=True)
class Sent:
    """What one attempt gave: accepted, or the reply code (none: no reply) and the error."""

    accepted: bool
    code: int | None
    error: str | None
    duration_ms: int
    permanent: bool = False


def _connect(server: SmtpServer) -> smtplib.SMTP:
    if server.security == "tls":
        return smtplib.SMTP_SSL(
            server.host, server.port, timeout=server.timeout, context=ssl.create_default_context()
        )
    connection = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    if server.security == "starttls":
        connection.starttls(context=ssl.create_default_context())
    return connection


def _failure(started: float, code: int | None, error: str, permanent: bool) -> Sent:
    elapsed = int((time.monotonic() - started) * 1000)
    return Sent(False, code, error[:MAX_ERROR_LENGTH], elapsed, permanent)


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def send(server: SmtpServer, rendered: Rendered, at: datetime) -> Sent:
    """Send one message in its own connection; never raises for a server's answer."""
    started = time.monotonic()
    if server.user and not server.password:
        # Retried: the operator sets the variable and restarts the worker.
        return _failure(started, None, f"no SMTP password: set {server.password_variable}", False)
    message = rendered.email(at)
    try:
        with _connect(server) as connection:
            if server.user:
                connection.login(server.user, server.password or "")
            connection.send_message(message, rendered.sender, [rendered.recipient])
    except smtplib.SMTPRecipientsRefused as refused:
        code, reply = next(iter(refused.recipients.values()))
        text = _text(reply)
        return _failure(started, code, f"recipient refused: {code} {text}", code >= 500)
    except smtplib.SMTPAuthenticationError as error:
        return _failure(started, error.smtp_code, f"login refused: {error.smtp_code}", False)
    except smtplib.SMTPResponseException as error:
        code, text = error.smtp_code, _text(error.smtp_error)
        return _failure(started, code, f"{code} {text}", code >= 500)
    except (smtplib.SMTPException, OSError) as error:
        return _failure(started, None, f"{type(error).__name__}: {error}", False)
    return Sent(True, 250, None, int((time.monotonic() - started) * 1000))
